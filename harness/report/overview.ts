import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hostEnvironment } from '../runtime/environment.js';
import { duration, escapeAttr, escapeText as esc, failureLine, firstLine, releaseText, runVerdictOf, type RunVerdict } from './format.js';
import { badge, CSS, htmlHead } from './html.js';
import type { ResultsV1 } from './results.js';

/**
 * The main job's overview: one page, reports/main-<run-id>/index.html, with a row per run the
 * job made (the smoke check, then the modes suite on each shipped topology), its verdict,
 * counts, time, the first line of any error, and a relative link to its own report, so that
 * the reports folder opened in a browser reads from the top. Self-contained like report.html
 * (its stylesheet, badges, escaping and Content-Security-Policy).
 */

/** The overview directories' prefix: `runs` skips them (they are no run of their own). */
export const OVERVIEW_PREFIX = 'main-';

/** What a row reads of a suite run: suite/runner.ts's RunResult is one (the overview names no layer above report/). */
export type OverviewRun = Pick<ResultsV1, 'runId' | 'valid' | 'checks' | 'errors' | 'error' | 'interrupted'> & { reportDir: string };

/** What a row and the page's header read of the smoke check: smoke.ts's SmokeResult is one. */
export type OverviewSmoke = Pick<ResultsV1, 'runId' | 'valid' | 'checks' | 'error'> & {
  reportDir: string;
  runtime?: { kind: string; reason: string; endpoint: string; kernel: string; dockerVersion: string; release?: string };
};

export interface OverviewEntry {
  /** what ran: "smoke", "nat modes" */
  name: string;
  verdict: RunVerdict;
  /** as the main job's table counts them: failed adds checks that could not judge and errors */
  passed: number;
  failed: number;
  durationMs?: number;
  /** the run's report (report.html; results.json for the smoke check), relative to the overview page */
  href: string;
  runId?: string;
  /** the error that ended the run first, then errors that did not */
  errors?: string[];
  /** the checks that did not pass, "group: name" */
  failures?: string[];
}

export interface OverviewMeta {
  /** main-<run-id> */
  id?: string;
  startedAt?: string;
  finishedAt?: string;
  /** the Docker engine the job ran on, as the smoke check saw it */
  runtime?: { kind: string; kernel?: string; endpoint?: string; docker?: string; reason?: string; release?: string };
  /** the machine the harness ran on */
  host?: { os: string; kernel: string; node: string; cpus?: number; memoryMiB?: number };
  /** topologies the job did not get to, and why */
  notRun?: { names: string[]; reason: string };
}

export interface OverviewTotals {
  runs: number;
  passed: number;
  failed: number;
  /** runs whose verdict is not passed */
  notPassed: number;
}

export const overviewTotals = (entries: readonly OverviewEntry[]): OverviewTotals => ({
  runs: entries.length,
  passed: entries.reduce((a, e) => a + e.passed, 0),
  failed: entries.reduce((a, e) => a + e.failed, 0),
  notPassed: entries.filter((e) => e.verdict !== 'passed').length,
});

/**
 * The job as a whole: interrupted, then error, then failed, then unknown win over passed, and a
 * failed count fails it, as it does the main job's exit code; a job that ran nothing is unknown.
 */
export function overviewVerdict(entries: readonly OverviewEntry[]): RunVerdict {
  const has = (v: RunVerdict) => entries.some((e) => e.verdict === v);
  if (has('interrupted')) return 'interrupted';
  if (has('error')) return 'error';
  if (has('failed') || entries.some((e) => e.failed > 0)) return 'failed';
  if (has('unknown') || !entries.length) return 'unknown';
  return 'passed';
}

/** A link from the page in `fromDir` to `file`: relative, with forward slashes, each segment encoded. */
export function relativeHref(fromDir: string, file: string): string {
  return path.relative(fromDir, file).split(path.sep).map(encodeURIComponent).join('/');
}

