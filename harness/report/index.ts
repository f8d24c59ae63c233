import { readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { HistoryEvent } from '../history/history.js';
import { failureLine, runVerdictOf, tally, type RunVerdict, type Tally } from './format.js';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { OVERVIEW_PREFIX } from './overview.js';
import { RUN_STARTED_SCHEMA, STARTED_FILE, loadResults, type Results, type RunStarted } from './results.js';
import { renderSummary } from './summary.js';
import { pidAlive } from '../util/proc.js';

/**
 * The report files of a run, written next to results.json and history.ndjson (which the runner
 * writes). Each format is a reporter of its own: one that throws costs only its own file
 * (Playwright isolates its reporters the same way), and the errors come back to the caller.
 */
export interface FileReporter {
  name: string;
  file: string;
  render(results: Results, history: readonly HistoryEvent[]): string;
}

export const REPORTERS: readonly FileReporter[] = [
  { name: 'junit', file: 'junit.xml', render: (r) => renderJUnit(r) },
  { name: 'summary', file: 'summary.md', render: (r) => renderSummary(r) },
  { name: 'html', file: 'report.html', render: (r, h) => renderHtml(r, h) },
];

/**
 * The reporters with `sections` (HTML a command adds at the top of report.html's main part,
 * renderHtml's third argument) given to the html reporter; read when the page is rendered.
 */
export function withHtmlSections(reporters: readonly FileReporter[], sections: () => string): FileReporter[] {
  return reporters.map((r) => (r.name === 'html' ? { ...r, render: (res, h) => renderHtml(res, h, sections()) } : r));
}

export interface ReporterFailure {
  reporter: string;
  file: string;
  error: Error;
}

export interface WriteOutcome {
  /** absolute paths of the files written */
  written: string[];
  errors: ReporterFailure[];
  /** problems with the inputs that did not stop a report (a history cut short, say) */
  warnings: string[];
}

export async function writeReports(runDir: string, results: Results, history: readonly HistoryEvent[], reporters: readonly FileReporter[] = REPORTERS): Promise<WriteOutcome> {
  const out: WriteOutcome = { written: [], errors: [], warnings: [] };
  for (const rep of reporters) {
    const file = path.join(runDir, rep.file);
    try {
      const text = rep.render(results, history);
      // through a temporary name: a reporter that fails half-way leaves the previous file whole
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, file);
      out.written.push(file);
    } catch (e) {
      out.errors.push({ reporter: rep.name, file, error: e instanceof Error ? e : new Error(String(e)) });
    }
  }
  return out;
}

/**
 * The events of history.ndjson, skipping lines that are not JSON with a warning: a run killed
 * mid-write leaves half a line at the end, and the rest of the history is still worth a report.
 */
