/**
 * An operator's targets applied to a recorded check: a measured value past a target makes the
 * check false even where keepalived's own bound was met. Targets only ever tighten a verdict;
 * a value not measured leaves it as the checker gave it.
 */
import type { CheckResult } from './types.js';
import type { ExpectKey, Expectations } from '../expect/spec.js';

interface Measure {
  key: ExpectKey;
  value: number | null;
}

const obj = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {});
const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/**
 * What a check measured, told by the observed fields each checker writes (checkers/failover.ts
 * failoverTime, health.ts removalTime and reinsertion, preempt.ts preemption): no tag is needed in
 * the checkers, and a check of any other kind measures nothing here.
 */
export function measures(check: Pick<CheckResult, 'observed' | 'expected'>): Measure[] {
  const o = obj(check.observed);
  if ('recoveryGapMs' in o && 'measuredMs' in o) return [{ key: 'failover', value: num(o.measuredMs) }, { key: 'errors', value: num(o.failedAfter) }];
  if ('putBackAtMs' in o && 'measuredMs' in o) return [{ key: 'removal', value: num(o.measuredMs) }];
  if ('weight' in o && 'polls' in o && 'measuredMs' in o) return [{ key: 'reinsertion', value: num(o.measuredMs) }];
  // nopreempt expects no MASTER at all (expected.masterAtMs null): a time target has nothing to judge
  if ('masterAtMs' in o && typeof obj(check.expected).masterAtMs === 'string') return [{ key: 'preemption', value: num(o.masterAtMs) }];
  return [];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')} s`;
const show = (key: ExpectKey, v: number) => (key === 'errors' ? `${v} failed operation${v === 1 ? '' : 's'}` : seconds(v));
const target = (key: ExpectKey, v: number) => (key === 'errors' ? String(v) : seconds(v));

/** The check with the targets that apply to it; the same object when none does. */
export function applyExpectations(check: CheckResult, expect: Expectations | undefined): CheckResult {
  if (!expect) return check;
  const applied = measures(check).flatMap((m) => (expect[m.key] ? [{ ...m, t: expect[m.key]! }] : []));
  if (!applied.length) return check;
  let valid = check.valid;
  const notes: string[] = [];
  for (const { key, value, t } of applied) {
    if (value === null) continue; // nothing measured: the checker's own verdict says why
    if (value > t.value) {
      valid = false;
      notes.push(`measured ${show(key, value)}, over the operator's target ${target(key, t.value)} (${t.source})`);
    } else notes.push(`measured ${show(key, value)}, within the operator's target ${target(key, t.value)} (${t.source})`);
  }
  const operator = Object.fromEntries(applied.map(({ key, t }) => [key, key === 'errors' ? `≤ ${t.value}` : `≤ ${t.value} ms`]));
  const expected = check.expected && typeof check.expected === 'object' && !Array.isArray(check.expected) ? { ...check.expected, operator } : { checker: check.expected, operator };
  return { ...check, valid, expected, ...(notes.length ? { detail: [check.detail, ...notes].filter(Boolean).join('; ') } : {}) };
}
