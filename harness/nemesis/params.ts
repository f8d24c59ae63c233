/** The small value grammars of fault specs: durations (500ms, 10s, 2m, 1.5s) and percentages (30%, 30). */

export const DURATION_FORMS = 'a number with ms, s or m: 500ms, 10s, 1.5s, 2m';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Milliseconds, or undefined when `text` is not a duration. Zero is a duration (callers decide whether it is allowed). */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A percentage in (0, 100], written `30%` or `30` (decimals allowed: `0.5%`), or undefined. */
export function parsePercent(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(text.trim());
  if (!m) return undefined;
  const p = Number(m[1]);
  return p > 0 && p <= 100 ? p : undefined;
}
