import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Mocha from 'mocha';
import type { Validity } from '../checkers/types.js';
import { HarnessError } from '../errors.js';
import { REPO_ROOT } from '../lab/paths.js';
import type { Node } from '../runtime/node.js';
import type { LabRequest } from '../runtime/release.js';
import { resolveRuntime, type Runtime } from '../runtime/select.js';
import { buildTopology, teardownTopology } from '../topology/builder.js';
import { mergeExpectations, type Expectations } from '../expect/spec.js';
import type { Plan } from '../topology/planner.js';
import { pauseWindows } from '../history/history.js';
import { testsNotApplicable, whyNotApplicable, type LeftOut } from './applicable.js';
import { holdAt } from '../util/hold.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { parseFaultSpec } from '../nemesis/registry.js';
import type { Environment, ResultsRuntime, RunError, RunFailure, RunInterruption, ValidateSection } from '../report/results.js';
import type { Progress } from '../report/terminal.js';
import { describeEnvironment, fileRevision } from '../runtime/environment.js';
import type { StartedTopology } from '../topology/builder.js';
import { SuiteContext, setSuiteContext, type RecordedCheck } from './context.js';
import { faultsBesideSuites } from './faults.js';
import { runPipeline, stage, type PipelineDeps } from './pipeline.js';
import { buildExplainer, explainFailures } from './evidence.js';
import { loadPlan } from './load-plan.js';

export const SUITES_DIR = path.join(REPO_ROOT, 'suites');

/** The suites in suites/ (one <name>.spec.ts each), sorted. */
export function suiteNames(): string[] {
  return readdirSync(SUITES_DIR).filter((f) => f.endsWith('.spec.ts')).map((f) => f.replace(/\.spec\.ts$/, '')).sort();
}

export async function availableSuites(): Promise<string[]> {
  return suiteNames();
}

/**
 * The suites that judge a keepalived pair: those built on the HA scenarios of suite/ha.ts. Read
 * from the files, not listed, so that the help names a new keepalived suite without an edit.
 */
export function keepalivedSuites(): string[] {
  return suiteNames().filter((s) => /from ['"]\.\.\/harness\/suite\/ha\.js['"]/.test(readFileSync(path.join(SUITES_DIR, `${s}.spec.ts`), 'utf8')));
}

export interface RunOptions {
  topologyFile: string;
  suites: string[];
  dockerHost?: string;
  /** `--release`, `--restart`: the lab to run in (absent: whichever runs, else bookworm) */
  lab?: LabRequest;
  /** leave the topology running afterwards */
  keep?: boolean;
  reportsDir?: string;
  log?: Logger;
  /** phases and the test being run, for the terminal; without it mocha's spec reporter prints */
  progress?: Progress;
  /**
   * Faults (`<name>[=<param>]:<target>[:<duration>]`) injected once the topology is up, while the
   * suites run; each is healed after its duration, or when the suites end without one.
   */
  faults?: string[];
  /** only the tests whose full title matches (a regular expression, as mocha --grep) */
  grep?: string;
  /** `--expect`: the operator's targets, over the topology's `expect:` key by key */
  expect?: Expectations;
  /** a plan made elsewhere (validate derives it from the operator's files); topologyFile then only names the source */
  plan?: Plan;
  /** validate: the lint findings, the translation and the notes, kept in results.json and shown in the reports */
  validate?: ValidateSection;
}

export interface RunResult {
  runId: string;
  reportDir: string;
  valid: Validity;
  checks: RecordedCheck[];
  /** mocha failures that are not check verdicts (a hook that threw, say) */
  errors: RunError[];
  /** the error that ended the run early, with its phase; the reports are written all the same */
  error?: RunFailure;
  interrupted?: RunInterruption;
  /** where it ran, as results.json says (the lab's release among it) */
  runtime?: ResultsRuntime;
  environment?: Environment;
  /** report files written (results.json, junit.xml, summary.md, report.html) and any that failed */
  reports: { written: string[]; failed: { file: string; message: string }[] };
}

/**
 * What a run calls on the outside world, so that a test can put an error in any phase without
 * an engine: the runtime, the build, the teardown, the environment probe and one suite's mocha run.
 */
export interface RunDeps extends PipelineDeps {
  buildTopology: (rt: Runtime, plan: Plan, o: { keep?: boolean; log: Logger }) => Promise<StartedTopology>;
  teardown: (rt: Runtime, topology: string, log: Logger) => Promise<unknown>;
  describeEnvironment: (rt: Runtime, director?: Node) => Promise<Environment>;
  runSuite: (suite: string, ctx: SuiteContext, run: { runId: string; errors: RunError[]; grep?: string; progress?: Progress }) => Promise<void>;
}

/** A Mocha reporter that shows the running test as a progress step and counts finished ones. */
function progressReporter(progress: Progress, suite: string) {
  return class extends Mocha.reporters.Base {
    constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
      super(runner, options);
      let done = 0;
      runner.on('test', (t) => progress.step(`${suite}: ${t.fullTitle()}`));
      runner.on('test end', () => progress.progress(++done, runner.total));
    }
  };
}

/** Every director's IPVS table into the history (the report shows the first and the last). */
async function snapshotTables(st: StartedTopology, ctx: SuiteContext): Promise<void> {
  for (const d of st.nodes('director')) {
    const table = await st.ipvs(d.name).catch(() => undefined);
    if (table) ctx.history.append({ type: 'observe', t: ctx.now(), node: d.name, what: 'ipvs-table', data: table });
  }
}

let loads = 0;

export { newRunId } from '../util/run-id.js';

/** One suite file under mocha; its failures that are not recorded verdicts become errors. */
let suiteTurn: Promise<void> = Promise.resolve();

/** Runs fn when no other run of this process is running its suites. */
async function exclusively<T>(fn: () => Promise<T>): Promise<T> {
  const prev = suiteTurn;
  let release!: () => void;
  suiteTurn = new Promise<void>((r) => (release = r));
  await prev;
  try {
    return await fn();
  } finally {
    release();
  }
}

async function runSuiteFile(s: string, ctx: SuiteContext, run: { runId: string; errors: RunError[]; grep?: string; progress?: Progress }): Promise<void> {
  const progress = run.progress;
  const mocha = new Mocha({ timeout: 300_000, ...(run.grep !== undefined ? { grep: new RegExp(run.grep) } : {}), reporter: progress ? progressReporter(progress, s) : 'spec', color: !!process.stdout.isTTY });
  const file = path.join(SUITES_DIR, `${s}.spec.ts`);
  // a suite file must be evaluated afresh for every run in this process, or it declares no
  // tests: mocha require()s it when a CommonJS hook for .ts is registered (drop it from
  // require.cache), and import()s it otherwise (a query string makes a new module instance)
  (Mocha as unknown as { unloadFile(f: string): void }).unloadFile(file);
  mocha.addFile(file);
  const fresh = `run=${run.runId}-${++loads}`;
  await (mocha.loadFilesAsync as (o: { esmDecorator: (u: URL | string) => string }) => Promise<void>).call(mocha, { esmDecorator: (u) => `${String(u)}?${fresh}` });
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('fail', (test, err) => {
      // a failed it() after a recorded verdict is that verdict; anything else is an error
      if ((test as { type?: string }).type === 'hook' || !ctx.checks.some((c) => err.message.startsWith(c.name)))
        run.errors.push({ title: test.fullTitle(), message: err.message.split('\n')[0]!, suite: s });
    });
  });
  mocha.unloadFiles();
}

