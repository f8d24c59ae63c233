import { gammaQ } from '../stats.js';

/**
 * The Mann-Whitney U (Wilcoxon rank-sum) test, two-sided: does one run's sample of a measured
 * time tend to lie above the other's more than the spread of the repetitions explains?
 *
 * Written here rather than taken from npm: simple-statistics' wilcoxonRankSum gives the statistic
 * without a p-value and its permutationTest is random (two renderings of the same runs would
 * differ); @stdlib has no Mann-Whitney, only kruskal-test, which is asymptotic, and at the 3 to
 * 10 repetitions a suite gets, only the exact distribution is honest. Exact (ties included, by
 * enumerating the rank sums of the tied ranks) up to EXACT_MAX values; the normal approximation
 * with tie and continuity correction above that.
 */

export const EXACT_MAX = 50;

export interface RankTest {
  /** U of the first sample: how many (a, b) pairs have a > b, ties counting ½ */
  uA: number;
  uB: number;
  /** two-sided */
  p: number;
  method: 'exact' | 'normal';
  /**
   * the smallest p any arrangement of these sample sizes (and ties) could give: with 3 and 3
   * values it is 0.1, so no outcome of such runs can clear a 0.05 level, and saying so beats a
   * silent "no change"
   */
  smallestP: number;
}

/** Mid-ranks (1-based) of the pooled values; tied values share the mean of their ranks. */
export function midRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(values.length);
  for (let s = 0; s < order.length; ) {
    let e = s;
    while (e + 1 < order.length && order[e + 1]!.v === order[s]!.v) e++;
    for (let k = s; k <= e; k++) ranks[order[k]!.i] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return ranks;
}

/** Φ̄ two-sided: P(|Z| ≥ z) = erfc(z/√2), and erfc(x) = Q(½, x²). */
const twoSidedNormal = (z: number) => (z <= 0 ? 1 : Math.min(1, gammaQ(0.5, (z * z) / 2)));

/**
 * Number of ways to choose k of the pooled values with a given sum of doubled ranks (integers
 * even with mid-ranks), for every k ≤ nA: the exact null distribution of the rank sum.
 */
function rankSumCounts(doubled: readonly number[], nA: number): number[] {
  const max = doubled.reduce((a, b) => a + b, 0);
  let rows: number[][] = Array.from({ length: nA + 1 }, () => new Array<number>(max + 1).fill(0));
  rows[0]![0] = 1;
  for (const r of doubled) {
    const next = rows.map((row) => row.slice());
    for (let k = 1; k <= nA; k++) {
      const from = rows[k - 1]!;
      const to = next[k]!;
      for (let s = r; s <= max; s++) if (from[s - r]) to[s]! += from[s - r]!;
    }
    rows = next;
  }
  return rows[nA]!;
}

/** `method` forces one (tests compare each against published values); by default exact up to EXACT_MAX values. */
export function mannWhitney(a: readonly number[], b: readonly number[], method?: RankTest['method']): RankTest {
  const nA = a.length;
  const nB = b.length;
  if (!nA || !nB || ![...a, ...b].every(Number.isFinite)) throw new RangeError('mannWhitney: both samples need at least one finite value');
  const n = nA + nB;
  const ranks = midRanks([...a, ...b]);
  const rA = ranks.slice(0, nA).reduce((x, y) => x + y, 0);
  const uA = rA - (nA * (nA + 1)) / 2;
  const uB = nA * nB - uA;
  if (method === 'exact' || (method === undefined && n <= EXACT_MAX)) {
    const doubled = ranks.map((r) => Math.round(2 * r));
    const counts = rankSumCounts(doubled, nA);
    const centre = nA * (n + 1);
    const total = counts.reduce((x, y) => x + y, 0);
    const tail = (dev: number) => counts.reduce((acc, c, s) => (c && Math.abs(s - centre) >= dev - 1e-9 ? acc + c : acc), 0) / total;
    let widest = 0;
    counts.forEach((c, s) => c && (widest = Math.max(widest, Math.abs(s - centre))));
    return { uA, uB, p: Math.min(1, tail(Math.abs(Math.round(2 * rA) - centre))), method: 'exact', smallestP: Math.min(1, tail(widest)) };
  }
  const ties = new Map<number, number>();
  for (const v of [...a, ...b]) ties.set(v, (ties.get(v) ?? 0) + 1);
  const tieSum = [...ties.values()].reduce((acc, t) => acc + t ** 3 - t, 0);
  const sd = Math.sqrt(((nA * nB) / 12) * (n + 1 - tieSum / (n * (n - 1))));
  const mu = (nA * nB) / 2;
  const p = sd > 0 ? twoSidedNormal((Math.abs(uA - mu) - 0.5) / sd) : 1;
  const smallestP = sd > 0 ? twoSidedNormal((mu - 0.5) / sd) : 1;
  return { uA, uB, p, method: 'normal', smallestP };
}
