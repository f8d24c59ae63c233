import type { RecordedCheck } from '../report/results.js';

/**
 * Pairs the checks of two runs by suite + group + name. A suite that ran twice records the same
 * key twice, so the n-th occurrence in A pairs with the n-th in B rather than all with the first.
 */
export interface CheckPair {
  suite: string;
  group: string;
  name: string;
  /** 0 for the first check with this key in its run, 1 for the second, … */
  occurrence: number;
  a?: RecordedCheck;
  b?: RecordedCheck;
}

const keyOf = (c: Pick<RecordedCheck, 'suite' | 'group' | 'name'>) => `${c.suite}\u0000${c.group}\u0000${c.name}`;

function numbered(checks: readonly RecordedCheck[]): Map<string, { check: RecordedCheck; occurrence: number }> {
  const seen = new Map<string, number>();
  const out = new Map<string, { check: RecordedCheck; occurrence: number }>();
  for (const check of checks) {
    const k = keyOf(check);
    const occurrence = seen.get(k) ?? 0;
    seen.set(k, occurrence + 1);
    out.set(`${k}\u0000${occurrence}`, { check, occurrence });
  }
  return out;
}

/** Every check of either run, in A's order, then those only B has in B's order. */
export function pairChecks(a: readonly RecordedCheck[], b: readonly RecordedCheck[]): CheckPair[] {
  const na = numbered(a);
  const nb = numbered(b);
  const keys = [...na.keys(), ...[...nb.keys()].filter((k) => !na.has(k))];
  return keys.map((k) => {
    const x = na.get(k);
    const y = nb.get(k);
    const { suite, group, name } = (x ?? y)!.check;
    return { suite, group, name, occurrence: (x ?? y)!.occurrence, a: x?.check, b: y?.check };
  });
}
