import type { HistoryEvent } from '../history/history.js';
import { formatTable } from '../ipvs/table.js';
import { boundChart, groupedBars, linearAxis, logAxis, relTime, timelineChart } from './charts.js';
import { distributionOf, ipvsEdits, ipvsTables, latencies, timeBoundOf, timelines, vrrpChanges, type Timeline } from './data.js';
import {
  duration,
  environmentParts,
  escapeAttr,
  escapeText,
  failureLine,
  failuresFirst,
  firstLine,
  labText,
  leftOutText,
  pretty,
  suiteOfError,
  suiteOrder,
  tally,
  tallyText,
  timingsText,
  runVerdictOf,
  verdictOf,
  wallMs,
  type RunVerdict,
} from './format.js';
import type { RecordedCheck, Results } from './results.js';

/**
 * report.html: one self-contained file (inline CSS and SVG, no script, no external reference)
 * that a release engineer can attach to a ticket and open anywhere. A Content-Security-Policy
 * forbids every fetch, so a reference that slipped in fails loudly in a browser test rather
 * than silently calling home.
 */

/** also the compare page's (compare/html.ts), so the two pages read alike */
export const CSS = `
:root{--pass:#1a7f37;--fail:#cf222e;--unknown:#9a6700;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#ffffff;--soft:#f6f8fa;--obs:#0969da;--exp:#8c959f;--fault:#fb8500;--vrrp:#8250df;--edit:#1f2328}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:0 20px 40px}
header.run{padding:18px 20px;border-bottom:4px solid var(--line);background:var(--soft)}
header.run.passed{border-color:var(--pass)}header.run.failed{border-color:var(--fail)}header.run.unknown{border-color:var(--unknown)}header.run.error{border-color:var(--fail)}header.run.interrupted{border-color:var(--unknown)}
.run-error{margin:10px 0 0;padding:8px 12px;border:1px solid var(--fail);border-left:6px solid var(--fail);border-radius:4px;background:#fff}.run-error.interrupted{border-color:var(--unknown)}.run-error p{margin:0 0 4px}
header.run .inner{max-width:1100px;margin:0 auto}
h1{margin:0 0 6px;font-size:22px}h2{margin:28px 0 8px;font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{margin:18px 0 6px;font-size:15px}
.badge{display:inline-block;white-space:nowrap;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;vertical-align:middle}
.badge.passed{background:var(--pass)}.badge.failed{background:var(--fail)}.badge.unknown{background:var(--unknown)}.badge.error{background:var(--fail)}.badge.interrupted{background:var(--unknown)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
nav.toc{margin:10px 0 0;font-size:13px}nav.toc a{margin-right:12px;color:var(--obs);text-decoration:none}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}th{background:var(--soft);font-weight:600}
td.nw{white-space:nowrap}table.checks{table-layout:fixed}table.checks th:nth-child(1){width:112px}table.checks th:nth-child(2){width:112px}table.checks th:nth-child(3){width:150px}table.checks th:nth-child(5){width:26%}
table.checks td{overflow-wrap:break-word}table.checks pre{white-space:pre-wrap}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td:first-child{box-shadow:inset 3px 0 var(--fail)}tr.unknown td:first-child{box-shadow:inset 3px 0 var(--unknown)}tr.error td:first-child{box-shadow:inset 3px 0 var(--fail)}
details>summary{cursor:pointer}details .body{margin:6px 0 4px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:4px;padding:8px;overflow:auto;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:4px 0}
.muted{color:var(--muted)}p.empty{color:var(--muted);font-style:italic}
figure{margin:10px 0 18px}figcaption{font-size:13px;margin-bottom:4px}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:8px 24px}
svg.chart{max-width:100%;height:auto;font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--ink)}
svg.chart .grid line{stroke:#eaeef2}svg.chart .axis{stroke:var(--muted)}svg.chart text.tick{fill:var(--muted)}svg.chart line.tick{stroke:var(--muted)}
svg.chart .observed rect,svg.chart .swatch.observed{fill:var(--obs)}svg.chart .expected rect,svg.chart .swatch.expected{fill:var(--exp)}
svg.chart .range path{stroke:var(--ink);stroke-width:1.2;fill:none}svg.chart text.value{font-size:10px;fill:var(--muted)}
svg.chart .p50 rect,svg.chart .swatch.p50{fill:#54aeff}svg.chart .p90 rect,svg.chart .swatch.p90{fill:#0969da}svg.chart .p99 rect,svg.chart .swatch.p99{fill:#0a3069}svg.chart .max rect,svg.chart .swatch.max{fill:#8c959f}
svg.chart .ok rect,svg.chart .swatch.ok{fill:#4ac26b}svg.chart .failed rect,svg.chart .swatch.failed{fill:var(--fail)}
svg.chart .fault-shade rect{fill:var(--fault);fill-opacity:.16}svg.chart .fault-shade rect.open{fill-opacity:.08}
svg.chart .fault rect,svg.chart .swatch.fault{fill:var(--fault);fill-opacity:.55}svg.chart .fault rect.open{fill-opacity:.25;stroke:var(--fault);stroke-dasharray:4 3}svg.chart .lane-labels text{font-size:10px}
svg.chart .vrrp path{stroke:var(--vrrp);stroke-dasharray:3 2;fill:var(--vrrp)}svg.chart .swatch.vrrp{fill:var(--vrrp)}svg.chart .vrrp-labels text{fill:var(--vrrp);font-size:10px}
svg.chart .edit path{stroke:var(--edit);stroke-width:1.4;fill:none}svg.chart .swatch.edit{fill:var(--edit)}
svg.chart .measured rect.passed,svg.chart .swatch.measured{fill:var(--pass)}svg.chart .measured rect.failed{fill:var(--fail)}svg.chart .measured rect.unknown{fill:var(--unknown)}
svg.chart text.unmeasured{fill:var(--muted);font-style:italic}svg.chart .bound path{stroke:var(--ink);stroke-width:2.5}svg.chart .swatch.bound{fill:var(--ink)}
svg.chart .tolerance rect,svg.chart .swatch.tolerance{fill:var(--fault);fill-opacity:.3}
svg.chart .resolution path{stroke:var(--ink);stroke-width:1.2;fill:none}svg.chart .swatch.resolution{fill:none;stroke:var(--ink)}
footer{max-width:1100px;margin:0 auto;padding:12px 20px 30px;color:var(--muted);font-size:12px}
`;

