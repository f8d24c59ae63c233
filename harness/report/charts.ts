import type { Timeline } from './data.js';
import { escapeAttr, escapeText } from './format.js';

/**
 * Inline SVG charts for report.html: no library, no script, no external reference (the file
 * must open the same on an air-gapped machine years later). Every chart is
 * <svg data-chart=kind>, every series <g data-series=name>, every point one element with
 * data-point (and data-value), so tests can count what is drawn. Coordinates are rounded to
 * one decimal so the same input renders the same bytes.
 */

const CHAR_PX = 6.2; // a character of the 11 px sans-serif the labels use, near enough to truncate by

const n1 = (v: number) => String(Math.round(v * 10) / 10);

const truncate = (s: string, px: number) => {
  const max = Math.max(1, Math.floor(px / CHAR_PX));
  return s.length > max ? `${s.slice(0, Math.max(1, max - 1))}…` : s;
};

const title = (t: string) => `<title>${escapeText(t)}</title>`;

function svgOpen(kind: string, w: number, h: number, label: string, extra = ''): string {
  return `<svg data-chart="${escapeAttr(kind)}"${extra} class="chart" role="img" aria-label="${escapeAttr(label)}" width="${n1(w)}" height="${n1(h)}" viewBox="0 0 ${n1(w)} ${n1(h)}">${title(label)}`;
}

export interface Axis {
  ticks: number[];
  /** value → 0..1 along the axis */
  pos(v: number): number;
  log: boolean;
}

/** 1, 2, 2.5 or 5 times a power of ten, the smallest at least `raw`. */
export function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(raw));
  const m = raw / e;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * e;
}

const clean = (v: number) => Number(v.toPrecision(12));

/** From 0 to a round maximum; `integer` for counts, where a tick at 0.25 operations means nothing. */
export function linearAxis(maxValue: number, target = 5, integer = false): Axis {
  const top = maxValue > 0 ? maxValue : 1;
  let step = niceStep(top / target);
  if (integer) step = Math.max(1, step === 2.5 ? 2 : step);
  const max = clean(Math.ceil(top / step - 1e-9) * step);
  const ticks: number[] = [];
  for (let i = 0; clean(i * step) <= max; i++) ticks.push(clean(i * step));
  return { ticks, pos: (v) => Math.min(1, Math.max(0, v / max)), log: false };
}

/** For values that span decades (latencies: a 2 ms p50 next to a 3 s max). */
export function logAxis(minPositive: number, maxValue: number): Axis {
  const lo = 10 ** Math.floor(Math.log10(minPositive > 0 ? minPositive : 1));
  let hi = 10 ** Math.ceil(Math.log10(maxValue > 0 ? maxValue : 1));
  if (hi <= lo) hi = lo * 10;
  const ticks: number[] = [];
  for (let v = lo; v <= hi * 1.0001; v *= 10) ticks.push(clean(v));
  const span = Math.log10(hi) - Math.log10(lo);
  return { ticks, pos: (v) => (v <= lo ? 0 : Math.min(1, (Math.log10(v) - Math.log10(lo)) / span)), log: true };
}

function legend(items: { name: string; cls: string; label?: string }[], x: number, y: number): string {
  let cx = x;
  const parts = items.map((it) => {
    const text = it.label ?? it.name;
    const s = `<rect class="swatch ${escapeAttr(it.cls)}" x="${n1(cx)}" y="${n1(y - 9)}" width="10" height="10"/><text x="${n1(cx + 14)}" y="${n1(y)}">${escapeText(text)}</text>`;
    cx += 14 + text.length * CHAR_PX + 16;
    return s;
  });
  return `<g class="legend">${parts.join('')}</g>`;
}

export interface BarSeries {
  name: string;
  /** a CSS class giving the colour */
  cls: string;
  /** one value per category; undefined draws nothing (and counts no point) */
  values: (number | undefined)[];
  titles?: (string | undefined)[];
  /** a [low, high] range drawn over the bar: the tolerance around an expected share */
  ranges?: ([number, number] | undefined)[];
  label?: string;
}

export interface GroupedBarsOptions {
  kind: string;
  label: string;
  categories: string[];
  series: BarSeries[];
  axis: Axis;
  format: (v: number) => string;
  height?: number;
  /** print each bar's value above it */
  values?: boolean;
}

