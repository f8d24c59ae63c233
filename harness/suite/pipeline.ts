import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { History } from '../history/history.js';
import { REPO_ROOT } from '../lab/paths.js';
import type { Progress } from '../report/terminal.js';
import type { LabRequest } from '../runtime/release.js';
import { resolveRuntime, runtimeRecord, type Runtime } from '../runtime/select.js';
import { holdAt } from '../util/hold.js';
import { onCleanup } from '../util/cleanup.js';
import type { Logger } from '../util/log.js';
import { newRunId } from '../util/run-id.js';
import { RunRecord, type RunOutcome, type RunRecordInit } from './record.js';

/**
 * The one run pipeline that `run` (and `main`, `matrix`, `validate` through it), `smoke` and
 * `bench` are configurations of:
 *
 *   plan → runtime → build → faults → workload → collect → results → reporters
 *
 * The caller plans (and refuses bad arguments) before it calls; from then on the run has a
 * directory, and whatever ends it (the work running out, an error in any phase, a signal) ends
 * it through RunRecord.finish, which writes the five files. What was set up is undone in the
 * reverse order (LIFO): evidence is read while the nodes still show the failure, then the
 * faults are healed, the workload's agents stopped, and what the run built torn down; a
 * topology found running (reused) or kept (`--keep`) is left up. On Ctrl-C the record's
 * interrupt hook writes the reports first, then the cleanup handlers (the builder's, a fault's,
 * what a stage owns) take the nodes down.
 */

export interface PipelineRun {
  readonly runId: string;
  /** reports/<run-id>/ */
  readonly dir: string;
  readonly startedAt: Date;
  readonly history: History;
  readonly record: RunRecord;
  readonly log: Logger;
  readonly progress?: Progress;
}

/**
 * Faults held while a stage's workload runs: injected once it is ready, healed after the
 * workload (and its evidence), before the teardown. An error in injecting is the run's, in
 * `phase`; so is one in healing (the first error of a run stays the one it reports).
 */
export interface Faults {
  /** the phase an injection is recorded in */
  phase: string;
  /** the timings key it counts under (the phase by default) */
  timing?: string;
  inject(): Promise<void>;
  /** heals what was injected, also after an injection that failed half-way */
  heal(): Promise<void>;
}

/**
 * What one stage builds, runs its workload on and takes down; its hooks are methods, each
 * given what build returned. A run has one stage (run, smoke) or one per topology (bench).
 */
export interface Stage<T> {
  /** one of several: its build and teardown are timed under build:<key> and teardown:<key> (else build, teardown) */
  key?: string;
  /** the progress line while it builds */
  describe?: string;
  /**
   * Creates (or reuses) what the workload runs on, in phase `build`. What it starts and must
   * itself take down is named with own(): torn down in the teardown phase (after a failed build
   * too), and on Ctrl-C. A topology's builder registers its own Ctrl-C teardown instead.
   */
  build(rt: Runtime, own: (name: string, teardown: () => Promise<unknown>) => void): Promise<T>;
  /** still in phase build: what the workload needs from the built nodes (a context, the environment, first tables) */
  ready?(t: T): Promise<void>;
  faults?(t: T): Faults | undefined;
  /** the stage's work (suites, the smoke check, a bench ramp), stepping its own phases on the record */
  workload(t: T): Promise<void>;
  /** whether to collect evidence: a check failed */
  wantsEvidence?(t: T): boolean;
  /** reads the causes from the nodes while they still run (phase evidence); a failure here is noted beside the checks */
  collect?(t: T): Promise<unknown>;
  /** stops what the workload left running and settles what still reads the nodes; runs also when build failed */
  release?(): Promise<void>;
  /** a topology found running, not started by this run: left up */
  reused?(t: T): boolean;
  /** leave it up (`run --keep`) */
  keep?: boolean;
  /** takes down what build made (not what own() names: that goes by itself) */
  teardown?(rt: Runtime, t: T): Promise<unknown>;
  /** a failed teardown noted beside the results under this title and suite, rather than ending the run in phase teardown */
  teardownError?: { title: string; suite: string };
}

export interface PipelineParts {
  /** in phase runtime, once it is known: what the record and the caller read of it */
  onRuntime?(rt: Runtime): Promise<void> | void;
  /** built, run and taken down one after another; the first error stops the rest */
  stages: readonly Stage<unknown>[];
  /** after the stages, before the reports: the caller's own results file (bench.json); an error here is the run's, in phase report */
  results?(failed: boolean): Promise<void>;
}

export interface PipelineOptions {
  /** where reports/<run-id>/ goes (default reports/) */
  reportsDir?: string;
  log: Logger;
  progress?: Progress;
  /** what results.json says of the run from its start */
  record: Pick<RunRecordInit, 'suites' | 'leftOut' | 'topology' | 'configRevision' | 'validate' | 'reporters'>;
  /** a runtime already chosen (the smoke check in a test), or the request to resolve one with */
  runtime?: Runtime;
  dockerHost?: string;
  /** `--release`, `--restart`: the lab to run in */
  lab?: LabRequest;
}

