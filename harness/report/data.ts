import type { FaultEvent, HistoryEvent, ObservationEvent } from '../history/history.js';
import type { TableService } from '../ipvs/table.js';
import type { RecordedCheck } from './results.js';

/**
 * What the HTML report draws, read out of the checks' observations and the history. These are
 * descriptive figures (shares, percentiles, counts per second), never verdicts: a check's
 * verdict is only ever the one its checker recorded.
 */

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A mapping of names to finite numbers ({ rs1: 4, rs2: 4 }), or undefined. */
function numberMap(v: unknown): Record<string, number> | undefined {
  if (!isRecord(v)) return undefined;
  const e = Object.entries(v);
  if (!e.length || !e.every(([, x]) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  return v as Record<string, number>;
}

function normalise(m: Record<string, number>): Record<string, number> {
  const sum = Object.values(m).reduce((a, b) => a + b, 0);
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, sum ? v / sum : 0]));
}

export const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

export interface Distribution {
  check: RecordedCheck;
  servers: string[];
  /** share of new connections per real server, 0..1 */
  observed: Record<string, number>;
  expected?: Record<string, number>;
  /** ± absolute share the checker allowed around the expected share */
  tolerance?: number;
  /** connections behind the shares, when the check says */
  connections?: number;
}

/**
 * The share per real server for checks that observed one: `shares` directly (wrr), or `totals`
 * (rr) as fractions of their sum. Expected shares come from `expected.shares`, or from
 * `expected.perRound` (rr: what one round gives each server).
 */
export function distributionOf(check: RecordedCheck): Distribution | undefined {
  const o = check.observed;
  if (!isRecord(o)) return undefined;
  const shares = numberMap(o.shares);
  const totals = numberMap(o.totals);
  const observed = shares ?? (totals && normalise(totals));
  if (!observed) return undefined;
  const e = isRecord(check.expected) ? check.expected : {};
  const expShares = numberMap(e.shares);
  const perRound = numberMap(e.perRound);
  const expected = expShares ?? (perRound && normalise(perRound));
  const servers = [...new Set([...Object.keys(observed), ...Object.keys(expected ?? {})])].sort(byName);
  const connections = typeof o.connections === 'number' ? o.connections : totals ? Object.values(totals).reduce((a, b) => a + b, 0) : undefined;
  return { check, servers, observed, expected, tolerance: typeof e.tolerance === 'number' ? e.tolerance : undefined, connections };
}

export interface TimeBound {
  check: RecordedCheck;
  /** undefined when the checker could not measure (it records null): the bound is still drawn */
  measuredMs?: number;
  boundMs: number;
  toleranceMs?: number;
  resolutionMs?: number;
}

/** Checks that measured a duration against a bound (failover time, real-server removal time), or tried to. */
export function timeBoundOf(check: RecordedCheck): TimeBound | undefined {
  const o = check.observed;
  if (!isRecord(o)) return undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const measuredMs = num(o.measuredMs);
  const boundMs = num(o.boundMs);
  if (boundMs === undefined || (measuredMs === undefined && o.measuredMs !== null)) return undefined;
  const resolutionMs = num(o.resolutionMs);
  // checkers record a resolution of 0 when they had too few samples to know it
  return { check, measuredMs, boundMs, toleranceMs: num(o.toleranceMs), resolutionMs: resolutionMs && resolutionMs > 0 ? resolutionMs : undefined };
}

export interface FaultWindow {
  fault: string;
  target: string;
  start: number;
  end: number;
  /** the fault never ended in the history (the run stopped first, or a heal was lost) */
  open: boolean;
  /** the history holds an end without its start: the window is drawn from the first event */
  startUnknown: boolean;
  detail?: string;
}

