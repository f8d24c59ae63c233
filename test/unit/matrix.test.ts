import { planAll, suitesForAll } from '../../harness/suite/runner.js';
import { expect } from 'chai';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { loadTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { BUILD_SECONDS, formatMatrixPlan, groupJobs, jobWeights, planMatrix, suiteSeconds, type MatrixDeps, type MatrixTopology } from '../../harness/suite/matrix.js';
import { keepalivedSuites, suiteNames } from '../../harness/suite/runner.js';
import { rejection } from '../helpers.js';

/**
 * `lvs-harness matrix`: which topology × suite pairs there are and which a shard runs. Planned
 * from the shipped topology files (read and planned, nothing started); no engine is involved.
 */
const pairs = (js: readonly { topology: MatrixTopology; suite: string }[]) => js.map((j) => `${j.topology.name} ${j.suite}`);

/** Made-up topologies, so that a test can have as many as it likes. */
const fake = (keepalived: string[]): MatrixDeps => ({
  suites: () => ['drain', 'failover', 'health', 'modes', 'schedulers'],
  keepalivedSuites: () => ['failover', 'health'],
  resolveTopology: async (arg) => ({ arg, file: `/t/${arg}.yaml`, name: arg, keepalived: keepalived.includes(arg) }),
});

describe('matrix: topology × suite jobs and shards', () => {
  it('pairs every topology with every suite, topology first, and skips keepalived suites where there is no pair', async () => {
    const p = await planMatrix({ topologies: ['nat', 'dr', 'nat-ha'], suites: ['modes', 'failover'] });
    expect(pairs(p.jobs)).to.deep.equal(['nat modes', 'dr modes', 'nat-ha modes', 'nat-ha failover']);
    expect(pairs(p.skipped)).to.deep.equal(['nat failover', 'dr failover']);
    expect(p.mine).to.deep.equal(p.jobs);
    expect(p.groups.map((g) => [g.topology.name, g.suites])).to.deep.equal([
      ['nat', ['modes']],
      ['dr', ['modes']],
      ['nat-ha', ['modes', 'failover']],
    ]);
    expect(p.groups[2]!.topology.file).to.equal(path.join(REPO_ROOT, 'topologies', 'nat-ha.yaml'));
    expect(formatMatrixPlan(p)).to.equal('matrix: 4 jobs: nat (modes), dr (modes), nat-ha (modes, failover)\nskipped (no keepalived pair): nat (failover), dr (failover)');
  });

  it('all is every suite in suites/, the keepalived ones on keepalived topologies only', async () => {
    const p = await planMatrix({ topologies: ['dr', 'dr-ha'], suites: ['all'] });
    const ha = keepalivedSuites();
    expect(ha).to.include.members(['failover', 'health', 'sync', 'splitbrain']);
    expect(pairs(p.jobs)).to.deep.equal([...suiteNames().filter((s) => !ha.includes(s)).map((s) => `dr ${s}`), ...suiteNames().map((s) => `dr-ha ${s}`)]);
    expect(pairs(p.skipped)).to.deep.equal(ha.map((s) => `dr ${s}`));
  });

  it('refuses, before anything runs: no topology, no suite, an unknown suite, a topology twice, a missing file', async () => {
    expect((await rejection(planMatrix({ topologies: [], suites: ['modes'] }))).message).to.match(/^matrix: give one or more topologies/);
    const none = await rejection(planMatrix({ topologies: ['nat'], suites: [] }));
    expect(none.code).to.equal('ERR_LVS_USAGE');
    expect(none.message).to.match(/^matrix: name at least one --suite \(drain, failover, .*, or all\)$/);
    const unknown = await rejection(planMatrix({ topologies: ['nat'], suites: ['modes', 'mode'] }));
    expect(unknown.code).to.equal('ERR_LVS_USAGE');
    expect(unknown.message).to.match(/^matrix: --suite mode: no such suite \(drain, .*modes.*, or all\)$/);
    const twice = await rejection(planMatrix({ topologies: ['nat', 'topologies/nat.yaml'], suites: ['modes'] }));
    expect(twice.code).to.equal('ERR_LVS_USAGE');
    expect(twice.message).to.equal('matrix: topology topologies/nat.yaml is given twice (as nat and topologies/nat.yaml)');
    expect((await rejection(planMatrix({ topologies: ['nat', 'no-such-topology'], suites: ['modes'] }))).code).to.equal('ERR_LVS_TOPOLOGY');
  });

  it('the shards of n partition the jobs exactly, for every n', async () => {
    const tops = ['t1', 't2', 't3', 't4', 'h1', 'h2', 'h3'];
    for (let n = 1; n <= 30; n++) {
      const shards = await Promise.all(Array.from({ length: n }, (_, i) => planMatrix({ topologies: tops, suites: ['all'], shard: { index: i + 1, total: n } }, fake(['h1', 'h2', 'h3']))));
      const all = shards[0]!.jobs;
      expect(all).to.have.length(4 * 3 + 3 * 5);
      expect(shards.flatMap((s) => pairs(s.mine)), `n=${n}`).to.deep.equal(pairs(all));
      // one build per topology per shard that has any of its jobs: at most n − 1 more than unsharded
      const builds = shards.reduce((a, s) => a + s.groups.length, 0);
      expect(builds, `n=${n}`).to.be.at.most(tops.length + n - 1);
      for (const s of shards) expect(s.groups.flatMap((g) => g.suites.map((x) => `${g.topology.name} ${x}`))).to.deep.equal(pairs(s.mine));
    }
  });

  it('the same shard is planned the same on every call', async () => {
    const o = { topologies: ['nat', 'dr', 'tun', 'fullnat', 'nat-ha', 'dr-ha'], suites: ['modes', 'schedulers', 'failover'], shard: { index: 3, total: 4 } };
    const first = pairs((await planMatrix(o)).mine);
    expect(first).to.not.have.length(0);
    for (let k = 0; k < 5; k++) expect(pairs((await planMatrix({ ...o, topologies: [...o.topologies] })).mine)).to.deep.equal(first);
  });

  it('balances the shards by estimated seconds, a build on the first job of each topology', async () => {
    const p = await planMatrix({ topologies: ['t1', 'h1'], suites: ['modes', 'failover', 'drain'] }, fake(['h1']));
    const w = jobWeights(p.jobs);
    expect(p.jobs.map((j) => w.get(j))).to.deep.equal([BUILD_SECONDS + suiteSeconds('modes'), suiteSeconds('drain'), BUILD_SECONDS + suiteSeconds('modes'), suiteSeconds('failover'), suiteSeconds('drain')]);
    expect(suiteSeconds('a-suite-not-measured-yet')).to.equal(60);
    // h1 failover 165 s | h1 drain 18 s + t1 drain 63 s; by count it would be two jobs and one
    const shard = (i: number) => planMatrix({ topologies: ['h1', 't1'], suites: ['failover', 'drain'], shard: { index: i, total: 2 } }, fake(['h1']));
    expect(pairs((await shard(1)).mine)).to.deep.equal(['h1 failover']);
    expect(pairs((await shard(2)).mine)).to.deep.equal(['h1 drain', 't1 drain']);
  });

  it('says what a shard runs, and when it has nothing to run', async () => {
    const two = await planMatrix({ topologies: ['t1', 't2'], suites: ['modes'], shard: { index: 2, total: 2 } }, fake([]));
    expect(formatMatrixPlan(two)).to.equal('matrix shard 2/2: 1 of 2 jobs: t2 (modes)');
    const empty = await planMatrix({ topologies: ['t1', 't2'], suites: ['modes'], shard: { index: 4, total: 4 } }, fake([]));
    expect(empty.mine).to.deep.equal([]);
    expect(empty.groups).to.deep.equal([]);
    expect(formatMatrixPlan(empty)).to.equal('matrix shard 4/4: 0 of 2 jobs: nothing to run in this shard');
  });

  it('groups only consecutive jobs of one topology', () => {
    const t = (name: string): MatrixTopology => ({ arg: name, file: `/t/${name}.yaml`, name, keepalived: false });
    const a = t('a');
    const b = t('b');
    const g = groupJobs([
      { topology: a, suite: 'modes' },
      { topology: a, suite: 'drain' },
      { topology: b, suite: 'modes' },
      { topology: a, suite: 'schedulers' },
    ]);
    expect(g.map((x) => [x.topology.name, x.suites])).to.deep.equal([
      ['a', ['modes', 'drain']],
      ['b', ['modes']],
      ['a', ['schedulers']],
    ]);
  });
});

describe('run --suite all: the suites that apply', () => {
  const all = ['drain', 'failover', 'health', 'modes', 'persistence', 'protocols', 'schedulers', 'splitbrain', 'sync'];
  const planned = async (t: string) => plan(await loadTopology(path.join(REPO_ROOT, 'topologies', `${t}.yaml`)));
  it('leaves the keepalived suites out on a topology without a pair, and says so', async () => {
    const said: string[] = [];
    expect(suitesForAll(all, await planned('nat'), ['all'], (m) => said.push(m))).to.deep.equal(['drain', 'modes', 'persistence', 'protocols', 'schedulers']);
    expect(said).to.deep.equal([
      '--suite all: failover, splitbrain left out: the topology has no keepalived pair holding the VIP of a TCP service with a client on its network',
      '--suite all: health, sync left out: the topology has no keepalived pair holding the VIP of an IPVS TCP service (HAProxy services have no IPVS table to judge) with a client on its network',
    ]);
  });
  it('keeps every suite on a pair with the sync daemon and a UDP, fwmark or IPv6 service, and a suite named beside all', async () => {
    const said: string[] = [];
    const nat = await planned('nat');
    const natHa = suitesForAll(all, await planned('nat-ha'), ['all'], (m) => said.push(m));
    // nat-ha has TCP only: protocols is left out, and said
    expect(natHa).to.deep.equal(all.filter((s) => s !== 'protocols'));
    expect(said[0]).to.equal('--suite all: protocols left out: the topology has no UDP service, no firewall-mark service over two ports and no IPv6 VIP with two or more real servers and a client');
    expect(suitesForAll(all, nat, ['all', 'failover'])).to.deep.equal(['drain', 'failover', 'modes', 'persistence', 'protocols', 'schedulers']);
  });
  it('on a HAProxy pair: only modes and the suites that need no IPVS table', async () => {
    const said: string[] = [];
    expect(suitesForAll(all, await planned('haproxy-ha'), ['all'], (m) => said.push(m))).to.deep.equal(['failover', 'modes', 'splitbrain']);
    expect(said.join('\n')).to.contain('drain, persistence, schedulers left out: the topology has no TCP service behind IPVS');
    expect(said.join('\n')).to.contain('protocols left out: the topology has no UDP service');
  });
  it('on a pair without the sync daemon: sync left out, saying so', async () => {
    const said: string[] = [];
    expect(suitesForAll(all, await planned('active-active'), ['all'], (m) => said.push(m))).to.include.members(['failover', 'health', 'splitbrain']).and.not.include('sync');
    expect(said).to.include("--suite all: sync left out: the topology's keepalived.sync_daemon is not true (no lvs_sync_daemon runs)");
  });
  it('leaves dh, lblc and lblcr out of schedulers where every service has one destination (a pair with one VIP), says why, and records it', async () => {
    const said: string[] = [];
    const r = planAll(all, await planned('nat-ha'), ['all'], (m) => said.push(m));
    expect(r.suites).to.include('schedulers');
    expect(r.leftOut).to.deep.include({ suite: 'protocols', why: 'the topology has no UDP service, no firewall-mark service over two ports and no IPv6 VIP with two or more real servers and a client' });
    const sched = r.leftOut.find((l) => l.suite === 'schedulers')!;
    expect(sched.tests).to.deep.equal(['dh', 'lblc', 'lblcr']);
    expect(sched.why).to.match(/one destination address.*extra_vips/);
    expect(said.join('\n')).to.contain('--suite all: dh, lblc, lblcr of schedulers left out: every service has one destination address');
    expect(said.join('\n')).to.contain('`--suite schedulers` runs them, to end unknown');
  });
  it('keeps them where a firewall-mark service has several destinations (nat), and when schedulers is named beside all', async () => {
    const nat = planAll(all, await planned('nat'), ['all']);
    expect(nat.leftOut.filter((l) => l.tests)).to.deep.equal([]);
    const named = planAll(all, await planned('dr-ha'), ['all', 'schedulers']);
    expect(named.suites).to.include('schedulers');
    expect(named.leftOut.filter((l) => l.tests)).to.deep.equal([]);
    // a suite that is left out whole has no tests left out besides
    expect(planAll(all, await planned('haproxy-ha'), ['all']).leftOut.filter((l) => l.tests)).to.deep.equal([]);
  });
});
