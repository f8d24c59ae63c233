import path from 'node:path';
import { groupedBars, linearAxis, logAxis, type BarSeries } from '../report/charts.js';
import { escapeAttr, escapeText } from '../report/format.js';
import type { ExtraSections } from '../report/index.js';
import type { Results } from '../report/results.js';
import { readBench, type BenchKnee, type BenchMode, type BenchPoint, type BenchReport, type ConnectionMode } from './schema.js';
import { errorsOf } from './summarise.js';

/**
 * bench's section of report.html: the environment and the harness's own cost, then four
 * charts (throughput against concurrency per mode, latency percentiles per mode, kernel CPU per
 * 1,000 new connections/s, each mode over its ceiling) and every point in a table. Inline SVG
 * like the rest of the page: every chart is <svg data-chart>, every series <g data-series>,
 * every point an element with data-point and data-value.
 */

const esc = escapeText;
const PALETTE = ['#0969da', '#1a7f37', '#8250df', '#bf3989', '#9a6700', '#cf222e', '#1b7c83', '#57606a', '#fb8500', '#0a3069'];
const n1 = (v: number) => String(Math.round(v * 10) / 10);

const STYLE = `<style>
section.bench table td,section.bench table th{font-size:13px}
${PALETTE.map((c, i) => `svg.chart .bm${i} rect,svg.chart .swatch.bm${i}{fill:${c}}`).join('\n')}
</style>`;

interface Row {
  /** the series' name: the mode, with its topology when another topology has the same mode */
  label: string;
  topology: string;
  service: string;
  mode: BenchMode;
}

function rowsOf(r: BenchReport): Row[] {
  const rows: Row[] = [];
  const many = r.topologies.length > 1;
  for (const t of r.topologies)
    for (const s of t.services)
      for (const m of s.modes) {
        const svc = t.services.length > 1 ? `/${s.service}` : '';
        const label = m.mode === 'ceiling' ? `ceiling (${t.topology}${svc})` : `${m.mode}${many && m.mode !== t.topology ? ` (${t.topology}${svc})` : svc ? ` (${s.service})` : ''}`;
        rows.push({ label, topology: t.topology, service: s.service, mode: m });
      }
  return rows;
}