const esc = escapeText;
const MARK: Record<RunVerdict, string> = { passed: '✔', failed: '✘', unknown: '?', error: '!', interrupted: '■' };

export const badge = (v: RunVerdict) => `<span class="badge ${v}">${MARK[v]} ${v}</span>`;

/** The error that ended the run, first thing under the title: without it the page would look like a run with few checks. */
function runErrorBlock(r: Results): string {
  const e = r.error;
  if (!e) return '';
  const head = r.interrupted ? esc(e.message) : `error in <b>${esc(e.phase)}</b>${e.code ? `: <code>${esc(e.code)}</code>` : ''}`;
  return `<section id="error" class="run-error${r.interrupted ? ' interrupted' : ''}" role="alert"><p>${head}</p>${r.interrupted ? '' : `<pre>${esc(e.message)}</pre>`}${e.hint ? `<p><b>hint</b>: ${esc(e.hint)}</p>` : ''}<p class="muted">The run ended in this phase; the checks below are those recorded before it.</p></section>`;
}

const empty = (text: string) => `<p class="empty">${esc(text)}</p>`;

function header(r: Results, events: number): string {
  const v = runVerdictOf(r);
  const t = tally(r.checks);
  const wall = wallMs(r);
  const facts: [string, string][] = [
    ['run', `<code>${esc(r.runId)}</code>`],
    ['started', esc(r.startedAt) + (r.finishedAt ? ` · finished ${esc(r.finishedAt)}${wall !== undefined ? ` (${esc(duration(wall))})` : ''}` : '')],
    ['topology', `<b>${esc(r.topology.name)}</b> <span class="muted">${esc(r.topology.file)} · plan ${esc(r.topology.plan)}${r.topology.configRevision ? ` · revision ${esc(r.topology.configRevision)}` : ''}${r.topology.reused ? ' · reused' : ''}</span>`],
    ['suites', esc(r.suites.join(', ') || 'none')],
    // what `--suite all` did not run here, so that a pass is not read as covering it
    ...(r.leftOut?.length ? ([['left out', r.leftOut.map((l) => esc(leftOutText(l))).join('<br>')]] as [string, string][]) : []),
    ['checks', esc(tallyText(t, r.errors.length))],
    // the lab's release on a line of its own (absent before lab releases): a run on trixie is not a run on bookworm
    ...(r.runtime?.release ? ([['lab', esc(labText(r)!)]] as [string, string][]) : []),
    ['environment', environmentParts(r).map(esc).join('<br>')],
    ['timings', esc(timingsText(r))],
    ['history', `${events} event${events === 1 ? '' : 's'}`],
  ];
  return `<header class="run ${v}"><div class="inner">
<h1>${badge(v)} lvs-harness: ${esc(r.topology.name)}</h1>${runErrorBlock(r)}
<dl class="facts">${facts.map(([k, d]) => `<dt>${esc(k)}</dt><dd>${d}</dd>`).join('')}</dl>
<nav class="toc"><a href="#checks">checks</a><a href="#distribution">distribution</a><a href="#timeline">timeline</a><a href="#time-vs-bound">time vs bound</a><a href="#latency">latency</a><a href="#ipvs">IPVS table</a></nav>
</div></header>`;
}

