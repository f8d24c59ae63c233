import type { BenchMode, BenchPoint, BenchReport, BenchRepetition } from './schema.js';
import { spread } from './spread.js';
import { cpuPer1000 } from './summarise.js';

/**
 * Every figure over the ceiling measured in the same run: the same client, load, size and
 * connection mode straight to one real server. A ratio near 1 says the load generator, not
 * the director, was the limit; and since both halves of a ratio see the same machine at the
 * same time, ratios compare across runs where absolute rates (on a noisy or emulated host) do
 * not. A repetition is divided by the ceiling's repetition of the same index, which bench runs
 * in the same round; when the counts differ, by the ceiling's median.
 */
const pointKey = (p: Pick<BenchPoint, 'concurrency' | 'sizeBytes' | 'connection'>) => `${p.concurrency}/${p.sizeBytes}/${p.connection}`;

const div = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 && Number.isFinite(a) ? a / b : undefined);

function repRatio(r: BenchRepetition, c: { rate: number; p99: number | null; cpu: number | undefined }): BenchRepetition {
  const rate = div(r.rate, c.rate);
  const p99 = div(r.latency.p99Ms, c.p99);
  // the lab VM's kernel CPU per 1,000/s over the ceiling's: under emulation the CPU a request costs
  // follows the emulator's speed, which drifts between runs (two runs of one build, 2026-12-01: the
  // mode's +19.4% and the ceiling's +9.0%, every repetition apart); over the same round's ceiling it held
  const cpu = div(cpuPer1000(r), c.cpu);
  const ratio = { ...(rate !== undefined ? { rate } : {}), ...(p99 !== undefined ? { p99 } : {}), ...(cpu !== undefined ? { cpu } : {}) };
  const { ratio: _old, ...rest } = r;
  return Object.keys(ratio).length ? { ...rest, ratio } : rest;
}

function pointRatios(p: BenchPoint, ceiling: BenchPoint): BenchPoint {
  const paired = ceiling.repetitions.length === p.repetitions.length;
  const ceilingCpus = ceiling.repetitions.map(cpuPer1000).filter((x): x is number => x !== undefined);
  const med = { rate: ceiling.rate.median, p99: spread(ceiling.repetitions.map((r) => r.latency.p99Ms ?? NaN)).median, cpu: ceilingCpus.length ? spread(ceilingCpus).median : undefined };
  const reps = p.repetitions.map((r, i) => repRatio(r, paired ? { rate: ceiling.repetitions[i]!.rate, p99: ceiling.repetitions[i]!.latency.p99Ms, cpu: cpuPer1000(ceiling.repetitions[i]!) } : med));
  const of = (k: 'rate' | 'p99' | 'cpu') => reps.map((r) => r.ratio?.[k]).filter((x): x is number => x !== undefined);
  const [rates, p99s, cpus] = [of('rate'), of('p99'), of('cpu')];
  const ratio = { ...(rates.length ? { rate: spread(rates) } : {}), ...(p99s.length ? { p99: spread(p99s) } : {}), ...(cpus.length ? { cpu: spread(cpus) } : {}) };
  const { ratio: _old, ...rest } = p;
  return { ...rest, repetitions: reps, ...(Object.keys(ratio).length ? { ratio } : {}) };
}

function modeRatios(m: BenchMode, ceiling: BenchMode): BenchMode {
  const byKey = new Map(ceiling.points.map((p) => [pointKey(p), p]));
  const points = m.points.map((p) => {
    const c = byKey.get(pointKey(p));
    return c ? pointRatios(p, c) : p;
  });
  const knees = m.knees.map((k) => {
    const ck = ceiling.knees.find((c) => c.sizeBytes === k.sizeBytes && c.connection === k.connection);
    const ratio = div(k.rate, ck?.rate);
    const { ratio: _old, ...rest } = k;
    return ratio !== undefined ? { ...rest, ratio } : rest;
  });
  return { ...m, points, knees };
}

/** The report with every ratio to its service's ceiling (re)computed; services without a ceiling are left as they are. */
export function withCeilingRatios(report: BenchReport): BenchReport {
  return {
    ...report,
    topologies: report.topologies.map((t) => ({
      ...t,
      services: t.services.map((s) => {
        const ceiling = s.modes.find((m) => m.mode === 'ceiling');
        return ceiling ? { ...s, modes: s.modes.map((m) => (m.mode === 'ceiling' ? m : modeRatios(m, ceiling))) } : s;
      }),
    })),
  };
}
