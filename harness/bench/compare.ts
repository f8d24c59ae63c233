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
 * A figure is compared as a ratio to the ceiling of its own run where both runs have one (rate,
 * p99, and the kernel CPU per 1,000/s): the ceiling absorbs a slower or busier machine, so what
 * is left is the director's doing.
 * Ceiling figures are compared too, but they measure the machine and the load generator, not
 * the system under test, and never fail the comparison.
 *
 * A comparison judges many figures at once (each figure of each point), and at α = 0.05 one in
 * twenty unchanged figures would look changed by chance: two runs of one build would often
 * "regress". The p-values of the gating figures are therefore adjusted together (Holm's
 * step-down correction: family-wise error held at α), and so are the ceiling's among
 * themselves. Figures whose repetitions are all one value on both sides (no errors in either
 * run) are no test and are left out of the family.
 *
 * With r repetitions a side, the smallest p-value possible is 2/C(2r, r): 0.1 for 3, 0.029
 * for 4, 0.008 for 5, 0.0022 for 6. When even that, times the family's size, does not reach
 * α, no change can be shown, and such figures say so ("too-few-repetitions") rather than
 * "within noise".
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
  /** pValue after Holm's correction over the figures judged together (1 for a figure that is no test) */
  pAdjusted: number;
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
  /** how many gating figures were tested together (the Holm family) */
  family: number;
  /** settings the two runs differ in (a fault held in one, another duration per point …): a change may be theirs */
  settingsDiffer: string[];
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
  { figure: 'directorCpu', absolute: cpuPer1000, ratio: (r) => r.ratio?.cpu },
];

const values = (p: BenchPoint, f: Extract) => p.repetitions.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

function relChange(o: number, n: number): number {
  if (o === n) return 0;
  if (o === 0) return n > 0 ? Infinity : -Infinity;
  return n / o - 1;
}

/**
 * Holm's step-down adjustment: sorted ascending, the k-th smallest of m p-values is multiplied
 * by m − k + 1, and each adjusted value is at least the one before it (monotone), capped at 1.
 */
export function holm(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p: Number.isFinite(p) ? p : 1, i })).sort((x, y) => x.p - y.p);
  const out = new Array<number>(m).fill(1);
  let running = 0;
  order.forEach((o, k) => {
    running = Math.max(running, Math.min(1, (m - k) * o.p));
    out[o.i] = running;
  });
  return out;
}

/** what a reader must know before trusting a change: the settings the two runs were measured under, where they differ */
export function settingsDifferences(a: BenchReport, b: BenchReport): string[] {
  const out: string[] = [];
  const fa = a.settings.faults ?? [];
  const fb = b.settings.faults ?? [];
  const faults = (f: string[]) => (f.length ? f.join(', ') : 'none');
  if (faults(fa) !== faults(fb)) out.push(`faults held: OLD ${faults(fa)}, NEW ${faults(fb)}`);
  if (a.settings.seconds !== b.settings.seconds) out.push(`seconds per repetition: OLD ${a.settings.seconds}, NEW ${b.settings.seconds}`);
  if (a.settings.repeat !== b.settings.repeat) out.push(`repetitions: OLD ${a.settings.repeat}, NEW ${b.settings.repeat}`);
  if (a.settings.generator !== b.settings.generator) out.push(`load generator: OLD ${a.settings.generator}, NEW ${b.settings.generator}`);
  if (a.environment.emulation !== b.environment.emulation) out.push(`emulation: OLD ${a.environment.emulation}, NEW ${b.environment.emulation}`);
  const lab = (r: BenchReport) => (r.environment.lab ? `kernel ${r.environment.lab.kernel}, keepalived ${r.environment.lab.keepalived}, ipvsadm ${r.environment.lab.ipvsadm}` : 'no lab');
  if (lab(a) !== lab(b)) out.push(`lab: OLD ${lab(a)}; NEW ${lab(b)}`);
  return out;
}

