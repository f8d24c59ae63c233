/**
 * `lvs-harness compare RUN_A RUN_B [--format text|json] [--html FILE]`: the argv to a comparison,
 * its output and its exit code (0, or 1 when a check went from pass to fail; usage errors throw
 * ERR_LVS_USAGE, which the CLI turns into exit 2).
 */
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { errUsage } from '../errors.js';
import { compareRuns, type Comparison } from './compare.js';
import { renderCompareHtml } from './html.js';
import { loadRun } from './load.js';
import { formatCompareText } from './text.js';

export const COMPARE_USAGE = 'lvs-harness compare RUN_A RUN_B [--format text|json] [--html FILE]';

const FORMATS = ['text', 'json'] as const;

export interface CompareCommandOutput {
  text: string;
  code: 0 | 1;
  comparison: Comparison;
  /** the HTML file written, when --html was given */
  html?: string;
}

/** Written beside its final name and renamed: a half-written page is never left where a browser opens it. */
async function writeHtml(file: string, html: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, html);
    await rename(tmp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // a usage error (exit 2) like any other bad argument: exit 1 is kept for a pass-to-fail
    throw errUsage(`compare: --html ${file}: cannot write it (${code ?? String(e)})`, code === 'ENOENT' ? `the directory ${path.dirname(file)} does not exist` : 'give a path in a writable directory');
  }
}

export async function compareCommand(argv: string[], opts: { color?: boolean } = {}): Promise<CompareCommandOutput> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { format: { type: 'string' }, html: { type: 'string' } } });
  } catch (e) {
    throw errUsage(`compare: ${(e as Error).message.split('\n')[0]}`, COMPARE_USAGE);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw errUsage(`compare: give two run directories, RUN_A (the baseline) and RUN_B (got ${positionals.length})`, COMPARE_USAGE);
  const format = values.format ?? 'text';
  if (!(FORMATS as readonly string[]).includes(format)) throw errUsage(`compare: --format ${format}: use ${FORMATS.join(' or ')} (and --html FILE for the page)`, COMPARE_USAGE);
  if (values.html !== undefined && !values.html.trim()) throw errUsage('compare: --html needs a file name, e.g. --html compare.html', COMPARE_USAGE);
  const [a, b] = await Promise.all([loadRun(positionals[0]!, 'RUN_A'), loadRun(positionals[1]!, 'RUN_B')]);
  const comparison = compareRuns(a, b);
  if (values.html !== undefined) await writeHtml(values.html, renderCompareHtml(comparison));
  const text = format === 'json' ? JSON.stringify(comparison, null, 2) : formatCompareText(comparison, { color: opts.color });
  return { text, code: comparison.exitCode, comparison, ...(values.html !== undefined ? { html: values.html } : {}) };
}
