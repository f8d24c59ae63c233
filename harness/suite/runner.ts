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
}

export interface RunResult {
  runId: string;
  reportDir: string;
  valid: Validity;
  checks: RecordedCheck[];
  /** mocha failures that are not check verdicts (a hook that threw, say) */
  errors: { title: string; message: string }[];
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
  const runId = newRunId();
  const startedAt = new Date();
  const reportDir = path.join(opts.reportsDir ?? path.join(REPO_ROOT, 'reports'), runId);
  await mkdir(reportDir, { recursive: true });
  const history = await History.open(path.join(reportDir, 'history.ndjson'));
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const topology = await loadTopology(opts.topologyFile);
  const plan = makePlan(topology);
  const rt = await resolveRuntime({ dockerHost: opts.dockerHost, log });
  timings.runtime = Date.now() - t0;
  const st = await buildTopology(rt, plan, { keep: opts.keep, log });
  timings.build = Date.now() - t0 - timings.runtime;
  log(`topology ${plan.topology} ${st.reused ? 'reused' : `up in ${(timings.build / 1000).toFixed(1)} s`}`);
  const ctx = new SuiteContext(plan, st, history);
  setSuiteContext(ctx);
  const errors: RunResult['errors'] = [];
  try {
    for (const s of suites) {
      const ts = Date.now();
      const mocha = new Mocha({ timeout: 300_000, reporter: 'spec', color: !!process.stdout.isTTY });
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
            errors.push({ title: test.fullTitle(), message: err.message.split('\n')[0]! });
        });
      });
      mocha.unloadFiles();
      timings[`suite:${s}`] = Date.now() - ts;
      // a suite that judged nothing must not pass
      if (ctx.checks.length === before && !errors.length) errors.push({ title: s, message: `suite ${s} recorded no check` });
    }
  } finally {
    await ctx.stopAgents();
    await history.close();
    setSuiteContext(undefined);
    if (!opts.keep && !st.reused) await teardown(rt.docker, { topology: plan.topology }, log);
  }
  const valid = errors.length ? false : mergeValidity(ctx.checks.map((c) => c.valid));
  const results = {
    schema: 'lvs-harness/results@0',
    runId,
    startedAt: startedAt.toISOString(),
    topology: { name: plan.topology, file: opts.topologyFile, plan: plan.hash, reused: st.reused },
    runtime: { kind: rt.kind, reason: rt.reason, nodeImage: rt.nodeImage },
    suites,
    valid,
    checks: ctx.checks,
    errors,
    timings,
  };
  await writeFile(path.join(reportDir, 'results.json'), JSON.stringify(results, null, 2));
  return { runId, reportDir, valid, checks: ctx.checks, errors };
}