/** Bars side by side per category (observed vs expected share; p50/p90/p99/max). */
export function groupedBars(o: GroupedBarsOptions): string {
  const left = 60;
  const right = 12;
  const top = 26;
  const bottom = 30;
  const h = o.height ?? 220;
  const barW = 28;
  const band = Math.max(90, o.series.length * barW + 36);
  const w = Math.min(960, Math.max(360, left + right + o.categories.length * band));
  const plotW = w - left - right;
  const plotH = h - top - bottom;
  const bw = plotW / Math.max(1, o.categories.length);
  const each = Math.min(barW, (bw * 0.8) / Math.max(1, o.series.length));
  const y = (v: number) => top + plotH * (1 - o.axis.pos(v));
  const out: string[] = [svgOpen(o.kind, w, h, o.label)];
  out.push(legend(o.series.map((s) => ({ name: s.name, cls: s.cls, label: s.label })), left, 14));
  out.push('<g class="grid">');
  for (const t of o.axis.ticks) out.push(`<line x1="${left}" x2="${n1(w - right)}" y1="${n1(y(t))}" y2="${n1(y(t))}"/><text class="tick" x="${left - 6}" y="${n1(y(t) + 4)}" text-anchor="end">${escapeText(o.format(t))}</text>`);
  out.push('</g>');
  const x0 = (ci: number) => left + bw * ci + (bw - each * o.series.length) / 2;
  const labels: string[] = [];
  const ranges: string[] = [];
  o.series.forEach((s, si) => {
    out.push(`<g data-series="${escapeAttr(s.name)}" class="${escapeAttr(s.cls)}">`);
    s.values.forEach((v, ci) => {
      if (v === undefined || !Number.isFinite(v)) return;
      const x = x0(ci) + each * si;
      const yt = y(v);
      const cat = o.categories[ci] ?? '';
      out.push(
        `<rect data-point="${escapeAttr(cat)}" data-value="${escapeAttr(String(v))}" x="${n1(x + 1)}" y="${n1(yt)}" width="${n1(Math.max(1, each - 2))}" height="${n1(Math.max(0, top + plotH - yt))}">${title(s.titles?.[ci] ?? `${cat} ${s.label ?? s.name}: ${o.format(v)}`)}</rect>`,
      );
      if (o.values && each >= 18) labels.push(`<text class="value" x="${n1(x + each / 2)}" y="${n1(yt - 3)}" text-anchor="middle">${escapeText(o.format(v))}</text>`);
      const r = s.ranges?.[ci];
      if (r) {
        const cx = x + each / 2;
        ranges.push(`<path d="M${n1(cx)} ${n1(y(r[0]))}V${n1(y(r[1]))}M${n1(cx - 5)} ${n1(y(r[0]))}h10M${n1(cx - 5)} ${n1(y(r[1]))}h10"/>`);
      }
    });
    out.push('</g>');
  });
  if (ranges.length) out.push(`<g class="range">${ranges.join('')}</g>`);
  if (labels.length) out.push(`<g class="values">${labels.join('')}</g>`);
  out.push(`<line class="axis" x1="${left}" x2="${n1(w - right)}" y1="${n1(top + plotH)}" y2="${n1(top + plotH)}"/>`);
  out.push('<g class="categories">');
  o.categories.forEach((c, ci) => {
    out.push(`<text x="${n1(left + bw * ci + bw / 2)}" y="${n1(top + plotH + 16)}" text-anchor="middle">${escapeText(truncate(c, bw - 4))}${c.length * CHAR_PX > bw - 4 ? title(c) : ''}</text>`);
  });
  out.push('</g></svg>');
  return out.join('');
}

export interface BoundRow {
  label: string;
  /** CSS class from the check's recorded verdict */
  cls: string;
  /** undefined: the check could not measure; its bound is drawn alone */
  measured?: number;
  bound: number;
  tolerance?: number;
  resolution?: number;
}

