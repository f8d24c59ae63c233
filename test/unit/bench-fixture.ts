import { withCeilingRatios } from '../../harness/bench/ceiling.js';
import { LatencyHistogram } from '../../harness/bench/histogram.js';
import { BENCH_SCHEMA_V1, parseBench, type BenchMode, type BenchReport, type BenchRepetition, type ConnectionMode, type ModeName } from '../../harness/bench/schema.js';
import { latencyJson, modeKnees, summarisePoint } from '../../harness/bench/summarise.js';

/** mulberry32: a seeded generator, so a "random" test fails the same way every time */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One repetition at a given rate, with a latency histogram around `latencyMs`. */
export function rep(rate: number, latencyMs: number, extra: Partial<BenchRepetition> = {}): BenchRepetition {
  const h = LatencyHistogram.create();
  for (let i = 0; i < 200; i++) h.recordMs(latencyMs * (0.8 + (0.4 * i) / 199));
  return { rate, seconds: 10, ok: Math.round(rate * 10), errors: {}, latency: latencyJson(h.summary()), hdr: h.encode(), ...extra };
}

/** A mode with one point (keep-alive, 1 KiB, 16 connections) from its repetitions. */
export function mode(name: ModeName, reps: BenchRepetition[]): BenchMode {
  const points = [summarisePoint({ concurrency: 16, sizeBytes: 1024, connection: 'keep-alive' }, reps)];
  return { mode: name, points, knees: modeKnees(points) };
}

export function report(modes: BenchMode[], runId = 'run-1'): BenchReport {
  return {
    schema: BENCH_SCHEMA_V1,
    runId,
    startedAt: '2026-11-21T07:34:53.675Z',
    finishedAt: '2026-11-21T07:44:53.675Z',
    environment: { host: { os: 'Linux', kernel: '6.12', node: 'v20.20.2', cpus: 2, memoryMiB: 24000 }, harness: { version: '0.1.0', git: 'abc' }, emulation: 'tcg' },
    settings: { seconds: 10, warmupSeconds: 2, repeat: 5, steps: [1, 4, 16, 64, 256], sizes: [1024], connections: ['keep-alive'], generator: 'agent' },
    directorCpu: { source: 'lab-softirq', how: '/proc/stat softirq of the lab VM over each window' },
    harness: { topologies: [{ topology: 'nat', upSeconds: 41.2 }], suites: [], totalSeconds: 300 },
    topologies: [{ topology: 'nat', services: [{ service: 'web', vip: '10.89.1.100', port: 80, modes }] }],
  };
}

/** a ramp over 1, 4, 16 for both connection modes; rate scales with `k`, CPU cores with `cpu` */
export function ramp(name: ModeName, k: number, cpu?: number): BenchMode {
  const points = (['keep-alive', 'new-connection'] as ConnectionMode[]).flatMap((connection) =>
    [1, 4, 16].map((c) => summarisePoint({ concurrency: c, sizeBytes: 1024, connection }, [rep(k * Math.min(c, 4) * 100, 1 + c / 4, cpu !== undefined ? { directorCpuCores: cpu } : {}), rep(k * Math.min(c, 4) * 101, 1 + c / 4, cpu !== undefined ? { directorCpuCores: cpu } : {})])),
  );
  return { mode: name, points, knees: modeKnees(points, { steps: [1, 4, 16] }) };
}

/** A valid bench report as bench writes it (nat and its ceiling, both connection modes, 1 KiB), read back through parseBench: every chart of the section has data. */
export function benchReport(): BenchReport {
  const r = report([ramp('nat', 0.8, 0.4), ramp('ceiling', 1, 0.3)]);
  const out: BenchReport = withCeilingRatios({
    ...r,
    settings: { ...r.settings, steps: [1, 4, 16], connections: ['keep-alive', 'new-connection'], generator: 'wrk' },
    topologies: [{ topology: 'nat', services: [{ ...r.topologies[0]!.services[0]!, ceilingPath: 'straight from client to rs1 (10.89.20.11)' }] }],
  });
  return parseBench(JSON.parse(JSON.stringify(out)), 'bench.json');
}
