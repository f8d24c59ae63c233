import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { mergeValidity } from '../checkers/types.js';
import { errUsage, isHarnessError } from '../errors.js';
import type { HistoryEvent } from '../history/history.js';
import { hostEnvironment } from '../runtime/environment.js';
import { newRunId } from '../util/run-id.js';
import { runVerdictOf, suiteOfError, suiteOrder, tally, tallyText } from './format.js';
import { readHistoryLenient, writeReports, type ReporterFailure } from './index.js';
import { loadResults, RESULTS_SCHEMA_V1, type Environment, type MergedRun, type RecordedCheck, type Results, type ResultsV1, type RunError, type RunFailure, type RunInterruption } from './results.js';

/**
 * `lvs-harness merge-reports DIR… [--out DIR]`: the runs of a sharded matrix (one directory per
 * run, from every CI machine) as ONE run, the way Playwright's merge-reports makes one report of
 * its shards' blobs. The merged run directory is a run directory like any other: results.json,
 * history.ndjson, and the reporters' junit.xml, summary.md and report.html (harness/report/
 * index.ts), so that `report`, `runs` and `compare` read it too.
 *
 * Every check and error keeps its run of origin (`origin`: run id, topology, suite), and its
 * suite becomes `<label>/<suite>`, the label being the topology's name (with the run id when two
 * runs share a topology), so that the reporters group `nat/modes` apart from `dr/modes`. Node
 * names in the history get the same prefix. The verdict is the worst of the runs': interrupted,
 * then error, then failed, then unknown, then passed.
 */

export const MERGE_USAGE = 'lvs-harness merge-reports DIR… [--out DIR]';

const NEEDS = 'run directories as runs leave them (reports/<run-id>/ with results.json), or directories holding them (a CI job\'s downloaded artifacts)';

/** how deep under a given directory run directories are looked for */
const SEARCH_DEPTH = 4;

export interface MergeInput {
  /** the run directory */
  dir: string;
  results: Results;
  /** its history.ndjson; undefined when it has none */
  history?: HistoryEvent[];
}

export interface MergeOutput {
  dir: string;
  results: ResultsV1;
  /** files written: results.json, history.ndjson, then the reporters' */
  written: string[];
  errors: ReporterFailure[];
  /** problems that did not stop the merge: history lines skipped */
  warnings: string[];
}

async function kindOf(p: string): Promise<'dir' | 'file' | 'missing'> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

/**
 * The run directories an argument stands for: itself when it holds results.json (a path to
 * results.json names its directory), else every run directory below it, sorted. A directory
 * below it with history.ndjson but no results.json is a run that never ended, and an error: a
 * merged report must not pass for lack of the run that failed.
 */
export async function findRunDirs(given: string): Promise<string[]> {
  const kind = await kindOf(given);
  if (kind === 'missing') throw errUsage(`merge-reports: ${given}: no such directory`, `give ${NEEDS}`);
  if (kind === 'file') {
    if (path.basename(given) === 'results.json') return [path.dirname(given)];
    throw errUsage(`merge-reports: ${given}: not a directory`, `give ${NEEDS}`);
  }
  const runs: string[] = [];
  const unfinished: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if ((await kindOf(path.join(dir, 'results.json'))) === 'file') return void runs.push(dir);
    if ((await kindOf(path.join(dir, 'history.ndjson'))) === 'file') return void unfinished.push(dir);
    if (depth >= SEARCH_DEPTH) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) await walk(path.join(dir, e.name), depth + 1);
  };
  await walk(given, 0);
  if (unfinished.length)
    throw errUsage(
      `merge-reports: ${path.join(unfinished[0]!, 'results.json')}: no such file, though the run directory has a history.ndjson${unfinished.length > 1 ? ` (and ${unfinished.length - 1} more such run${unfinished.length > 2 ? 's' : ''})` : ''}`,
      'the run was killed before its end (a run that ends, even in an error or on Ctrl-C, writes results.json); run it again, or leave its directory out',
    );
  if (!runs.length) throw errUsage(`merge-reports: ${path.join(given, 'results.json')}: no such file, and no run directory (one with results.json) under ${given}`, `give ${NEEDS}`);
  return runs;
}

