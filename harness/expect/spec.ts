/**
 * Operator expectations: targets of the operator's own (`--expect failover=2s,removal=10s,errors=0`
 * or a topology's `expect:` section) that a measured value must meet on top of keepalived's bound,
 * as k6 thresholds fail a run. Durations are kept in ms, counts as counts; each target keeps the
 * words it was given in, so a failed check can quote them back.
 */
import { errUsage } from '../errors.js';

export const EXPECT_KEYS = {
  failover: 'failover time: client outage after a director fault',
  removal: 'health-check removal: a dead real server out of the table',
  reinsertion: 'reinsertion: a healed real server back in the table',
  preemption: 'preemption: a returning director MASTER again',
  errors: 'failed client operations across a failover',
} as const;
export type ExpectKey = keyof typeof EXPECT_KEYS;
export const DURATION_KEYS: readonly ExpectKey[] = ['failover', 'removal', 'reinsertion', 'preemption'];

export interface Target {
  /** ms for a duration, a count for errors */
  value: number;
  /** how the operator wrote it, quoted in the check's detail: `--expect failover=2s` */
  source: string;
}
export type Expectations = Partial<Record<ExpectKey, Target>>;

export const ALLOWED = Object.entries(EXPECT_KEYS)
  .map(([k, v]) => `${k} (${v})`)
  .join(', ');
const DURATION = /^(\d+(?:\.\d+)?)(ms|s)$/;

/** "2s" → 2000, "500ms" → 500; undefined when it is no duration with a unit. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  return m ? Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1)) : undefined;
}

/** One value for one key, or why not (the caller names where it was written). */
export function parseTargetValue(key: ExpectKey, text: string): number | string {
  if (key === 'errors') return /^\d+$/.test(text.trim()) ? Number(text.trim()) : `${JSON.stringify(text)} is not a count (a whole number such as 0)`;
  return parseDuration(text) ?? `${JSON.stringify(text)} is not a duration with its unit (such as 2s, 1.5s or 500ms)`;
}

export const isExpectKey = (k: string): k is ExpectKey => Object.hasOwn(EXPECT_KEYS, k);

/** `failover=2s,removal=10s,errors=0` (the value of --expect; given more than once, the parts add up). */
export function parseExpectSpec(spec: string, flag = '--expect'): Expectations {
  const out: Expectations = {};
  const parts = spec.split(',').map((p) => p.trim());
  if (!parts.some(Boolean)) throw errUsage(`${flag}: empty; give key=value pairs such as failover=2s,errors=0`, `allowed keys: ${ALLOWED}`);
  for (const part of parts) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const key = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (!isExpectKey(key)) throw errUsage(`${flag} ${part}: unknown key ${JSON.stringify(key)}`, `allowed keys: ${ALLOWED}`);
    if (eq < 0) throw errUsage(`${flag} ${part}: ${key} needs a value (${key}=${key === 'errors' ? '0' : '2s'})`, `allowed keys: ${ALLOWED}`);
    if (out[key]) throw errUsage(`${flag}: ${key} is given twice`, 'give each key once');
    const v = parseTargetValue(key, part.slice(eq + 1));
    if (typeof v === 'string') throw errUsage(`${flag} ${part}: ${v}`, key === 'errors' ? 'a whole number of failed operations' : 'a duration in ms or s, such as 500ms or 2s');
    out[key] = { value: v, source: `${flag} ${key}=${part.slice(eq + 1).trim()}` };
  }
  return out;
}

/** The topology's targets with the command line's on top, key by key. */
export const mergeExpectations = (base: Expectations | undefined, over: Expectations | undefined): Expectations | undefined => (base || over ? { ...base, ...over } : undefined);