export function compareBench(oldReport: BenchReport, newReport: BenchReport, opts: CompareOptions = {}): Comparison {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const noise = opts.noiseThreshold ?? DEFAULT_NOISE;
  const errorNoise = opts.errorNoise ?? DEFAULT_ERROR_NOISE;
  const a = pointsOf(withCeilingRatios(oldReport));
  const b = pointsOf(withCeilingRatios(newReport));
  const raw: (Omit<FigureChange, 'pAdjusted' | 'verdict'> & { tested: boolean; better: boolean; threshold: number })[] = [];
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
      // every repetition one value, the same on both sides: nothing was tested
      const tested = !xo.concat(xn).every((x) => x === xo[0]);
      raw.push({ key, figure: f.figure, basis: useRatio ? 'ratio-to-ceiling' : 'absolute', old: so, new: sn, change, pValue: t.pValue, minPValue: t.minPValue, gating: o.mode !== 'ceiling', tested, better, threshold });
    }
  }
  // the gating figures are one family, the ceiling's another: each corrected with Holm's method
  const adjusted = new Map<(typeof raw)[number], number>();
  const families = [raw.filter((f) => f.tested && f.gating), raw.filter((f) => f.tested && !f.gating)];
  for (const fam of families) holm(fam.map((f) => f.pValue)).forEach((p, i) => adjusted.set(fam[i]!, p));
  const figures: FigureChange[] = raw.map((r) => {
    const { tested: _tested, better, threshold, ...f } = r;
    const pAdjusted = adjusted.get(r) ?? 1;
    const m = Math.max(1, (f.gating ? families[0]! : families[1]!).length);
    // a change under the threshold is noise whatever the test says; above it, the corrected test
    // decides, unless the repetitions are too few for any p-value of the family to reach α
    const verdict: Verdict = !(Math.abs(f.change) >= threshold)
      ? 'within-noise'
      : pAdjusted < alpha
        ? better
          ? 'improvement'
          : 'regression'
        : !(f.minPValue * m < alpha)
          ? 'too-few-repetitions'
          : 'within-noise';
    return { ...f, pAdjusted, verdict };
  });
  const regressions = figures.filter((f) => f.gating && f.verdict === 'regression').length;
  return {
    alpha,
    noiseThreshold: noise,
    test: `two-sided Mann–Whitney U over the repetitions, Holm-corrected over the ${families[0]!.length} gating figures tested together, α = ${alpha}; changes under ${noise * 100}% (errors: ${errorNoise * 100} percentage points) count as noise`,
    figures,
    family: families[0]!.length,
    settingsDiffer: settingsDifferences(oldReport, newReport),
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
  for (const d of c.settingsDiffer) lines.push(`settings differ: ${d}`);
  for (const f of rows) {
    const change = f.figure === 'errors' ? `${f.change >= 0 ? '+' : ''}${(f.change * 100).toFixed(2)} pp` : pct(f.change);
    lines.push(
      `${f.verdict.padEnd(19)} ${f.key} ${f.figure}${f.basis === 'ratio-to-ceiling' ? ' (÷ ceiling)' : ''}: ${num(f.old.median)} → ${num(f.new.median)} (${change}, p = ${Number.isFinite(f.pValue) ? f.pValue.toPrecision(2) : '—'}, corrected ${f.pAdjusted.toPrecision(2)}${f.verdict === 'too-few-repetitions' ? `, can be no lower than ${f.minPValue.toPrecision(2)} before correction` : ''})${f.gating ? '' : ' [ceiling: not gating]'}`,
    );
  }
  const quiet = c.figures.length - rows.length;
  if (quiet) lines.push(`${quiet} figure${quiet === 1 ? '' : 's'} within noise`);
  for (const k of c.unmatched.onlyOld) lines.push(`only in OLD: ${k}`);
  for (const k of c.unmatched.onlyNew) lines.push(`only in NEW: ${k}`);
  lines.push(`${c.regressions} regression${c.regressions === 1 ? '' : 's'}, ${c.improvements} improvement${c.improvements === 1 ? '' : 's'}`);
  return lines.join('\n');
}
