/**
 * From what the in-node watchers printed to what the checkers judge: which directors held each
 * VIP, and a director's IPVS table, at every tick a watcher stamped. Pure, so a recorded stream
 * is judged the same way every time.
 *
 * A node is up while its watcher streams (from a stream's first stamp to its last) and it is not
 * frozen. A stream that ends is a killed or restarted node: down until the next stream starts.
 * A frozen node (a `pause` fault, from the history) is down for the fault's window, though its
 * kernel keeps its addresses: frozen, keepalived neither advertises nor answers. A silence inside
 * a stream is a loop the emulated CPU did not schedule (seen: over a second while a takeover
 * loaded the node), not a node that lost its addresses, so it is not counted as down.
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
  /** each watcher stream's first and last stamp (a new stream after a kill or restart) */
  streams: readonly { first: number; last: number }[];
  /** windows the node was frozen (a pause fault's start and end; open while it lasts) */
  frozen?: readonly { from: number; to?: number }[];
  /** its watcher was still streaming when observation stopped */
  liveAtEnd: boolean;
}

const stampsOf = (o: NodeObservations) => [...new Set(o.lines.map((l) => l.t))].sort((a, b) => a - b);

/** The last time every node still streaming at the end had stamped: samples past it would count a live node as down. */
export function observedUntil(obs: readonly NodeObservations[]): number | undefined {
  const last = obs.map((o) => ({ o, t: o.streams.at(-1)?.last })).filter((x) => x.t !== undefined);
  const live = last.filter((x) => x.o.liveAtEnd);
  const pick = live.length ? live : last;
  return pick.length ? Math.min(...pick.map((x) => x.t!)) : undefined;
}

/**
 * A pause fault's window as the node lived it. The freezer took the node somewhere between the
 * issue (`from`) and the moment Docker reported it paused (`by`); the node's watcher stamps every
 * tick until it is taken, so the window starts just after the last stamp in from..by (never
 * before the issue, never after `by`). Without `by`, or without a stamp in it, it stays `from`.
 */
export function narrowFrozen(lines: readonly WatchLine[], w: { from: number; by?: number; to?: number }): { from: number; to?: number } {
  const to = w.to !== undefined ? { to: w.to } : {};
  if (w.by === undefined || w.by <= w.from) return { from: w.from, ...to };
  let last: number | undefined;
  for (const l of lines) if (l.t >= w.from && l.t <= w.by && (last === undefined || l.t > last)) last = l.t;
  return { from: last === undefined ? w.from : Math.min(last + 1, w.by), ...to };
}

/** Up at t: inside one of its streams and not frozen. */
function upAt(o: NodeObservations, t: number): boolean {
  return o.streams.some((s) => s.first <= t && t <= s.last) && !(o.frozen ?? []).some((f) => f.from <= t && (f.to === undefined || t < f.to));
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
export function holderSamples(obs: readonly NodeObservations[], vips: readonly string[], o: { from?: number } = {}): VipSample[] {
  const until = observedUntil(obs);
  if (until === undefined) return [];
  const nodes = obs.map((x) => ({
    obs: x,
    addrs: x.lines.filter((l): l is Extract<WatchLine, { kind: 'A' }> => l.kind === 'A').sort((a, b) => a.t - b.t),
  }));
  // every stamp, and the moments a node froze, thawed or its stream ended: the holders change there
  const edges = obs.flatMap((x) => [...(x.frozen ?? []).flatMap((f) => [f.from, ...(f.to !== undefined ? [f.to] : [])]), ...x.streams.map((s) => s.last + 1)]);
  const times = [...new Set([...obs.flatMap(stampsOf), ...edges])].filter((t) => t <= until && (o.from === undefined || t >= o.from)).sort((a, b) => a - b);
  const out: VipSample[] = [];
  for (const t of times) {
    const up = nodes.filter((n) => upAt(n.obs, t)).map((n) => ({ node: n.obs.node, addrs: new Set(lastAt(n.addrs, t)?.addresses ?? []) }));
    for (const vip of vips) out.push({ t, vip, holders: up.filter((n) => n.addrs.has(vip)).map((n) => n.node).sort() });
  }
  return out;
}

/** A node's IPVS table at each of its stamps while it was up (tables parsed once per change). */
export function tableTimeline(obs: NodeObservations, o: { from?: number } = {}): { t: number; table: TableService[] }[] {
  const stamps = stampsOf(obs);
  const tables = obs.lines
    .filter((l): l is Extract<WatchLine, { kind: 'T' }> => l.kind === 'T')
    .sort((a, b) => a.t - b.t)
    .map((l) => ({ t: l.t, table: parseProcIpVs(l.lines) }));
  const out: { t: number; table: TableService[] }[] = [];
  for (const t of stamps) {
    if (o.from !== undefined && t < o.from) continue;
    if (!upAt(obs, t)) continue;
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