const fmtRate = (v: number) => (v >= 10_000 ? `${(v / 1000).toFixed(0)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(v >= 10 ? 0 : 1));
const fmtMs = (v: number | null | undefined) => (v == null ? '—' : v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2));
const fmtSize = (b: number) => (b >= 1048576 && b % 1048576 === 0 ? `${b / 1048576} MiB` : b >= 1024 && b % 1024 === 0 ? `${b / 1024} KiB` : `${b} B`);
const connLabel = (c: ConnectionMode) => (c === 'keep-alive' ? 'keep-alive (requests/s)' : 'new connection per request (connections/s)');

/** Throughput against concurrency, one line per mode; the x axis is the ramp's steps, equally spaced. */
function rampChart(rows: Row[], size: number, connection: ConnectionMode, steps: number[]): string {
  const series = rows
    .map((r, i) => ({ r, i, pts: r.mode.points.filter((p) => p.sizeBytes === size && p.connection === connection).sort((a, b) => a.concurrency - b.concurrency) }))
    .filter((s) => s.pts.length);
  if (!series.length) return '';
  const xs = [...new Set([...steps, ...series.flatMap((s) => s.pts.map((p) => p.concurrency))])].sort((a, b) => a - b);
  const max = Math.max(...series.flatMap((s) => s.pts.map((p) => p.rate.max)).filter(Number.isFinite), 1);
  const axis = linearAxis(max);
  const [w, h, left, right, top, bottom] = [640, 260, 60, 150, 16, 34];
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const x = (c: number) => left + (xs.length > 1 ? (plotW * xs.indexOf(c)) / (xs.length - 1) : plotW / 2);
  const y = (v: number) => top + plotH * (1 - axis.pos(v));
  const label = `throughput against concurrency, ${fmtSize(size)}, ${connLabel(connection)}`;
  const out = [`<svg data-chart="bench-throughput" class="chart" role="img" aria-label="${escapeAttr(label)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><title>${esc(label)}</title>`];
  out.push('<g class="grid">');
  for (const t of axis.ticks) out.push(`<line x1="${left}" x2="${left + plotW}" y1="${n1(y(t))}" y2="${n1(y(t))}"/><text class="tick" x="${left - 6}" y="${n1(y(t) + 4)}" text-anchor="end">${esc(fmtRate(t))}</text>`);
  out.push('</g>');
  for (const c of xs) out.push(`<text class="tick" x="${n1(x(c))}" y="${n1(top + plotH + 14)}" text-anchor="middle">${c}</text>`);
  out.push(`<text x="${n1(left + plotW / 2)}" y="${h - 4}" text-anchor="middle">connections</text>`);
  series.forEach((s, k) => {
    const colour = PALETTE[s.i % PALETTE.length]!;
    const dash = s.r.mode.mode === 'ceiling' ? ' stroke-dasharray="5 3"' : '';
    const d = s.pts.map((p, j) => `${j ? 'L' : 'M'}${n1(x(p.concurrency))} ${n1(y(p.rate.median))}`).join('');
    out.push(`<g data-series="${escapeAttr(s.r.label)}"><path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
    for (const p of s.pts)
      out.push(
        `<circle data-point="${p.concurrency}" data-value="${p.rate.median}" cx="${n1(x(p.concurrency))}" cy="${n1(y(p.rate.median))}" r="3.5" fill="${colour}"><title>${esc(`${s.r.label}, ${p.concurrency} connections: ${p.rate.median.toFixed(0)}/s (min ${p.rate.min.toFixed(0)}, max ${p.rate.max.toFixed(0)}), errors ${(p.errorRate * 100).toFixed(2)}%`)}</title></circle>`,
      );
    out.push(`<rect class="swatch" x="${left + plotW + 12}" y="${top + k * 16}" width="10" height="10" fill="${colour}"/><text x="${left + plotW + 26}" y="${top + k * 16 + 9}">${esc(s.r.label)}</text></g>`);
  });
  out.push(`<line class="axis" x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}"/></svg>`);
  return `<figure><figcaption>${esc(label)}</figcaption>${out.join('')}</figure>`;
}

/** the point a mode is summed up by: its knee, else the highest concurrency measured */
function kneePoint(m: BenchMode, size: number, connection: ConnectionMode): { point?: BenchPoint; knee?: BenchKnee } {
  const pts = m.points.filter((p) => p.sizeBytes === size && p.connection === connection);
  const knee = m.knees.find((k) => k.sizeBytes === size && k.connection === connection);
  const at = knee?.concurrency;
  const point = (at !== undefined ? pts.find((p) => p.concurrency === at) : undefined) ?? [...pts].sort((a, b) => b.concurrency - a.concurrency)[0];
  return { ...(point ? { point } : {}), ...(knee ? { knee } : {}) };
}

function latencyChart(rows: Row[], size: number, connection: ConnectionMode): string {
  const cells = rows.map((r) => ({ r, ...kneePoint(r.mode, size, connection) })).filter((c) => c.point && c.point.latency.count > 0);
  if (!cells.length) return '';
  const get = (k: 'p50Ms' | 'p90Ms' | 'p99Ms' | 'maxMs') => cells.map((c) => c.point!.latency[k] ?? undefined);
  const series: BarSeries[] = [
    { name: 'p50', cls: 'p50', values: get('p50Ms') },
    { name: 'p90', cls: 'p90', values: get('p90Ms') },
    { name: 'p99', cls: 'p99', values: get('p99Ms') },
    { name: 'max', cls: 'max', values: get('maxMs') },
  ];
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && v > 0);
  const label = `latency percentiles at each mode's knee (ms), ${fmtSize(size)}, ${connection}`;
  const chart = groupedBars({ kind: 'bench-latency', label, categories: cells.map((c) => `${c.r.label} c=${c.point!.concurrency}`), series, axis: logAxis(Math.min(...all), Math.max(...all)), format: (v) => fmtMs(v) });
  return `<figure><figcaption>${esc(label)}</figcaption>${chart}</figure>`;
}

/** the CPU chart and the ratio chart: one bar series per (size, connection) */
function perModeBars(kind: string, label: string, rows: Row[], keys: { size: number; connection: ConnectionMode }[], value: (r: Row, size: number, c: ConnectionMode) => number | undefined, format: (v: number) => string, titleOf: (r: Row, size: number, c: ConnectionMode, v: number) => string): string {
  const used = rows.filter((r) => keys.some((k) => value(r, k.size, k.connection) !== undefined));
  if (!used.length) return '';
  const series: BarSeries[] = keys.map((k, i) => {
    const values = used.map((r) => value(r, k.size, k.connection));
    return { name: `${fmtSize(k.size)} ${k.connection}`, cls: `bm${i % PALETTE.length}`, values, titles: used.map((r, j) => (values[j] === undefined ? undefined : titleOf(r, k.size, k.connection, values[j]!))) };
  });
  const max = Math.max(...series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && Number.isFinite(v)), 0);
  const chart = groupedBars({ kind, label, categories: used.map((r) => r.label), series: series.filter((s) => s.values.some((v) => v !== undefined)), axis: linearAxis(max > 0 ? max : 1), format, values: true });
  return `<figure><figcaption>${esc(label)}</figcaption>${chart}</figure>`;
}