export const RUN_DEPS: RunDeps = {
  resolveRuntime: (o) => resolveRuntime(o),
  buildTopology: (rt, plan, o) => buildTopology(rt, plan, { ...o, explain: buildExplainer }),
  teardown: (rt, topology, log) => teardownTopology(rt.docker, topology, log),
  describeEnvironment: (rt, director) => describeEnvironment(rt.docker, director),
  runSuite: runSuiteFile,
};

/**
 * What `--suite all` runs on a topology: every suite that can judge something there (a keepalived
 * suite only with a pair, protocols only with a UDP, firewall-mark or IPv6 service, sync only with
 * the sync daemon: applicable.ts); elsewhere a suite could only end in "needs …". Suites named
 * beside `all` stay; what was left out is logged with why.
 */
export function suitesForAll(known: readonly string[], plan: Plan, asked: readonly string[], log: Logger = () => {}): string[] {
  return planAll(known, plan, asked, log).suites;
}

/**
 * `--suite all` in full: the suites (as suitesForAll), and what is left out with why: whole
 * suites, and the tests of a suite that runs which could only end "unknown" here (dh, lblc and
 * lblcr on a topology whose services each have one destination address). A suite named beside
 * `all` keeps every test. Both are logged and recorded in results.json (leftOut).
 */
export function planAll(known: readonly string[], plan: Plan, asked: readonly string[], log: Logger = () => {}): { suites: string[]; leftOut: LeftOut[] } {
  const why = new Map(known.map((s) => [s, asked.includes(s) ? undefined : whyNotApplicable(s, plan)]));
  const suites = known.filter((s) => !why.get(s));
  const byReason = new Map<string, string[]>();
  for (const s of known) {
    const r = why.get(s);
    if (r) byReason.set(r, [...(byReason.get(r) ?? []), s]);
  }
  const leftOut: LeftOut[] = [];
  for (const [r, ss] of byReason) {
    log(`--suite all: ${ss.join(', ')} left out: ${r}`);
    for (const s of ss) leftOut.push({ suite: s, why: r });
  }
  for (const s of suites) {
    const t = asked.includes(s) ? undefined : testsNotApplicable(s, plan);
    if (!t) continue;
    log(`--suite all: ${t.tests.join(', ')} of ${s} left out: ${t.why}; \`--suite ${s}\` runs them, to end unknown`);
    leftOut.push({ suite: s, tests: t.tests, why: t.why });
  }
  return { suites, leftOut };
}

/**
 * `lvs-harness run`: build (or reuse) the topology, run the suites with mocha, and write
 * reports/<run-id>/, as a configuration of the run pipeline (pipeline.ts): this gives the plan,
 * the build, the faults beside the suites, the suites, and the evidence of what failed.
 * Problems with the arguments or the topology file throw before there is a directory.
 */