/** Reads one run directory; a bad results.json is a usage error naming the file and the field. */
export async function loadMergeInput(dir: string): Promise<{ input: MergeInput; warnings: string[] }> {
  const file = path.join(dir, 'results.json');
  const kind = await kindOf(file);
  if (kind !== 'file') throw errUsage(`merge-reports: ${file}: ${kind === 'dir' ? 'a directory, not a file' : 'no such file'}`, `give ${NEEDS}`);
  let results: Results;
  try {
    results = await loadResults(file);
  } catch (e) {
    if (isHarnessError(e)) throw errUsage(`merge-reports: ${e.message}`, e.hint ?? 'results.json must be lvs-harness/results@0 or @1, as a run writes it');
    throw e;
  }
  if (results.merged) throw errUsage(`merge-reports: ${file}: field merged: this run is itself a merge of ${results.merged.runs.length} runs`, 'merge the run directories it was made from (its results.json lists them under merged.runs)');
  const historyFile = path.join(dir, 'history.ndjson');
  if ((await kindOf(historyFile)) !== 'file') return { input: { dir, results }, warnings: [] };
  const { events, warnings } = await readHistoryLenient(historyFile);
  return { input: { dir, results, history: events }, warnings };
}

/** Every run the arguments name, in their order; the same run twice is an error. */
export async function loadMergeInputs(args: readonly string[]): Promise<{ inputs: MergeInput[]; warnings: string[] }> {
  if (!args.length) throw errUsage('merge-reports: give the run directories to merge', MERGE_USAGE);
  const inputs: MergeInput[] = [];
  const warnings: string[] = [];
  for (const a of args) {
    for (const dir of await findRunDirs(a)) {
      const { input, warnings: w } = await loadMergeInput(dir);
      const twice = inputs.find((x) => x.results.runId === input.results.runId);
      if (twice) throw errUsage(`merge-reports: run ${input.results.runId} is given twice: ${path.join(twice.dir, 'results.json')} and ${path.join(dir, 'results.json')}`, 'give each run directory once');
      inputs.push(input);
      warnings.push(...w);
    }
  }
  return { inputs, warnings };
}

/** The topology's name, or with the run id where two runs share a topology. */
export function runLabels(inputs: readonly { results: Pick<Results, 'runId' | 'topology'> }[]): string[] {
  const count = new Map<string, number>();
  for (const i of inputs) count.set(i.results.topology.name, (count.get(i.results.topology.name) ?? 0) + 1);
  return inputs.map((i) => (count.get(i.results.topology.name)! > 1 ? `${i.results.topology.name}@${i.results.runId}` : i.results.topology.name));
}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** A history event with its node names under the run's label: nat/client, nat-ha/director1. */
function relabelEvent(e: HistoryEvent, label: string): HistoryEvent {
  const out = { ...e } as HistoryEvent & Record<string, unknown>;
  if (typeof out.node === 'string') out.node = `${label}/${out.node}`;
  if (e.type === 'fault' && typeof e.target === 'string') (out as { target: string }).target = `${label}/${e.target}`;
  if (e.type === 'observe' && e.what === 'vip-holders' && isRecord(e.data)) {
    const d = e.data;
    (out as { data: unknown }).data = { ...d, ...(typeof d.vip === 'string' ? { vip: `${label}/${d.vip}` } : {}), ...(Array.isArray(d.holders) ? { holders: d.holders.map((h) => `${label}/${String(h)}`) } : {}) };
  }
  return out;
}

/** One line for the error of a run that is not the merged run's own `error`. */
function endedEarly(e: RunFailure, interrupted: RunInterruption | undefined): string {
  const head = interrupted ? e.message : `error in ${e.phase}: ${e.code ? `${e.code}: ` : ''}${e.message}`;
  return e.hint ? `${head}\nhint: ${e.hint}` : head;
}

const joinUnique = (xs: readonly string[]) => [...new Set(xs)].join(', ');

/**
 * The merged results@1 and history. Pure: the run id and the fallback environment (used only
 * when no run recorded one, results@0 runs) come from the caller.
 */
