/**
 * From what the in-node watchers printed to what the checkers judge: which directors held each
 * VIP, and a director's IPVS table, at every tick a watcher stamped. Pure, so a recorded stream
 * is judged the same way every time.
 *
 * A node counts as up between two of its consecutive stamps that are at most `gapMs` apart.
 * Longer silences are a frozen or killed node (its loop did not run): it holds nothing then,
 * as a paused or dead director answers no client's ARP through keepalived any more. Stamps are
 * the node's own clock, so a stream that only arrived late still shows the node up.
 */
import type { TableSample } from '../checkers/health.js';
import type { VipSample } from '../checkers/vip-holder.js';
import { parseProcIpVs } from '../ipvs/proc.js';
import type { TableService } from '../ipvs/table.js';
import type { WatchLine } from './watch-script.js';

export interface NodeObservations {
  node: string;
  /** every line the node's watchers printed, across restarts, in the order read */
  lines: readonly WatchLine[];
  /** its watcher was still streaming when observation stopped */
  liveAtEnd: boolean;
}

/** Silence past this (ten ticks and more) means the node's loop did not run. */
export const DEFAULT_GAP_MS = 1000;

const stampsOf = (o: NodeObservations) => [...new Set(o.lines.map((l) => l.t))].sort((a, b) => a - b);

/** The last time every node still streaming at the end had stamped: samples past it would count a live node as silent. */
export function observedUntil(obs: readonly NodeObservations[]): number | undefined {
  const last = obs.map((o) => ({ o, t: stampsOf(o).at(-1) })).filter((x) => x.t !== undefined);
  const live = last.filter((x) => x.o.liveAtEnd);
  const pick = live.length ? live : last;
  return pick.length ? Math.min(...pick.map((x) => x.t!)) : undefined;
}

/** Up at t: consecutive stamps p ≤ t ≤ q with q − p ≤ gapMs. */
function upAt(stamps: readonly number[], t: number, gapMs: number): boolean {
  let lo = 0;
  let hi = stamps.length - 1;
  if (hi < 0 || t < stamps[0]! || t > stamps[hi]!) return false;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (stamps[mid]! <= t) lo = mid;
    else hi = mid - 1;
  }
  if (stamps[lo] === t) return true;
  const next = stamps[lo + 1];
  return next !== undefined && next - stamps[lo]! <= gapMs;
}

/** The value of the last line of a kind at or before t (lines sorted by t). */
function lastAt<L extends { t: number }>(lines: readonly L[], t: number): L | undefined {
  let found: L | undefined;
  for (const l of lines) {
    if (l.t > t) break;
    found = l;
  }
  return found;
}

/** Which directors held each VIP at every stamp any director's watcher printed, from `from` to `observedUntil`. */
export function holderSamples(obs: readonly NodeObservations[], vips: readonly string[], o: { gapMs?: number; from?: number } = {}): VipSample[] {
  const gapMs = o.gapMs ?? DEFAULT_GAP_MS;
  const until = observedUntil(obs);
  if (until === undefined) return [];
  const nodes = obs.map((x) => ({
    node: x.node,
    stamps: stampsOf(x),
    addrs: x.lines.filter((l): l is Extract<WatchLine, { kind: 'A' }> => l.kind === 'A').sort((a, b) => a.t - b.t),
  }));
  const times = [...new Set(nodes.flatMap((n) => n.stamps))].filter((t) => t <= until && (o.from === undefined || t >= o.from)).sort((a, b) => a - b);
  const out: VipSample[] = [];
  for (const t of times) {
    const up = nodes.filter((n) => upAt(n.stamps, t, gapMs)).map((n) => ({ node: n.node, addrs: new Set(lastAt(n.addrs, t)?.addresses ?? []) }));
    for (const vip of vips) out.push({ t, vip, holders: up.filter((n) => n.addrs.has(vip)).map((n) => n.node).sort() });
  }
  return out;
}

/** A node's IPVS table at each of its stamps while it was up (tables parsed once per change). */
export function tableTimeline(obs: NodeObservations, o: { gapMs?: number; from?: number } = {}): { t: number; table: TableService[] }[] {
  const gapMs = o.gapMs ?? DEFAULT_GAP_MS;
  const stamps = stampsOf(obs);
  const tables = obs.lines
    .filter((l): l is Extract<WatchLine, { kind: 'T' }> => l.kind === 'T')
    .sort((a, b) => a.t - b.t)
    .map((l) => ({ t: l.t, table: parseProcIpVs(l.lines) }));
  const out: { t: number; table: TableService[] }[] = [];
  for (const t of stamps) {
    if (o.from !== undefined && t < o.from) continue;
    if (!upAt(stamps, t, gapMs)) continue;
    const cur = lastAt(tables, t);
    if (cur) out.push({ t, table: cur.table });
  }
  return out;
}

/** Per group (a VIP), only the samples where the value changed, and the first and the last: what the history keeps. */
export function changesOnly<T extends { t: number }>(samples: readonly T[], groupOf: (x: T) => string, valueOf: (x: T) => string): T[] {
  const groups = new Map<string, T[]>();
  for (const x of samples) groups.set(groupOf(x), [...(groups.get(groupOf(x)) ?? []), x]);
  const out: T[] = [];
  for (const list of groups.values())
    list.forEach((x, i) => {
      if (i === 0 || i === list.length - 1 || valueOf(x) !== valueOf(list[i - 1]!)) out.push(x);
    });
  return out.sort((a, b) => a.t - b.t);
}

export type { TableSample };
