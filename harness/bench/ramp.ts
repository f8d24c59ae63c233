import { spread } from './spread.js';

/**
 * The concurrency ramp: 1, 4, 16, 64, 256 connections, stopping at the first step whose error
 * rate passes 1% or whose rate no longer rises. The knee is the last step that still rose:
 * past it, more connections only queue.
 *
 * "Rises" is judged against the noise of the repetitions, not a percentage alone: the gain in
 * median rate must exceed the mean of the two steps' ranges (max − min of their repetitions),
 * so a noisy machine needs a bigger gain before a step counts, and also a small floor
 * (MIN_GAIN, 5% of the previous median), which is all that is left with one repetition or
 * repetitions that agree exactly.
 */
export const DEFAULT_STEPS = [1, 4, 16, 64, 256] as const;
export const MAX_ERROR_RATE = 0.01;
export const MIN_GAIN = 0.05;

export interface RampPoint {
  concurrency: number;
  /** requests (or new connections) per second, one per repetition, warm-up excluded */
  rates: readonly number[];
  /** failed operations over all operations of the point's repetitions */
  errorRate: number;
}

export type StopReason = 'errors' | 'plateau' | 'end';

export interface RampOptions {
  steps?: readonly number[];
  maxErrorRate?: number;
  minGain?: number;
}

export interface Knee {
  /** the last step that rose; undefined when even the first had too many errors */
  concurrency?: number;
  rate?: number;
  reason: StopReason;
  /** where the ramp stopped: the step that failed or plateaued, or the last step */
  stoppedAt: number;
  /** false when the ramp ran out of steps still rising: the knee is beyond them */
  reached: boolean;
}

export interface Rise {
  rose: boolean;
  gain: number;
  /** the gain the step had to beat */
  needed: number;
}

/** Whether `cur` rose above `prev` by more than their repetitions' spread (and the floor). */
export function rose(prev: RampPoint, cur: RampPoint, minGain = MIN_GAIN): Rise {
  const a = spread(prev.rates);
  const b = spread(cur.rates);
  if (!a.n || !b.n) return { rose: false, gain: NaN, needed: NaN };
  const noise = (a.max - a.min + (b.max - b.min)) / 2;
  const needed = Math.max(noise, minGain * Math.abs(a.median));
  const gain = b.median - a.median;
  return { rose: gain > needed, gain, needed };
}

const stepsOf = (o: RampOptions) => {
  const steps = [...new Set((o.steps ?? DEFAULT_STEPS).filter((s) => Number.isInteger(s) && s > 0))].sort((a, b) => a - b);
  return steps.length ? steps : [...DEFAULT_STEPS];
};

/**
 * The verdict on the points measured so far, in ramp order: the knee once the ramp has
 * stopped, or the next concurrency to measure. Points out of order or off the steps are taken
 * as they come; a point with no rate at all counts as not rising.
 */
export function rampNext(points: readonly RampPoint[], o: RampOptions = {}): { next: number } | { knee: Knee } {
  const steps = stepsOf(o);
  const maxErr = o.maxErrorRate ?? MAX_ERROR_RATE;
  let last: RampPoint | undefined;
  for (const p of points) {
    if (!(p.errorRate <= maxErr)) return { knee: kneeAt(last, 'errors', p.concurrency) };
    if (last && !rose(last, p, o.minGain).rose) return { knee: kneeAt(last, 'plateau', p.concurrency) };
    last = p;
  }
  const next = steps.find((s) => s > (last?.concurrency ?? 0));
  if (next !== undefined) return { next };
  return { knee: { ...kneeAt(last, 'end', last?.concurrency ?? NaN), reached: false } };
}

function kneeAt(p: RampPoint | undefined, reason: StopReason, stoppedAt: number): Knee {
  return { concurrency: p?.concurrency, rate: p ? spread(p.rates).median : undefined, reason, stoppedAt, reached: reason !== 'end' };
}

/** The knee of a ramp already measured (a report being read back). */
export function findKnee(points: readonly RampPoint[], o: RampOptions = {}): Knee {
  const sorted = [...points].sort((a, b) => a.concurrency - b.concurrency);
  for (let i = 1; i <= sorted.length; i++) {
    const r = rampNext(sorted.slice(0, i), o);
    if ('knee' in r) return r.knee;
  }
  // steps beyond the defaults were measured and all rose
  const last = sorted[sorted.length - 1];
  return { ...kneeAt(last, 'end', last?.concurrency ?? NaN), reached: false };
}
