import { errUsage } from '../errors.js';

/**
 * Sharding, as Playwright's `--shard i/n` does it: the same ordered list of jobs on every
 * machine, each machine runs shard i of n, and the n shards partition the list exactly (every
 * job in one shard, none twice, none left out). Pure and deterministic: the shard of a job
 * depends only on the list, n and the weights, never on the machine, the clock or a seed, so
 * n CI jobs that never talk to each other still agree on who runs what.
 */

/** Shard `index` (1-based, as on the command line) of `total`. */
export interface Shard {
  index: number;
  total: number;
}

const ALLOWED = 'i/n: shard i of n, whole numbers with 1 ≤ i ≤ n';
const HINT = 'e.g. --shard 2/4 runs the second of four shards; the four together run every job once';

/**
 * `--shard i/n` from the command line; undefined when the option was not given. Anything else
 * than two whole numbers with 1 ≤ i ≤ n is a usage error naming the option, the value and what
 * is allowed. `where` prefixes the message with the command ("matrix: --shard 0/2: …").
 */
export function parseShard(spec: string | undefined, where?: string): Shard | undefined {
  if (spec === undefined) return undefined;
  const at = `${where ? `${where}: ` : ''}--shard ${JSON.stringify(spec)}`;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  if (!m) throw errUsage(`${at}: not ${ALLOWED}`, HINT);
  const index = Number(m[1]);
  const total = Number(m[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(total)) throw errUsage(`${at}: the numbers are too large (${ALLOWED})`, HINT);
  if (total < 1) throw errUsage(`${at}: the number of shards n must be at least 1 (${ALLOWED})`, HINT);
  if (index < 1 || index > total) throw errUsage(`${at}: the shard i must be from 1 to ${total} (shards count from 1, as in Playwright's --shard)`, HINT);
  return { index, total };
}

export const formatShard = (s: Shard): string => `${s.index}/${s.total}`;

/**
 * The shard (0-based) of every job. Both ways give contiguous blocks in the list's order, so
 * jobs that sit together (the suites of one topology) mostly stay together.
 *
 * - Without weights, Playwright's split: blocks of ⌊N/n⌋ jobs, the first N mod n shards one
 *   more. Sizes differ by at most one; with N < n the last n − N shards are empty.
 * - With weights (an estimate of each job's cost; any unit, ≥ 0), the block boundaries fall
 *   where the cumulative weight crosses k·W/n: a job goes to the shard its weight's midpoint
 *   lies in. When N ≥ n every shard still gets at least one job (a heavy job does not leave
 *   a shard idle). Each shard then carries at most W/n plus the heaviest job; with every
 *   weight zero it is the split without weights.
 */
export function shardAssignment<T>(jobs: readonly T[], total: number, weight?: (job: T) => number): number[] {
  if (!Number.isSafeInteger(total) || total < 1) throw new RangeError(`shard count ${total} is not a whole number ≥ 1`);
  const n = jobs.length;
  const weights = weight ? jobs.map((j, i) => checkedWeight(weight(j), i)) : undefined;
  const sum = weights?.reduce((a, b) => a + b, 0) ?? 0;
  if (!weights || sum === 0 || n <= total) {
    // Playwright: shardSize = ⌊N/n⌋, the first N mod n shards get one more
    const size = Math.floor(n / total);
    const extra = n % total;
    const out: number[] = [];
    for (let s = 0; s < total; s++) for (let k = 0; k < size + (s < extra ? 1 : 0); k++) out.push(s);
    return out;
  }
  const out: number[] = [];
  let before = 0;
  for (let j = 0; j < n; j++) {
    const w = weights[j]!;
    const ideal = Math.min(total - 1, Math.floor(((before + w / 2) * total) / sum));
    before += w;
    // contiguous and no shard empty: job j may go no lower than total − (n − j) (the jobs after
    // it must fill the shards after it) and no higher than j (one job per shard before it),
    // and at most one shard past the previous job's
    const lo = total - (n - j);
    const hi = j === 0 ? 0 : Math.min(j, out[j - 1]! + 1);
    out.push(Math.max(lo, Math.min(hi, ideal)));
  }
  return out;
}

function checkedWeight(w: number, i: number): number {
  if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) throw new RangeError(`job ${i}: weight ${String(w)} is not a finite number ≥ 0`);
  return w;
}

/** The jobs of one shard, in the list's order; every job when `shard` is undefined (no --shard). */
export function shardOf<T>(jobs: readonly T[], shard: Shard | undefined, weight?: (job: T) => number): T[] {
  if (!shard) return [...jobs];
  const where = shardAssignment(jobs, shard.total, weight);
  return jobs.filter((_, i) => where[i] === shard.index - 1);
}
