/**
 * Lint's vocabulary: a finding names a rule, where, what keepalived will do, and what to change.
 * A rule reads the parsed files (and, for pair rules, the two directors' files) and never throws.
 */
import type { ParsedConf } from '../keepalived/conf/ast.js';
import type { KeepalivedRelease } from '../keepalived/conf/keywords.js';
import type { Reading } from '../keepalived/conf/reading.js';
import type { TypedConf } from '../keepalived/conf/typed.js';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  rule: string;
  severity: Severity;
  file: string;
  line: number;
  message: string;
  hint: string;
}

/** One keepalived.conf as the grammar layer parsed it, as keepalived reads it, and typed. */
export interface LintedFile {
  file: string;
  parsed: ParsedConf;
  reading: Reading;
  typed: TypedConf;
  /** the raw lines of each file read (includes too), for what the grammar drops: text after a comment character */
  source: (file: string, line: number) => string | undefined;
}

export interface LintOptions {
  release: KeepalivedRelease;
}

export interface Rule {
  id: string;
  severity: Severity;
  /** one line: what it finds (SARIF shortDescription, README table) */
  summary: string;
  /** why it matters (SARIF help, README table) */
  why: string;
  /** per-file rules get one file; pair rules get exactly two (A, B) */
  scope: 'file' | 'pair';
  check(files: readonly LintedFile[], opts: LintOptions): Finding[];
}

/** A finding of `rule` at `at`. */
export const finding = (rule: Pick<Rule, 'id' | 'severity'>, at: { file: string; line: number }, message: string, hint: string, severity: Severity = rule.severity): Finding => ({
  rule: rule.id,
  severity,
  file: at.file,
  line: at.line,
  message,
  hint,
});
