/** Min, median and max of a point's repetitions: what a bench report shows of each figure. */
export interface Spread {
  min: number;
  median: number;
  max: number;
  n: number;
}

/** The median as the mean of the middle two for an even count (stats.ts's percentile() is nearest-rank, which for 2 repetitions would report the lower). */
export function spread(values: readonly number[]): Spread {
  const xs = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = xs.length;
  if (!n) return { min: NaN, median: NaN, max: NaN, n: 0 };
  const median = n % 2 ? xs[(n - 1) / 2]! : (xs[n / 2 - 1]! + xs[n / 2]!) / 2;
  return { min: xs[0]!, median, max: xs[n - 1]!, n };
}
