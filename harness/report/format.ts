import type { Validity } from '../checkers/types.js';
import { DEBIAN_RELEASES } from '../keepalived/releases.js';
import type { LeftOut, Results } from './results.js';

/**
 * Text pieces every format shares, so that JUnit, Markdown, HTML and the terminal say the
 * same thing in the same words. Nothing here judges: verdicts come from the checkers.
 */
export type Verdict = 'passed' | 'failed' | 'unknown';

export const verdictOf = (v: Validity): Verdict => (v === true ? 'passed' : v === false ? 'failed' : 'unknown');

/**
 * The run as a whole: a run that ended early has no verdict on its checks, whatever the checks
 * recorded before the end say, so it is an error (or interrupted) rather than passed or failed.
 */
export type RunVerdict = Verdict | 'error' | 'interrupted';

export const runVerdictOf = (r: Pick<Results, 'valid' | 'error' | 'interrupted'>): RunVerdict => (r.interrupted ? 'interrupted' : r.error ? 'error' : verdictOf(r.valid));

/** "error in build: ERR_LVS_IPVS_MISMATCH: …" or "interrupted by SIGINT in phase build", one line; undefined for a run that ended. */
export function failureLine(r: Pick<Results, 'error' | 'interrupted'>): string | undefined {
  const e = r.error;
  if (!e) return undefined;
  return firstLine(r.interrupted ? e.message : `error in ${e.phase}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
}

const RANK: Record<Verdict, number> = { failed: 0, unknown: 1, passed: 2 };

/** Failed checks first, then the ones that could not judge, then the rest; stable otherwise. */
export function failuresFirst<T extends { valid: Validity }>(checks: readonly T[]): T[] {
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => RANK[verdictOf(a.c.valid)] - RANK[verdictOf(b.c.valid)] || a.i - b.i)
    .map(({ c }) => c);
}

export interface Tally {
  total: number;
  passed: number;
  failed: number;
  unknown: number;
}

export function tally(checks: readonly { valid: Validity }[]): Tally {
  const t: Tally = { total: checks.length, passed: 0, failed: 0, unknown: 0 };
  for (const c of checks) t[verdictOf(c.valid)]++;
  return t;
}

export function tallyText(t: Tally, errors = 0): string {
  const parts = [`${t.passed} passed`];
  if (t.failed) parts.push(`${t.failed} failed`);
  if (t.unknown) parts.push(`${t.unknown} unknown`);
  if (errors) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  return `${t.total} check${t.total === 1 ? '' : 's'}: ${parts.join(', ')}`;
}

/** 850 ms, 39.3 s, 1 min 12 s */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** The run's wall time when results@1 recorded its end, else undefined. */
export function wallMs(r: Results): number | undefined {
  if (!r.finishedAt) return undefined;
  const ms = Date.parse(r.finishedAt) - Date.parse(r.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

export function timingsText(r: Results, sep = ' · '): string {
  const parts = Object.entries(r.timings).map(([k, v]) => `${k} ${duration(v)}`);
  const wall = wallMs(r);
  if (wall !== undefined) parts.push(`total ${duration(wall)}`);
  return parts.length ? parts.join(sep) : 'none recorded';
}

/** "Debian 13 trixie" for a lab release of ours; a release this harness does not know, as recorded. */
export function releaseText(name: string): string {
  const d = DEBIAN_RELEASES.find((x) => x.name === name);
  return d ? `Debian ${d.debian} ${d.name}` : name;
}

/**
 * The lab a run ran in, in one line: "Debian 13 trixie, kernel 6.12.117-amd64, keepalived v2.3.3"
 * (the release from the runtime, the versions as read in a director); undefined when the run
 * recorded neither (results@0, or an engine of the user's own with no director reached).
 */
export function labText(r: Pick<Results, 'runtime' | 'environment'>): string | undefined {
  const rel = r.runtime?.release;
  const lab = r.environment?.lab;
  const parts = [...(rel ? [releaseText(rel)] : []), ...(lab ? [`kernel ${lab.kernel}`, `keepalived ${lab.keepalived}`] : [])];
  return parts.length ? parts.join(', ') : undefined;
}

/** One left-out entry of `--suite all`: "dh, lblc, lblcr of schedulers: <why>" or "protocols: <why>". */
export function leftOutText(l: LeftOut): string {
  return `${l.tests?.length ? `${l.tests.join(', ')} of ${l.suite}` : l.suite}: ${l.why}`;
}

export function environmentParts(r: Results): string[] {
  const out: string[] = [];
  const e = r.environment;
  const rel = r.runtime?.release ? `${releaseText(r.runtime.release)}, ` : '';
  if (e) {
    const h = e.host;
    out.push(`host ${h.os}, kernel ${h.kernel}, node ${h.node}, ${h.cpus} CPUs, ${h.memoryMiB} MiB`);
    if (e.lab) out.push(`lab ${rel}kernel ${e.lab.kernel}, docker ${e.lab.docker}, ipvsadm ${e.lab.ipvsadm}, keepalived ${e.lab.keepalived}`);
    // the run ended before a director could be read: the release it was to run on
    else if (rel) out.push(`lab ${releaseText(r.runtime!.release!)}`);
    out.push(`lvs-harness ${e.harness.version} (${e.harness.git})`);
  }
  if (r.runtime) out.push(`runtime ${r.runtime.kind}${r.runtime.nodeImage ? ` (${r.runtime.nodeImage})` : ''}`);
  if (!e) out.push(`environment not recorded (${r.schema})`);
  return out;
}

export function topologyText(r: Results): string {
  const t = r.topology;
  return `${t.name} (${t.file}, plan ${t.plan}${t.configRevision ? `, revision ${t.configRevision}` : ''}${t.reused ? ', reused' : ''})`;
}

function compact(v: unknown, depth: number): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => compact(x, depth + 1)).join(' ')}]`;
  const entries = Object.entries(v as Record<string, unknown>);
  if (depth === 0) return entries.map(([k, x]) => `${k} ${compact(x, 1)}`).join(', ');
  return `{${entries.map(([k, x]) => `${k}:${compact(x, depth + 1)}`).join(' ')}}`;
}

/** An observed or expected value in one short line: "connections 12, totals {rs1:4 rs2:4}, …". */
export function brief(v: unknown, max = 80): string {
  const s = compact(v, 0).replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s;
}

function oneLine(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(oneLine).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${oneLine(x)}`).join(', ')}}`;
  return JSON.stringify(v) ?? 'null';
}

function indented(v: unknown, ind: string, width: number): string {
  const flat = oneLine(v);
  if (v === null || typeof v !== 'object' || ind.length + flat.length <= width) return flat;
  const inner = `${ind}  `;
  if (Array.isArray(v)) return `[\n${v.map((x) => inner + indented(x, inner, width)).join(',\n')}\n${ind}]`;
  return `{\n${Object.entries(v).map(([k, x]) => `${inner}${JSON.stringify(k)}: ${indented(x, inner, width)}`).join(',\n')}\n${ind}}`;
}

/** JSON as a person reads it: nested, but each small object or list on one line. */
export const pretty = (v: unknown, width = 72): string => (v === undefined ? '(none)' : typeof v === 'string' ? v : indented(v, '', width));

export const firstLine = (s: string, max = 200): string => {
  const l = s.split('\n')[0]!.trim();
  return l.length > max ? `${l.slice(0, max - 1).trimEnd()}…` : l;
};

/** Which suite a mocha error belongs to: results@1 says; for results@0 the title starts with it. */
export function suiteOfError(e: { title: string; suite?: string }, suites: readonly string[]): string | undefined {
  if (e.suite) return e.suite;
  return suites.find((s) => e.title === s || e.title.startsWith(`${s} `));
}

/** The suites in the order they ran, then any a check or error names that the list lacks. */
export function suiteOrder(r: Results): string[] {
  const out = [...r.suites];
  for (const c of r.checks) if (!out.includes(c.suite)) out.push(c.suite);
  for (const e of r.errors) {
    const s = e.suite;
    if (s && !out.includes(s)) out.push(s);
  }
  return out;
}

// XML 1.0 allows tab, newline, carriage return and everything from U+0020 on except lone
// surrogates and U+FFFE/U+FFFF; ipvsadm and curl errors do carry ESC and NUL at times
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Characters XML 1.0 forbids, shown as \u001b so the text still says what was there. */
export const visible = (s: string): string => s.replace(INVALID_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** Text content for XML and HTML. */
export const escapeText = (s: string): string => visible(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An attribute value (double-quoted); line breaks as references so they survive attribute normalisation. */
export const escapeAttr = (s: string): string =>
  escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
