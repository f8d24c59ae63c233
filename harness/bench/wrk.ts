import { HarnessError } from '../errors.js';
import { shellCommand, shellQuote } from '../util/shell.js';
import type { BenchRepetition, ConnectionMode } from './schema.js';

/**
 * wrk (in the node image) as bench's load generator: the Lua script whose done() prints one
 * JSON line, the argv of a run, the shell text of one measured exec, and the parsers of what
 * it prints. Pure: the driver (run.ts) runs the text in the client node.
 *
 * One exec per repetition holds the warm-up (when there is one), two readings of /proc/stat and
 * /proc/uptime around the measured run, and the run itself: an exec costs half a second or more
 * of the lab's own CPU under emulation, and none of it lands inside the measured window.
 */

/** the marker of done()'s line: wrk's own text comes before it */
export const WRK_MARK = 'LVSH-WRK';
const STAT_MARK = 'LVSH-STAT';
/** where the driver writes the script in the client node */
export const WRK_SCRIPT_PATH = '/tmp/lvs-harness-bench.lua';

export const errWrk = (message: string, hint?: string) => new HarnessError('ERR_LVS_BENCH_WRK', message, { hint });

/**
 * The Lua script: only done(), so wrk keeps its C request path (a request() or response()
 * function in Lua costs a call per request). Latencies are wrk's, in µs; with no request
 * measured the latency fields are null (wrk's min is then UINT64_MAX and its mean NaN, neither
 * of which is JSON). Numbers are written with %.0f: LuaJIT's %d refuses values past 2^31.
 */
export function renderWrkScript(): string {
  return `-- rendered by lvs-harness bench: one JSON line with wrk's totals, errors by kind and latency (µs)
done = function(summary, latency, requests)
  local e = summary.errors
  local lat = 'null'
  if summary.requests > 0 then
    lat = string.format('{"min":%.0f,"mean":%.3f,"max":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f}',
      latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99))
  end
  io.write(string.format('${WRK_MARK} {"requests":%.0f,"durationUs":%.0f,"bytes":%.0f,"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},"latencyUs":%s}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, lat))
end
`;
}

export interface WrkRun {
  url: string;
  concurrency: number;
  seconds: number;
  connection: ConnectionMode;
  /** wrk threads: at most the connections (wrk refuses more threads than connections) */
  threads?: number;
  /** a request without an answer for this long is a timeout error (wrk's default is 2 s; emulation is slower) */
  timeoutSeconds?: number;
}

export function wrkArgv(r: WrkRun, seconds = r.seconds): string[] {
  const threads = Math.max(1, Math.min(r.threads ?? 2, r.concurrency));
  return [
    'wrk',
    '-t',
    String(threads),
    '-c',
    String(r.concurrency),
    '-d',
    `${seconds}s`,
    '--timeout',
    `${r.timeoutSeconds ?? 5}s`,
    '-s',
    WRK_SCRIPT_PATH,
    ...(r.connection === 'new-connection' ? ['-H', 'Connection: close'] : []),
    r.url,
  ];
}

/**
 * One repetition as shell text: [a warm-up run, its output dropped], /proc/uptime and
 * /proc/stat, the measured run, then both files again. /proc/stat is not namespaced: read in
 * any container of the lab, it is the lab VM's kernel, where IPVS spends its softirq time.
 */
export function wrkRepetitionScript(r: WrkRun, warmupSeconds = 0): string {
  const lines: string[] = [];
  if (warmupSeconds > 0) lines.push(`${shellCommand(wrkArgv(r, warmupSeconds))} >/dev/null 2>&1 || true`);
  const stat = `echo ${STAT_MARK}; cat /proc/uptime /proc/stat`;
  lines.push(stat, shellCommand(wrkArgv(r)), 'rc=$?', stat, 'exit $rc');
  return lines.join('\n') + '\n';
}

