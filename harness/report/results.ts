import { readJsonFile } from '../util/json-file.js';
import { z } from 'zod';
import type { CheckResult, Validity } from '../checkers/types.js';
import type { Cause } from '../diagnose/types.js';
import { HarnessError } from '../errors.js';
import type { Environment } from '../runtime/environment.js';
import { formatPath, valueAt } from '../util/object-path.js';
import type { RunVerdict } from './format.js';

export type { Environment };

/**
 * results.json, the one record of a run every report is rendered from (reports/<run-id>/).
 * Version 1 adds when the run finished, the topology file's git revision and the environment
 * (host, lab, harness) so that a report read months later still says what was tested where.
 */
export const RESULTS_SCHEMA_V0 = 'lvs-harness/results@0';
export const RESULTS_SCHEMA_V1 = 'lvs-harness/results@1';

/** A mocha failure that is not a check verdict (a hook that threw, a suite that judged nothing). */
export interface RunError {
  title: string;
  message: string;
  /** the suite that was running; absent in results@0, where only the title tells */
  suite?: string;
  /** merge-reports: the run it was recorded in */
  origin?: RunOrigin;
}

/**
 * Where a check or an error of a merged run (`lvs-harness merge-reports`) was recorded: the run,
 * its topology, and the suite under its own name (the merged run names it `<label>/<suite>`).
 */
export interface RunOrigin {
  runId: string;
  topology: string;
  suite?: string;
}

/** A check as a suite recorded it (suite/context.ts), one of results.json's checks. */
export interface RecordedCheck extends CheckResult {
  suite: string;
  group: string;
  /** a check that is not true: what the evidence gathered before teardown says caused it */
  causes?: Cause[];
  /** merge-reports: the run it was recorded in */
  origin?: RunOrigin;
}

export interface ResultsTopology {
  name: string;
  file: string;
  /** the plan's hash: two runs with the same hash built the same containers and rules */
  plan: string;
  reused: boolean;
  /** git revision of the topology file (`git log -1 --format=%H -- <file>`), "-dirty" when edited */
  configRevision?: string;
}

/**
 * Why a run ended before its suites did: the phase it was in (runtime, build, faults, suite,
 * teardown, report) and the error, so that CI shows the cause of a run with no verdict.
 */
export interface RunFailure {
  phase: string;
  message: string;
  code?: string;
  hint?: string;
}

/** A run stopped by a signal (Ctrl-C): its results are what it had when the signal came. */
export interface RunInterruption {
  signal: string;
  phase: string;
}

/** Where the containers ran (results@0 recorded it too; kept when such a file is loaded). */
export interface ResultsRuntime {
  kind: string;
  reason?: string;
  nodeImage?: string;
  /** the lab's Debian release (bookworm, trixie) when kind is lab; absent in runs before lab releases and on other engines */
  release?: string;
}

/** What `run --suite all` left out on the topology, and why: a whole suite, or tests of a suite that ran. */
export interface LeftOut {
  suite: string;
  /** the suite's tests left out (by title); absent: the whole suite */
  tests?: string[];
  why: string;
}

/** results@1 exactly as the runner writes it. */
export interface ResultsV1 {
  schema: typeof RESULTS_SCHEMA_V1;
  runId: string;
  startedAt: string;
  finishedAt: string;
  topology: ResultsTopology;
  environment: Environment;
  runtime?: ResultsRuntime;
  suites: string[];
  /** `--suite all`: what it left out on this topology, with why (absent when nothing was, and in older runs) */
  leftOut?: LeftOut[];
  valid: Validity;
  checks: RecordedCheck[];
  errors: RunError[];
  /** phase name (runtime, build, suite:<name>, …) → milliseconds */
  timings: Record<string, number>;
  /** the error that ended the run early; absent when the suites ran to their end */
  error?: RunFailure;
  interrupted?: RunInterruption;
  /** `validate`: what was found in the operator's files before the run, and how they were put in the lab */
  validate?: ValidateSection;
  /** `merge-reports`: the runs this one was merged from */
  merged?: MergedSection;
}

