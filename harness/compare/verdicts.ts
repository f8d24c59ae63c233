import { verdictOf, type Verdict } from '../report/format.js';
import type { RecordedCheck, Results } from '../report/results.js';
import type { CheckPair } from './match.js';

/**
 * Checks whose verdict differs between the runs. The kinds name what a reviewer asks first:
 * did something break (pass-to-fail), stop being judged (to-unknown), or vanish (removed)?
 */
export type ChangeKind = 'pass-to-fail' | 'to-unknown' | 'removed' | 'fail-to-pass' | 'from-unknown' | 'added';

export const CHANGE_ORDER: readonly ChangeKind[] = ['pass-to-fail', 'to-unknown', 'removed', 'fail-to-pass', 'from-unknown', 'added'];

export interface CheckSide {
  verdict: Verdict;
  detail?: string;
  rule?: string;
  observed: unknown;
  expected: unknown;
}

export interface VerdictChange {
  kind: ChangeKind;
  suite: string;
  group: string;
  name: string;
  /** 0 unless the run recorded the same suite, group and name more than once (a suite run twice) */
  occurrence: number;
  a: CheckSide | null;
  b: CheckSide | null;
  /** removed or added because that run ended early: the check was not reached rather than dropped */
  notReached?: 'A' | 'B';
}

export interface VerdictSummary {
  /** pairs present in both runs with the same verdict */
  unchanged: number;
  changes: VerdictChange[];
}

const side = (c: RecordedCheck): CheckSide => ({
  verdict: verdictOf(c.valid),
  ...(c.detail !== undefined ? { detail: c.detail } : {}),
  ...(c.rule !== undefined ? { rule: c.rule } : {}),
  observed: c.observed,
  expected: c.expected,
});

function kindOf(a: Verdict, b: Verdict): ChangeKind | undefined {
  if (a === b) return undefined;
  if (b === 'unknown') return 'to-unknown';
  if (a === 'unknown') return 'from-unknown';
  return a === 'passed' ? 'pass-to-fail' : 'fail-to-pass';
}

const endedEarly = (r: Results) => !!(r.error || r.interrupted);

export function verdictChanges(pairs: readonly CheckPair[], a: Results, b: Results): VerdictSummary {
  let unchanged = 0;
  const changes: VerdictChange[] = [];
  for (const p of pairs) {
    const base = { suite: p.suite, group: p.group, name: p.name, occurrence: p.occurrence };
    if (p.a && p.b) {
      const kind = kindOf(verdictOf(p.a.valid), verdictOf(p.b.valid));
      if (kind) changes.push({ kind, ...base, a: side(p.a), b: side(p.b) });
      else unchanged++;
    } else if (p.a) changes.push({ kind: 'removed', ...base, a: side(p.a), b: null, ...(endedEarly(b) ? { notReached: 'B' as const } : {}) });
    else if (p.b) changes.push({ kind: 'added', ...base, a: null, b: side(p.b), ...(endedEarly(a) ? { notReached: 'A' as const } : {}) });
  }
  // stable: within a kind, the runs' own order
  const rank = (k: ChangeKind) => CHANGE_ORDER.indexOf(k);
  return { unchanged, changes: changes.map((c, i) => ({ c, i })).sort((x, y) => rank(x.c.kind) - rank(y.c.kind) || x.i - y.i).map(({ c }) => c) };
}
