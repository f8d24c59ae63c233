/**
 * A checker is a pure function of what was observed; it never talks to Docker.
 * Verdicts merge false > unknown > true.
 */
export type Validity = true | false | 'unknown';

export interface CheckResult {
  name: string;
  valid: Validity;
  observed: unknown;
  expected: unknown;
  /** the rule the checker applied, in words */
  rule?: string;
  /** why it failed (or passed), in words a user can act on */
  detail?: string;
}

/** No verdict at all is no evidence: an empty list merges to 'unknown', not to true. */
export function mergeValidity(vs: readonly Validity[]): Validity {
  if (!vs.length) return 'unknown';
  if (vs.includes(false)) return false;
  if (vs.includes('unknown')) return 'unknown';
  return true;
}