/** One run a merged run was made from, as it ended. */
export interface MergedRun {
  /** its directory, as merge-reports was given it */
  dir: string;
  runId: string;
  /** the prefix of its suites, timings and history nodes in the merged run: the topology's name, with the run id when two runs share it */
  label: string;
  topology: ResultsTopology;
  suites: string[];
  startedAt: string;
  finishedAt?: string;
  valid: Validity;
  verdict: RunVerdict;
  checks: { total: number; passed: number; failed: number; unknown: number };
  errors: number;
  error?: RunFailure;
  interrupted?: RunInterruption;
  environment?: Environment;
  runtime?: ResultsRuntime;
  /** events of its history.ndjson in the merged history (0 without one) */
  historyEvents: number;
}

export interface MergedSection {
  runs: MergedRun[];
}

export interface ValidateFinding {
  rule: string;
  severity: 'error' | 'warning' | 'info';
  file: string;
  line: number;
  message: string;
  hint?: string;
  /** set after the run when a check showed what the finding predicted (two holders after an auth mismatch) */
  confirmedBy?: string;
}

export interface ValidateSection {
  /** the operator's files: keepalived.conf of each director, the ipvsadm rules */
  sources: string[];
  findings: ValidateFinding[];
  /** their address or interface → the lab's, one row each */
  translation: { theirs: string; lab: string; kind: 'network' | 'address' | 'interface'; director?: string }[];
  /** what the lab adapted or does not judge, each at its line */
  notes: string[];
}

/** Findings that predict split brain, and the checks that show it. */
const SPLIT_BRAIN_RULES = new Set(['pair-mismatch', 'pair-election', 'duplicate-vrid', 'auth-pass']);

/**
 * A finding the run confirmed says so: a pair that disagrees on its authentication, router id or
 * advert interval is expected to end with two directors holding the VIP, and the one-holder
 * checks (or the build's wait for one MASTER) show whether it did.
 */
export function confirmFindings(v: ValidateSection, checks: readonly RecordedCheck[], error?: RunFailure): ValidateSection {
  const holder = checks.find((c) => c.valid === false && /exactly one director holds|one holder/.test(c.name) && /split brain/.test(c.detail ?? ''));
  const buildSplit = error && /split brain/.test(error.message) ? `the build: ${error.message.split('\n')[0]}` : undefined;
  const evidence = holder ? `${holder.group}: ${holder.detail}` : buildSplit;
  if (!evidence) return v;
  return { ...v, findings: v.findings.map((f) => (SPLIT_BRAIN_RULES.has(f.rule) && f.severity !== 'info' ? { ...f, confirmedBy: evidence } : f)) };
}

/**
 * What the reporters render: results@1, or results@0 with the fields it lacks left undefined.
 * Every ResultsV1 is one.
 */
export type Results = Omit<ResultsV1, 'schema' | 'finishedAt' | 'environment'> & {
  schema: typeof RESULTS_SCHEMA_V0 | typeof RESULTS_SCHEMA_V1;
  finishedAt?: string;
  environment?: Environment;
};

const validity = z.union([z.literal(true), z.literal(false), z.literal('unknown')], {
  error: 'expected true, false or "unknown"',
});

const isoTime = z.iso.datetime({ error: 'expected an ISO 8601 UTC time such as 2026-11-21T07:34:53.675Z' });

const check = z.looseObject({
  name: z.string(),
  valid: validity,
  observed: z.unknown(),
  expected: z.unknown(),
  rule: z.string().optional(),
  detail: z.string().optional(),
  suite: z.string(),
  group: z.string(),
});

const runError = z.looseObject({ title: z.string(), message: z.string(), suite: z.string().optional() });

const runtime = z.looseObject({ kind: z.string(), reason: z.string().optional(), nodeImage: z.string().optional(), release: z.string().optional() });

const topologyV0 = z.looseObject({ name: z.string(), file: z.string(), plan: z.string(), reused: z.boolean() });

const common = {
  runId: z.string().min(1),
  startedAt: isoTime,
  suites: z.array(z.string()),
  valid: validity,
  checks: z.array(check),
  errors: z.array(runError),
  timings: z.record(z.string(), z.number()),
  runtime: runtime.optional(),
};

const v0 = z.looseObject({ schema: z.literal(RESULTS_SCHEMA_V0), ...common, topology: topologyV0 });