/** The smoke check's row; its report is results.json (the check has no topology to draw). */
export function smokeEntry(r: OverviewSmoke, overviewDir: string, durationMs?: number): OverviewEntry {
  const passed = r.checks.filter((c) => c.valid === true).length;
  const error = failureLine(r);
  return {
    name: 'smoke',
    verdict: runVerdictOf({ valid: r.valid, error: r.error }),
    passed,
    failed: r.checks.length - passed + (r.error ? 1 : 0),
    ...(durationMs !== undefined ? { durationMs } : {}),
    href: relativeHref(overviewDir, path.join(r.reportDir, 'results.json')),
    runId: r.runId,
    ...(error ? { errors: [error] } : {}),
    failures: r.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.name}`),
  };
}

/** A suite run's row, counted as the main job's table counts it. */
export function runEntry(name: string, r: OverviewRun, overviewDir: string, durationMs?: number): OverviewEntry {
  const passed = r.checks.filter((c) => c.valid === true).length;
  const end = failureLine(r);
  const errors = [...(end ? [end] : []), ...r.errors.map((e) => `${e.title}: ${firstLine(e.message)}`)];
  return {
    name,
    verdict: runVerdictOf(r),
    passed,
    failed: r.checks.length - passed + r.errors.length + (r.error ? 1 : 0),
    ...(durationMs !== undefined ? { durationMs } : {}),
    href: relativeHref(overviewDir, path.join(r.reportDir, 'report.html')),
    runId: r.runId,
    ...(errors.length ? { errors } : {}),
    failures: r.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.name}`),
  };
}

// only what report.html has no class for
const EXTRA_CSS = `
table.overview td.name{font-weight:600}table.overview tr.has-detail td{border-bottom:0}table.overview tr.detail td{padding-top:0}
tr.detail ul{margin:2px 0 4px;padding-left:20px}tr.detail li{overflow-wrap:anywhere}tr.detail pre{white-space:pre-wrap}
.lede{margin:6px 0 0;font-size:15px}
`;

const FAILURES_SHOWN = 10;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function detailRow(e: OverviewEntry): string {
  const errors = e.errors ?? [];
  const failures = e.failures ?? [];
  if (!errors.length && !failures.length) return '';
  const more = failures.length - FAILURES_SHOWN;
  const parts = [
    ...errors.map((x) => `<pre class="error-line">${esc(x)}</pre>`),
    failures.length
      ? `<ul class="failures">${failures
          .slice(0, FAILURES_SHOWN)
          .map((f) => `<li>${esc(f)}</li>`)
          .join('')}${more > 0 ? `<li class="muted">and ${plural(more, 'more check')} in the report</li>` : ''}</ul>`
      : '',
  ];
  return `<tr class="detail ${e.verdict}" data-detail-for="${escapeAttr(e.name)}"><td></td><td colspan="5">${parts.join('')}</td></tr>`;
}

/** The link's file name as a reader knows it (report.html), decoded when it can be. */
function linkText(href: string): string {
  const file = href.split('/').pop() || href;
  try {
    return decodeURIComponent(file);
  } catch {
    return file;
  }
}

function row(e: OverviewEntry): string {
  const file = linkText(e.href);
  const detail = detailRow(e);
  return `<tr class="${e.verdict}${detail ? ' has-detail' : ''}" data-run="${escapeAttr(e.name)}" data-verdict="${e.verdict}"><td class="name">${esc(e.name)}${e.runId ? `<br><code class="muted">${esc(e.runId)}</code>` : ''}</td><td>${badge(e.verdict)}</td><td class="num">${e.passed}</td><td class="num">${e.failed}</td><td class="num">${e.durationMs === undefined ? '' : esc(duration(e.durationMs))}</td><td><a href="${escapeAttr(e.href)}">${esc(file)}</a></td></tr>${detail}`;
}

function facts(meta: OverviewMeta, t: OverviewTotals): [string, string][] {
  const out: [string, string][] = [];
  if (meta.id) out.push(['job', `<code>${esc(meta.id)}</code>`]);
  if (meta.startedAt) {
    const ms = meta.finishedAt ? Date.parse(meta.finishedAt) - Date.parse(meta.startedAt) : NaN;
    out.push(['started', esc(meta.startedAt) + (meta.finishedAt ? ` · finished ${esc(meta.finishedAt)}${Number.isFinite(ms) && ms >= 0 ? ` (${esc(duration(ms))})` : ''}` : '')]);
  }
  out.push(['checks', esc(`${t.passed} passed, ${t.failed} failed`)]);
  const rt = meta.runtime;
  out.push([
    'runtime',
    rt
      ? esc([`${rt.kind}${rt.endpoint ? ` (${rt.endpoint})` : ''}`, rt.release ? releaseText(rt.release) : '', rt.kernel ? `kernel ${rt.kernel}` : '', rt.docker ? `Docker ${rt.docker}` : ''].filter(Boolean).join(', ')) + (rt.reason ? `<br><span class="muted">${esc(rt.reason)}</span>` : '')
      : '<span class="muted">not known (the smoke check ended before it had one)</span>',
  ]);
  const h = meta.host;
  if (h) out.push(['machine', esc([h.os, `kernel ${h.kernel}`, `node ${h.node}`, h.cpus !== undefined ? `${h.cpus} CPUs` : '', h.memoryMiB !== undefined ? `${h.memoryMiB} MiB` : ''].filter(Boolean).join(', '))]);
  return out;
}