export interface PipelineDeps {
  resolveRuntime: (o: { dockerHost?: string; log: Logger; lab?: LabRequest }) => Promise<Runtime>;
}

export interface PipelineResult extends RunOutcome {
  runId: string;
  dir: string;
}

/** A stage with its hooks typed by what its build returns. */
export const stage = <T>(s: Stage<T>): Stage<T> => s;

const firstLine = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!;

/** Runs the phases in order and ends the run's record; never throws for what happens after the directory exists. */
export async function runPipeline(o: PipelineOptions, define: (run: PipelineRun) => PipelineParts, deps: Partial<PipelineDeps> = {}): Promise<PipelineResult> {
  const resolve = deps.resolveRuntime ?? ((r) => resolveRuntime(r));
  const log = o.log;
  const progress = o.progress;
  const runId = newRunId();
  const dir = path.join(o.reportsDir ?? path.join(REPO_ROOT, 'reports'), runId);
  await mkdir(dir, { recursive: true });
  const history = await History.open(path.join(dir, 'history.ndjson'));
  const startedAt = new Date();
  const record = new RunRecord({ runId, dir, startedAt, ...o.record, history, log });
  const run: PipelineRun = { runId, dir, startedAt, history, record, log, ...(progress ? { progress } : {}) };
  // the first error ends the run and names the phase it happened in
  const end: { error?: { e: unknown; phase: string } } = {};
  const fail = (e: unknown, phase = record.phase) => void (end.error ??= { e, phase });
  try {
    const parts = define(run);
    try {
      progress?.phase('lab');
      const rt = o.runtime ?? (await record.step('runtime', () => resolve({ dockerHost: o.dockerHost, log, ...(o.lab ? { lab: o.lab } : {}) })));
      record.runtime = runtimeRecord(rt);
      await parts.onRuntime?.(rt);
      for (const s of parts.stages) {
        await runStage(run, rt, s, fail);
        if (end.error) break;
      }
    } catch (e) {
      fail(e);
    }
    if (parts.results) await parts.results(!!end.error).catch((e: unknown) => fail(e, 'report'));
  } catch (e) {
    fail(e);
  }
  await history.close();
  progress?.phase('report');
  record.phase = 'report';
  await holdAt('report', log);
  const out = await record.finish(end.error ? { error: end.error.e, phase: end.error.phase } : {});
  return { runId, dir, ...out };
}

/** build → ready → faults → workload, then (whatever happened) evidence → heal → release → teardown. */
async function runStage(run: PipelineRun, rt: Runtime, s: Stage<unknown>, fail: (e: unknown, phase?: string) => void): Promise<void> {
  const { record, progress } = run;
  const owned: { teardown: () => Promise<unknown>; unregister: () => void }[] = [];
  const own = (name: string, teardown: () => Promise<unknown>) => void owned.push({ teardown, unregister: onCleanup(name, () => teardown().then(() => {})) });
  let built: { t: unknown } | undefined;
  let faults: Faults | undefined;
  try {
    progress?.phase('build');
    if (s.describe) progress?.step(s.describe);
    const t = await record.step('build', () => s.build(rt, own), s.key ? `build:${s.key}` : 'build');
    built = { t };
    await s.ready?.(t);
    const f = (faults = s.faults?.(t));
    if (f) await record.step(f.phase, () => f.inject(), f.timing);
    await s.workload(t);
  } catch (e) {
    fail(e);
  }
  // the causes of what failed, read from the nodes while they still run
  if (built && s.collect && s.wantsEvidence?.(built.t)) {
    const t = built.t;
    await record.step('evidence', () => s.collect!(t)).catch((e: unknown) => {
      record.errors.push({ title: 'evidence', message: `gathering evidence failed: ${firstLine(e)}`, suite: 'evidence' });
    });
  }
  if (faults) {
    const f = faults;
    await f.heal().catch((e: unknown) => fail(e, f.phase));
  }
  // stopping what the workload left running is the start of taking the stage down
  if (s.release) await s.release().catch((e: unknown) => fail(e, 'teardown'));
  const t = built?.t;
  const down: (() => Promise<unknown>)[] = [];
  if (built && s.teardown && !s.keep && !s.reused?.(t)) down.push(() => s.teardown!(rt, t));
  down.push(...owned.map((o) => o.teardown).reverse());
  if (down.length) {
    await record
      .step(
        'teardown',
        async () => {
          // each is taken down though one before it failed; the first failure is the one said
          let first: { e: unknown } | undefined;
          for (const d of down) await d().catch((e: unknown) => void (first ??= { e }));
          if (first) throw first.e;
        },
        s.key ? `teardown:${s.key}` : 'teardown',
      )
      .catch((e: unknown) => {
        if (s.teardownError) record.errors.push({ title: s.teardownError.title, message: firstLine(e), suite: s.teardownError.suite });
        else fail(e, 'teardown');
      });
  }
  for (const o of owned) o.unregister();
}