/** Start/end pairs per fault and target, in order; unmatched ends run from t0, unmatched starts to t1. */
export function faultWindows(events: readonly HistoryEvent[], t0: number, t1: number): FaultWindow[] {
  const open = new Map<string, FaultEvent[]>();
  const out: FaultWindow[] = [];
  const faults = events.filter((e): e is FaultEvent => e.type === 'fault').sort((a, b) => a.t - b.t);
  for (const f of faults) {
    const key = `${f.fault}\u0000${f.target}`;
    if (f.phase === 'start') {
      open.set(key, [...(open.get(key) ?? []), f]);
      continue;
    }
    const waiting = open.get(key) ?? [];
    const s = waiting.shift();
    out.push({ fault: f.fault, target: f.target, start: s?.t ?? t0, end: f.t, open: false, startUnknown: !s, detail: s?.detail ?? f.detail });
  }
  for (const waiting of open.values())
    for (const s of waiting) out.push({ fault: s.fault, target: s.target, start: s.t, end: t1, open: true, startUnknown: false, detail: s.detail });
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

export interface VrrpChange {
  t: number;
  node: string;
  instance: string;
  state: string;
}

export interface IpvsEdit {
  t: number;
  node: string;
  argv: string[];
}

const observations = (events: readonly HistoryEvent[], what: string) => events.filter((e): e is ObservationEvent => e.type === 'observe' && e.what === what);

export function vrrpChanges(events: readonly HistoryEvent[]): VrrpChange[] {
  return observations(events, 'vrrp-state')
    .map((e) => {
      const d = isRecord(e.data) ? e.data : {};
      return { t: e.t, node: e.node, instance: String(d.instance ?? '?'), state: String(d.state ?? '?') };
    })
    .sort((a, b) => a.t - b.t);
}

export function ipvsEdits(events: readonly HistoryEvent[]): IpvsEdit[] {
  return observations(events, 'ipvs-edit')
    .map((e) => {
      const d = isRecord(e.data) ? e.data : {};
      return { t: e.t, node: e.node, argv: Array.isArray(d.argv) ? d.argv.map(String) : [] };
    })
    .sort((a, b) => a.t - b.t);
}

export interface HolderChange {
  t: number;
  vip: string;
  holders: string[];
}

/** Who held each VIP, as the in-node watchers saw it change (the history keeps changes only). */
export function holderChanges(events: readonly HistoryEvent[]): HolderChange[] {
  const last = new Map<string, string>();
  const out: HolderChange[] = [];
  for (const e of observations(events, 'vip-holders').sort((a, b) => a.t - b.t)) {
    const d = isRecord(e.data) ? e.data : {};
    const vip = String(d.vip ?? '?');
    const holders = Array.isArray(d.holders) ? d.holders.map(String) : [];
    if (last.get(vip) === holders.join()) continue;
    last.set(vip, holders.join());
    out.push({ t: e.t, vip, holders });
  }
  return out;
}

export interface Bucket {
  /** start of the bucket, ms since the epoch on the lab's clock */
  start: number;
  ok: number;
  failed: number;
  /** failed operations by outcome (refused, reset, timeout, error) */
  outcomes: Record<string, number>;
}

export interface Timeline {
  node: string;
  t0: number;
  t1: number;
  bucketMs: number;
  /** only buckets with at least one operation */
  buckets: Bucket[];
  faults: FaultWindow[];
  vrrp: VrrpChange[];
  edits: IpvsEdit[];
  holders: HolderChange[];
}

const BUCKETS = [100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000];

/** The smallest round bucket that keeps a span within `most` buckets. */
export function bucketFor(spanMs: number, most = 120): number {
  return BUCKETS.find((b) => spanMs / b <= most) ?? Math.ceil(spanMs / most / 3_600_000) * 3_600_000;
}

/**
 * One timeline per node that ran operations (the client nodes), all on the same time axis so
 * that a fault or a VRRP transition lines up across them.
 */
export function timelines(events: readonly HistoryEvent[]): Timeline[] {
  // loops rather than Math.min(...): a long run's history overflows the argument stack
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const e of events) {
    if (!Number.isFinite(e.t)) continue;
    t0 = Math.min(t0, e.t);
    t1 = Math.max(t1, e.type === 'op' && Number.isFinite(e.latencyMs) ? e.t + e.latencyMs : e.t);
  }
  if (t0 === Infinity) return [];
  const bucketMs = bucketFor(t1 - t0);
  const faults = faultWindows(events, t0, t1);
  const vrrp = vrrpChanges(events);
  const edits = ipvsEdits(events);
  const holders = holderChanges(events);
  const byNode = new Map<string, Map<number, Bucket>>();
  for (const e of events) {
    if (e.type !== 'op' || !Number.isFinite(e.t)) continue;
    const i = Math.floor((e.t - t0) / bucketMs);
    const m = byNode.get(e.node) ?? new Map<number, Bucket>();
    byNode.set(e.node, m);
    const b = m.get(i) ?? { start: t0 + i * bucketMs, ok: 0, failed: 0, outcomes: {} };
    m.set(i, b);
    if (e.outcome === 'ok') b.ok++;
    else {
      b.failed++;
      b.outcomes[e.outcome] = (b.outcomes[e.outcome] ?? 0) + 1;
    }
  }
  return [...byNode.keys()].sort(byName).map((node) => ({
    node,
    t0,
    t1,
    bucketMs,
    buckets: [...byNode.get(node)!.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b),
    faults,
    vrrp,
    edits,
    holders,
  }));
}

export interface LatencyRow {
  node: string;
  op: string;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of sorted values: the smallest value with at least p% at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** Latency percentiles of the operations that succeeded, per node and kind of operation. */
export function latencies(events: readonly HistoryEvent[]): LatencyRow[] {
  const groups = new Map<string, { node: string; op: string; v: number[] }>();
  for (const e of events) {
    if (e.type !== 'op' || e.outcome !== 'ok' || typeof e.latencyMs !== 'number') continue;
    const k = `${e.node}\u0000${e.op}`;
    const g = groups.get(k) ?? { node: e.node, op: e.op, v: [] };
    groups.set(k, g);
    g.v.push(e.latencyMs);
  }
  return [...groups.values()]
    .sort((a, b) => byName(a.node, b.node) || byName(a.op, b.op))
    .map(({ node, op, v }) => {
      const s = [...v].sort((a, b) => a - b);
      return { node, op, count: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1]! };
    });
}

export interface TableSnapshot {
  t: number;
  table: TableService[];
}

const isTable = (v: unknown): v is TableService[] =>
  Array.isArray(v) && v.every((s) => isRecord(s) && typeof s.protocol === 'string' && typeof s.key === 'string' && Array.isArray(s.realServers) && s.realServers.every(isRecord));

/** The first and the last `ipvs-table` observation per director (the same one when there is one). */
export function ipvsTables(events: readonly HistoryEvent[]): { director: string; first: TableSnapshot; last: TableSnapshot; count: number }[] {
  const by = new Map<string, TableSnapshot[]>();
  for (const e of observations(events, 'ipvs-table')) {
    if (!isTable(e.data)) continue;
    by.set(e.node, [...(by.get(e.node) ?? []), { t: e.t, table: e.data }]);
  }
  return [...by.entries()]
    .sort((a, b) => byName(a[0], b[0]))
    .map(([director, snaps]) => {
      const s = [...snaps].sort((a, b) => a.t - b.t);
      return { director, first: s[0]!, last: s[s.length - 1]!, count: s.length };
    });
}
