import type { CheckResult } from './types.js';
import { medianSpacing } from './failover.js';

/** One poll: which directors had the VIP on an interface at time t. */
export interface VipSample {
  t: number;
  vip: string;
  holders: string[];
}

export interface HolderInterval {
  kind: 'overlap' | 'gap';
  vip: string;
  /** first sample showing it */
  from: number;
  /** first sample no longer showing it, or the last sample when it lasted to the end */
  to: number;
  durationMs: number;
  /** it was still going at the last sample */
  open: boolean;
  holders: string[];
  samples: number;
}

/** Runs of consecutive samples with ≥ 2 holders (overlap: split brain) or none (gap). */
export function holderIntervals(samples: readonly VipSample[]): HolderInterval[] {
  const out: HolderInterval[] = [];
  const byVip = new Map<string, VipSample[]>();
  for (const x of samples) byVip.set(x.vip, [...(byVip.get(x.vip) ?? []), x]);
  for (const [vip, list] of [...byVip.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...list].sort((a, b) => a.t - b.t);
    let cur: HolderInterval | undefined;
    for (const x of sorted) {
      const n = new Set(x.holders).size;
      const kind = n === 0 ? 'gap' : n >= 2 ? 'overlap' : undefined;
      if (cur && cur.kind !== kind) {
        cur.to = x.t;
        cur.durationMs = x.t - cur.from;
        cur.open = false;
        out.push(cur);
        cur = undefined;
      }
      if (kind && !cur) cur = { kind, vip, from: x.t, to: x.t, durationMs: 0, open: true, holders: [], samples: 0 };
      if (cur) {
        cur.to = x.t;
        cur.durationMs = x.t - cur.from;
        cur.samples++;
        cur.holders = [...new Set([...cur.holders, ...x.holders])].sort();
      }
    }
    if (cur) out.push(cur);
  }
  return out.sort((a, b) => a.from - b.from);
}

const s = (ms: number) => `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')} s`;

/**
 * Exactly one director holds each VIP at every poll once the pair has settled after the start or
 * the last fault: no split brain (two or more holders) and no gap (none). Intervals before the
 * settle time are reported but not judged; a caller expecting split brain (a partitioned pair)
 * inverts the verdict itself.
 */
export function oneVipHolder(samples: readonly VipSample[], opts: { settleFrom: number; settleMs: number; minSamples?: number; name?: string }): CheckResult {
  const judgedFrom = opts.settleFrom + opts.settleMs;
  const judged = samples.filter((x) => x.t >= judgedFrom);
  const settling = samples.filter((x) => x.t < judgedFrom && x.t >= opts.settleFrom);
  const vips = [...new Set(samples.map((x) => x.vip))].sort();
  const bad = holderIntervals(judged);
  const duringSettle = holderIntervals(settling);
  const minSamples = opts.minSamples ?? 3;
  const thin = vips.filter((v) => judged.filter((x) => x.vip === v).length < minSamples);
  const valid = !judged.length || thin.length ? (bad.length ? false : 'unknown') : bad.length === 0;
  const at = (t: number) => `+${s(t - opts.settleFrom)}`;
  const describe = (i: HolderInterval) =>
    i.kind === 'overlap'
      ? `split brain on ${i.vip}: ${i.holders.join(' and ')} held it together for ${s(i.durationMs)}${i.open ? '+ (still at the last poll)' : ''} from ${at(i.from)}`
      : `no director held ${i.vip} for ${s(i.durationMs)}${i.open ? '+ (still at the last poll)' : ''} from ${at(i.from)}`;
  const holdersSeen = [...new Set(judged.flatMap((x) => x.holders))].sort();
  // samples of every VIP share their times: the spacing is between distinct observation times
  const resolutionMs = medianSpacing([...new Set(samples.map((x) => x.t))]) ?? 0;
  return {
    name: opts.name ?? `exactly one director holds ${vips.join(', ') || 'the VIP'}`,
    valid,
    observed: {
      samples: judged.length,
      resolutionMs,
      holders: holdersSeen,
      overlaps: bad.filter((i) => i.kind === 'overlap'),
      gaps: bad.filter((i) => i.kind === 'gap'),
      duringSettle,
    },
    expected: { holdersPerSample: 1, overlaps: [], gaps: [] },
    rule: `from ${s(opts.settleMs)} after the start or the last fault, every poll finds the VIP on exactly one director (two is split brain, none an outage)`,
    detail:
      valid === 'unknown'
        ? `too few observations after settling: ${vips.map((v) => `${v} ${judged.filter((x) => x.vip === v).length}`).join(', ') || 'none'} (${minSamples} needed)`
        : valid
          ? `${judged.length} observations ${resolutionMs} ms apart, each with one holder (${holdersSeen.join(', ')})`
          : bad.map(describe).join('; '),
  };
}

/**
 * When `node` had let go of every VIP it held at `from`: the first sample at or after `from`
 * without it, per VIP, the latest of those. A MASTER told to stop (keepalived gets SIGTERM) keeps
 * its VIPs until keepalived has shut down, which under emulation took over 2 s: the takeover a
 * bound promises starts there, not at the signal. Undefined while it still holds one.
 */
export function releasedAt(samples: readonly VipSample[], node: string, from: number): number | undefined {
  const vips = [...new Set(samples.map((x) => x.vip))];
  let latest: number | undefined;
  for (const vip of vips) {
    const first = samples.filter((x) => x.vip === vip && x.t >= from).sort((a, b) => a.t - b.t).find((x) => !x.holders.includes(node));
    if (!first) return undefined;
    latest = latest === undefined ? first.t : Math.max(latest, first.t);
  }
  return latest;
}

/**
 * When `node` first held one of `vips` at or after `from`, as the in-node watchers saw it (the
 * kernel's address event, stamped as it came): the moment a BACKUP took over. keepalived adds the
 * VIPs and sends its gratuitous ARPs before it runs the notify script that logs MASTER, and a
 * starved director ran that script 4.3 s after its VIP moved in one CI run. Undefined when it never did.
 */
export function gainedAt(samples: readonly VipSample[], node: string, from: number, vips?: readonly string[]): number | undefined {
  return samples
    .filter((x) => x.t >= from && (!vips || vips.includes(x.vip)) && x.holders.includes(node))
    .reduce<number | undefined>((min, x) => (min === undefined || x.t < min ? x.t : min), undefined);
}