function checkRow(c: RecordedCheck): string {
  const v = verdictOf(c.valid);
  // a detail that lists every client would make one row a screen tall: the table shows its
  // start, the expanded check all of it
  const short = c.detail === undefined ? '' : firstLine(c.detail, 180);
  const causes = (c.causes ?? [])
    .map(
      (k) =>
        `<div class="cause"><p><b>${k.id === 'no-known-cause' ? 'no known cause' : 'cause'}</b>: ${esc(k.sentence)}</p>${k.evidence
          .map((q) => `<pre>${esc(`${q.node}$ ${q.command}${q.note ? `   # ${q.note}` : ''}\n${q.lines.join('\n')}`)}</pre>`)
          .join('')}<p><b>fix</b>: ${esc(k.fix)}</p></div>`,
    )
    .join('');
  const body = [
    causes,
    c.rule ? `<p><b>rule</b>: ${esc(c.rule)}</p>` : '',
    c.detail && c.detail !== short ? `<p><b>detail</b>: ${esc(c.detail)}</p>` : '',
    `<div class="cols"><div><b>observed</b><pre>${esc(pretty(c.observed))}</pre></div><div><b>expected</b><pre>${esc(pretty(c.expected))}</pre></div></div>`,
  ].join('');
  return `<tr class="${v}" data-verdict="${v}"><td>${badge(v)}</td><td>${esc(c.suite)}</td><td>${esc(c.group)}</td><td class="check"><details${v === 'passed' ? '' : ' open'}><summary>${esc(c.name)}</summary><div class="body">${body}</div></details></td><td>${esc(short)}</td></tr>`;
}

function checksSection(r: Results): string {
  const order = suiteOrder(r);
  const rows = [
    ...r.errors.map(
      (e) =>
        `<tr class="error" data-verdict="error"><td>${badge('error')}</td><td>${esc(suiteOfError(e, order) ?? '')}</td><td></td><td class="check"><details open><summary>${esc(e.title)}</summary><pre>${esc(e.message)}</pre></details></td><td>${esc(e.message.split('\n')[0]!)}</td></tr>`,
    ),
    ...failuresFirst(r.checks).map(checkRow),
  ];
  const table = rows.length
    ? `<table class="checks"><thead><tr><th>verdict</th><th>suite</th><th>group</th><th>check</th><th>detail</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`
    : empty('No check recorded a verdict, and no error was recorded.');
  return `<section id="checks"><h2>Checks</h2>${table}</section>`;
}

/** three significant digits: 0.123 ms, 18.0 ms, 294 ms */
const clean = (v: number) => Number(v.toPrecision(3));

const pct = (v: number) => `${(v * 100).toFixed(v * 100 < 10 && v > 0 ? 1 : 0)}%`;

function distributionSection(r: Results): string {
  const ds = r.checks.map(distributionOf).filter((d) => d !== undefined);
  if (!ds.length) return `<section id="distribution"><h2>Distribution per virtual service</h2>${empty('No check in this run observed shares of connections per real server.')}</section>`;
  const figs = ds.map((d) => {
    const max = Math.max(...Object.values(d.observed), ...Object.values(d.expected ?? {}).map((e) => e + (d.tolerance ?? 0)));
    const series = [
      { name: 'observed', cls: 'observed', values: d.servers.map((s) => d.observed[s] ?? 0), titles: d.servers.map((s) => `${s}: observed ${pct(d.observed[s] ?? 0)}`) },
      ...(d.expected
        ? [
            {
              name: 'expected',
              cls: 'expected',
              values: d.servers.map((s) => d.expected![s] ?? 0),
              titles: d.servers.map((s) => `${s}: expected ${pct(d.expected![s] ?? 0)}${d.tolerance !== undefined ? ` ± ${pct(d.tolerance)}` : ''}`),
              ranges: d.tolerance !== undefined ? d.servers.map((s): [number, number] => [Math.max(0, (d.expected![s] ?? 0) - d.tolerance!), (d.expected![s] ?? 0) + d.tolerance!]) : undefined,
            },
          ]
        : []),
    ];
    const chart = groupedBars({ kind: 'distribution', label: `${d.check.group}: share of new connections per real server`, categories: d.servers, series, axis: linearAxis(Math.min(1, max) || 1, 4), format: pct, values: true, height: 200 });
    const v = verdictOf(d.check.valid);
    return `<figure data-check="${escapeAttr(d.check.name)}"><figcaption>${badge(v)} <b>${esc(d.check.group)}</b>: ${esc(d.check.name)}${d.connections !== undefined ? ` <span class="muted">(${d.connections} connections${d.tolerance !== undefined ? `, tolerance ± ${pct(d.tolerance)}` : ''})</span>` : ''}</figcaption>${chart}</figure>`;
  });
  return `<section id="distribution"><h2>Distribution per virtual service</h2><p class="muted">Share of new connections each real server received, against the share the scheduler promises.</p><div class="cols">${figs.join('\n')}</div></section>`;
}

function eventsTable(tl: Timeline): string {
  const rows = [
    ...tl.faults.map((f) => ({ t: f.start, kind: 'fault', node: f.target, text: `${f.fault}${f.startUnknown ? ' (start not recorded)' : ''} until ${f.open ? 'the end (never healed)' : relTime(f.end - tl.t0)}${f.detail ? `: ${f.detail}` : ''}` })),
    ...tl.vrrp.map((v) => ({ t: v.t, kind: 'vrrp', node: v.node, text: `${v.instance} → ${v.state}` })),
    ...tl.edits.map((e) => ({ t: e.t, kind: 'ipvs-edit', node: e.node, text: e.argv.join(' ') })),
    ...tl.holders.map((h) => ({ t: h.t, kind: 'vip', node: h.holders.join(', ') || '—', text: `${h.vip} held by ${h.holders.length === 0 ? 'no director' : h.holders.length > 1 ? `${h.holders.join(' and ')} (split brain)` : h.holders[0]}` })),
  ].sort((a, b) => a.t - b.t);
  if (!rows.length) return '';
  return `<details><summary>${rows.length} fault, VRRP, VIP-holder and IPVS event${rows.length === 1 ? '' : 's'}</summary><table><thead><tr><th>time</th><th>kind</th><th>node</th><th>what</th></tr></thead><tbody>${rows
    .map((x) => `<tr><td class="num">${esc(relTime(x.t - tl.t0))}</td><td>${esc(x.kind)}</td><td>${esc(x.node)}</td><td><code>${esc(x.text)}</code></td></tr>`)
    .join('')}</tbody></table></details>`;
}

function timelineSection(history: readonly HistoryEvent[]): string {
  const tls = timelines(history);
  const head = '<section id="timeline"><h2>Timeline per client node</h2>';
  if (!tls.length) {
    const extra = vrrpChanges(history).length + ipvsEdits(history).length;
    return `${head}${empty(history.length ? `No client operation in the history (${extra} VRRP/IPVS observations).` : 'The history is empty: no operation, fault or observation was recorded.')}</section>`;
  }
  const first = tls[0]!;
  const intro = `<p class="muted">Operations per ${esc(duration(first.bucketMs))} by start time, from the first event of the history (${esc(relTime(0))}) to ${esc(relTime(first.t1 - first.t0))}; failed operations stacked on the successful ones; fault windows shaded; VRRP transitions on top, IPVS edits below the axis.</p>`;
  const figs = tls.map((tl) => {
    const ok = tl.buckets.reduce((a, b) => a + b.ok, 0);
    const failed = tl.buckets.reduce((a, b) => a + b.failed, 0);
    return `<figure data-node="${escapeAttr(tl.node)}"><figcaption><b>${esc(tl.node)}</b> <span class="muted">${ok} ok, ${failed} failed</span></figcaption>${timelineChart(tl)}</figure>`;
  });
  return `${head}${intro}${figs.join('\n')}${eventsTable(first)}</section>`;
}

function boundSection(r: Results): string {
  const rows = r.checks.map(timeBoundOf).filter((b) => b !== undefined);
  const head = '<section id="time-vs-bound"><h2>Time vs bound</h2>';
  if (!rows.length) return `${head}${empty('No check in this run measured a time against a bound (failover time, real-server removal time).')}</section>`;
  const chart = boundChart(
    rows.map((b) => ({ label: `${b.check.group}: ${b.check.name}`, cls: verdictOf(b.check.valid), measured: b.measuredMs, bound: b.boundMs, tolerance: b.toleranceMs, resolution: b.resolutionMs })),
    duration,
  );
  const table = `<table><thead><tr><th>check</th><th>verdict</th><th class="num">measured</th><th class="num">bound</th><th class="num">tolerance</th><th class="num">resolution</th></tr></thead><tbody>${rows
    .map(
      (b) =>
        `<tr><td>${esc(`${b.check.group}: ${b.check.name}`)}</td><td>${badge(verdictOf(b.check.valid))}</td><td class="num">${b.measuredMs === undefined ? 'not measured' : esc(duration(b.measuredMs))}</td><td class="num">${esc(duration(b.boundMs))}</td><td class="num">${b.toleranceMs === undefined ? '' : esc(duration(b.toleranceMs))}</td><td class="num">${b.resolutionMs === undefined ? '' : esc(`± ${duration(b.resolutionMs)}`)}</td></tr>`,
    )
    .join('')}</tbody></table>`;
  return `${head}<figure>${chart}</figure>${table}</section>`;
}

function latencySection(history: readonly HistoryEvent[]): string {
  const rows = latencies(history);
  const head = '<section id="latency"><h2>Latency percentiles</h2>';
  if (!rows.length) return `${head}${empty('No successful operation in the history, so no latency to show.')}</section>`;
  const ms = (v: number) => (v >= 1000 ? `${clean(v / 1000)} s` : `${clean(v)} ms`);
  const table = `<table><thead><tr><th>node</th><th>operation</th><th class="num">ok ops</th><th class="num">p50</th><th class="num">p90</th><th class="num">p99</th><th class="num">max</th></tr></thead><tbody>${rows
    .map((x) => `<tr><td>${esc(x.node)}</td><td>${esc(x.op)}</td><td class="num">${x.count}</td><td class="num">${esc(ms(x.p50))}</td><td class="num">${esc(ms(x.p90))}</td><td class="num">${esc(ms(x.p99))}</td><td class="num">${esc(ms(x.max))}</td></tr>`)
    .join('')}</tbody></table>`;
  const all = rows.flatMap((x) => [x.p50, x.p90, x.p99, x.max]);
  const lo = Math.min(...all.filter((v) => v > 0));
  const hi = Math.max(...all);
  // a 5 ms p50 beside a 3 s max is unreadable on a linear scale
  const axis = Number.isFinite(lo) && hi / lo > 20 ? logAxis(lo, hi) : linearAxis(hi, 4);
  const keys = ['p50', 'p90', 'p99', 'max'] as const;
  const chart = groupedBars({
    kind: 'latency',
    label: 'latency percentiles of successful operations per node and kind',
    categories: rows.map((x) => `${x.node} ${x.op}`),
    series: keys.map((k) => ({ name: k, cls: k, values: rows.map((x) => x[k]), titles: rows.map((x) => `${x.node} ${x.op} ${k}: ${ms(x[k])} (${x.count} ok)`) })),
    axis,
    format: ms,
    height: 220,
  });
  return `${head}${table}<figure><figcaption class="muted">${axis.log ? 'logarithmic scale' : 'linear scale'}; nearest-rank percentiles of the latency of operations that succeeded</figcaption>${chart}</figure></section>`;
}


function ipvsSection(history: readonly HistoryEvent[], t0: number | undefined): string {
  const snaps = ipvsTables(history);
  const head = '<section id="ipvs"><h2>IPVS table before and after</h2>';
  if (!snaps.length) return `${head}${empty('No IPVS table was observed during this run (no ipvs-table observation in the history).')}</section>`;
  const at = (t: number) => (t0 === undefined ? '' : ` at ${relTime(t - t0)}`);
  const body = snaps.map((s) => {
    const one = s.count === 1;
    const block = (label: string, snap: typeof s.first) => `<div><b>${esc(label)}</b><span class="muted">${esc(at(snap.t))}</span><pre>${esc(formatTable(snap.table) || '(empty table)')}</pre></div>`;
    return `<h3>${esc(s.director)} <span class="muted">(${s.count} snapshot${one ? '' : 's'})</span></h3>${one ? block('the only snapshot', s.first) : `${block('first', s.first)}${block('last', s.last)}`}`;
  });
  return `${head}${body.join('\n')}</section>`;
}

/** validate: the lint findings on the operator's files (confirmed ones marked), the translation into the lab, the notes. */
function validateSection(r: Results): string {
  const v = r.validate;
  if (!v) return '';
  const sev = (s: string) => (s === 'error' ? 'fail' : s === 'warning' ? 'unknown' : 'pass');
  const findings = v.findings.length
    ? `<table class="checks"><thead><tr><th>severity</th><th>rule</th><th>where</th><th>finding</th></tr></thead><tbody>${v.findings
        .map(
          (f) =>
            `<tr class="${sev(f.severity)}"><td>${esc(f.severity)}</td><td><code>${esc(f.rule)}</code></td><td><code>${esc(`${f.file}:${f.line}`)}</code></td><td>${esc(f.message)}${f.hint ? `<br><span class="muted">hint: ${esc(f.hint)}</span>` : ''}${f.confirmedBy ? `<br><b>confirmed by the run</b>: ${esc(f.confirmedBy)}` : ''}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : empty('lint found nothing in the files.');
  const rows = v.translation.map((x) => `<tr><td>${esc(x.kind)}</td><td>${esc(x.director ?? '')}</td><td><code>${esc(x.theirs)}</code></td><td><code>${esc(x.lab)}</code></td></tr>`).join('');
  const notes = v.notes.length ? `<details><summary>${v.notes.length} note${v.notes.length === 1 ? '' : 's'} on what the lab adapted or does not judge</summary><ul>${v.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul></details>` : '';
  return `<section id="validate"><h2>Validate: ${esc(v.sources.join(', '))}</h2><h3>Lint</h3>${findings}<h3>Translation into the lab</h3><table><thead><tr><th>kind</th><th>director</th><th>theirs</th><th>lab</th></tr></thead><tbody>${rows}</tbody></table>${notes}</section>`;
}

/** merge-reports: the runs the page was merged from, one row each, so a failed shard's run is found at once. */
function mergedSection(r: Results): string {
  const runs = r.merged?.runs;
  if (!runs) return '';
  const rows = runs
    .map(
      (x) =>
        `<tr class="${x.verdict === 'passed' ? 'passed' : x.verdict === 'unknown' || x.verdict === 'interrupted' ? 'unknown' : x.verdict === 'error' ? 'error' : 'failed'}" data-verdict="${x.verdict}"><td>${badge(x.verdict)}</td><td><b>${esc(x.label)}</b></td><td><code>${esc(x.runId)}</code></td><td>${esc(x.suites.join(', ') || 'none')}</td><td>${esc(tallyText(x.checks, x.errors))}${x.error ? `<br>${esc(failureLine(x) ?? '')}` : ''}</td><td><code>${esc(x.dir)}</code></td></tr>`,
    )
    .join('');
  return `<section id="runs"><h2>Runs merged</h2><table class="runs"><thead><tr><th>verdict</th><th>label</th><th>run</th><th>suites</th><th>checks</th><th>directory</th></tr></thead><tbody>${rows}</tbody></table><p class="muted">Checks and errors are grouped as <code>label/suite</code>; history nodes are named <code>label/node</code>. Each run's environment is in results.json (merged.runs).</p></section>`;
}

/** The head every page of ours has: self-contained (no request leaves the file), the styles inline. */
export const htmlHead = (title: string, css: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lvs-harness">
<title>${esc(title)}</title>
<style>${css}</style>
</head>`;

/** `sections`: HTML a command adds at the top of the page's main part (bench's figures and charts) */
export function renderHtml(r: Results, history: readonly HistoryEvent[], sections = ''): string {
  const v = runVerdictOf(r);
  let t0: number | undefined;
  for (const e of history) if (Number.isFinite(e.t) && (t0 === undefined || e.t < t0)) t0 = e.t;
  return `${htmlHead(`${v.toUpperCase()} lvs-harness ${r.topology.name} ${r.runId}`, CSS)}
<body>
${header(r, history.length)}
<main>
${sections}${mergedSection(r)}
${validateSection(r)}
${checksSection(r)}
${distributionSection(r)}
${timelineSection(history)}
${boundSection(r)}
${latencySection(history)}
${ipvsSection(history, t0)}
</main>
<footer>Rendered by lvs-harness from results.json (${esc(r.schema)}) and history.ndjson. Times in the timeline are relative to the first event of the history, on the lab's clock.</footer>
</body>
</html>
`;
}
