import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Mocha from 'mocha';
import { mergeValidity, type Validity } from '../checkers/types.js';
import { HarnessError } from '../errors.js';
import { REPO_ROOT } from '../lab/paths.js';
import { resolveRuntime } from '../runtime/select.js';
import { buildTopology, teardown } from '../topology/builder.js';
import { loadTopology } from '../topology/loader.js';
import { plan as makePlan } from '../topology/planner.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { History } from '../history/history.js';
import { parseFaultSpec, runFault } from '../nemesis/registry.js';
import { writeReports } from '../report/index.js';
import { waitFor } from '../util/wait.js';
import { RESULTS_SCHEMA_V1, type ResultsV1, type RunError } from '../report/results.js';
import type { Progress } from '../report/terminal.js';
import { describeEnvironment, fileRevision } from '../runtime/environment.js';
import type { StartedTopology } from '../topology/builder.js';
import { SuiteContext, setSuiteContext, type RecordedCheck } from './context.js';

export const SUITES_DIR = path.join(REPO_ROOT, 'suites');

export async function availableSuites(): Promise<string[]> {
  return (await readdir(SUITES_DIR)).filter((f) => f.endsWith('.spec.ts')).map((f) => f.replace(/\.spec\.ts$/, '')).sort();
}

export interface RunOptions {
  topologyFile: string;
  suites: string[];
  dockerHost?: string;
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
}