/** The script written into the client node once per topology (one exec, through stdin). */
export const writeScriptArgv = ['sh', '-c', `cat > ${shellQuote(WRK_SCRIPT_PATH)}`];

export interface WrkResult {
  requests: number;
  durationS: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** null when no request was answered */
  latencyUs: { min: number; mean: number; max: number; p50: number; p90: number; p99: number } | null;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** done()'s line among wrk's output; throws ERR_LVS_BENCH_WRK with the end of the output when there is none or it is not the script's. */
export function parseWrkOutput(stdout: string, stderr = ''): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith(`${WRK_MARK} `));
  const tail = (s: string) => s.trim().split('\n').slice(-6).join('\n  ');
  if (!line) throw errWrk(`wrk printed no result line (${WRK_MARK}):\n  ${tail(`${stdout}\n${stderr}`) || '(nothing)'}`, 'is wrk in the node image, and the URL reachable from the client?');
  let raw: unknown;
  try {
    raw = JSON.parse(line.slice(WRK_MARK.length + 1));
  } catch (e) {
    throw errWrk(`wrk's result line is not JSON (${(e as Error).message}): ${line.slice(0, 200)}`);
  }
  const o = raw as Record<string, unknown>;
  const errors = (o?.errors ?? {}) as Record<string, unknown>;
  const bad = (field: string) => errWrk(`wrk's result line: ${field} is not a count: ${line.slice(0, 200)}`);
  for (const f of ['requests', 'durationUs', 'bytes'] as const) if (!isCount(o?.[f])) throw bad(f);
  for (const f of ['connect', 'read', 'write', 'status', 'timeout'] as const) if (!isCount(errors[f])) throw bad(`errors.${f}`);
  if ((o.durationUs as number) <= 0) throw bad('durationUs');
  let latencyUs: WrkResult['latencyUs'] = null;
  if (o.latencyUs !== null) {
    const l = (o.latencyUs ?? {}) as Record<string, unknown>;
    for (const f of ['min', 'mean', 'max', 'p50', 'p90', 'p99'] as const) if (!isCount(l[f])) throw bad(`latencyUs.${f}`);
    latencyUs = { min: l.min as number, mean: l.mean as number, max: l.max as number, p50: l.p50 as number, p90: l.p90 as number, p99: l.p99 as number };
  }
  return {
    requests: o.requests as number,
    durationS: (o.durationUs as number) / 1e6,
    bytes: o.bytes as number,
    errors: { connect: errors.connect as number, read: errors.read as number, write: errors.write as number, status: errors.status as number, timeout: errors.timeout as number },
    latencyUs,
  };
}

/** The kernel's CPU time in /proc/stat's aggregate `cpu` line, in USER_HZ ticks. */
export interface CpuTicks {
  user: number;
  system: number;
  irq: number;
  softirq: number;
  total: number;
  /** the cpuN lines */
  cpus: number;
}

export function parseProcStat(text: string): CpuTicks | undefined {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return undefined;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 7 || v.slice(0, 7).some((x) => !Number.isFinite(x))) return undefined;
  // user nice system idle iowait irq softirq [steal guest guest_nice]
  const [user, nice, system, , , irq, softirq] = v as [number, number, number, number, number, number, number];
  return { user: user + nice, system, irq, softirq, total: v.slice(0, 8).reduce((a, b) => a + b, 0), cpus: text.split('\n').filter((l) => /^cpu\d+\s/.test(l)).length };
}

/** USER_HZ: 100 on every Linux architecture the lab runs */
export const USER_HZ = 100;

export interface KernelCpu {
  /** average busy cores in the kernel (system + irq + softirq) over the window */
  kernelCores: number;
  softirqCores: number;
  seconds: number;
}

