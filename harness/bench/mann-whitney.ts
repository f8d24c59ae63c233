import { gammaQ } from '../stats.js';

/**
 * The Mann–Whitney U test (Wilcoxon rank-sum), two-sided: do two sets of repetitions come from
 * the same distribution? Ranks, not means, so one stalled repetition cannot carry the verdict,
 * and no normality is assumed of a handful of throughput figures.
 *
 * Exact for up to EXACT_MAX values in all: the distribution of the rank sum over every way of
 * splitting the pooled values, counted by dynamic programming over doubled mid-ranks, so ties
 * are exact too (no table, no approximation where repetitions are few, which is where it
 * matters). Above that, the normal approximation with tie and continuity corrections.
 */
const EXACT_MAX = 60;

export interface MannWhitney {
  /** U of the first sample: how many (a, b) pairs have a > b, ties counting one half */
  u: number;
  pValue: number;
  /** the smallest p-value samples of these sizes (and ties) could give: above α, no change can be shown */
  minPValue: number;
  method: 'exact' | 'normal';
}

/** Mid-ranks (1-based) of the pooled values, doubled so that ties stay integers. */
function doubledRanks(pooled: readonly number[]): number[] {
  const order = pooled.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(pooled.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    // positions i..j share the mean rank ((i+1)+(j+1))/2; doubled: i+j+2
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = i + j + 2;
    i = j + 1;
  }
  return ranks;
}

const erfc = (x: number) => (x < 0 ? 2 - gammaQ(0.5, x * x) : gammaQ(0.5, x * x));

/** `method` forces one (for tests); by default exact up to EXACT_MAX values in all. */
export function mannWhitney(a: readonly number[], b: readonly number[], method?: MannWhitney['method']): MannWhitney {
  const xs = a.filter(Number.isFinite);
  const ys = b.filter(Number.isFinite);
  const n1 = xs.length;
  const n2 = ys.length;
  if (!n1 || !n2) return { u: NaN, pValue: NaN, minPValue: NaN, method: 'exact' };
  const N = n1 + n2;
  const ranks = doubledRanks([...xs, ...ys]);
  const r1 = ranks.slice(0, n1).reduce((s, r) => s + r, 0);
  const u = r1 / 2 - (n1 * (n1 + 1)) / 2;
  const centre = n1 * (N + 1); // E[2·R1]

  if (method === 'exact' || (method === undefined && N <= EXACT_MAX)) {
    // ways[k][s]: subsets of k pooled values whose doubled ranks sum to s
    const maxSum = N * (N + 1);
    let ways = Array.from({ length: n1 + 1 }, () => new Float64Array(maxSum + 1));
    ways[0]![0] = 1;
    for (const r of ranks) {
      const next = ways.map((row) => row.slice());
      for (let k = 0; k < n1; k++) for (let s = 0; s + r <= maxSum; s++) if (ways[k]![s]) next[k + 1]![s + r]! += ways[k]![s]!;
      ways = next;
    }
    const dist = ways[n1]!;
    const total = dist.reduce((x, y) => x + y, 0);
    const dev = Math.abs(r1 - centre);
    let tail = 0;
    let maxDev = 0;
    for (let s = 0; s <= maxSum; s++)
      if (dist[s]) {
        if (Math.abs(s - centre) >= dev) tail += dist[s]!;
        maxDev = Math.max(maxDev, Math.abs(s - centre));
      }
    let extreme = 0;
    for (let s = 0; s <= maxSum; s++) if (dist[s] && Math.abs(s - centre) >= maxDev) extreme += dist[s]!;
    return { u, pValue: Math.min(1, tail / total), minPValue: Math.min(1, extreme / total), method: 'exact' };
  }

  const ties = new Map<number, number>();
  for (const r of ranks) ties.set(r, (ties.get(r) ?? 0) + 1);
  const tieTerm = [...ties.values()].reduce((s, t) => s + t ** 3 - t, 0) / (N * (N - 1));
  const sigma = Math.sqrt(((n1 * n2) / 12) * (N + 1 - tieTerm));
  const p = (d: number) => (sigma === 0 ? 1 : Math.min(1, erfc(Math.max(0, d - 0.5) / sigma / Math.SQRT2)));
  return { u, pValue: p(Math.abs(u - (n1 * n2) / 2)), minPValue: p((n1 * n2) / 2), method: 'normal' };
}
