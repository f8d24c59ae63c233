import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { weightedShares } from '../../harness/checkers/distribution.js';
import { History, parseHistory } from '../../harness/history/history.js';
import { setScheduler, setServer } from '../../harness/ipvs/edit.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { labUp } from '../../harness/lab/vm.js';
import { Agent } from '../../harness/load/driver.js';
import { clientSources } from '../../harness/observe/modes.js';
import { resolveRuntime } from '../../harness/runtime/select.js';
import { buildTopology, teardown } from '../../harness/topology/builder.js';
import { loadTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { cli } from '../helpers.js';

/**
 * The scheduler, persistence and drain suites in the lab, in NAT and in DR; and a deliberately
 * wrong expectation that the distribution checker must catch.
 */
const quiet = () => {};

const SUITES = ['schedulers', 'persistence', 'drain'];
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'];

describe('scheduler, persistence and drain suites (real lab)', function () {
  this.timeout(30 * 60_000);
  let docker: Docker;

  before(async () => {
    await labUp({ log: quiet });
    docker = (await resolveRuntime({ log: quiet })).docker;
    await teardown(docker, { all: true }, quiet);
  });

  for (const t of ['nat', 'dr']) {
    it(`${t}: every scheduler keeps its promise, persistence sticks, drains are clean`, async () => {
      const r = await cli(['run', t, ...SUITES.flatMap((s) => ['--suite', s])], 20 * 60_000);
      const report = r.stdout.match(/report: (\S+results\.json)/)?.[1];
      expect(report, r.stdout + r.stderr).to.be.a('string');
      const res = JSON.parse(await readFile(report!, 'utf8'));
      const times = Object.entries(res.timings as Record<string, number>).filter(([k]) => k.startsWith('suite:')).map(([k, v]) => `${k.slice(6)} ${(v / 1000).toFixed(1)} s`);
      process.stderr.write(`      ${t}: ${times.join(', ')} (whole run ${r.seconds.toFixed(1)} s)\n`);
      const failed = (res.checks as { group: string; name: string; valid: unknown; detail: string }[]).filter((c) => c.valid !== true);
      expect(failed.map((c) => `${c.group}: ${c.name}: ${c.detail}`), r.stdout).to.deep.equal([]);
      expect(r.code).to.equal(0);
      const groups = (res.checks as { group: string }[]).map((c) => c.group.split(' ').pop());
      for (const s of SCHEDULERS) expect(groups, `no verdict for ${s}`).to.include(s);
      expect(res.checks.length).to.equal(SCHEDULERS.length + 3 + 3);
      const history = parseHistory(await readFile(path.join(path.dirname(report!), 'history.ndjson'), 'utf8'));
      expect(history.filter((e) => e.type === 'op').length, 'operations in the history').to.be.above(100);
      expect(history.some((e) => e.type === 'observe' && e.what === 'clock'), 'clock offset recorded').to.equal(true);
      expect(history.filter((e) => e.type === 'observe' && e.what === 'ipvs-edit').length).to.be.at.least(SCHEDULERS.length);
    });
  }

  it('a deliberately wrong expectation fails: wrr configured 1:1:1, judged against 3:2:1', async () => {
    const rt = await resolveRuntime({ log: quiet });
    const p = plan(await loadTopology(path.join(REPO_ROOT, 'topologies', 'nat.yaml')));
    const st = await buildTopology(rt, p, { log: quiet });
    const history = new History();
    const agent = await Agent.start(st, 'client', history);
    try {
      const svc = p.services[0]!;
      await setScheduler(st, svc, 'wrr');
      for (const r of svc.realServers) await setServer(st, svc, r.name, { weight: 1 });
      const ops = (await agent.run({ cmd: 'http', host: svc.vip, port: 80, sources: clientSources(st, 'client', svc.vipNetwork).slice(0, 1), perSource: 24 })).ops;
      expect(ops.filter((o) => o.outcome === 'ok')).to.have.length(24);
      const wrong = weightedShares(ops, [{ name: 'rs1', weight: 3 }, { name: 'rs2', weight: 2 }, { name: 'rs3', weight: 1 }], 'wrr');
      expect(wrong.valid).to.equal(false);
      expect(wrong.detail).to.match(/rs1 got 33\.3%, expected 50\.0%/);
      const right = weightedShares(ops, [{ name: 'rs1', weight: 1 }, { name: 'rs2', weight: 1 }, { name: 'rs3', weight: 1 }], 'wrr');
      expect(right.valid).to.equal(true);
    } finally {
      await agent.stop();
      await st.down(quiet);
    }
  });
});