export interface RunResult {
  runId: string;
  reportDir: string;
  valid: Validity;
  checks: RecordedCheck[];
  /** mocha failures that are not check verdicts (a hook that threw, say) */
  errors: RunError[];
  /** report files written (junit.xml, summary.md, report.html) and any that failed */
  reports: { written: string[]; failed: { file: string; message: string }[] };
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
import { newRunId } from '../util/run-id.js';

/** `lvs-harness run`: build (or reuse) the topology, run the suites with mocha, write results.json. */
export async function runSuites(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? defaultLog;
  const known = await availableSuites();
  const suites = opts.suites.includes('all') ? known : opts.suites;
  for (const s of suites)
    if (!known.includes(s)) throw new HarnessError('ERR_LVS_USAGE', `--suite ${s}: no such suite (${known.join(', ')}, or all)`);
  // bad fault specs fail before anything is built
  const faultSpecs = (opts.faults ?? []).map((f) => parseFaultSpec(f));
  const runId = newRunId();
  const startedAt = new Date();
  const reportDir = path.join(opts.reportsDir ?? path.join(REPO_ROOT, 'reports'), runId);
  await mkdir(reportDir, { recursive: true });
  const history = await History.open(path.join(reportDir, 'history.ndjson'));
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const progress = opts.progress;
  const topology = await loadTopology(opts.topologyFile);
  const plan = makePlan(topology);
  progress?.phase('lab');
  const rt = await resolveRuntime({ dockerHost: opts.dockerHost, log });
  timings.runtime = Date.now() - t0;
  progress?.phase('build');
  progress?.step(`topology ${plan.topology} (${plan.nodes.length} nodes, ${plan.services.length} services)`);
  const st = await buildTopology(rt, plan, { keep: opts.keep, log });
  timings.build = Date.now() - t0 - timings.runtime;
  log(`topology ${plan.topology} ${st.reused ? 'reused' : `up in ${(timings.build / 1000).toFixed(1)} s`}`);
  const ctx = new SuiteContext(plan, st, history);
  setSuiteContext(ctx);
  const errors: RunResult['errors'] = [];
  const faultsEnd = new AbortController();
  const faultRuns: Promise<unknown>[] = [];
  const director = st.nodes('director')[0];
  const environment = describeEnvironment(rt.docker, director ? st.container(director.name) : undefined);
  const configRevision = fileRevision(opts.topologyFile);
  try {
    await snapshotTables(st, ctx);
    if (faultSpecs.length) {
      progress?.phase('faults');
      for (const f of faultSpecs) {
        for (const n of f.target.split('/')) st.node(n);
        faultRuns.push(
          runFault({ st, history, now: () => ctx.now() }, f, { durationMs: 24 * 3600_000, signal: faultsEnd.signal, log }).catch((e: Error) => {
            errors.push({ title: `fault ${f.spec}`, message: e.message.split('\n')[0]!, suite: 'faults' });
            return undefined;
          }),
        );
      }
      // the suites start once every fault is in (its start event written)
      await waitFor('the faults to be injected', () => history.events.filter((e) => e.type === 'fault' && e.phase === 'start').length >= faultSpecs.length || errors.some((e) => e.suite === 'faults'), { timeoutMs: 120_000, intervalMs: 100 });
    }
    progress?.phase('checks');
    for (const s of suites) {
      const ts = Date.now();
      const mocha = new Mocha({ timeout: 300_000, ...(opts.grep !== undefined ? { grep: new RegExp(opts.grep) } : {}), reporter: progress ? progressReporter(progress, s) : 'spec', color: !!process.stdout.isTTY });
      const file = path.join(SUITES_DIR, `${s}.spec.ts`);
      // a suite file must be evaluated afresh for every run in this process, or it declares no
      // tests: mocha require()s it when a CommonJS hook for .ts is registered (drop it from
      // require.cache), and import()s it otherwise (a query string makes a new module instance)
      (Mocha as unknown as { unloadFile(f: string): void }).unloadFile(file);
      mocha.addFile(file);
      const fresh = `run=${runId}-${++loads}`;
      await (mocha.loadFilesAsync as (o: { esmDecorator: (u: URL | string) => string }) => Promise<void>).call(mocha, { esmDecorator: (u) => `${String(u)}?${fresh}` });
      const before = ctx.checks.length;
      await new Promise<void>((resolve) => {
        const runner = mocha.run(() => resolve());
        runner.on('fail', (test, err) => {
          // a failed it() after a recorded verdict is that verdict; anything else is an error
          if ((test as { type?: string }).type === 'hook' || !ctx.checks.some((c) => err.message.startsWith(c.name)))
            errors.push({ title: test.fullTitle(), message: err.message.split('\n')[0]!, suite: s });
        });
      });
      mocha.unloadFiles();
      timings[`suite:${s}`] = Date.now() - ts;
      // a suite that judged nothing must not pass
      if (ctx.checks.length === before && !errors.length) errors.push({ title: s, message: `suite ${s} recorded no check`, suite: s });
    }
    await snapshotTables(st, ctx);
  } finally {
    faultsEnd.abort();
    await Promise.all(faultRuns);
    await ctx.stopAgents();
    await history.close();
    setSuiteContext(undefined);
    if (!opts.keep && !st.reused) await teardown(rt.docker, { topology: plan.topology }, log);
  }
  const valid = errors.length ? false : mergeValidity(ctx.checks.map((c) => c.valid));
  progress?.phase('report');
  const results: ResultsV1 = {
    schema: RESULTS_SCHEMA_V1,
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    topology: { name: plan.topology, file: opts.topologyFile, plan: plan.hash, reused: st.reused, configRevision: await configRevision },
    environment: await environment,
    runtime: { kind: rt.kind, reason: rt.reason, nodeImage: rt.nodeImage },
    suites,
    valid,
    checks: ctx.checks,
    errors,
    timings,
  };
  await writeFile(path.join(reportDir, 'results.json'), JSON.stringify(results, null, 2));
  const out = await writeReports(reportDir, results, history.events);
  for (const w of out.warnings) log(`report: ${w}`);
  for (const e of out.errors) log(`report: ${e.file} was not written: ${e.error.message}`);
  return { runId, reportDir, valid, checks: ctx.checks, errors, reports: { written: out.written, failed: out.errors.map((e) => ({ file: e.file, message: e.error.message })) } };
}