/** The overview page: the job's verdict and totals, then one row per run with a link to its report. */
export function renderOverview(entries: readonly OverviewEntry[], meta: OverviewMeta = {}): string {
  const v = overviewVerdict(entries);
  const t = overviewTotals(entries);
  const lede = !entries.length
    ? 'No run was made.'
    : t.notPassed
      ? `${t.notPassed} of ${plural(t.runs, 'run')} did not pass; ${t.passed} checks passed, ${t.failed} failed.`
      : `All ${plural(t.runs, 'run')} passed: ${t.passed} checks passed, ${t.failed} failed.`;
  const table = entries.length
    ? `<table class="overview"><thead><tr><th>run</th><th>verdict</th><th class="num">passed</th><th class="num">failed</th><th class="num">time</th><th>report</th></tr></thead><tbody>${entries.map(row).join('\n')}</tbody></table>`
    : '<p class="empty">The main job made no run.</p>';
  const notRun = meta.notRun?.names.length ? `<p class="not-run"><b>Not run</b>: ${esc(meta.notRun.names.join(', '))} <span class="muted">(${esc(meta.notRun.reason)})</span></p>` : '';
  return `${htmlHead(`${v.toUpperCase()} lvs-harness main${meta.id ? ` ${meta.id}` : ''}`, CSS + EXTRA_CSS)}
<body>
<header class="run ${v}"><div class="inner">
<h1>${badge(v)} lvs-harness main</h1>
<p class="lede" data-totals="${t.passed}/${t.failed}">${esc(lede)}</p>
<dl class="facts">${facts(meta, t)
    .map(([k, d]) => `<dt>${esc(k)}</dt><dd>${d}</dd>`)
    .join('')}</dl>
</div></header>
<main>
<section id="runs"><h2>Runs</h2>${table}${notRun}</section>
</main>
<footer>Written by lvs-harness main. Each link leads to that run's own report, relative to this page: open it from the reports folder.</footer>
</body>
</html>
`;
}

/** Writes `<reportsDir>/<id>/index.html` (through a temporary name) and returns its path. */
export async function writeOverview(dir: string, html: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'index.html');
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, html);
  await rename(tmp, file);
  return file;
}

/** One suite run of the main job, with the wall time it took. */
export interface MainRun {
  topology: string;
  result: OverviewRun;
  ms: number;
}

/**
 * The main job's overview, written beside the runs' own directories (the smoke check's reports
 * directory tells where those are): reports/main-<run-id>/index.html. Returns its path.
 */
export async function writeMainOverview(o: { id: string; startedAt: Date; smoke: OverviewSmoke; smokeMs: number; runs: readonly MainRun[]; planned: readonly string[] }): Promise<string> {
  const dir = path.join(path.dirname(o.smoke.reportDir), o.id);
  const entries = [smokeEntry(o.smoke, dir, o.smokeMs), ...o.runs.map((x) => runEntry(`${x.topology} modes`, x.result, dir, x.ms))];
  const missing = o.planned.filter((t) => !o.runs.some((x) => x.topology === t));
  const stopper = o.runs.at(-1);
  const reason = o.smoke.error ? 'the smoke check ended in an error' : stopper ? `${stopper.topology} ended in an error in phase ${stopper.result.error?.phase ?? '?'}` : 'the job stopped early';
  const rt = o.smoke.runtime;
  const html = renderOverview(entries, {
    id: o.id,
    startedAt: o.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ...(rt ? { runtime: { kind: rt.kind, kernel: rt.kernel, endpoint: rt.endpoint, docker: rt.dockerVersion, reason: rt.reason, ...(rt.release ? { release: rt.release } : {}) } } : {}),
    host: hostEnvironment().host,
    ...(missing.length ? { notRun: { names: [...missing], reason } } : {}),
  });
  return writeOverview(dir, html);
}