export async function runSuites(opts: RunOptions, deps: Partial<RunDeps> = {}): Promise<RunResult> {
  const d: RunDeps = { ...RUN_DEPS, ...deps };
  const log = opts.log ?? defaultLog;
  const known = await availableSuites();
  for (const s of opts.suites)
    if (s !== 'all' && !known.includes(s)) throw new HarnessError('ERR_LVS_USAGE', `--suite ${s}: no such suite (${known.join(', ')}, or all)`);
  // bad fault specs and topology files fail before anything is built or recorded
  const faultSpecs = (opts.faults ?? []).map((f) => parseFaultSpec(f));
  let planned: Plan;
  if (opts.plan) planned = opts.plan;
  // a topology whose own sysctls undo what its mode needs: said now, with the run-time cause's sentence
  else planned = await loadPlan(opts.topologyFile, log);
  const expect = mergeExpectations(planned.expect, opts.expect);
  const plan: Plan = expect ? { ...planned, expect } : planned;
  // `all`: every suite that applies, as matrix has it: the keepalived suites only where a pair is
  const { suites, leftOut } = opts.suites.includes('all') ? planAll(known, plan, opts.suites, log) : { suites: opts.suites, leftOut: [] };
  const progress = opts.progress;
  const out = await runPipeline(
    {
      reportsDir: opts.reportsDir,
      log,
      progress,
      record: {
        suites,
        ...(leftOut.length ? { leftOut } : {}),
        topology: { name: plan.topology, file: opts.topologyFile, plan: plan.hash, reused: false },
        configRevision: fileRevision(opts.topologyFile),
        ...(opts.validate ? { validate: opts.validate } : {}),
      },
      dockerHost: opts.dockerHost,
      lab: opts.lab,
    },
    (run) => {
      const { runId, dir, history, record } = run;
      let runtime: Runtime;
      let ctx: SuiteContext | undefined;
      return {
        onRuntime: (rt) => {
          runtime = rt;
          record.environment = d.describeEnvironment(rt);
        },
        stages: [
          stage<StartedTopology>({
            describe: `topology ${plan.topology} (${plan.nodes.length} nodes, ${plan.services.length} services)`,
            build: (rt) => d.buildTopology(rt, plan, { keep: opts.keep, log }),
            async ready(started) {
              record.topology.reused = started.reused;
              log(`topology ${plan.topology} ${started.reused ? 'reused' : `up in ${((record.timings.build ?? 0) / 1000).toFixed(1)} s`}`);
              const director = started.nodes('director')[0];
              record.environment = d.describeEnvironment(runtime, director ? started.host(director.name) : undefined);
              const c = (ctx = new SuiteContext(plan, started, history));
              for (const l of leftOut) if (l.tests) c.leftOutTests[l.suite] = l.tests;
              record.checks = c.checks;
              await snapshotTables(started, c);
            },
            faults: (started) => faultsBesideSuites(run, { st: started, history, now: () => ctx!.now() }, faultSpecs),
            async workload(started) {
              const c = ctx!;
              progress?.phase('checks');
              // the suites of runs side by side in one process (main --parallel) take turns: mocha and the
              // suite files read one current context; the builds and teardowns still overlap
              await exclusively(async () => {
                setSuiteContext(c);
                try {
                  for (const [i, s] of suites.entries()) {
                    const before = c.checks.length;
                    await record.step(
                      'suite',
                      async () => {
                        await d.runSuite(s, c, { runId, errors: record.errors, grep: opts.grep, progress });
                        // the interrupt tests' failpoint: still in phase suite, after the last suite's checks
                        if (i === suites.length - 1) await holdAt('checks', log);
                      },
                      `suite:${s}`,
                    );
                    // a suite that judged nothing must not pass
                    if (c.checks.length === before && !record.errors.length) record.errors.push({ title: s, message: `suite ${s} recorded no check`, suite: s });
                  }
                } finally {
                  setSuiteContext(undefined);
                }
              });
              await snapshotTables(started, c);
            },
            wantsEvidence: () => !!ctx && ctx.checks.some((x) => x.valid !== true),
            collect: (started) => explainFailures(started, plan, ctx!.checks, dir, ctx!.probes, pauseWindows(ctx!.history.events)),
            release: async () => {
              await ctx?.stopAgents();
            },
            reused: (started) => started.reused,
            ...(opts.keep ? { keep: true } : {}),
            teardown: (rt) => d.teardown(rt, plan.topology, log),
          }),
        ],
      };
    },
    { resolveRuntime: d.resolveRuntime },
  );
  const r = out.results;
  return {
    runId: out.runId,
    reportDir: out.dir,
    valid: r.valid,
    checks: r.checks,
    errors: r.errors,
    ...(r.error ? { error: r.error } : {}),
    ...(r.interrupted ? { interrupted: r.interrupted } : {}),
    ...(r.runtime ? { runtime: r.runtime } : {}),
    environment: r.environment,
    reports: out.reports,
  };
}

