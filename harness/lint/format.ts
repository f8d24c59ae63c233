/**
 * Lint output: text like a compiler's (`file:line: severity rule: message`), JSON for scripts,
 * SARIF 2.1.0 for code-scanning UIs. Formatting only; the findings are computed in lint.ts.
 */
import path from 'node:path';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { LintResult } from './lint.js';
import type { Finding, Rule } from './types.js';

export type LintFormat = 'text' | 'json' | 'sarif';
export const LINT_FORMATS: readonly LintFormat[] = ['text', 'json', 'sarif'];

const all = (rs: readonly LintResult[]) => rs.flatMap((r) => r.findings);
const count = (fs: readonly Finding[], s: Finding['severity']) => fs.filter((f) => f.severity === s).length;
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** 1 when any finding is an error or a warning (info findings only inform). */
export const lintExitCode = (rs: readonly LintResult[]) => (all(rs).some((f) => f.severity !== 'info') ? 1 : 0);

export function formatText(rs: readonly LintResult[], opts: { info?: boolean } = {}): string {
  const lines: string[] = [];
  for (const f of all(rs)) {
    if (f.severity === 'info' && opts.info === false) continue;
    lines.push(`${f.file}:${f.line}: ${f.severity} ${f.rule}: ${f.message}`, `  hint: ${f.hint}`);
  }
  const fs = all(rs);
  lines.push(`${plural(rs.length, 'file')}: ${plural(count(fs, 'error'), 'error')}, ${plural(count(fs, 'warning'), 'warning')}, ${count(fs, 'info')} info`);
  return lines.join('\n');
}

export const formatJson = (rs: readonly LintResult[]): string => JSON.stringify(rs.map((r) => ({ file: r.file, parsed: r.parsed, findings: r.findings })), null, 2);

const LEVEL = { error: 'error', warning: 'warning', info: 'note' } as const;
/** SARIF wants URIs: relative to the working directory (the repository root in CI), forward slashes, percent-encoded */
const uri = (file: string, cwd: string) => {
  const rel = path.relative(cwd, path.resolve(cwd, file));
  return (rel.startsWith('..') || path.isAbsolute(rel) ? path.resolve(cwd, file) : rel).split(path.sep).map(encodeURIComponent).join('/');
};

export function formatSarif(rs: readonly LintResult[], rules: readonly Pick<Rule, 'id' | 'summary' | 'why' | 'severity'>[], opts: { cwd?: string; version?: string } = {}): string {
  const cwd = opts.cwd ?? process.cwd();
  const descriptors: ReportingDescriptor[] = rules.map((r) => ({
    id: r.id,
    shortDescription: { text: r.summary },
    fullDescription: { text: `${r.summary}. ${r.why}` },
    help: { text: r.why },
    defaultConfiguration: { level: LEVEL[r.severity] },
  }));
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results: Result[] = all(rs).map((f) => ({
    ruleId: f.rule,
    ...(index.has(f.rule) ? { ruleIndex: index.get(f.rule)! } : {}),
    level: LEVEL[f.severity],
    message: { text: `${f.message}\nhint: ${f.hint}` },
    locations: [{ physicalLocation: { artifactLocation: { uri: uri(f.file, cwd) }, region: { startLine: Math.max(1, f.line) } } }],
  }));
  const log: Log = {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [{ tool: { driver: { name: 'lvs-harness lint', version: opts.version ?? '0.1.0', rules: descriptors } }, results }],
  };
  return JSON.stringify(log, null, 2);
}
