import { readJsonFile } from '../util/json-file.js';
import { z } from 'zod';
import { HarnessError } from '../errors.js';
import type { Environment } from '../report/results.js';
import { formatPath, valueAt } from '../util/object-path.js';

/**
 * bench.json (reports/<run-id>/bench.json): what `lvs-harness bench` measured, and what
 * `bench --compare` reads back. Versioned like results.json: a reader refuses a schema it
 * does not know rather than guessing at it.
 *
 * Figures are per repetition so that a later comparison can test them against the noise; the
 * point's min/median/max and its merged latency are kept beside them for readers that only
 * show. Latencies are in ms, null where nothing was measured (JSON has no NaN).
 */
export const BENCH_SCHEMA_V1 = 'lvs-harness/bench@1';

/** the forwarding methods, HAProxy in TCP mode, and the ceiling: the client straight to one real server */
export const BENCH_MODES = ['nat', 'dr', 'tun', 'fullnat', 'haproxy', 'ceiling'] as const;
export const CONNECTION_MODES = ['keep-alive', 'new-connection'] as const;
/** the load agent's outcomes, `status` for an answer that was not 2xx, and wrk's socket errors (connect, read, write; its timeouts are `timeout`) */
export const ERROR_KINDS = ['refused', 'reset', 'timeout', 'error', 'status', 'connect', 'read', 'write'] as const;

const count = z.number().int().min(0);
const seconds = z.number().min(0);
const ms = z.number().min(0).nullable();
const isoTime = z.iso.datetime({ error: 'expected an ISO 8601 UTC time such as 2026-11-21T07:34:53.675Z' });

const spread = z.strictObject({ min: z.number(), median: z.number(), max: z.number(), n: count });

const latency = z.strictObject({ count, rejected: count, minMs: ms, meanMs: ms, p50Ms: ms, p90Ms: ms, p99Ms: ms, maxMs: ms });

const ratio = z.strictObject({ rate: z.number().min(0).optional(), p99: z.number().min(0).optional(), cpu: z.number().min(0).optional() });

const repetition = z.strictObject({
  /** successful operations per second over the measured window (warm-up excluded) */
  rate: z.number().min(0),
  seconds: z.number().positive(),
  ok: count,
  errors: z.strictObject(Object.fromEntries(ERROR_KINDS.map((k) => [k, count.optional()])) as Record<(typeof ERROR_KINDS)[number], z.ZodOptional<typeof count>>),
  latency,
  /** the repetition's histogram (histogram.ts encode()), so points can be merged again later */
  hdr: z.string().optional(),
  /** average busy cores of the director over the window, as directorCpu.source measures it */
  directorCpuCores: z.number().min(0).optional(),
  /** this repetition over the ceiling's repetition of the same round (ceiling.ts) */
  ratio: ratio.optional(),
});

const point = z.strictObject({
  concurrency: z.number().int().min(1),
  sizeBytes: count,
  connection: z.enum(CONNECTION_MODES),
  repetitions: z.array(repetition).min(1),
  rate: spread,
  /** failed over all operations of every repetition */
  errorRate: z.number().min(0).max(1),
  /** every repetition's histogram merged: the point's percentiles, not a mean of them */
  latency,
  /** director cores per 1,000 new connections/s (new-connection points of modes with a director) */
  directorCpuPer1000: spread.optional(),
  ratio: z.strictObject({ rate: spread.optional(), p99: spread.optional(), cpu: spread.optional() }).optional(),
});

const knee = z.strictObject({
  sizeBytes: count,
  connection: z.enum(CONNECTION_MODES),
  concurrency: z.number().int().min(1).optional(),
  rate: z.number().min(0).optional(),
  reason: z.enum(['errors', 'plateau', 'end']),
  stoppedAt: z.number(),
  reached: z.boolean(),
  /** the knee's rate over the ceiling's knee rate for the same size and connection mode */
  ratio: z.number().min(0).optional(),
});

const mode = z.strictObject({ mode: z.enum(BENCH_MODES), points: z.array(point), knees: z.array(knee) });

const service = z.strictObject({
  service: z.string().min(1),
  vip: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  modes: z.array(mode).min(1),
  /** how the ceiling's load reached the real server: straight, or through a director acting as a plain router */
  ceilingPath: z.string().optional(),
});

const topology = z.strictObject({ topology: z.string().min(1), services: z.array(service) });

