import type { RunInfo } from './compare.js';
import type { Judgement, TimeSeries } from './times.js';
import type { ChangeKind, VerdictChange } from './verdicts.js';
import { failureLine, tallyText } from '../report/format.js';

/** The sentences text and HTML share, so the terminal and the page say the same thing. */

export const CHANGE_LABEL: Record<ChangeKind, string> = {
  'pass-to-fail': 'pass → fail',
  'to-unknown': '→ unknown',
  removed: 'removed',
  'fail-to-pass': 'fail → pass',
  'from-unknown': 'unknown → judged',
  added: 'added',
};

/** 850 ms, 3.12 s: finer than format.ts's duration(), since two failovers 30 ms apart must not print the same */
export function ms(v: number): string {
  if (!Number.isFinite(v)) return '?';
  const a = Math.abs(v);
  if (a < 1000) return `${Math.round(v)} ms`;
  return `${(v / 1000).toFixed(a < 10_000 ? 2 : 1)} s`;
}

export const signedMs = (v: number) => (v > 0 ? `+${ms(v)}` : v < 0 ? `−${ms(-v)}` : '±0 ms');

/** 0.5 → "50.0%" */
export const share = (v: number) => `${(v * 100).toFixed(1)}%`;

/** B − A in percentage points */
export const points = (v: number) => `${v > 0 ? '+' : v < 0 ? '−' : '±'}${Math.abs(v * 100).toFixed(1)} pt`;

const p = (v: number) => (v < 0.001 ? v.toExponential(1) : String(Number(v.toPrecision(2))));

/** "beyond the spread of the repetitions (…)" or "within …" or "too few repetitions to judge (…)" */
export function judgementText(s: Pick<TimeSeries, 'a' | 'b'>, j: Judgement): string {
  const na = s.a.samples.length;
  const nb = s.b.samples.length;
  if (!j.judged) return `${j.reason} (${na} and ${nb} value${nb === 1 ? '' : 's'}; a rank test needs 3 on each side)`;
  const test = `Mann-Whitney U = ${j.u}, ${j.method} two-sided p = ${p(j.p)}`;
  if (j.beyondSpread) return `beyond the spread of the repetitions (${test} < ${j.alpha})`;
  if (j.underpowered) return `within the spread of the repetitions (${test}); with ${na} and ${nb} values no outcome could reach p < ${j.alpha} (smallest possible ${p(j.smallestP)}): repeat the suites to judge`;
  return `within the spread of the repetitions (${test} ≥ ${j.alpha})`;
}

export function changeText(s: TimeSeries): string {
  if (s.changeMs === undefined) return s.a.samples.length ? 'not measured in B' : s.b.samples.length ? 'not measured in A' : 'not measured in either run';
  const rel = s.a.median ? ` (${s.changeMs >= 0 ? '+' : '−'}${Math.abs((100 * s.changeMs) / s.a.median).toFixed(0)}%)` : '';
  return `median ${ms(s.a.median!)} → ${ms(s.b.median!)}, ${signedMs(s.changeMs)}${rel}`;
}

export const seriesTitle = (s: TimeSeries) => `${s.label} on ${s.topology}`;

export const checkTitle = (c: Pick<VerdictChange, 'suite' | 'group' | 'name' | 'occurrence'>) => `${c.suite} · ${c.group} · ${c.name}${c.occurrence ? ` (#${c.occurrence + 1})` : ''}`;

/** "failed, 6 checks: 3 passed, 2 failed, 1 unknown" and the error that ended it, if one did */
export function runLine(r: RunInfo): string {
  return `${r.verdict}, ${tallyText(r.checks)}`;
}

export const runEnd = (r: RunInfo): string | undefined => failureLine(r);

export function notReachedText(c: VerdictChange, a: RunInfo, b: RunInfo): string | undefined {
  if (!c.notReached) return undefined;
  const r = c.notReached === 'A' ? a : b;
  return `not reached: ${c.notReached} ${r.interrupted ? 'was interrupted' : 'ended in an error'} in ${r.error?.phase ?? r.interrupted?.phase ?? '?'}`;
}
