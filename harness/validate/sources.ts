import { readFileSync } from 'node:fs';
import type { ParsedConf, ParseOptions } from '../keepalived/conf/ast.js';
import { parseConfFile, parseConfText } from '../keepalived/conf/parse.js';
import { typeConf } from '../keepalived/conf/typed-build.js';
import type { TypedConf } from '../keepalived/conf/typed.js';
import type { ParsedRules } from '../ipvs/parse-rules.js';

/**
 * The operator's files as derivation takes them: a keepalived.conf parsed and typed, with the
 * text of every file it read (the top file and its includes), since the lab runs those texts
 * translated, not a model of them.
 */
export interface KeepalivedSource {
  file: string;
  parsed: ParsedConf;
  typed: TypedConf;
  /** file → its text, for every file parsed.files lists */
  texts: Map<string, string>;
}

export interface RulesSource {
  file: string;
  rules: ParsedRules;
}

export function keepalivedSource(file: string, opts: ParseOptions & { text?: string } = {}): KeepalivedSource {
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'latin1'));
  const parsed = opts.text !== undefined ? parseConfText(opts.text, file, opts) : parseConfFile(file, opts);
  const texts = new Map<string, string>();
  for (const f of parsed.files) {
    if (f === file && opts.text !== undefined) texts.set(f, opts.text);
    else {
      try {
        texts.set(f, read(f));
      } catch {
        // the parser already reported the file it could not read
      }
    }
  }
  return { file, parsed, typed: typeConf(parsed).typed, texts };
}