const v1 = z.looseObject({
  schema: z.literal(RESULTS_SCHEMA_V1),
  ...common,
  finishedAt: isoTime,
  topology: topologyV0.extend({ configRevision: z.string().optional() }),
  environment: z.looseObject({
    host: z.looseObject({ os: z.string(), kernel: z.string(), node: z.string(), cpus: z.number(), memoryMiB: z.number() }),
    lab: z.looseObject({ kernel: z.string(), docker: z.string(), ipvsadm: z.string(), keepalived: z.string() }).optional(),
    harness: z.looseObject({ version: z.string(), git: z.string() }),
  }),
  error: z.looseObject({ phase: z.string(), message: z.string(), code: z.string().optional(), hint: z.string().optional() }).optional(),
  interrupted: z.looseObject({ signal: z.string(), phase: z.string() }).optional(),
  leftOut: z.array(z.looseObject({ suite: z.string(), tests: z.array(z.string()).optional(), why: z.string() })).optional(),
  merged: z
    .looseObject({
      runs: z.array(
        z.looseObject({
          dir: z.string(),
          runId: z.string().min(1),
          label: z.string().min(1),
          topology: topologyV0.extend({ configRevision: z.string().optional() }),
          suites: z.array(z.string()),
          startedAt: isoTime,
          valid: validity,
          verdict: z.enum(['passed', 'failed', 'unknown', 'error', 'interrupted']),
          checks: z.looseObject({ total: z.number(), passed: z.number(), failed: z.number(), unknown: z.number() }),
          errors: z.number(),
          historyEvents: z.number(),
        }),
      ),
    })
    .optional(),
});

/** checks[3].valid */
const fieldPath = (p: readonly PropertyKey[]) => formatPath(p) || '(top level)';

const shown = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 60 ? `${s.slice(0, 57)}…` : s;
};

export const errResults = (file: string, field: string, message: string, hint?: string) =>
  new HarnessError('ERR_LVS_RESULTS', `${file}: field ${field}: ${message}`, { hint, details: { file, field } });

/** Validates a parsed results.json; `file` only names the source in errors. */
export function parseResults(raw: unknown, file: string): Results {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw errResults(file, '(top level)', `${shown(raw)} is not an object`);
  const schema = (raw as { schema?: unknown }).schema;
  if (schema !== RESULTS_SCHEMA_V0 && schema !== RESULTS_SCHEMA_V1)
    throw errResults(
      file,
      'schema',
      `${shown(schema)} is not a results schema this harness reads (${RESULTS_SCHEMA_V0}, ${RESULTS_SCHEMA_V1})`,
      typeof schema === 'string' && schema.startsWith('lvs-harness/results@') ? 'written by a newer harness: render it with that version' : 'is this a results.json of lvs-harness?',
    );
  const parsed = (schema === RESULTS_SCHEMA_V0 ? v0 : v1).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const found = valueAt(raw, issue.path);
    const want = issue.code === 'invalid_type' ? `expected ${issue.expected}` : issue.message;
    const what = found === undefined ? `missing (${want})` : issue.code === 'invalid_type' ? `${shown(found)} is not a ${issue.expected}` : `${shown(found)}: ${want}`;
    throw errResults(file, fieldPath(issue.path), what);
  }
  // zod checked the shape; the declared types are narrower only where zod cannot say so
  // (observed/expected stay unknown), so this cast widens nothing
  const r = parsed.data as unknown as Results;
  if (schema === RESULTS_SCHEMA_V0) return { ...r, finishedAt: undefined, environment: undefined, topology: { ...r.topology, configRevision: undefined } };
  return r;
}

/** Reads reports/<run-id>/results.json, results@0 or @1; throws ERR_LVS_RESULTS naming the file and the field. */
export async function loadResults(file: string): Promise<Results> {
  const raw = await readJsonFile(file, 'ERR_LVS_RESULTS', 'a run writes results.json when its suites end: was the run interrupted?');
  return parseResults(raw, file);
}

/** Written when a run starts and removed once its results.json is: a run directory with it and without results is running, or was killed. */
export const STARTED_FILE = 'started.json';
export const RUN_STARTED_SCHEMA = 'lvs-harness/started@1';
export interface RunStarted {
  schema: typeof RUN_STARTED_SCHEMA;
  runId: string;
  startedAt: string;
  pid: number;
  host: string;
  topology?: string;
  suites: string[];
}