/** Measured duration against its bound, one row per check, bound (+ tolerance) marked. */
export function boundChart(rows: BoundRow[], format: (ms: number) => string): string {
  const left = 28;
  const right = 90;
  const top = 26;
  const rowH = 40;
  const w = 960;
  const h = top + rows.length * rowH + 26;
  const plotW = w - left - right;
  const axis = linearAxis(Math.max(1, ...rows.map((r) => Math.max((r.measured ?? 0) + (r.resolution ?? 0), r.bound + (r.tolerance ?? 0)))) * 1.05);
  const x = (v: number) => left + plotW * axis.pos(v);
  const series: { name: string; cls: string; label: string }[] = [{ name: 'measured', cls: 'measured', label: 'measured' }, { name: 'bound', cls: 'bound', label: 'bound' }];
  if (rows.some((r) => r.tolerance !== undefined)) series.push({ name: 'tolerance', cls: 'tolerance', label: 'bound + tolerance' });
  if (rows.some((r) => r.resolution !== undefined)) series.push({ name: 'resolution', cls: 'resolution', label: '± resolution' });
  const out: string[] = [svgOpen('time-vs-bound', w, h, 'measured time against its bound per check')];
  out.push(legend(series, left, 14));
  const bottom = top + rows.length * rowH;
  out.push('<g class="grid">');
  for (const t of axis.ticks) out.push(`<line x1="${n1(x(t))}" x2="${n1(x(t))}" y1="${top}" y2="${n1(bottom)}"/><text class="tick" x="${n1(x(t))}" y="${n1(bottom + 16)}" text-anchor="middle">${escapeText(format(t))}</text>`);
  out.push('</g><g class="row-labels">');
  rows.forEach((r, i) => out.push(`<text x="${left}" y="${n1(top + i * rowH + 12)}">${escapeText(truncate(r.label, plotW))}</text>`));
  out.push('</g>');
  const barY = (i: number) => top + i * rowH + 17;
  const barH = 14;
  const group = (name: string, cls: string, body: string[]) => `<g data-series="${name}" class="${cls}">${body.join('')}</g>`;
  const point = (r: BoundRow) => `data-point="${escapeAttr(r.label)}"`;
  const tol: string[] = [];
  const meas: string[] = [];
  const bnd: string[] = [];
  const res: string[] = [];
  rows.forEach((r, i) => {
    const y = barY(i);
    if (r.tolerance !== undefined)
      tol.push(`<rect ${point(r)} data-value="${r.tolerance}" x="${n1(x(r.bound))}" y="${n1(y - 3)}" width="${n1(Math.max(1, x(r.bound + r.tolerance) - x(r.bound)))}" height="${barH + 6}">${title(`${r.label}: tolerance ${format(r.tolerance)} (bound + tolerance ${format(r.bound + r.tolerance)})`)}</rect>`);
    if (r.measured !== undefined)
      meas.push(`<rect ${point(r)} data-value="${r.measured}" class="${escapeAttr(r.cls)}" x="${left}" y="${n1(y)}" width="${n1(Math.max(1, x(r.measured) - left))}" height="${barH}">${title(`${r.label}: measured ${format(r.measured)}, bound ${format(r.bound)}`)}</rect>`);
    else out.push(`<text class="unmeasured" x="${left + 4}" y="${n1(y + 11)}">not measured</text>`);
    bnd.push(`<path ${point(r)} data-value="${r.bound}" d="M${n1(x(r.bound))} ${n1(y - 5)}V${n1(y + barH + 5)}">${title(`${r.label}: bound ${format(r.bound)}`)}</path>`);
    if (r.resolution !== undefined && r.measured !== undefined) {
      const a = x(Math.max(0, r.measured - r.resolution));
      const b = x(r.measured + r.resolution);
      const m = y + barH / 2;
      res.push(`<path ${point(r)} data-value="${r.resolution}" d="M${n1(a)} ${n1(m)}H${n1(b)}M${n1(a)} ${n1(m - 4)}v8M${n1(b)} ${n1(m - 4)}v8">${title(`${r.label}: resolution ± ${format(r.resolution)}`)}</path>`);
    }
    out.push(`<text class="value" x="${n1(w - right + 6)}" y="${n1(y + 11)}">${escapeText(`${r.measured === undefined ? '—' : format(r.measured)} / ${format(r.bound)}`)}</text>`);
  });
  if (tol.length) out.push(group('tolerance', 'tolerance', tol));
  if (meas.length) out.push(group('measured', 'measured', meas));
  out.push(group('bound', 'bound', bnd));
  if (res.length) out.push(group('resolution', 'resolution', res));
  out.push('</svg>');
  return out.join('');
}