export async function readHistoryLenient(file: string): Promise<{ events: HistoryEvent[]; warnings: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { events: [], warnings: [`${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code})`}; the report has no timeline, latencies or IPVS tables`] };
  }
  const events: HistoryEvent[] = [];
  const bad: number[] = [];
  text.split('\n').forEach((l, i) => {
    if (!l.trim()) return;
    try {
      const e = JSON.parse(l) as HistoryEvent;
      if (e && typeof e === 'object' && typeof e.type === 'string' && typeof e.t === 'number') events.push(e);
      else bad.push(i + 1);
    } catch {
      bad.push(i + 1);
    }
  });
  const warnings = bad.length ? [`${file}: skipped ${bad.length} line${bad.length === 1 ? '' : 's'} that ${bad.length === 1 ? 'is' : 'are'} not a history event (line ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', …' : ''})`] : [];
  return { events, warnings };
}

/**
 * What a command adds to report.html when a run of its is rendered again: `html` (read when the
 * page is rendered, as withHtmlSections's `sections`) and problems with its inputs, as warnings.
 */
export interface ExtraSections {
  html: () => string;
  warnings?: string[];
}

/**
 * Given a run directory and its results, the sections a command adds to the run's report.html, or
 * undefined for a run that is none of its own. The caller (the CLI) names the commands: report
 * sits below them and knows none.
 */
export type ExtraSectionsOfRun = (runDir: string, results: Results) => Promise<ExtraSections | undefined>;

export interface RerenderOptions {
  /** sections to add to report.html (bench's, for a bench run); none when absent or undefined */
  sections?: ExtraSectionsOfRun;
}

/**
 * `lvs-harness report <run-dir>`: render the report files again from results.json and
 * history.ndjson, with the sections `opts.sections` gives for the run (a bench run's, drawn again
 * from its bench.json as bench put it there; a bench.json that cannot be read leaves a line on the
 * page saying why, and a warning).
 */
export async function rerender(runDir: string, opts: RerenderOptions = {}): Promise<WriteOutcome> {
  const results = await loadResults(path.join(runDir, 'results.json'));
  const { events, warnings } = await readHistoryLenient(path.join(runDir, 'history.ndjson'));
  const extra = opts.sections ? await opts.sections(runDir, results) : undefined;
  if (extra?.warnings) warnings.push(...extra.warnings);
  const out = await writeReports(runDir, results, events, extra ? withHtmlSections(REPORTERS, extra.html) : REPORTERS);
  return { ...out, warnings: [...warnings, ...out.warnings] };
}

/**
 * A run without results.json: `running` (its process lives, by started.json), `killed` (its
 * process is gone without writing results: SIGKILL, a crash), or `incomplete` (nothing says which).
 */
export type RunStatus = RunVerdict | 'running' | 'killed' | 'incomplete' | 'unreadable';

/** What started.json says of a run with no results.json; `alive` answers for a pid on this host. */
export async function unfinishedRun(dir: string, alive: (pid: number) => boolean = pidAlive): Promise<Pick<RunSummary, 'status' | 'topology' | 'suites' | 'problem'> & { startedAt?: string }> {
  let st: Partial<RunStarted>;
  try {
    st = JSON.parse(await readFile(path.join(dir, STARTED_FILE), 'utf8')) as Partial<RunStarted>;
  } catch {
    return { status: 'incomplete', suites: [] };
  }
  if (st.schema !== RUN_STARTED_SCHEMA) return { status: 'incomplete', suites: [] };
  const suites = Array.isArray(st.suites) ? st.suites.filter((x): x is string => typeof x === 'string') : [];
  const common = { suites, ...(typeof st.topology === 'string' ? { topology: st.topology } : {}), ...(typeof st.startedAt === 'string' ? { startedAt: st.startedAt } : {}) };
  if (typeof st.pid !== 'number' || st.host !== hostname()) return { status: 'incomplete', ...common, problem: `started by pid ${st.pid ?? '?'} on ${st.host ?? '?'}: no results.json yet` };
  return alive(st.pid)
    ? { status: 'running', ...common, problem: `running (pid ${st.pid})` }
    : { status: 'killed', ...common, problem: `its process (pid ${st.pid}) ended without writing results.json (killed, or crashed); a later run reaps its nodes` };
}


export interface RunSummary {
  id: string;
  dir: string;
  status: RunStatus;
  startedAt?: string;
  topology?: string;
  suites: string[];
  checks?: Tally;
  errors?: number;
  /** the first line of the error that ended the run early */
  error?: string;
  /** why a run is unreadable */
  problem?: string;
}

/** 20261121T073453-c434 → 2026-11-21T07:34:53Z; undefined for other names. */
export function startOfRunId(id: string): string | undefined {
  const m = id.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})-/);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z` : undefined;
}

/** Past runs in a reports directory, newest first; a directory without results.json is a run that never finished. */
export async function listRuns(reportsDir: string): Promise<RunSummary[]> {
  let names: string[];
  try {
    names = await readdir(reportsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const runs: RunSummary[] = [];
  for (const id of names) {
    const dir = path.join(reportsDir, id);
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    const file = path.join(dir, 'results.json');
    const has = await stat(file).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!has) {
      // the main job's overview page (main-<run-id>/index.html) is no run of its own
      if (id.startsWith(OVERVIEW_PREFIX)) continue;
      runs.push({ id, dir, startedAt: startOfRunId(id) ?? st.mtime.toISOString(), ...(await unfinishedRun(dir)) });
      continue;
    }
    try {
      const r = await loadResults(file);
      const error = failureLine(r);
      runs.push({ id: r.runId, dir, status: runVerdictOf(r), startedAt: r.startedAt, topology: r.topology.name, suites: r.suites, checks: tally(r.checks), errors: r.errors.length, ...(error ? { error } : {}) });
    } catch (e) {
      runs.push({ id, dir, status: 'unreadable', startedAt: startOfRunId(id) ?? st.mtime.toISOString(), suites: [], problem: (e as Error).message });
    }
  }
  const when = (r: RunSummary) => (r.startedAt ? Date.parse(r.startedAt) : NaN) || 0;
  return runs.sort((a, b) => when(b) - when(a) || b.id.localeCompare(a.id));
}

/** A run's checks in a few words; a run that ended early leads with why (no tally when nothing was checked). */
function checksText(r: RunSummary): string {
  if (!r.checks) return (r.problem ?? '').split('\n')[0]!;
  const c = r.checks;
  const tallied = [`${c.passed}/${c.total} passed`, c.failed ? `${c.failed} failed` : '', c.unknown ? `${c.unknown} unknown` : '', r.errors ? `${r.errors} error${r.errors === 1 ? '' : 's'}` : ''].filter(Boolean).join(', ');
  if (!r.error) return tallied;
  return c.total || r.errors ? `${r.error}; ${tallied}` : r.error;
}

/** `lvs-harness runs`: the list as a text table. */
export function formatRuns(list: readonly RunSummary[]): string {
  if (!list.length) return 'no runs\n';
  const rows = list.map((r) => [
    r.id,
    r.startedAt ? r.startedAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '',
    r.topology ?? '',
    r.suites.join(',') || '',
    r.status,
    checksText(r),
  ]);
  const head = ['RUN', 'STARTED (UTC)', 'TOPOLOGY', 'SUITES', 'VERDICT', 'CHECKS'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
