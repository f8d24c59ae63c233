import { HarnessError } from '../errors.js';

/** Where a rule came from: the file and the line its command starts on. */
export interface RuleLoc {
  file: string;
  line: number;
}

/**
 * A line of ipvsadm rules that ipvsadm itself would refuse (or that cannot be read at all).
 * The message names the place, why and the line's text; `word` is the offending word and
 * `allowed` what ipvsadm accepts there, shown as the hint.
 */
export class RulesParseError extends HarnessError {
  readonly file?: string;
  readonly word?: string;
  readonly allowed?: string;

  constructor(
    readonly line: number,
    readonly text: string,
    why: string,
    where: { file?: string; word?: string; allowed?: string } = {},
  ) {
    // without a file (parseSave reading the kernel's -S) the message keeps its original form
    super('ERR_LVS_RULES', `${where.file ? `${where.file}:${line}` : `line ${line}`}: ${why}: ${text}`, {
      hint: where.allowed ? `allowed: ${where.allowed}` : undefined,
      details: { file: where.file, line, word: where.word },
    });
    this.name = 'RulesParseError';
    this.file = where.file;
    this.word = where.word;
    this.allowed = where.allowed;
  }
}

/**
 * A word that is wrong wherever it stands; the caller that knows the line turns it into a
 * RulesParseError.
 */
export class WordError extends Error {
  constructor(
    readonly word: string,
    readonly why: string,
    readonly allowed?: string,
  ) {
    super(why);
  }
}