export function mergeResults(inputs: readonly MergeInput[], o: { runId: string; environment?: Environment }): { results: ResultsV1; history: HistoryEvent[] } {
  if (!inputs.length) throw errUsage('merge-reports: no run to merge', MERGE_USAGE);
  const labels = runLabels(inputs);
  const checks: RecordedCheck[] = [];
  const errors: RunError[] = [];
  const suites: string[] = [];
  const timings: Record<string, number> = {};
  const history: HistoryEvent[] = [];
  const runs: MergedRun[] = [];
  // the merged run's own error: the first run that was interrupted, else the first that ended in an error
  const primary = inputs.find((i) => i.results.interrupted && i.results.error) ?? inputs.find((i) => i.results.error);
  inputs.forEach((input, k) => {
    const r = input.results;
    const label = labels[k]!;
    const order = suiteOrder(r);
    const named = (s: string) => `${label}/${s}`;
    const origin = { runId: r.runId, topology: r.topology.name };
    suites.push(...order.map(named));
    for (const c of r.checks) checks.push({ ...c, suite: named(c.suite), origin: { ...origin, suite: c.suite } });
    for (const e of r.errors) {
      const s = suiteOfError(e, order);
      errors.push(s ? { ...e, suite: named(s), origin: { ...origin, suite: s } } : { ...e, title: `${label}: ${e.title}`, origin });
    }
    if (r.error && input !== primary) errors.push({ title: `${label} ${r.error.phase}`, message: endedEarly(r.error, r.interrupted), origin });
    for (const [key, ms] of Object.entries(r.timings)) {
      const merged = key.startsWith('suite:') ? `suite:${named(key.slice('suite:'.length))}` : `${label}/${key}`;
      timings[merged] = (timings[merged] ?? 0) + ms;
    }
    for (const e of input.history ?? []) history.push(relabelEvent(e, label));
    runs.push({
      dir: input.dir,
      runId: r.runId,
      label,
      topology: r.topology,
      suites: r.suites,
      startedAt: r.startedAt,
      ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
      valid: r.valid,
      verdict: runVerdictOf(r),
      checks: tally(r.checks),
      errors: r.errors.length,
      ...(r.error ? { error: r.error } : {}),
      ...(r.interrupted ? { interrupted: r.interrupted } : {}),
      ...(r.environment ? { environment: r.environment } : {}),
      ...(r.runtime ? { runtime: r.runtime } : {}),
      historyEvents: input.history?.length ?? 0,
    });
  });
  // stable: events of one instant keep the order of the runs given
  history.sort((a, b) => a.t - b.t);

  const label = primary ? labels[inputs.indexOf(primary)]! : '';
  const pe = primary?.results.error;
  const pi = primary?.results.interrupted;
  const error: RunFailure | undefined = pe && { ...pe, phase: `${label} ${pe.phase}`, ...(pi ? { message: `${label}: ${pe.message}` } : {}) };
  const interrupted: RunInterruption | undefined = pi && { signal: pi.signal, phase: `${label} ${pi.phase}` };
  const times = (xs: readonly (string | undefined)[]) => xs.filter((x): x is string => !!x && Number.isFinite(Date.parse(x))).sort((a, b) => Date.parse(a) - Date.parse(b));
  const starts = times(inputs.map((i) => i.results.startedAt));
  const ends = times(inputs.map((i) => i.results.finishedAt ?? i.results.startedAt));
  const first = inputs[0]!.results;
  const results: ResultsV1 = {
    schema: RESULTS_SCHEMA_V1,
    runId: o.runId,
    startedAt: starts[0] ?? first.startedAt,
    finishedAt: ends[ends.length - 1] ?? first.startedAt,
    topology: {
      name: joinUnique(inputs.map((i) => i.results.topology.name)),
      file: joinUnique(inputs.map((i) => i.results.topology.file)),
      plan: joinUnique(inputs.map((i) => i.results.topology.plan)),
      reused: inputs.every((i) => i.results.topology.reused),
    },
    // the first run's; each run's own is kept in merged.runs
    environment: inputs.find((i) => i.results.environment)?.results.environment ?? o.environment ?? hostEnvironment(),
    ...(inputs.find((i) => i.results.runtime) ? { runtime: inputs.find((i) => i.results.runtime)!.results.runtime! } : {}),
    suites,
    // worst first: any error makes it false, as a run's own errors do; else false > unknown > true over the runs and their checks
    valid: error || errors.length ? false : mergeValidity([...inputs.map((i) => i.results.valid), ...checks.map((c) => c.valid)]),
    checks,
    errors,
    timings,
    ...(error ? { error } : {}),
    ...(interrupted ? { interrupted } : {}),
    merged: { runs },
  };
  return { results, history };
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * Reads the runs, merges them and writes the merged run directory (`out`, by default
 * `<reportsDir>/<new run id>`). The output may not be one of the inputs.
 */
export async function mergeReports(args: readonly string[], o: { out?: string; reportsDir: string; runId?: string }): Promise<MergeOutput> {
  const { inputs, warnings } = await loadMergeInputs(args);
  const runId = o.runId ?? newRunId();
  const dir = o.out ?? path.join(o.reportsDir, runId);
  const clash = inputs.find((i) => path.resolve(i.dir) === path.resolve(dir));
  if (clash) throw errUsage(`merge-reports: --out ${dir} is one of the runs being merged`, 'give another directory: the merged run would overwrite the results.json it reads');
  if ((await kindOf(dir)) === 'file') throw errUsage(`merge-reports: --out ${dir}: a file, not a directory`);
  const { results, history } = mergeResults(inputs, { runId });
  await mkdir(dir, { recursive: true });
  const resultsFile = path.join(dir, 'results.json');
  const historyFile = path.join(dir, 'history.ndjson');
  await writeAtomic(resultsFile, JSON.stringify(results, null, 2));
  await writeAtomic(historyFile, history.map((e) => JSON.stringify(e) + '\n').join(''));
  const out = await writeReports(dir, results, history);
  return { dir, results, written: [resultsFile, historyFile, ...out.written], errors: out.errors, warnings: [...warnings, ...out.warnings] };
}

/** The merged run in one line per run and one for the whole, for the terminal. */
export function formatMergeSummary(r: ResultsV1): string {
  const runs = r.merged?.runs ?? [];
  const w = Math.max(...runs.map((x) => x.label.length), 5);
  const lines = runs.map((x) => `  ${x.label.padEnd(w)}  ${x.verdict.padEnd(11)}  ${tallyText(x.checks, x.errors)}  ${x.dir}`);
  return [`merged ${runs.length} run${runs.length === 1 ? '' : 's'}: ${runVerdictOf(r)}, ${tallyText(tally(r.checks), r.errors.length)}`, ...lines].join('\n');
}

/**
 * `lvs-harness merge-reports DIR… [--out DIR]`: the text to print and the exit code: 0 once the
 * merged run is written, whatever its verdict (the shards' own jobs already failed the build;
 * the merge must still give the report), 1 when a report file could not be written. Bad
 * arguments and bad inputs throw ERR_LVS_USAGE (exit 2).
 */
export async function mergeReportsCommand(argv: string[], o: { reportsDir: string }): Promise<{ text: string; code: 0 | 1; output: MergeOutput }> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { out: { type: 'string' } } });
  } catch (e) {
    throw errUsage(`merge-reports: ${(e as Error).message.split('\n')[0]}`, MERGE_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.out !== undefined && !values.out.trim()) throw errUsage('merge-reports: --out needs a directory, e.g. --out merged-report', MERGE_USAGE);
  const output = await mergeReports(positionals, { reportsDir: o.reportsDir, ...(values.out !== undefined ? { out: values.out } : {}) });
  const lines = [
    ...output.warnings.map((w) => `warning: ${w}`),
    formatMergeSummary(output.results),
    ...output.written.map((f) => `wrote ${f}`),
    ...output.errors.map((e) => `not written: ${e.file}: ${e.error.message}`),
    `report:  ${path.join(output.dir, 'report.html')}`,
  ];
  return { text: lines.join('\n'), code: output.errors.length ? 1 : 0, output };
}
