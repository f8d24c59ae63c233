import { groupedBars, linearAxis } from '../report/charts.js';
import { escapeAttr, escapeText as esc, firstLine, type RunVerdict } from '../report/format.js';
import { badge, CSS, htmlHead } from '../report/html.js';
import type { Comparison, RunInfo } from './compare.js';
import type { TimeSeries } from './times.js';
import type { CheckSide } from './verdicts.js';
import { CHANGE_LABEL, changeText, checkTitle, judgementText, ms, notReachedText, points, runEnd, seriesTitle, share } from './words.js';

/**
 * The compare page: the two runs side by side in one self-contained file, with report.html's
 * stylesheet, badges, escaping and charts (and its Content-Security-Policy: no fetch at all).
 */

// only what report.html has no class for: the two runs' colours and a differing row
const EXTRA_CSS = `
svg.chart .run-a rect,svg.chart .swatch.run-a{fill:#54aeff}svg.chart .run-b rect,svg.chart .swatch.run-b{fill:var(--obs)}
tr.differs td{background:#fff8c5}tr.differs td:first-child{box-shadow:inset 3px 0 var(--unknown)}
tr.pass-to-fail td:first-child{box-shadow:inset 3px 0 var(--fail)}tr.to-unknown td:first-child,tr.removed td:first-child{box-shadow:inset 3px 0 var(--unknown)}
table.changes{table-layout:fixed}table.changes th:nth-child(1){width:120px}table.changes th:nth-child(2){width:30%}table.changes td{overflow-wrap:break-word}
.change{white-space:nowrap;font-weight:600}.beyond{font-weight:600}.nw{white-space:nowrap}
`;

const empty = (text: string) => `<p class="empty">${esc(text)}</p>`;

function runFacts(label: string, r: RunInfo): string {
  const end = runEnd(r);
  const facts: [string, string][] = [
    ['run', `<code>${esc(r.runId)}</code>`],
    ['directory', `<code>${esc(r.dir)}</code>`],
    ['started', esc(r.startedAt)],
    ['topology', `<b>${esc(r.topology)}</b>`],
    ['suites', esc(r.suites.join(', ') || 'none')],
    ['checks', esc(`${r.checks.total}: ${r.checks.passed} passed, ${r.checks.failed} failed, ${r.checks.unknown} unknown`)],
    ['history', r.historyEvents === undefined ? 'history.ndjson missing' : `${r.historyEvents} events`],
  ];
  return `<div data-run="${label}"><h3>${badge(r.verdict)} ${label}</h3>${end ? `<section class="run-error${r.interrupted ? ' interrupted' : ''}" role="alert"><p>${esc(end)}</p>${r.error?.hint ? `<p><b>hint</b>: ${esc(r.error.hint)}</p>` : ''}</section>` : ''}<dl class="facts">${facts.map(([k, d]) => `<dt>${esc(k)}</dt><dd>${d}</dd>`).join('')}</dl></div>`;
}

function header(c: Comparison): string {
  const v: RunVerdict = c.passToFail ? 'failed' : 'passed';
  const what = c.passToFail ? `${c.passToFail} check${c.passToFail === 1 ? '' : 's'} went from pass to fail` : 'no check went from pass to fail';
  return `<header class="run ${v}"><div class="inner">
<h1>lvs-harness compare: ${esc(c.a.runId)} → ${esc(c.b.runId)}</h1>
<p>${badge(v)} ${esc(what)}; ${c.verdicts.changes.length} verdict${c.verdicts.changes.length === 1 ? '' : 's'} changed, ${c.verdicts.unchanged} unchanged</p>
<div class="cols">${runFacts('A', c.a)}${runFacts('B', c.b)}</div>
<nav class="toc"><a href="#environment">environment</a><a href="#verdicts">verdicts</a><a href="#times">measured times</a><a href="#distribution">distribution</a></nav>
</div></header>`;
}

