import { withCeilingRatios } from './ceiling.js';
import { mannWhitney } from './mann-whitney.js';
import type { BenchPoint, BenchReport, BenchRepetition } from './schema.js';
import { spread, type Spread } from './spread.js';
import { cpuPer1000, errorsOf } from './summarise.js';

/**
 * `bench --compare OLD NEW`: per figure of every point both runs measured, the change of the
 * median and whether it lies beyond the noise of the repetitions. The test is a two-sided
 * Mann–Whitney U over the repetitions (exact for few), at α = 0.05; as in criterion.rs, a
 * significant change smaller than the noise threshold (2%) is still called noise, since a
 * shift that small is real on no machine but the one that measured it.
 *
 * A figure is compared as a ratio to the ceiling of its own run where both runs have one:
 * the ceiling absorbs a slower or busier machine, so what is left is the director's doing.
 * Ceiling figures are compared too, but they measure the machine and the load generator, not
 * the system under test, and never fail the comparison.
 *
 * With r repetitions a side, the smallest p-value possible is 2/C(2r, r): 0.1 for 3, 0.029
 * for 4, 0.008 for 5. Below 4 no change can be shown at α = 0.05, and such figures say so
 * rather than "within noise".
 */
export const DEFAULT_ALPHA = 0.05;
export const DEFAULT_NOISE = 0.02;
/** error shares are near 0, where a relative change means nothing: their threshold is absolute (0.1 percentage point) */
export const DEFAULT_ERROR_NOISE = 0.001;

export type FigureName = 'rate' | 'p99' | 'errors' | 'directorCpu';
export type Verdict = 'regression' | 'improvement' | 'within-noise' | 'too-few-repetitions';

export interface FigureChange {
  /** topology/service/mode/connection/size/concurrency */
  key: string;
  figure: FigureName;
  basis: 'ratio-to-ceiling' | 'absolute';
  old: Spread;
  new: Spread;
  /** relative change of the medians (new/old − 1), or the absolute one for errors */
  change: number;
  pValue: number;
  minPValue: number;
  verdict: Verdict;
  /** false for the ceiling's own figures: they cannot fail a comparison */
  gating: boolean;
}

export interface Comparison {
  alpha: number;
  noiseThreshold: number;
  test: string;
  figures: FigureChange[];
  /** points measured in one run only */
  unmatched: { onlyOld: string[]; onlyNew: string[] };
  regressions: number;
  improvements: number;
  exitCode: 0 | 1;
}

export interface CompareOptions {
  alpha?: number;
  noiseThreshold?: number;
  errorNoise?: number;
}

interface Keyed {
  key: string;
  mode: string;
  point: BenchPoint;
}

function pointsOf(r: BenchReport): Map<string, Keyed> {
  const out = new Map<string, Keyed>();
  for (const t of r.topologies)
    for (const s of t.services)
      for (const m of s.modes)
        for (const p of m.points) {
          const key = `${t.topology}/${s.service}/${m.mode}/${p.connection}/${p.sizeBytes}B/c${p.concurrency}`;
          out.set(key, { key, mode: m.mode, point: p });
        }
  return out;
}

/** lower is better for all but the rate */
const HIGHER_IS_BETTER: Record<FigureName, boolean> = { rate: true, p99: false, errors: false, directorCpu: false };

type Extract = (r: BenchRepetition) => number | null | undefined;

const FIGURES: { figure: FigureName; absolute: Extract; ratio?: Extract }[] = [
  { figure: 'rate', absolute: (r) => r.rate, ratio: (r) => r.ratio?.rate },
  { figure: 'p99', absolute: (r) => r.latency.p99Ms, ratio: (r) => r.ratio?.p99 },
  { figure: 'errors', absolute: (r) => (r.ok + errorsOf(r) ? errorsOf(r) / (r.ok + errorsOf(r)) : undefined) },
  { figure: 'directorCpu', absolute: cpuPer1000 },
];

const values = (p: BenchPoint, f: Extract) => p.repetitions.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

function relChange(o: number, n: number): number {
  if (o === n) return 0;
  if (o === 0) return n > 0 ? Infinity : -Infinity;
  return n / o - 1;
}

