import { expect } from 'chai';
import { XMLParser } from 'fast-xml-parser';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { HarnessError } from '../../harness/errors.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { formatRuns, listRuns } from '../../harness/report/index.js';
import { loadResults } from '../../harness/report/results.js';
import { hostEnvironment } from '../../harness/runtime/environment.js';
import type { Runtime } from '../../harness/runtime/select.js';
import { smoke } from '../../harness/smoke.js';
import { runSuites, type RunDeps } from '../../harness/suite/runner.js';
import type { StartedTopology } from '../../harness/topology/builder.js';
import { runInterrupt } from '../../harness/util/cleanup.js';

/**
 * Every run that got a directory leaves its five files, whichever phase ends it: the runner is
 * driven with the engine replaced (RunDeps), and an error put into one phase at a time.
 */
const FILES = ['history.ndjson', 'junit.xml', 'report.html', 'results.json', 'summary.md'];
const NAT = path.join(REPO_ROOT, 'topologies', 'nat.yaml');
const quiet = () => {};

const runtime = { kind: 'local', reason: 'a test double', nodeImage: 'lvs-harness/node:test', docker: {} as Docker, endpoint: { kind: 'unix', socketPath: '/nonexistent' } } as unknown as Runtime;

/** A started topology with no node: enough for the phases after build to run or to fail. */
const started = {
  reused: false,
  nodes: () => [],
  host: () => undefined,
  ipvs: async () => undefined,
  node: (n: string) => {
    throw new HarnessError('ERR_LVS_NO_NODE', `no node "${n}" in topology nat`);
  },
} as unknown as StartedTopology;

const passingSuite: RunDeps['runSuite'] = async (s, ctx) => {
  ctx.checks.push({ name: 'every real server answers through the VIP', valid: true, observed: 3, expected: 3, suite: s, group: 'web' });
};

const deps = (over: Partial<RunDeps> = {}): Partial<RunDeps> => ({
  resolveRuntime: async () => runtime,
  buildTopology: async () => started,
  teardown: async () => undefined,
  describeEnvironment: async () => hostEnvironment('test'),
  runSuite: passingSuite,
  ...over,
});

const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['testsuite', 'testcase', 'error', 'failure'].includes(name) });

type Case = { '@': Record<string, string>; name: string; classname: string; error?: { message: string; type: string; '#text'?: string }[] };

function junitCases(text: string): Case[] {
  const doc = xml.parse(text) as { testsuites: { errors: string; testsuite: { name: string; testcase?: Case[] }[] } };
  return doc.testsuites.testsuite.flatMap((s) => s.testcase ?? []);
}