function environmentTable(r: BenchReport): string {
  const e = r.environment;
  const rows: [string, string][] = [
    ['emulation', e.emulation === 'tcg' ? 'tcg: software emulation (every figure is a fraction of what real hardware does)' : e.emulation],
    ['host', `${e.host.os}, ${e.host.cpus} CPUs, ${e.host.memoryMiB} MiB, Node ${e.host.node}`],
    ...(e.lab ? ([['lab', `kernel ${e.lab.kernel}, Docker ${e.lab.docker}, ipvsadm ${e.lab.ipvsadm}, keepalived ${e.lab.keepalived}`]] as [string, string][]) : []),
    ...(e.haproxy ? ([['HAProxy', e.haproxy]] as [string, string][]) : []),
    ['load generator', `${e.generator ?? r.settings.generator} in the client node, ${r.settings.seconds} s per repetition, ${r.settings.repeat} repetition${r.settings.repeat > 1 ? 's' : ''} per point, ${r.settings.warmupSeconds} s warm-up before each point (excluded)`],
    ['ramp', `${r.settings.steps.join(', ')} connections, until over 1% errors or no rise beyond the repetitions' noise (the knee)`],
    ['sizes', r.settings.sizes.map(fmtSize).join(', ')],
    ...(r.settings.faults?.length ? ([['faults held', `${r.settings.faults.join(', ')}: injected after the build, held through every point of the topology, healed before teardown`]] as [string, string][]) : []),
    ['director CPU', r.directorCpu.how],
    ['harness', `${e.harness.version} (${e.harness.git})`],
  ];
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

function costTable(r: BenchReport): string {
  const rows = r.harness.topologies.map((t) => `<tr><td>${esc(t.topology)}</td><td class="num">${t.upSeconds.toFixed(1)} s</td><td class="num">${t.downSeconds !== undefined ? `${t.downSeconds.toFixed(1)} s` : '—'}</td></tr>`).join('');
  return `<table><thead><tr><th>topology</th><th class="num">up</th><th class="num">teardown</th></tr></thead><tbody>${rows}</tbody></table><p class="muted">The whole bench run: ${r.harness.totalSeconds.toFixed(0)} s.</p>`;
}

function pointsTable(rows: Row[]): string {
  const trs = rows.flatMap((r) =>
    [...r.mode.points]
      .sort((a, b) => a.sizeBytes - b.sizeBytes || a.connection.localeCompare(b.connection) || a.concurrency - b.concurrency)
      .map((p) => {
        const errs = p.repetitions.reduce((n, x) => n + errorsOf(x), 0);
        const cpu = p.directorCpuPer1000;
        return `<tr data-mode="${escapeAttr(r.mode.mode)}"><td>${esc(r.label)}</td><td>${esc(p.connection)}</td><td class="num">${esc(fmtSize(p.sizeBytes))}</td><td class="num">${p.concurrency}</td><td class="num">${p.rate.median.toFixed(0)} <span class="muted">(${p.rate.min.toFixed(0)}–${p.rate.max.toFixed(0)})</span></td><td class="num">${fmtMs(p.latency.p50Ms)} / ${fmtMs(p.latency.p90Ms)} / ${fmtMs(p.latency.p99Ms)} / ${fmtMs(p.latency.maxMs)}</td><td class="num">${errs} (${(p.errorRate * 100).toFixed(2)}%)</td><td class="num">${cpu ? cpu.median.toFixed(3) : '—'}</td><td class="num">${p.ratio?.rate ? p.ratio.rate.median.toFixed(2) : '—'}</td></tr>`;
      }),
  );
  return `<table class="bench-points"><thead><tr><th>mode</th><th>connection</th><th class="num">size</th><th class="num">conns</th><th class="num">rate/s median (min–max)</th><th class="num">p50 / p90 / p99 / max ms</th><th class="num">errors</th><th class="num">kernel cores per 1,000/s</th><th class="num">÷ ceiling</th></tr></thead><tbody>${trs.join('')}</tbody></table>`;
}

export function renderBenchSection(r: BenchReport): string {
  const rows = rowsOf(r);
  const keys = r.settings.sizes.flatMap((size) => r.settings.connections.map((connection) => ({ size, connection })));
  const ramps = keys.map((k) => rampChart(rows, k.size, k.connection, r.settings.steps)).join('');
  const lat = keys.map((k) => latencyChart(rows, k.size, k.connection)).join('');
  const newConn = keys.filter((k) => k.connection === 'new-connection');
  const cpuOf = (row: Row, size: number, c: ConnectionMode) => kneePoint(row.mode, size, c).point?.directorCpuPer1000?.median;
  const cpu = perModeBars(
    'bench-cpu',
    "kernel CPU per 1,000 new connections/s at each mode's knee (cores; the ceiling's bar is the same load without a director)",
    rows,
    newConn,
    cpuOf,
    (v) => v.toFixed(2),
    (row, size, c, v) => {
      const ceiling = rows.find((x) => x.topology === row.topology && x.service === row.service && x.mode.mode === 'ceiling');
      const base = ceiling && ceiling !== row ? cpuOf(ceiling, size, c) : undefined;
      return `${row.label} ${fmtSize(size)}: ${v.toFixed(3)} cores per 1,000 connections/s${base !== undefined ? `, ${(v - base).toFixed(3)} over the ceiling's` : ''}`;
    },
  );
  const ratio = perModeBars(
    'bench-ceiling',
    "each mode's knee rate over its ceiling's (1 = as fast as straight to one real server)",
    rows.filter((x) => x.mode.mode !== 'ceiling'),
    keys,
    (row, size, c) => row.mode.knees.find((k) => k.sizeBytes === size && k.connection === c)?.ratio,
    (v) => v.toFixed(2),
    (row, size, c, v) => `${row.label} ${fmtSize(size)} ${c}: ${v.toFixed(2)} of the ceiling`,
  );
  const knees = rows
    .filter((x) => x.mode.mode !== 'ceiling')
    .flatMap((x) => x.mode.knees.map((k) => `<tr><td>${esc(x.label)}</td><td>${esc(k.connection)}</td><td class="num">${esc(fmtSize(k.sizeBytes))}</td><td class="num">${k.concurrency ?? '—'}</td><td class="num">${k.rate !== undefined ? k.rate.toFixed(0) : '—'}</td><td>${esc(k.reason)}${k.reached ? '' : ' (not reached)'} at ${k.stoppedAt}</td><td class="num">${k.ratio !== undefined ? k.ratio.toFixed(2) : '—'}</td></tr>`))
    .join('');
  const paths = r.topologies
    .flatMap((t) => t.services.filter((s) => s.ceilingPath).map((s) => `<li><b>${esc(t.topology)}/${esc(s.service)}</b> (${esc(s.vip)}:${s.port}): ${esc(s.ceilingPath!)}</li>`))
    .join('');
  return `<section id="bench" class="bench">${STYLE}<h2>Bench</h2>
${environmentTable(r)}
<h3>Knees</h3><table><thead><tr><th>mode</th><th>connection</th><th class="num">size</th><th class="num">knee (conns)</th><th class="num">rate/s</th><th>stopped</th><th class="num">÷ ceiling</th></tr></thead><tbody>${knees}</tbody></table>
<h3>The ceiling: the same load straight to one real server</h3><ul>${paths}</ul>
<h3>Throughput against concurrency</h3><div class="cols">${ramps}</div>
<h3>Latency</h3><div class="cols">${lat}</div>
<h3>Director CPU per 1,000 new connections/s</h3><p class="muted">${esc(r.directorCpu.how)}</p>${cpu || '<p class="empty">no new-connection point with a CPU reading</p>'}
<h3>Each mode against the ceiling</h3>${ratio || '<p class="empty">no ceiling measured</p>'}
<h3>Every point</h3>${pointsTable(rows)}
<h3>The harness's own cost</h3>${costTable(r)}
</section>
`;
}

/** what bench's section is drawn from: bench.json's report, or why there is none */
export type BenchSource = { report: BenchReport } | { absent: string };

/**
 * bench's section of report.html, the one path both `lvs-harness bench` and `lvs-harness report`
 * put it on the page by: the figures and charts of the report, or, without one, a line saying
 * why the section is absent (a bench run's page never just lacks it).
 */
export function benchSection(s: BenchSource): string {
  if ('report' in s) return renderBenchSection(s.report);
  return `<section id="bench" class="bench"><h2>Bench</h2><p class="empty" data-bench-absent>No bench figures or charts: ${esc(s.absent)}</p></section>\n`;
}

/**
 * The bench.json of a run directory, for `lvs-harness report` to draw the section again from:
 * missing, unreadable, not JSON, of another schema version or invalid, it is the reason the
 * section is absent (the first line of the error, naming the file and the field), never a throw.
 */
export async function benchSourceOfRun(runDir: string): Promise<BenchSource> {
  try {
    return { report: await readBench(path.join(runDir, 'bench.json')) };
  } catch (e) {
    return { absent: (e instanceof Error ? e.message : String(e)).split('\n')[0]! };
  }
}

/**
 * bench's sections for `lvs-harness report <run-dir>` (rerender's `sections`): for a bench run,
 * its section drawn again from bench.json, or the line saying why it is absent with a warning;
 * undefined for a run that is not a bench run (a bench.json beside it notwithstanding).
 */
export async function benchSectionsOfRun(runDir: string, results: Results): Promise<ExtraSections | undefined> {
  if (!results.suites.includes('bench')) return undefined;
  const bench = await benchSourceOfRun(runDir);
  return { html: () => benchSection(bench), warnings: 'absent' in bench ? [`no bench section in report.html: ${bench.absent}`] : [] };
}