export function compareBench(oldReport: BenchReport, newReport: BenchReport, opts: CompareOptions = {}): Comparison {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const noise = opts.noiseThreshold ?? DEFAULT_NOISE;
  const errorNoise = opts.errorNoise ?? DEFAULT_ERROR_NOISE;
  const a = pointsOf(withCeilingRatios(oldReport));
  const b = pointsOf(withCeilingRatios(newReport));
  const figures: FigureChange[] = [];
  for (const [key, o] of a) {
    const n = b.get(key);
    if (!n) continue;
    for (const f of FIGURES) {
      const ro = f.ratio ? values(o.point, f.ratio) : [];
      const rn = f.ratio ? values(n.point, f.ratio) : [];
      const useRatio = ro.length > 0 && rn.length > 0;
      const xo = useRatio ? ro : values(o.point, f.absolute);
      const xn = useRatio ? rn : values(n.point, f.absolute);
      if (!xo.length || !xn.length) continue;
      const so = spread(xo);
      const sn = spread(xn);
      const change = f.figure === 'errors' ? sn.median - so.median : relChange(so.median, sn.median);
      const t = mannWhitney(xo, xn);
      const threshold = f.figure === 'errors' ? errorNoise : noise;
      const better = HIGHER_IS_BETTER[f.figure] ? change > 0 : change < 0;
      // a change under the threshold is noise whatever the test says; above it, the test decides,
      // unless the repetitions are too few for any p-value to reach α
      const verdict: Verdict =
        !(Math.abs(change) >= threshold) ? 'within-noise' : t.pValue < alpha ? (better ? 'improvement' : 'regression') : !(t.minPValue < alpha) ? 'too-few-repetitions' : 'within-noise';
      figures.push({ key, figure: f.figure, basis: useRatio ? 'ratio-to-ceiling' : 'absolute', old: so, new: sn, change, pValue: t.pValue, minPValue: t.minPValue, verdict, gating: o.mode !== 'ceiling' });
    }
  }
  const regressions = figures.filter((f) => f.gating && f.verdict === 'regression').length;
  return {
    alpha,
    noiseThreshold: noise,
    test: `two-sided Mann–Whitney U over the repetitions, α = ${alpha}; changes under ${noise * 100}% (errors: ${errorNoise * 100} percentage points) count as noise`,
    figures,
    unmatched: { onlyOld: [...a.keys()].filter((k) => !b.has(k)), onlyNew: [...b.keys()].filter((k) => !a.has(k)) },
    regressions,
    improvements: figures.filter((f) => f.gating && f.verdict === 'improvement').length,
    exitCode: regressions ? 1 : 0,
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : x > 0 ? '+∞' : '−∞');
const num = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(3));

/** The terminal's view: changed figures first, then a count of the quiet ones. */
export function formatComparison(c: Comparison, all = false): string {
  const rows = c.figures.filter((f) => all || f.verdict !== 'within-noise');
  const lines = [`bench --compare: ${c.test}`];
  for (const f of rows) {
    const change = f.figure === 'errors' ? `${f.change >= 0 ? '+' : ''}${(f.change * 100).toFixed(2)} pp` : pct(f.change);
    lines.push(
      `${f.verdict.padEnd(19)} ${f.key} ${f.figure}${f.basis === 'ratio-to-ceiling' ? ' (÷ ceiling)' : ''}: ${num(f.old.median)} → ${num(f.new.median)} (${change}, p = ${Number.isFinite(f.pValue) ? f.pValue.toPrecision(2) : '—'}${f.verdict === 'too-few-repetitions' ? `, can be no lower than ${f.minPValue.toPrecision(2)}` : ''})${f.gating ? '' : ' [ceiling: not gating]'}`,
    );
  }
  const quiet = c.figures.length - rows.length;
  if (quiet) lines.push(`${quiet} figure${quiet === 1 ? '' : 's'} within noise`);
  for (const k of c.unmatched.onlyOld) lines.push(`only in OLD: ${k}`);
  for (const k of c.unmatched.onlyNew) lines.push(`only in NEW: ${k}`);
  lines.push(`${c.regressions} regression${c.regressions === 1 ? '' : 's'}, ${c.improvements} improvement${c.improvements === 1 ? '' : 's'}`);
  return lines.join('\n');
}