describe('every run leaves its reports', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-run-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const run = (over: Partial<RunDeps>, extra: { faults?: string[] } = {}) => runSuites({ topologyFile: NAT, suites: ['modes'], reportsDir: dir, log: quiet, ...extra }, deps(over));

  it('a run that ends normally writes the five files, with no error', async () => {
    const r = await run({});
    expect(r.error).to.equal(undefined);
    expect(r.valid).to.equal(true);
    expect((await readdir(r.reportDir)).sort()).to.deep.equal(FILES);
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(results.error).to.equal(undefined);
    expect(results.checks).to.have.length(1);
  });

  const failures: [phase: string, over: Partial<RunDeps>, extra?: { faults?: string[] }][] = [
    ['runtime', { resolveRuntime: async () => { throw new HarnessError('ERR_LVS_LAB_DOWN', 'the lab did not boot', { hint: 'lvs-harness lab up' }); } }],
    ['build', { buildTopology: async () => { throw new HarnessError('ERR_LVS_IPVS_MISMATCH', 'director: IPVS read back differs from the plan\n  - -a -t 10.89.30.100:80 -r 10.89.30.11:80 -g\n  + -a -t 10.89.30.100:80 -r 10.89.30.11:8080 -g'); } }],
    ['faults', {}, { faults: ['kill:rs9'] }],
    ['suite', { runSuite: async () => { throw new Error('Cannot find module ../harness/checkers/gone.js'); } }],
    ['teardown', { teardown: async () => { throw new HarnessError('ERR_LVS_TIMEOUT', 'timed out after 30.0 s waiting for the containers to go'); } }],
  ];

  for (const [phase, over, extra] of failures) {
    it(`an error in ${phase} still writes the five files, each showing the error and its phase`, async () => {
      const r = await run(over, extra);
      expect(r.error?.phase).to.equal(phase);
      expect(r.valid).to.equal(false);
      expect((await readdir(r.reportDir)).sort()).to.deep.equal(FILES);

      const results = await loadResults(path.join(r.reportDir, 'results.json'));
      expect(results.error).to.deep.include({ phase, message: r.error!.message });
      expect(results.topology.name).to.equal('nat');
      expect(results.interrupted).to.equal(undefined);

      const junit = await readFile(path.join(r.reportDir, 'junit.xml'), 'utf8');
      const failed = junitCases(junit).filter((c) => c.error);
      expect(failed.map((c) => `${c.classname} ${c.name}`)).to.deep.equal([`nat ${phase}`]);
      expect(failed[0]!.error![0]!.message).to.equal(r.error!.message.split('\n')[0]);

      const summary = await readFile(path.join(r.reportDir, 'summary.md'), 'utf8');
      const head = summary.split('\n').slice(0, 3).join('\n');
      expect(head).to.match(/^## ❗ lvs-harness error: nat, modes/);
      expect(head).to.include(`error in ${phase}:`);

      const html = await readFile(path.join(r.reportDir, 'report.html'), 'utf8');
      const top = html.slice(html.indexOf('<body>'), html.indexOf('<main>'));
      expect(top).to.include('id="error"');
      expect(top).to.include(`error in <b>${phase}</b>`);
      expect(html).to.match(/<title>ERROR lvs-harness nat /);
    });
  }

  it('checks recorded before the error stay in the results (teardown failed after the suites)', async () => {
    const r = await run({ teardown: async () => { throw new Error('engine gone'); } });
    expect(r.checks.map((c) => c.name)).to.deep.equal(['every real server answers through the VIP']);
    expect(r.error).to.deep.equal({ phase: 'teardown', message: 'engine gone' });
  });

  it('a signal writes what the run had, marked interrupted, before teardown; the run then ends without writing again', async () => {
    let seen: string[] = [];
    const r = await run({
      buildTopology: async (_rt, _plan, o) => {
        await runInterrupt('SIGINT');
        seen = (await readdir(path.join(dir, (await readdir(dir))[0]!))).sort();
        o.log('the containers went away under the build');
        throw new Error('container lvsh-nat-director is gone');
      },
    });
    expect(seen).to.deep.equal(FILES);
    expect(r.interrupted).to.deep.equal({ signal: 'SIGINT', phase: 'build' });
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(results.interrupted).to.deep.equal({ signal: 'SIGINT', phase: 'build' });
    expect(results.error).to.deep.include({ phase: 'build', message: 'interrupted by SIGINT in phase build', code: 'ERR_LVS_INTERRUPTED' });
    const cases = junitCases(await readFile(path.join(r.reportDir, 'junit.xml'), 'utf8')).filter((c) => c.error);
    expect(cases.map((c) => c.name)).to.deep.equal(['build']);
    expect(await readFile(path.join(r.reportDir, 'summary.md'), 'utf8')).to.match(/^## ⏹️ lvs-harness interrupted: nat, modes\n\n> \*\*interrupted by SIGINT in phase build\*\*/);
    const [listed] = await listRuns(dir);
    expect(listed).to.deep.include({ status: 'interrupted', topology: 'nat', error: 'interrupted by SIGINT in phase build' });
  });

  it('an interrupt after a run ended touches nothing of it', async () => {
    const r = await run({});
    await runInterrupt('SIGINT');
    expect((await loadResults(path.join(r.reportDir, 'results.json'))).interrupted).to.equal(undefined);
  });

  it('errors before the run has a directory (an unknown suite, a bad fault spec) throw and leave nothing', async () => {
    await runSuites({ topologyFile: NAT, suites: ['nope'], reportsDir: dir, log: quiet }, deps()).then(
      () => expect.fail('expected a usage error'),
      (e: HarnessError) => expect(e.code).to.equal('ERR_LVS_USAGE'),
    );
    await runSuites({ topologyFile: NAT, suites: ['modes'], faults: ['explode:rs1'], reportsDir: dir, log: quiet }, deps()).then(
      () => expect.fail('expected a usage error'),
      (e: HarnessError) => expect(e.code).to.equal('ERR_LVS_USAGE'),
    );
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it('runs lists a run that failed at build with its topology, the verdict "error" and the first line of the error', async () => {
    await run(failures[1]![1]);
    const runs = await listRuns(dir);
    expect(runs).to.have.length(1);
    expect(runs[0]).to.deep.include({ status: 'error', topology: 'nat', suites: ['modes'], error: 'error in build: ERR_LVS_IPVS_MISMATCH: director: IPVS read back differs from the plan' });
    expect(formatRuns(runs).split('\n')[1]).to.match(/\s+nat\s+modes\s+error\s+error in build: ERR_LVS_IPVS_MISMATCH: director: IPVS read back differs from the plan$/);
  });

  it('the smoke check writes results@1 and the five files, which runs and report read; an engine error leaves them too', async () => {
    const docker = {
      info: async () => ({ KernelVersion: '6.1.0-test', ServerVersion: '27.0' }),
      createContainer: async () => {
        throw new Error('(HTTP code 404) no such image - lvs-harness/node:test');
      },
    } as unknown as Docker;
    const r = await smoke({ runtime: { ...runtime, docker }, reportsDir: dir, log: quiet });
    expect(r.error).to.deep.include({ phase: 'build' });
    expect((await readdir(r.reportDir)).sort()).to.deep.equal(FILES);
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(results.schema).to.equal('lvs-harness/results@1');
    expect(results.topology.name).to.equal('smoke');
    expect(results.runtime?.kind).to.equal('local');
    const [listed] = await listRuns(dir);
    expect(listed).to.deep.include({ status: 'error', topology: 'smoke', suites: ['smoke'] });
    expect(listed!.error).to.match(/^error in build: \(HTTP code 404\) no such image/);
  });
});