// z.object, not strict: a newer harness may record more of the environment, which a compare can ignore
const environment = z.object({
  host: z.object({ os: z.string(), kernel: z.string(), node: z.string(), cpus: z.number(), memoryMiB: z.number() }),
  lab: z.object({ kernel: z.string(), docker: z.string(), ipvsadm: z.string(), keepalived: z.string() }).optional(),
  harness: z.object({ version: z.string(), git: z.string() }),
  /** kvm or tcg in the lab VM, none on a local engine: software emulation makes every figure a fraction of real hardware's */
  emulation: z.enum(['kvm', 'tcg', 'none', 'unknown']),
  haproxy: z.string().optional(),
  generator: z.string().optional(),
});

const benchV1 = z.strictObject({
  schema: z.literal(BENCH_SCHEMA_V1),
  runId: z.string().min(1),
  startedAt: isoTime,
  finishedAt: isoTime,
  environment,
  settings: z.strictObject({
    seconds: z.number().positive(),
    warmupSeconds: seconds,
    repeat: z.number().int().min(1),
    steps: z.array(z.number().int().min(1)).min(1),
    sizes: z.array(count).min(1),
    connections: z.array(z.enum(CONNECTION_MODES)).min(1),
    generator: z.enum(['wrk', 'agent']),
    /** faults held during every measured point (`--fault`, canonical specs such as netem-delay=20ms:director1): absent when none */
    faults: z.array(z.string().min(1)).optional(),
  }),
  /** IPVS runs in softirq context, not charged to the director's cgroup: where its CPU was read */
  directorCpu: z.strictObject({ source: z.enum(['lab-softirq', 'host-softirq', 'cgroup', 'none']), how: z.string() }),
  /** the harness's own cost */
  harness: z.strictObject({
    topologies: z.array(z.strictObject({ topology: z.string(), upSeconds: seconds, downSeconds: seconds.optional() })),
    suites: z.array(z.strictObject({ suite: z.string(), seconds })),
    totalSeconds: seconds,
  }),
  topologies: z.array(topology),
});

export type BenchReport = z.infer<typeof benchV1>;
export type BenchTopology = z.infer<typeof topology>;
export type BenchService = z.infer<typeof service>;
export type BenchMode = z.infer<typeof mode>;
export type BenchPoint = z.infer<typeof point>;
export type BenchRepetition = z.infer<typeof repetition>;
export type BenchKnee = z.infer<typeof knee>;
export type BenchLatency = z.infer<typeof latency>;
export type BenchEnvironment = z.infer<typeof environment>;
export type ModeName = (typeof BENCH_MODES)[number];
export type ConnectionMode = (typeof CONNECTION_MODES)[number];
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** the run results' Environment with what a benchmark adds: keeps the two from drifting apart */
export type BenchEnvironmentOf<E extends Environment = Environment> = E & Pick<BenchEnvironment, 'emulation' | 'haproxy' | 'generator'>;
const _sameEnvironment: (e: BenchEnvironmentOf) => BenchEnvironment = (e) => e;
void _sameEnvironment;

export const errBench = (file: string, field: string, message: string, hint?: string) =>
  new HarnessError('ERR_LVS_BENCH', `${file}: field ${field}: ${message}`, { hint, details: { file, field } });

const shown = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 60 ? `${s.slice(0, 57)}…` : s;
};

/** Validates a parsed bench.json; `file` only names the source in errors, which name the field. */
export function parseBench(raw: unknown, file: string): BenchReport {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw errBench(file, '(top level)', `${shown(raw)} is not an object`);
  const schema = (raw as { schema?: unknown }).schema;
  if (schema !== BENCH_SCHEMA_V1)
    throw errBench(
      file,
      'schema',
      `${shown(schema)} is not a bench schema this harness reads (${BENCH_SCHEMA_V1})`,
      typeof schema === 'string' && schema.startsWith('lvs-harness/bench@') ? 'written by a newer harness: compare it with that version' : 'is this a bench.json of lvs-harness?',
    );
  const parsed = benchV1.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const found = valueAt(raw, issue.path);
    const field = formatPath(issue.path) || '(top level)';
    if (issue.code === 'unrecognized_keys') throw errBench(file, field || '(top level)', `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`);
    const want = issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.message;
    const what = found === undefined ? `missing (${want})` : issue.code === 'invalid_type' ? `${shown(found)} is not a ${issue.expected}` : `${shown(found)}: ${want}`;
    throw errBench(file, field, what);
  }
  return parsed.data;
}

/** Reads a bench.json, or the one in a report directory; throws ERR_LVS_BENCH naming the file and the field. */
export async function readBench(fileOrDir: string): Promise<BenchReport> {
  const file = fileOrDir;
  let raw: unknown;
  try {
    raw = await readJsonFile(file, 'ERR_LVS_BENCH', 'give a bench.json or the reports/<run-id>/ directory of a bench run');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EISDIR') return readBench(`${fileOrDir.replace(/\/+$/, '')}/bench.json`);
    throw e;
  }
  return parseBench(raw, file);
}
