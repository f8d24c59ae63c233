import { rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { mergeValidity } from '../checkers/types.js';
import { isHarnessError } from '../errors.js';
import type { History } from '../history/history.js';
import { writeReports, type FileReporter } from '../report/index.js';
import { RESULTS_SCHEMA_V1, RUN_STARTED_SCHEMA, STARTED_FILE, confirmFindings, type RunStarted, type Environment, type LeftOut, type ResultsRuntime, type ResultsTopology, type ResultsV1, type RunError, type RunFailure, type ValidateSection } from '../report/results.js';
import { labPaths } from '../lab/paths.js';
import { labLockup, lockupFile } from '../lab/watchdog.js';
import { describeEnvironment, hostEnvironment } from '../runtime/environment.js';
import { onInterrupt } from '../util/cleanup.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import type { RecordedCheck } from './context.js';

/**
 * The one way a run ends: whether its suites ran out, an error stopped it in some phase, or a
 * signal did, it writes the same five files (results.json and the reporters' three next to
 * history.ndjson), so that CI finds a report for every run that got a directory.
 */

export interface RunOutcome {
  results: ResultsV1;
  reports: { written: string[]; failed: { file: string; message: string }[] };
}

/** How a run ended: its suites ran out ({}), an error in a phase (the current one by default), or a signal. */
export type RunEnd = { error?: unknown; phase?: string; interrupted?: string };

export interface RunRecordInit {
  runId: string;
  dir: string;
  startedAt: Date;
  suites: string[];
  /** `--suite all`: what it left out, with why */
  leftOut?: LeftOut[];
  topology: ResultsTopology;
  /** the topology file's revision, read while the run goes on */
  configRevision?: Promise<string | undefined>;
  validate?: ValidateSection;
  history: History;
  log?: Logger;
  /** the report files (the default set unless given: bench adds its section to report.html) */
  reporters?: readonly FileReporter[];
}

// a signal's report must not wait on a node that stopped answering: the host part is enough
const ENVIRONMENT_DEADLINE_MS = 5_000;

export function failureOf(phase: string, e: unknown, since?: Date): RunFailure {
  // the lab's watchdog (this process's, or another's since the run started) stopped a VM whose
  // kernel locked up: that, not the refused call it left, is the cause
  const lockup = labLockup(since);
  if (lockup) {
    const what = isHarnessError(e) || e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { phase, code: 'ERR_LVS_LAB_LOCKUP', message: `${lockup.summary}; the lab was stopped, and ${phase} ended with: ${what}`, hint: `not a finding about the topology: run it again (\`lvs-harness lab up\` starts the lab anew); the kernel's lines are in ${labPaths().lastConsole} and ${lockupFile(labPaths())}` };
  }
  if (isHarnessError(e)) return { phase, message: e.message, code: e.code, ...(e.hint ? { hint: e.hint } : {}) };
  const code = (e as { code?: unknown } | undefined)?.code;
  const message = e instanceof Error ? e.message || e.name : String(e);
  return { phase, message, ...(typeof code === 'string' ? { code } : {}) };
}

export class RunRecord {
  /** where the run is: an error or a signal is recorded against it */
  phase = 'runtime';
  readonly timings: Record<string, number> = {};
  /** errors that did not stop the run (a hook that threw, a fault that failed) */
  readonly errors: RunError[] = [];
  checks: readonly RecordedCheck[] = [];
  runtime?: ResultsRuntime;
  environment?: Promise<Environment>;
  readonly topology: ResultsTopology;
  private finished?: Promise<RunOutcome>;
  private readonly unhook: () => void;

  /** started.json: who runs it, until results.json says how it ended */
  private readonly started: Promise<void>;

  constructor(private readonly init: RunRecordInit) {
    this.topology = { ...init.topology };
    // a run killed before it wrote results.json (SIGKILL, a crashed host) is still named by `runs`
    const started: RunStarted = { schema: RUN_STARTED_SCHEMA, runId: init.runId, startedAt: init.startedAt.toISOString(), pid: process.pid, host: hostname(), topology: init.topology.name, suites: init.suites };
    this.started = writeFile(path.join(init.dir, STARTED_FILE), JSON.stringify(started, null, 2)).catch(() => undefined);
    this.unhook = onInterrupt(`report of run ${init.runId}`, async (signal) => {
      await this.finish({ interrupted: signal });
    });
  }

  get dir(): string {
    return this.init.dir;
  }

  get runId(): string {
    return this.init.runId;
  }

  /** Runs one phase, timed under `timing` (the phase's name by default), so an error knows where it happened. */
  async step<T>(phase: string, fn: () => Promise<T>, timing = phase): Promise<T> {
    this.phase = phase;
    const t = Date.now();
    try {
      return await fn();
    } finally {
      this.timings[timing] = (this.timings[timing] ?? 0) + Date.now() - t;
    }
  }

  /** Writes the run's files once; a second call (the run's end after a signal's) gets the first outcome. */
  finish(end: RunEnd = {}): Promise<RunOutcome> {
    this.finished ??= this.write(end);
    return this.finished;
  }

  private async write(end: RunEnd): Promise<RunOutcome> {
    this.unhook();
    const log = this.init.log ?? defaultLog;
    const phase = end.phase ?? this.phase;
    const error = end.interrupted
      ? { phase, message: `interrupted by ${end.interrupted} in phase ${phase}`, code: 'ERR_LVS_INTERRUPTED' }
      : 'error' in end
        ? failureOf(phase, end.error, this.init.startedAt)
        : undefined;
    const checks = [...this.checks];
    const results: ResultsV1 = {
      schema: RESULTS_SCHEMA_V1,
      runId: this.init.runId,
      startedAt: this.init.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      topology: { ...this.topology, configRevision: await settle(this.init.configRevision, undefined) },
      environment: await settle(this.environment ?? describeEnvironment(), hostEnvironment()),
      ...(this.runtime ? { runtime: this.runtime } : {}),
      suites: this.init.suites,
      ...(this.init.leftOut?.length ? { leftOut: this.init.leftOut } : {}),
      valid: error || this.errors.length ? false : mergeValidity(checks.map((c) => c.valid)),
      checks,
      errors: [...this.errors],
      timings: { ...this.timings },
      ...(error ? { error } : {}),
      ...(end.interrupted ? { interrupted: { signal: end.interrupted, phase } } : {}),
      ...(this.init.validate ? { validate: confirmFindings(this.init.validate, checks, error) } : {}),
    };
    this.phase = 'report';
    const file = path.join(this.init.dir, 'results.json');
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(results, null, 2));
    await rename(tmp, file);
    await this.started;
    await rm(path.join(this.init.dir, STARTED_FILE), { force: true }).catch(() => undefined);
    const out = await writeReports(this.init.dir, results, [...this.init.history.events], this.init.reporters);
    for (const w of out.warnings) log(`report: ${w}`);
    for (const e of out.errors) log(`report: ${e.file} was not written: ${e.error.message}`);
    return { results, reports: { written: [file, ...out.written], failed: out.errors.map((e) => ({ file: e.file, message: e.error.message })) } };
  }
}

/** A value the report can do without: the fallback when it fails or is later than the deadline. */
async function settle<T, F>(p: Promise<T> | undefined, fallback: F): Promise<T | F> {
  if (!p) return fallback;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = Symbol('late');
  try {
    const v = await Promise.race([p, new Promise<typeof late>((r) => (timer = setTimeout(() => r(late), ENVIRONMENT_DEADLINE_MS)))]);
    return v === late ? fallback : (v as T);
  } catch {
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}
