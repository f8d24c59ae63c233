import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { weightedShares } from '../../harness/checkers/distribution.js';
import { fwmarkRotation } from '../../harness/checkers/protocols.js';
import { History, parseHistory, type HistoryEvent } from '../../harness/history/history.js';
import type { Results } from '../../harness/report/results.js';
import { ReportBrowser } from '../browser/inspect.js';
import { expectedCharts } from '../fixtures/report/fixtures.js';
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
 * The scheduler, persistence, drain and protocols suites in the lab, in NAT and in DR; a
 * deliberately wrong expectation that the distribution checker must catch; and a firewall-mark
 * service with one port left unmarked, which the fwmark check must catch.
 */
const quiet = () => {};

/**
 * The five files of a run, as their readers take them: JUnit through an XML parser (one testcase
 * per check), the summary's verdict, and report.html in headless Chromium (nothing loaded but
 * itself, no console error, the charts the history calls for drawn in the live DOM).
 */
async function expectReports(dir: string, res: Results, history: HistoryEvent[]): Promise<void> {
  for (const f of ['results.json', 'history.ndjson', 'junit.xml', 'summary.md', 'report.html']) expect(existsSync(path.join(dir, f)), f).to.equal(true);
  expect(res.schema).to.equal('lvs-harness/results@1');
  expect(res.environment?.lab?.kernel, 'lab kernel recorded').to.match(/^6\./);
  expect(res.environment?.lab?.ipvsadm).to.match(/^v1\./);
  const xml = await readFile(path.join(dir, 'junit.xml'), 'utf8');
  expect(XMLValidator.validate(xml)).to.equal(true);
  const cases = [...xml.matchAll(/<testcase /g)].length;
  new XMLParser().parse(xml);
  expect(cases).to.equal(res.checks.length + res.errors.length);
  expect(await readFile(path.join(dir, 'summary.md'), 'utf8')).to.match(res.valid === true ? /pass/i : /fail/i);
  const browser = await ReportBrowser.launch();
  try {
    const page = await browser.inspect(path.join(dir, 'report.html'), path.join(dir, 'report.png'));
    expect(page.requests).to.deep.equal([page.url]);
    expect(page.errors).to.deep.equal([]);
    const want = expectedCharts(res, history);
    expect(page.charts.filter((c) => c.kind === 'distribution')).to.have.length(want.distribution.length);
    expect(page.charts.filter((c) => c.kind === 'timeline').map((c) => c.node)).to.deep.equal(want.timeline.map((t) => t.node));
    expect(page.charts.filter((c) => c.kind === 'latency')).to.have.length(1);
    expect(statSync(path.join(dir, 'report.png')).size).to.be.above(50_000);
  } finally {
    await browser.close();
  }
}

const SUITES = ['schedulers', 'persistence', 'drain', 'protocols'];
// protocols: UDP rr, flow, -p and expiry (4), fwmark rr and -p (2), and on nat the IPv6 rr and -p (2)
const PROTOCOL_CHECKS: Record<string, number> = { nat: 8, dr: 6 };
const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'];

describe('scheduler, persistence, drain and protocols suites (real lab)', function () {
  this.timeout(30 * 60_000);
  let docker: Docker;

  before(async () => {
    await labUp({ log: quiet });
    docker = (await resolveRuntime({ log: quiet })).docker;
    await teardown(docker, { all: true }, quiet);
  });

  for (const t of ['nat', 'dr']) {
    it(`${t}: every scheduler keeps its promise, persistence sticks, drains are clean, UDP/fwmark${t === 'nat' ? '/IPv6' : ''} services behave`, async () => {
      const r = await cli(['run', t, ...SUITES.flatMap((s) => ['--suite', s])], 20 * 60_000);
      const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
      expect(report, r.stdout + r.stderr).to.be.a('string');
      const res = JSON.parse(await readFile(report!, 'utf8'));
      const times = Object.entries(res.timings as Record<string, number>).filter(([k]) => k.startsWith('suite:')).map(([k, v]) => `${k.slice(6)} ${(v / 1000).toFixed(1)} s`);
      process.stderr.write(`      ${t}: ${times.join(', ')} (whole run ${r.seconds.toFixed(1)} s)\n`);
      const failed = (res.checks as { group: string; name: string; valid: unknown; detail: string }[]).filter((c) => c.valid !== true);
      expect(failed.map((c) => `${c.group}: ${c.name}: ${c.detail}`), r.stdout).to.deep.equal([]);
      expect(r.code).to.equal(0);
      const groups = (res.checks as { group: string }[]).map((c) => c.group.split(' ').pop());
      for (const s of SCHEDULERS) expect(groups, `no verdict for ${s}`).to.include(s);
      expect(res.checks.length).to.equal(SCHEDULERS.length + 3 + 3 + PROTOCOL_CHECKS[t]!);
      const protocolGroups = (res.checks as { suite: string; group: string }[]).filter((c) => c.suite === 'protocols').map((c) => c.group);
      expect(protocolGroups.some((g) => g.includes('udp -p 4 expiry')), 'UDP persistence expiry judged').to.equal(true);
      if (t === 'nat') expect(protocolGroups.some((g) => g.includes('ipv6 rr')), 'IPv6 judged').to.equal(true);
      const history = parseHistory(await readFile(path.join(path.dirname(report!), 'history.ndjson'), 'utf8'));
      expect(history.filter((e) => e.type === 'op').length, 'operations in the history').to.be.above(100);
      expect(history.some((e) => e.type === 'observe' && e.what === 'clock'), 'clock offset recorded').to.equal(true);
      expect(history.filter((e) => e.type === 'observe' && e.what === 'ipvs-edit').length).to.be.at.least(SCHEDULERS.length);
      await expectReports(path.dirname(report!), res, history);
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

      // broken on purpose: the director stops marking port 8081, so half of the fwmark service is gone
      const fwm = p.services.find((s) => s.fwmark)!;
      const ports = fwm.fwmark!.ports;
      const fwmOps = async () =>
        (await agent.run({ cmd: 'http', host: fwm.vip, port: ports[0]!, ports, sources: clientSources(st, 'client', fwm.vipNetwork).slice(0, 1), rounds: 12, timeoutMs: 3000 })).ops;
      const servers = fwm.realServers.map((r) => ({ name: r.name, weight: r.weight }));
      expect(fwmarkRotation(await fwmOps(), servers, ports).valid, 'the intact fwmark service').to.equal(true);
      const rule = ['-t', 'mangle', '-D', 'PREROUTING', '-d', `${fwm.vip}/32`, '-p', 'tcp', '--dport', String(ports[1]), '-j', 'MARK', '--set-mark', String(fwm.fwmark!.mark)];
      await st.exec('director', ['iptables', ...rule]);
      const broken = fwmarkRotation(await fwmOps(), servers, ports);
      expect(broken.valid).to.equal(false);
      expect(broken.detail).to.match(new RegExp(`no answer on port ${ports[1]} \\(6 failed\\)`));
    } finally {
      await agent.stop();
      await st.down(quiet);
    }
  });
});
