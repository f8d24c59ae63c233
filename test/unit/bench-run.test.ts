import { expect } from 'chai';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { runBench, type BenchDeps } from '../../harness/bench/run.js';
import { readBench } from '../../harness/bench/schema.js';
import { quietScript } from '../../harness/bench/wrk.js';
import { loadResults } from '../../harness/report/results.js';
import type { Runtime } from '../../harness/runtime/select.js';
import type { StartedTopology } from '../../harness/topology/builder.js';
import type { Plan } from '../../harness/topology/planner.js';
import { WRK_KEEPALIVE } from './bench-wrk-fixture.js';

/**
 * `lvs-harness bench` through the run pipeline without an engine: the topology is a stand-in
 * whose client answers bench's commands with what the lab printed (bench-wrk-fixture.ts), so a
 * whole ramp runs, and an error can be put into its ramp or its teardown.
 */
const quiet = () => {};
const runtime = { kind: 'local', reason: 'a test double', nodeImage: 'lvs-harness/node:test', docker: {} as Docker, endpoint: { kind: 'unix', socketPath: '/nonexistent' } } as unknown as Runtime;
const FILES = ['bench.json', 'history.ndjson', 'junit.xml', 'report.html', 'results.json', 'summary.md'];
const SETTINGS = { seconds: 1, warmupSeconds: 0, repeat: 1, sizes: [1024], steps: [1], connections: ['keep-alive' as const], faults: [] };

/** A started topology whose nodes answer as the lab's do; `wrk` throws instead when asked to. */
function standIn(plan: Plan, o: { reused?: boolean; wrkFails?: boolean }): StartedTopology {
  const exec = async (_node: string, argv: readonly string[]) => {
    const ok = (stdout = '') => ({ stdout, stderr: '', exitCode: 0 });
    const script = argv[0] === 'sh' && argv[1] === '-c' ? argv[2]! : '';
    if (argv[0] === 'ip') return ok(`${argv[3]} dev eth0 src 10.89.20.2 uid 0\n`);
    if (script.includes('wrk -v')) return ok('wrk 4.2.0 [epoll] Copyright (C) 2012 Will Glozer\n');
    if (script === quietScript(2)) return ok();
    // the bodies through the VIP and straight: each answers 200 with its size
    if (script.includes('curl -s -o /dev/null')) return ok([...script.matchAll(/printf '%s ' (\S+\/bytes\/(\d+));/g)].map((m) => `${m[1]} 200 ${m[2]}`).join('\n') + '\n');
    if (script.includes('LVSH-STAT')) {
      if (o.wrkFails) throw new Error('exec in lvsh-nat-client: container is not running');
      return WRK_KEEPALIVE;
    }
    return ok();
  };
  return { plan, reused: !!o.reused, nodes: (role: string) => plan.nodes.filter((n) => n.role === role), host: () => undefined, exec } as unknown as StartedTopology;
}

describe('bench through the run pipeline', () => {
  let dir: string;
  let downs: string[];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-bench-run-'));
    downs = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const deps = (o: { reused?: boolean; wrkFails?: boolean; teardownFails?: boolean } = {}): Partial<BenchDeps> => ({
    resolveRuntime: async () => runtime,
    buildTopology: async (_rt, plan) => standIn(plan, o),
    teardown: async (_rt, topology) => {
      downs.push(topology);
      if (o.teardownFails) throw new Error('network lvsh-nat-public: has active endpoints');
    },
  });

  it('a ramp writes bench.json beside the five files, its build, bench and teardown timed per topology', async () => {
    const r = await runBench({ ...SETTINGS, topologies: ['nat'], out: dir, log: quiet }, deps());
    expect(r.error).to.equal(undefined);
    expect((await readdir(r.reportDir)).sort()).to.deep.equal(FILES);
    expect(r.benchFile).to.equal(path.join(r.reportDir, 'bench.json'));
    expect(r.reports.written).to.include(r.benchFile);
    expect(downs).to.deep.equal(['nat']);
    const b = await readBench(r.benchFile!);
    expect(b.runId).to.equal(r.runId);
    expect(b.environment.generator).to.equal('wrk 4.2.0');
    expect(b.environment.emulation).to.equal('none');
    expect(b.harness.topologies).to.have.length(1);
    expect(b.harness.topologies[0]!.downSeconds).to.be.a('number');
    const svc = b.topologies[0]!.services[0]!;
    expect(svc.service).to.equal('web');
    expect(svc.ceilingPath).to.match(/^straight from client to rs1/);
    expect(svc.modes.map((m) => m.mode)).to.deep.equal(['nat', 'ceiling']);
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(results.suites).to.deep.equal(['bench']);
    expect(results.valid).to.equal(true);
    expect(Object.keys(results.timings)).to.deep.equal(['runtime', 'build:nat', 'bench:nat', 'teardown:nat']);
    expect(results.checks.map((c) => `${c.group}: ${c.name}`)).to.deep.equal(['nat/web: nat: every ramp measured', 'nat/web: ceiling: every ramp measured']);
    expect(await readFile(path.join(r.reportDir, 'history.ndjson'), 'utf8')).to.include('"what":"bench-repetition"');
  });

  it('a topology found running is benched and left up', async () => {
    const r = await runBench({ ...SETTINGS, topologies: ['nat'], out: dir, log: quiet }, deps({ reused: true }));
    expect(r.error).to.equal(undefined);
    expect(downs).to.deep.equal([]);
    expect(r.report!.harness.topologies[0]!.downSeconds).to.equal(undefined);
    expect(Object.keys((await loadResults(path.join(r.reportDir, 'results.json'))).timings)).to.deep.equal(['runtime', 'build:nat', 'bench:nat']);
  });

  it('an error in the ramp is the run\'s, in phase bench; the topology is taken down once and the five files written', async () => {
    const r = await runBench({ ...SETTINGS, topologies: ['nat'], out: dir, log: quiet }, deps({ wrkFails: true }));
    expect(r.error).to.deep.include({ phase: 'bench', message: 'exec in lvsh-nat-client: container is not running' });
    expect(downs).to.deep.equal(['nat']);
    const files = await readdir(r.reportDir);
    for (const f of FILES.filter((x) => x !== 'bench.json')) expect(files).to.include(f);
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(results.error).to.deep.include({ phase: 'bench' });
    expect(results.timings).to.have.property('teardown:nat');
  });

  it('a failed teardown is said beside the results, and bench.json is still written', async () => {
    const r = await runBench({ ...SETTINGS, topologies: ['nat'], out: dir, log: quiet }, deps({ teardownFails: true }));
    expect(r.error).to.equal(undefined);
    expect(r.benchFile).to.be.a('string');
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(results.errors).to.deep.equal([{ title: 'teardown nat', message: 'network lvsh-nat-public: has active endpoints', suite: 'bench' }]);
    expect(results.valid).to.equal(false);
    expect(r.report!.harness.topologies[0]!.downSeconds).to.equal(undefined);
  });
});