function environmentSection(c: Comparison): string {
  const head = '<section id="environment"><h2>Environment</h2>';
  if (!c.environment.length) return `${head}${empty('Neither run recorded its environment (results@0).')}</section>`;
  const differs = c.environment.filter((e) => e.differs).length;
  const rows = c.environment.map(
    (e) => `<tr class="${e.differs ? 'differs' : ''}" data-field="${escapeAttr(e.field)}"${e.differs ? ' data-differs' : ''}><td>${esc(e.field)}</td><td>${esc(e.a ?? 'not recorded')}</td><td>${esc(e.b ?? 'not recorded')}</td></tr>`,
  );
  return `${head}<p class="muted">${differs ? `${differs} field${differs === 1 ? '' : 's'} differ (highlighted).` : 'The same in both runs.'}</p><table><thead><tr><th>field</th><th>A</th><th>B</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

const sideCell = (s: CheckSide | null) => (s ? `${badge(s.verdict)}${s.detail ? ` ${esc(firstLine(s.detail, 300))}` : ''}` : '<span class="muted">—</span>');

function verdictSection(c: Comparison): string {
  const head = '<section id="verdicts"><h2>Checks whose verdict changed</h2>';
  if (!c.verdicts.changes.length) return `${head}${empty(`No verdict changed (${c.verdicts.unchanged} checks in both runs).`)}</section>`;
  const rows = c.verdicts.changes.map((x) => {
    const nr = notReachedText(x, c.a, c.b);
    return `<tr class="${x.kind}" data-change="${x.kind}"><td class="change">${esc(CHANGE_LABEL[x.kind])}</td><td>${esc(checkTitle(x))}${nr ? `<br><span class="muted">${esc(nr)}</span>` : ''}</td><td>${sideCell(x.a)}</td><td>${sideCell(x.b)}</td></tr>`;
  });
  return `${head}<table class="changes"><thead><tr><th>change</th><th>check</th><th>A</th><th>B</th></tr></thead><tbody>${rows.join('\n')}</tbody></table></section>`;
}

function timesChart(series: TimeSeries[]): string {
  const shown = series.filter((s) => s.a.median !== undefined || s.b.median !== undefined);
  if (!shown.length) return '';
  const range = (s: TimeSeries['a']): [number, number] | undefined => (s.samples.length > 1 ? [Math.min(...s.samples.map((x) => x.ms)), Math.max(...s.samples.map((x) => x.ms))] : undefined);
  const max = Math.max(...shown.flatMap((s) => [...s.a.samples, ...s.b.samples].map((x) => x.ms)));
  const side = (name: 'A' | 'B', key: 'a' | 'b') => ({
    name,
    cls: `run-${key}`,
    label: `${name} median (line: min to max)`,
    values: shown.map((s) => s[key].median),
    ranges: shown.map((s) => range(s[key])),
    titles: shown.map((s) => `${seriesTitle(s)}: ${name} ${s[key].samples.map((x) => ms(x.ms)).join(', ') || 'not measured'}`),
  });
  // one topology on both sides (the usual case): the kind alone fits under a bar
  const oneTopology = new Set(shown.map((s) => s.topology)).size === 1;
  return `<figure>${groupedBars({ kind: 'compare-times', label: 'median measured time per kind and topology, A against B', categories: shown.map((s) => (oneTopology ? s.label : seriesTitle(s))), series: [side('A', 'a'), side('B', 'b')], axis: linearAxis(max, 4), format: ms, height: 240 })}</figure>`;
}

function timesSection(c: Comparison): string {
  const head = '<section id="times"><h2>Measured times</h2>';
  if (!c.times.length) return `${head}${empty('Neither run has a check that measured a time (failover, removal, re-insertion, preemption).')}</section>`;
  const values = (s: TimeSeries['a']) =>
    [...s.samples.map((x) => `<span class="nw" title="${escapeAttr(`${x.group}: ${x.name} (${x.verdict})`)}">${esc(ms(x.ms))}</span>`), ...(s.unmeasured ? [`<span class="muted nw">${s.unmeasured} not measured</span>`] : [])].join(', ') ||
    '<span class="muted">—</span>';
  const rows = c.times.map((s) => {
    const j = s.judgement;
    const beyond = j.judged && j.beyondSpread;
    return `<tr data-kind="${escapeAttr(s.kind)}" data-topology="${escapeAttr(s.topology)}"${beyond ? ' data-beyond' : ''}><td>${esc(seriesTitle(s))}</td><td>${values(s.a)}</td><td>${values(s.b)}</td><td>${esc(changeText(s))}</td><td class="${beyond ? 'beyond' : ''}">${esc(judgementText(s, j))}</td></tr>`;
  });
  return `${head}<p class="muted">Per kind of measurement and topology, every value each run measured (several when a suite ran repeatedly or injected several faults). Whether the median moved beyond the spread of the repetitions is a two-sided Mann-Whitney rank test at the 0.05 level, run when both sides have at least 3 values.</p><table><thead><tr><th>measurement</th><th>A</th><th>B</th><th>change</th><th>beyond the spread?</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>${timesChart(c.times)}</section>`;
}

function distributionSection(c: Comparison): string {
  const head = '<section id="distribution"><h2>Distribution per virtual service</h2>';
  if (!c.distributions.length) return `${head}${empty('Neither run has a check that observed shares of connections per real server.')}</section>`;
  const figs = c.distributions.map((d) => {
    const servers = d.rows.map((r) => r.server);
    const hasExpected = d.rows.some((r) => r.expected !== undefined);
    const series = [
      { name: 'A', cls: 'run-a', values: d.rows.map((r) => r.a), titles: d.rows.map((r) => `${r.server}: A ${r.a !== undefined ? share(r.a) : 'not observed'}`) },
      { name: 'B', cls: 'run-b', values: d.rows.map((r) => r.b), titles: d.rows.map((r) => `${r.server}: B ${r.b !== undefined ? share(r.b) : 'not observed'}${r.change !== undefined ? ` (${points(r.change)})` : ''}`) },
      ...(hasExpected ? [{ name: 'expected', cls: 'expected', values: d.rows.map((r) => r.expected) }] : []),
    ];
    const max = Math.max(...d.rows.flatMap((r) => [r.a ?? 0, r.b ?? 0, r.expected ?? 0]));
    const chart = groupedBars({ kind: 'compare-distribution', label: `${d.group}: share of new connections per real server, A against B`, categories: servers, series, axis: linearAxis(Math.min(1, max) || 1, 4), format: share, height: 200 });
    const table = `<table><thead><tr><th>server</th><th class="num">A</th><th class="num">B</th><th class="num">change</th><th class="num">expected</th></tr></thead><tbody>${d.rows
      .map((r) => `<tr><td>${esc(r.server)}</td><td class="num">${r.a !== undefined ? share(r.a) : '—'}</td><td class="num">${r.b !== undefined ? share(r.b) : '—'}</td><td class="num">${r.change !== undefined ? esc(points(r.change)) : ''}</td><td class="num">${r.expected !== undefined ? share(r.expected) : ''}</td></tr>`)
      .join('')}</tbody></table>`;
    const conns = (s: typeof d.a) => (s?.connections !== undefined ? `${s.connections}` : '?');
    return `<figure data-check="${escapeAttr(d.name)}"><figcaption><b>${esc(d.group)}</b>: ${esc(d.name)} <span class="muted">(A ${d.a ? `${d.a.verdict}, ${conns(d.a)} connections` : '—'}; B ${d.b ? `${d.b.verdict}, ${conns(d.b)} connections` : '—'})</span></figcaption>${chart}${table}</figure>`;
  });
  return `${head}<p class="muted">Share of new connections each real server received in each run.</p><div class="cols">${figs.join('\n')}</div></section>`;
}

export function renderCompareHtml(c: Comparison): string {
  return `${htmlHead(`${c.passToFail ? 'FAILED' : 'PASSED'} lvs-harness compare ${c.a.runId} → ${c.b.runId}`, CSS + EXTRA_CSS)}
<body>
${header(c)}
<main>
${environmentSection(c)}
${verdictSection(c)}
${timesSection(c)}
${distributionSection(c)}
</main>
<footer>Rendered by lvs-harness compare from the two runs' results.json. A is the baseline, B the candidate.</footer>
</body>
</html>
`;
}
