import { LatencyHistogram, type LatencySummary } from './histogram.js';
import { findKnee, type RampOptions } from './ramp.js';
import { ERROR_KINDS, type BenchKnee, type BenchLatency, type BenchPoint, type BenchRepetition, type ConnectionMode } from './schema.js';
import { spread } from './spread.js';

/** A histogram's summary as bench.json holds it: null where nothing was measured. */
export function latencyJson(s: LatencySummary): BenchLatency {
  const v = (x: number) => (Number.isFinite(x) ? x : null);
  return { count: s.count, rejected: s.rejected, minMs: v(s.minMs), meanMs: v(s.meanMs), p50Ms: v(s.p50Ms), p90Ms: v(s.p90Ms), p99Ms: v(s.p99Ms), maxMs: v(s.maxMs) };
}

export const errorsOf = (r: BenchRepetition) => ERROR_KINDS.reduce((n, k) => n + (r.errors[k] ?? 0), 0);

/** Director cores per 1,000 operations/s in one repetition; undefined without a CPU reading or a rate. */
export const cpuPer1000 = (r: BenchRepetition) => (r.directorCpuCores !== undefined && r.rate > 0 ? (r.directorCpuCores * 1000) / r.rate : undefined);

/**
 * A point from its repetitions. Latency merges the repetitions' histograms when every one
 * carries it; otherwise (a generator that only reports percentiles, as wrk's text does) the
 * worst repetition's percentiles stand for the point, which overstates rather than averages.
 */
export function summarisePoint(key: { concurrency: number; sizeBytes: number; connection: ConnectionMode }, reps: BenchRepetition[]): BenchPoint {
  const ok = reps.reduce((n, r) => n + r.ok, 0);
  const failed = reps.reduce((n, r) => n + errorsOf(r), 0);
  const latency = reps.every((r) => r.hdr)
    ? latencyJson(LatencyHistogram.merge(reps.map((r) => r.hdr!)).summary())
    : reps.map((r) => r.latency).reduce((a, b) => ((b.p99Ms ?? -1) > (a.p99Ms ?? -1) ? b : a));
  const cpu = reps.map(cpuPer1000).filter((x): x is number => x !== undefined);
  return {
    ...key,
    repetitions: reps,
    rate: spread(reps.map((r) => r.rate)),
    errorRate: ok + failed ? failed / (ok + failed) : 0,
    latency,
    ...(cpu.length ? { directorCpuPer1000: spread(cpu) } : {}),
  };
}

/** The knee of each (size, connection mode) ramp among a mode's points. */
export function modeKnees(points: readonly BenchPoint[], o: RampOptions = {}): BenchKnee[] {
  const groups = new Map<string, BenchPoint[]>();
  for (const p of points) {
    const k = `${p.sizeBytes}/${p.connection}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [...groups.values()].map((ps) => {
    const knee = findKnee(
      ps.map((p) => ({ concurrency: p.concurrency, rates: p.repetitions.map((r) => r.rate), errorRate: p.errorRate })),
      o,
    );
    return { sizeBytes: ps[0]!.sizeBytes, connection: ps[0]!.connection, ...knee };
  });
}