/** +12 s, +1 min 30 s: time since the first event of the history. */
export function relTime(ms: number): string {
  if (ms < 60_000) return `+${clean(Math.round(ms / 100) / 10)} s`;
  const s = Math.round(ms / 1000);
  return `+${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
}

/**
 * Operations per time bucket of one client node, ok stacked under failed, with fault windows
 * shaded behind them (Jepsen's plots), VRRP transitions as markers on top and IPVS edits as
 * ticks under the axis.
 */
export function timelineChart(tl: Timeline): string {
  const left = 48;
  const right = 14;
  // room for two rows of VRRP labels, so that a failover and its failback a few seconds
  // apart are both named
  const top = tl.vrrp.length ? 52 : 28;
  const plotH = 130;
  const laneH = 14;
  const lanes = [...new Set(tl.faults.map((f) => `${f.fault} ${f.target}`))];
  const lanesH = lanes.length ? lanes.length * laneH + 4 : 0;
  const editBand = 16;
  const w = 960;
  const h = top + plotH + lanesH + editBand + 22;
  const plotW = w - left - right;
  const span = Math.max(tl.t1 - tl.t0, tl.bucketMs);
  const x = (t: number) => left + (plotW * (t - tl.t0)) / span;
  const bottom = top + plotH;
  const axis = linearAxis(Math.max(1, ...tl.buckets.map((b) => b.ok + b.failed)), 4, true);
  const y = (v: number) => bottom - plotH * axis.pos(v);
  const bw = Math.max(1, (plotW * tl.bucketMs) / span - 1);
  const bucketLabel = (b: { start: number }) => `${relTime(b.start - tl.t0)} … ${relTime(b.start - tl.t0 + tl.bucketMs)}`;
  const series: { name: string; cls: string; label: string; body: string[] }[] = [];

  // a window is shaded behind the bars (where operations failed) and drawn as a bar in its
  // fault's lane under the plot, which stays readable when the operations fill every bucket
  const shades: string[] = [];
  const laneLabels: string[] = [];
  const faults = tl.faults.map((f) => {
    const x1 = x(f.start);
    const x2 = Math.max(x1 + 2, x(f.end));
    const name = `${f.fault} ${f.target}`;
    const ly = bottom + 4 + lanes.indexOf(name) * laneH;
    const when = `${f.startUnknown ? 'before the first event' : relTime(f.start - tl.t0)} → ${f.open ? 'never healed' : relTime(f.end - tl.t0)}`;
    const cls = f.open ? ' class="open"' : '';
    shades.push(`<rect x="${n1(x1)}" y="${top}" width="${n1(x2 - x1)}" height="${plotH}"${cls}/>`);
    laneLabels.push(`<text x="${n1(x1 + 3)}" y="${n1(ly + laneH - 4)}">${escapeText(`${name}${f.open ? ' (never healed)' : ''}`)}</text>`);
    return `<rect data-point="${escapeAttr(name)}" data-value="${f.end - f.start}" x="${n1(x1)}" y="${n1(ly)}" width="${n1(x2 - x1)}" height="${laneH - 2}"${cls}>${title(`${f.fault} on ${f.target}: ${when}${f.detail ? ` (${f.detail})` : ''}`)}</rect>`;
  });
  if (faults.length) series.push({ name: 'faults', cls: 'fault', label: 'fault window', body: faults });

  const ok = tl.buckets.filter((b) => b.ok).map((b) => `<rect data-point="${b.start - tl.t0}" data-value="${b.ok}" x="${n1(x(b.start))}" y="${n1(y(b.ok))}" width="${n1(bw)}" height="${n1(bottom - y(b.ok))}">${title(`${bucketLabel(b)}: ${b.ok} ok`)}</rect>`);
  if (ok.length) series.push({ name: 'ok', cls: 'ok', label: 'ok', body: ok });

  const failed = tl.buckets
    .filter((b) => b.failed)
    .map((b) => {
      const outcomes = Object.entries(b.outcomes).map(([k, v]) => `${v} ${k}`).join(', ');
      return `<rect data-point="${b.start - tl.t0}" data-value="${b.failed}" x="${n1(x(b.start))}" y="${n1(y(b.ok + b.failed))}" width="${n1(bw)}" height="${n1(y(b.ok) - y(b.ok + b.failed))}">${title(`${bucketLabel(b)}: ${b.failed} failed (${outcomes})`)}</rect>`;
    });
  if (failed.length) series.push({ name: 'failed', cls: 'failed', label: 'failed', body: failed });

  const vrrpLabels: string[] = [];
  const rowEnd = [-Infinity, -Infinity];
  const vrrp = tl.vrrp.map((v) => {
    const vx = x(v.t);
    const text = `${v.node} ${v.instance} ${v.state}`;
    const row = rowEnd.findIndex((end) => vx + 5 > end + 6);
    if (row >= 0) {
      vrrpLabels.push(`<text x="${n1(vx + 5)}" y="${top - 6 - row * 13}">${escapeText(text)}</text>`);
      rowEnd[row] = vx + 5 + text.length * CHAR_PX * 0.85;
    }
    return `<path data-point="${escapeAttr(`${v.node} ${v.instance}`)}" data-value="${escapeAttr(v.state)}" d="M${n1(vx)} ${bottom}V${top}M${n1(vx - 4)} ${top - 8}h8l-4 8z">${title(`${relTime(v.t - tl.t0)}: ${v.node} ${v.instance} → ${v.state}`)}</path>`;
  });
  if (vrrp.length) series.push({ name: 'vrrp', cls: 'vrrp', label: 'VRRP state', body: vrrp });

  const edits = tl.edits.map((e) => {
    const ex = x(e.t);
    const yb = bottom + lanesH + 3;
    return `<path data-point="${escapeAttr(e.node)}" data-value="${escapeAttr(e.argv.join(' '))}" d="M${n1(ex)} ${yb}v${editBand - 6}M${n1(ex - 3)} ${yb + editBand - 6}h6">${title(`${relTime(e.t - tl.t0)} on ${e.node}: ${e.argv.join(' ')}`)}</path>`;
  });
  if (edits.length) series.push({ name: 'ipvs-edit', cls: 'edit', label: 'IPVS edit', body: edits });

  const out: string[] = [svgOpen('timeline', w, h, `operations of ${tl.node} over time`, ` data-node="${escapeAttr(tl.node)}"`)];
  out.push(legend(series.map((s) => ({ name: s.name, cls: s.cls, label: s.label })), left, 14));
  out.push('<g class="grid">');
  for (const t of axis.ticks) out.push(`<line x1="${left}" x2="${n1(w - right)}" y1="${n1(y(t))}" y2="${n1(y(t))}"/><text class="tick" x="${left - 6}" y="${n1(y(t) + 4)}" text-anchor="end">${t}</text>`);
  const step = niceStep(span / 8);
  for (let i = 0; i * step <= span; i++) {
    const tx = x(tl.t0 + i * step);
    out.push(`<line class="tick" x1="${n1(tx)}" x2="${n1(tx)}" y1="${bottom}" y2="${bottom + 4}"/><text class="tick" x="${n1(tx)}" y="${h - 6}" text-anchor="middle">${escapeText(relTime(i * step))}</text>`);
  }
  out.push('</g>');
  if (shades.length) out.push(`<g class="fault-shade">${shades.join('')}</g>`);
  for (const s of series) out.push(`<g data-series="${escapeAttr(s.name)}" class="${s.cls}">${s.body.join('')}</g>`);
  if (laneLabels.length) out.push(`<g class="lane-labels">${laneLabels.join('')}</g>`);
  if (vrrpLabels.length) out.push(`<g class="vrrp-labels">${vrrpLabels.join('')}</g>`);
  out.push(`<line class="axis" x1="${left}" x2="${n1(w - right)}" y1="${bottom}" y2="${bottom}"/>`);
  if (lanes.length) out.push(`<text class="tick" x="${left - 6}" y="${bottom + 4 + laneH - 4}" text-anchor="end">faults</text>`);
  if (edits.length) out.push(`<text class="tick" x="${left - 6}" y="${bottom + lanesH + editBand - 2}" text-anchor="end">edits</text>`);
  out.push('</svg>');
  return out.join('');
}