/** Two readings of /proc/uptime + /proc/stat: the CPU ticks of each and the seconds between them. */
function readingsBetween(before: string, after: string): { a: CpuTicks; b: CpuTicks; seconds: number } | undefined {
  const up = (t: string) => Number(t.trim().split(/\s+/)[0]);
  const a = parseProcStat(before);
  const b = parseProcStat(after);
  const seconds = up(after) - up(before);
  return a && b && seconds > 0 ? { a, b, seconds } : undefined;
}

/** Kernel CPU between two readings of /proc/uptime + /proc/stat. */
export function kernelCpuBetween(before: string, after: string): KernelCpu | undefined {
  const r = readingsBetween(before, after);
  if (!r) return undefined;
  const { a, b, seconds } = r;
  const k = (c: CpuTicks) => c.system + c.irq + c.softirq;
  const ticks = k(b) - k(a);
  const soft = b.softirq - a.softirq;
  if (ticks < 0 || soft < 0) return undefined;
  return { kernelCores: ticks / USER_HZ / seconds, softirqCores: soft / USER_HZ / seconds, seconds };
}

/**
 * How busy the whole VM was between two readings (user + system + irq + softirq), in cores: a
 * topology just built keeps the engine busy for a while under emulation, and a point measured
 * then measures the engine. The driver waits until this falls under a threshold.
 */
export function busyCoresBetween(before: string, after: string): number | undefined {
  const r = readingsBetween(before, after);
  if (!r) return undefined;
  const { a, b, seconds } = r;
  const busy = (c: CpuTicks) => c.user + c.system + c.irq + c.softirq;
  const ticks = busy(b) - busy(a);
  return ticks >= 0 ? ticks / USER_HZ / seconds : undefined;
}

/** One reading of how busy the VM is over `seconds` (shell text; parse with parseQuiet). */
export const quietScript = (seconds: number) => `echo ${STAT_MARK}; cat /proc/uptime /proc/stat; sleep ${seconds}; echo ${STAT_MARK}; cat /proc/uptime /proc/stat\n`;

export function parseQuiet(stdout: string): number | undefined {
  const parts = stdout.split(`${STAT_MARK}\n`);
  return parts.length < 3 ? undefined : busyCoresBetween(parts[1]!, parts[2]!);
}

/** What one repetition's exec printed: wrk's result and the kernel CPU over its window. */
export function parseRepetition(stdout: string, stderr = ''): { wrk: WrkResult; cpu?: KernelCpu } {
  const parts = stdout.split(`${STAT_MARK}\n`);
  const wrk = parseWrkOutput(stdout, stderr);
  // [before the first mark, stat before + wrk output, stat after]
  if (parts.length < 3) return { wrk };
  const before = parts[1]!.split(`${WRK_MARK} `)[0]!;
  const cpu = kernelCpuBetween(before, parts[2]!);
  return cpu ? { wrk, cpu } : { wrk };
}

const ms = (us: number | undefined) => (us === undefined ? null : us / 1000);

/**
 * A repetition as bench.json holds it. wrk counts an answer that is not 2xx or 3xx both as a
 * request and as a `status` error: ok is what is left. Socket errors (connect, read, write,
 * timeout) never became requests. wrk reports percentiles, not its histogram: there is no hdr.
 */
export function repetitionOf(r: WrkResult, cpu?: KernelCpu): BenchRepetition {
  const ok = Math.max(0, r.requests - r.errors.status);
  const errors = Object.fromEntries(Object.entries(r.errors).filter(([, n]) => n > 0)) as BenchRepetition['errors'];
  const l = r.latencyUs;
  return {
    rate: ok / r.durationS,
    seconds: r.durationS,
    ok,
    errors,
    latency: { count: r.requests, rejected: 0, minMs: ms(l?.min), meanMs: ms(l?.mean), p50Ms: ms(l?.p50), p90Ms: ms(l?.p90), p99Ms: ms(l?.p99), maxMs: ms(l?.max) },
    ...(cpu ? { directorCpuCores: cpu.kernelCores } : {}),
  };
}
