import { measures } from '../checkers/expect.js';
import { verdictOf, type Verdict } from '../report/format.js';
import type { RecordedCheck, Results } from '../report/results.js';
import { mannWhitney } from './rank-test.js';

/**
 * Measured times of two runs side by side, per kind of measurement and topology. A run holds
 * several values of one kind when a suite ran repeatedly or injected several faults; whether
 * the median moved more than those repetitions scatter is a rank test's call, never a fixed
 * percentage (a 10 % threshold is noise for a 3 s failover measured to 250 ms and blind for a
 * 50 ms removal).
 */

/** The level below which a rank test's p says "beyond the spread". */
export const ALPHA = 0.05;

/** Fewer values than this on either side and no test is run. */
export const MIN_REPETITIONS = 3;

export const TOO_FEW = 'too few repetitions to judge';

/** failover, removal, reinsertion, preemption (what `--expect` knows), or `measured` for another check with observed.measuredMs. */
export type TimeKind = 'failover' | 'removal' | 'reinsertion' | 'preemption' | 'measured';

export interface TimeSample {
  ms: number;
  group: string;
  name: string;
  verdict: Verdict;
}

export interface TimeSide {
  samples: TimeSample[];
  /** checks of this kind that could not measure (they record null) */
  unmeasured: number;
  median?: number;
}

export type Judgement =
  | { judged: false; reason: string }
  | {
      judged: true;
      test: 'mann-whitney-u';
      method: 'exact' | 'normal';
      /** U of A's values; A's values tend higher when it is above nA·nB/2 */
      u: number;
      p: number;
      smallestP: number;
      alpha: number;
      beyondSpread: boolean;
      /** smallest p over the level: these sample sizes cannot show a change, whatever the values */
      underpowered: boolean;
    };

export interface TimeSeries {
  kind: TimeKind;
  /** the kind in words; for `measured`, the check's name, so that unrelated checks are not pooled */
  label: string;
  topology: string;
  a: TimeSide;
  b: TimeSide;
  /** median of B minus median of A, ms; undefined when a side has no value */
  changeMs?: number;
  judgement: Judgement;
}

const KIND_LABEL: Record<Exclude<TimeKind, 'measured'>, string> = { failover: 'failover time', removal: 'removal time', reinsertion: 're-insertion time', preemption: 'preemption time' };

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The kind and value of a check's measured time; undefined for a check that measures no time. */
export function timeOf(c: RecordedCheck): { kind: TimeKind; label: string; ms: number | null } | undefined {
  const m = measures(c).find((x) => x.key !== 'errors');
  if (m) return { kind: m.key as TimeKind, label: KIND_LABEL[m.key as keyof typeof KIND_LABEL], ms: m.value };
  const o = c.observed;
  if (!isRecord(o) || !('measuredMs' in o)) return undefined;
  const v = o.measuredMs;
  if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) return undefined;
  return { kind: 'measured', label: c.name, ms: v };
}

export function median(values: readonly number[]): number | undefined {
  if (!values.length) return undefined;
  const s = [...values].sort((x, y) => x - y);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

export function judge(a: readonly number[], b: readonly number[]): Judgement {
  if (a.length < MIN_REPETITIONS || b.length < MIN_REPETITIONS) return { judged: false, reason: TOO_FEW };
  const t = mannWhitney(a, b);
  return { judged: true, test: 'mann-whitney-u', method: t.method, u: t.uA, p: t.p, smallestP: t.smallestP, alpha: ALPHA, beyondSpread: t.p < ALPHA, underpowered: t.smallestP >= ALPHA };
}

export function timeSeries(a: Results, b: Results): TimeSeries[] {
  const series = new Map<string, { kind: TimeKind; label: string; topology: string; a: TimeSide; b: TimeSide }>();
  const add = (r: Results, which: 'a' | 'b') => {
    for (const c of r.checks) {
      const t = timeOf(c);
      if (!t) continue;
      const topology = r.topology.name;
      const key = `${t.kind}\u0000${t.label}\u0000${topology}`;
      const s = series.get(key) ?? { kind: t.kind, label: t.label, topology, a: { samples: [], unmeasured: 0 }, b: { samples: [], unmeasured: 0 } };
      series.set(key, s);
      if (t.ms === null) s[which].unmeasured++;
      else s[which].samples.push({ ms: t.ms, group: c.group, name: c.name, verdict: verdictOf(c.valid) });
    }
  };
  add(a, 'a');
  add(b, 'b');
  const order: TimeKind[] = ['failover', 'removal', 'reinsertion', 'preemption', 'measured'];
  return [...series.values()]
    .sort((x, y) => order.indexOf(x.kind) - order.indexOf(y.kind) || x.topology.localeCompare(y.topology) || x.label.localeCompare(y.label))
    .map((s) => {
      const va = s.a.samples.map((x) => x.ms);
      const vb = s.b.samples.map((x) => x.ms);
      const ma = median(va);
      const mb = median(vb);
      return {
        ...s,
        a: { ...s.a, ...(ma !== undefined ? { median: ma } : {}) },
        b: { ...s.b, ...(mb !== undefined ? { median: mb } : {}) },
        ...(ma !== undefined && mb !== undefined ? { changeMs: mb - ma } : {}),
        judgement: judge(va, vb),
      };
    });
}
