import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { keepalivedTestArgv, parseKeepalivedTestOutput } from '../../harness/keepalived/render.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { labUp } from '../../harness/lab/vm.js';
import { resolveRuntime } from '../../harness/runtime/select.js';
import { buildTopology, teardown } from '../../harness/topology/builder.js';
import { loadTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { cli } from '../helpers.js';

/**
 * keepalived pairs for real: the golden keepalived.conf files pass keepalived's own config test
 * in the node image; the failover, health, sync and split-brain suites pass on the NAT and DR
 * pairs, failover on the TUN pair; validate runs the seed article's pair, one file alone, and
 * a broken pair of an operator's files (a rotated auth_pass: split brain); and the broken YAML
 * pairs (a weak track weight: nobody takes over; a health check on the wrong port: every real
 * server removed) are caught with their reason.
 */
const quiet = () => {};
const HA_SUITES = ['failover', 'health', 'sync', 'splitbrain'];

interface RunErrorLike {
  suite: string;
  title: string;
  message: string;
}

/** `run` through the CLI; its results.json, with the measured times printed as the CI log's numbers. */
async function runAndRead(args: string[], label: string, timeoutMs = 20 * 60_000) {
  const r = await cli(['run', ...args], timeoutMs);
  const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
  expect(report, r.stdout + r.stderr).to.be.a('string');
  const res = JSON.parse(await readFile(report!, 'utf8')) as { checks: Check[]; errors: RunErrorLike[]; timings: Record<string, number> };
  const measured = res.checks.filter((c) => typeof c.observed?.measuredMs === 'number').map((c) => `${c.group}: ${c.observed.measuredMs} ms (bound ${c.observed.boundMs} ms)`);
  process.stderr.write(`      ${label}: whole run ${r.seconds.toFixed(0)} s\n${measured.map((m) => `        ${m}\n`).join('')}`);
  return { r, res };
}

interface Check {
  suite: string;
  group: string;
  name: string;
  valid: unknown;
  detail: string;
  observed: Record<string, unknown>;
}

describe('keepalived pairs (real lab)', function () {
  this.timeout(40 * 60_000);
  let docker: Docker;

  before(async () => {
    await labUp({ log: quiet });
    docker = (await resolveRuntime({ log: quiet })).docker;
    await teardown(docker, { all: true }, quiet);
  });

  it('the golden keepalived.conf files pass keepalived --config-test in the node image', async () => {
    const rt = await resolveRuntime({ log: quiet });
    // kept up: the nat-ha suites below reuse it (same plan), one build fewer under emulation
    const st = await buildTopology(rt, plan(await loadTopology(path.join(REPO_ROOT, 'topologies', 'nat-ha.yaml'))), { log: quiet, keep: true });
    try {
      for (const name of ['nat-master.conf', 'dr-backup-v3.conf', 'haproxy-track-script.conf']) {
        const file = `/tmp/${name}`;
        await st.exec('director2', ['sh', '-c', 'cat > "$1"', 'sh', file], { input: await readFile(path.join(REPO_ROOT, 'test', 'fixtures', 'keepalived', name), 'utf8') });
        const r = await st.exec('director2', keepalivedTestArgv(file), { allowFailure: true, timeoutMs: 30_000 });
        // the fixtures name scripts the node does not have; everything else must be clean
        const problems = parseKeepalivedTestOutput(r.stderr, file).filter((d) => d.kind !== 'script');
        expect(problems, `${name}: ${r.stderr}`).to.deep.equal([]);
        expect([0, 5], `${name} exit ${r.exitCode}: ${r.stderr}`).to.include(r.exitCode);
      }
      // and a broken one is refused with its line
      await st.exec('director2', ['sh', '-c', 'cat > "$1"', 'sh', '/tmp/broken.conf'], { input: await readFile(path.join(REPO_ROOT, 'test', 'fixtures', 'keepalived', 'broken.conf'), 'utf8') });
      const bad = await st.exec('director2', keepalivedTestArgv('/tmp/broken.conf'), { allowFailure: true, timeoutMs: 30_000 });
      expect(bad.exitCode).to.not.equal(0);
      expect(parseKeepalivedTestOutput(bad.stderr, '/tmp/broken.conf').filter((d) => d.kind === 'config' && d.line), bad.stderr).to.not.deep.equal([]);
    } catch (e) {
      await st.down(quiet);
      throw e;
    }
  });

  for (const t of ['nat-ha', 'dr-ha']) {
    it(`${t}: failover, health, sync and split brain behave, each measured against its bound`, async () => {
      // nat-ha is still up from the config test (run reuses it and leaves it up: it goes here)
      const r = await cli(['run', t, ...HA_SUITES.flatMap((s) => ['--suite', s])], 30 * 60_000).finally(() => cli(['down', t]));
      const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
      expect(report, r.stdout + r.stderr).to.be.a('string');
      const res = JSON.parse(await readFile(report!, 'utf8')) as { checks: Check[]; errors: RunErrorLike[]; timings: Record<string, number> };
      const times = Object.entries(res.timings).filter(([k]) => k.startsWith('suite:')).map(([k, v]) => `${k.slice(6)} ${(v / 1000).toFixed(0)} s`);
      const measured = res.checks.filter((c) => typeof c.observed?.measuredMs === 'number').map((c) => `${c.group}: ${c.observed.measuredMs} ms (bound ${c.observed.boundMs} ms)`);
      process.stderr.write(`      ${t}: ${times.join(', ')} (whole run ${r.seconds.toFixed(0)} s)\n${measured.map((m) => `        ${m}\n`).join('')}`);
      const failed = res.checks.filter((c) => c.valid !== true);
      expect(failed.map((c) => `${c.group}: ${c.name}: ${c.detail}`), r.stdout).to.deep.equal([]);
      // a run fails on errors too (a hook that threw, a fault that did not heal): name them
      expect(res.errors.map((e) => `${e.suite}: ${e.title}: ${e.message}`), r.stdout + r.stderr).to.deep.equal([]);
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      for (const s of HA_SUITES) expect(res.checks.some((c) => c.suite === s), `no verdict from ${s}`).to.equal(true);
      const names = res.checks.map((c) => c.group);
      for (const f of ['kill', 'stop', 'pause']) expect(names.some((g) => g.endsWith(`${f} failover time`)), `${f} failover`).to.equal(true);
      expect(names.some((g) => g.endsWith('sync on')) && names.some((g) => g.endsWith('sync off'))).to.equal(true);
    });
  }

  it('tun-ha: the BACKUP takes over the IP-in-IP service within the VRRPv3 bound, and the MASTER takes it back', async () => {
    const r = await cli(['run', 'tun-ha', '--suite', 'failover'], 20 * 60_000);
    const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
    expect(report, r.stdout + r.stderr).to.be.a('string');
    const res = JSON.parse(await readFile(report!, 'utf8')) as { checks: Check[] };
    expect(res.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.detail}`), r.stdout).to.deep.equal([]);
    expect(res.checks.filter((c) => c.group.endsWith('failover time'))).to.have.length(3);
    expect(r.code).to.equal(0);
  });

  it('active-active: each VIP fails over to the other director and comes back, in both directions', async () => {
    // kill in both directions here (stop and pause, also both ways, pass from the CLI; see README): CI time
    const { r, res } = await runAndRead(['active-active', '--suite', 'failover', '--grep', 'SIGKILL of the MASTER node'], 'active-active');
    expect(res.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.detail}`), r.stdout).to.deep.equal([]);
    expect(res.errors, r.stdout + r.stderr).to.deep.equal([]);
    const times = res.checks.filter((c) => c.group.endsWith('failover time')).map((c) => c.group);
    // VI_141 moves director1 -> director2, VI_142 director2 -> director1
    expect(times).to.deep.equal(['VI_141 dr kill failover time', 'VI_142 dr kill failover time']);
    expect(res.checks.filter((c) => c.group.endsWith('kill preemption')).map((c) => c.name)).to.deep.equal(['director1 preempts when it returns', 'director2 preempts when it returns']);
    expect(r.code).to.equal(0);
  });

  it('haproxy-ha: the vrrp_script moves the VIP when HAProxy dies on the MASTER, and the pair fails over both ways', async () => {
    const { r, res } = await runAndRead(['haproxy-ha', '--suite', 'modes', '--suite', 'failover'], 'haproxy-ha');
    expect(res.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.detail}`), r.stdout).to.deep.equal([]);
    expect(res.errors, r.stdout + r.stderr).to.deep.equal([]);
    const groups = res.checks.map((c) => c.group);
    for (const f of ['kill', 'stop', 'pause', 'kill-haproxy']) expect(groups, f).to.include(`VI_1 proxy ${f} failover time`);
    expect(groups).to.include('VI_1 proxy kill-haproxy preemption');
    // HAProxy connects from the director: the real servers see a DIP
    expect(res.checks.some((c) => c.suite === 'modes' && c.name === 'real servers see the director address (DIP)' && c.valid === true)).to.equal(true);
    expect(r.code).to.equal(0);
  });

  it("validate: the seed article's VI_141/VI_142 pair, the operator's own files, lint clean, translated into the lab, fail over both ways", async () => {
    // kill in both directions (stop and pause pass from the CLI too; see README): CI time
    const r = await cli(['validate', '--keepalived', 'test/fixtures/lint/seed002-vi14x-a.conf', '--peer', 'test/fixtures/lint/seed002-vi14x-b.conf', '--grep', 'modes|SIGKILL of the MASTER node'], 20 * 60_000);
    process.stderr.write(`      validate seed 002: whole run ${r.seconds.toFixed(0)} s\n`);
    expect(r.stderr).to.match(/^lint: 0 errors, 0 warnings, \d+ info$/m);
    expect(r.stderr).to.match(/192\.168\.10\.141 +10\.89\.200\.141/);
    const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
    expect(report, r.stdout + r.stderr).to.be.a('string');
    const res = JSON.parse(await readFile(report!, 'utf8')) as { checks: Check[]; errors: RunErrorLike[]; suites: string[]; validate: { sources: string[]; findings: { severity: string }[]; translation: { theirs: string; lab: string }[] } };
    expect(res.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.detail}`), r.stdout).to.deep.equal([]);
    expect(res.errors, r.stdout + r.stderr).to.deep.equal([]);
    expect(res.suites).to.deep.equal(['modes', 'failover']);
    // both directions: VI_141 moves off director2 (its MASTER at priority 100), VI_142 off director1
    expect(res.checks.filter((c) => c.group.endsWith('kill failover time')).map((c) => c.group)).to.deep.equal(['VI_141 proxy kill failover time', 'VI_142 proxy kill failover time']);
    expect(res.checks.filter((c) => c.group.endsWith('kill preemption')).map((c) => c.name)).to.deep.equal(['director2 preempts when it returns', 'director1 preempts when it returns']);
    expect(res.validate.findings.filter((f) => f.severity !== 'info')).to.deep.equal([]);
    expect(res.validate.translation).to.deep.include({ kind: 'address', theirs: '192.168.10.142', lab: '10.89.200.142' });
    const html = await readFile(path.join(path.dirname(report!), 'report.html'), 'utf8');
    expect(html).to.contain('Translation into the lab').and.contain('192.168.10.141');
    expect(r.code).to.equal(0);
  });

  it("validate of one keepalived.conf without --peer: the director runs the operator's keepalived, which programs IPVS and checks the servers; modes passes", async () => {
    const r = await cli(['validate', '--keepalived', 'test/fixtures/validate/lone-nat.conf'], 20 * 60_000);
    process.stderr.write(`      validate lone-nat: whole run ${r.seconds.toFixed(0)} s\n`);
    expect(r.stderr).to.match(/^lint: 0 errors, 0 warnings, \d+ info$/m);
    expect(r.stderr).to.match(/192\.168\.40\.80 +10\.89\.200\.80/);
    const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
    expect(report, r.stdout + r.stderr).to.be.a('string');
    const res = JSON.parse(await readFile(report!, 'utf8')) as { checks: Check[]; errors: RunErrorLike[]; suites: string[] };
    expect(res.suites).to.deep.equal(['modes']);
    expect(res.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.detail}`), r.stdout).to.deep.equal([]);
    expect(res.checks.map((c) => c.name)).to.include.members(['every real server answers through the VIP', 'real servers see the client address', 'the director carries the replies']);
    // keepalived itself, not the planner, programmed the table: the build waited for it
    expect(r.stderr).to.match(/director1: IPVS programmed and read back \(1 service, 2 real servers\)/);
    expect(r.code).to.equal(0);
  });

  it('a vrrp_script whose weight cannot drop the MASTER below the BACKUP (broken on purpose): HAProxy dies and nobody takes over, and the run says so', async () => {
    const { r, res } = await runAndRead(['test/fixtures/broken/haproxy-ha-weak.yaml', '--suite', 'failover', '--grep', 'kill-haproxy'], 'haproxy-ha-weak');
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    const failed = res.checks.filter((c) => c.valid === false);
    expect(failed.map((c) => c.group), r.stdout).to.include('VI_1 proxy kill-haproxy failover time');
    expect(failed.find((c) => c.group === 'VI_1 proxy kill-haproxy failover time')!.detail).to.match(/^no answer came back: \d+ probes failed over [\d.]+ s after kill-haproxy on director1, past the [\d.]+ s allowed$/);
    expect(res.errors, r.stdout + r.stderr).to.deep.equal([]);
  });

  it("validate of a broken pair (director B got a new auth_pass, A did not): lint's error, then split brain in the lab with its cause, and the report marks the finding confirmed", async () => {
    const r = await cli(['validate', '--keepalived', 'test/fixtures/validate/shop-a.conf', '--peer', 'test/fixtures/validate/shop-b-rotated.conf', '--suite', 'failover'], 20 * 60_000);
    process.stderr.write(`      validate broken shop pair: whole run ${r.seconds.toFixed(0)} s\n`);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    // lint first: the pair's authentication differs
    expect(r.stderr).to.match(/^lint: 1 errors, 0 warnings, \d+ info$/m);
    expect(r.stderr).to.match(/shop-a\.conf:15: error pair-mismatch: .*authentication differs \(PASS:Sh0p2025 vs PASS:Sh0p2026/);
    // then the run: the build's wait for one MASTER sees both hold the VIP
    expect(r.stderr).to.match(/10\.89\.200\.80 \(VI_SHOP\) to be held by director1 alone/);
    expect(r.stderr).to.match(/held by director1, director2/);
    expect(r.stderr).to.match(/split brain: .* more than three master-down intervals/);
    // and why, read from the directors before they were removed (the split-brain cause rule)
    expect(r.stderr).to.match(/cause: both director1 and director2 hold 10\.89\.200\.80.* of VI_SHOP: each is MASTER \(split brain\).*why: their authentication differs, so each drops the other's adverts/);
    expect(r.stderr).to.match(/fix: .*write the same auth_type and auth_pass/);
    const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
    expect(report, r.stdout + r.stderr).to.be.a('string');
    const res = JSON.parse(await readFile(report!, 'utf8')) as { validate: { findings: { rule: string; severity: string; confirmedBy?: string }[] } };
    const finding = res.validate.findings.find((f) => f.rule === 'pair-mismatch');
    expect(finding?.confirmedBy, JSON.stringify(res.validate.findings)).to.match(/^the build: .*split brain/);
    const html = await readFile(path.join(path.dirname(report!), 'report.html'), 'utf8');
    expect(html).to.contain('confirmed by the run');
  });

  it('a health check on the wrong port (broken on purpose) takes every real server out, and the run says so', async () => {
    const r = await cli(['run', 'test/fixtures/broken/dr-ha-wrongport.yaml', '--suite', 'health']);
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(r.stderr).to.match(/IPVS table differs from the model \(keepalived programs it and removes real servers whose health check fails\)/);
    expect(r.stderr).to.match(/8099/);
    // the cause, read from the director's evidence before teardown, with keepalived's own lines
    expect(r.stderr).to.match(/cause: keepalived on director[12] removed every real server from web \([^)]*10\.89\.130\.100:80\): .*failed on rs1, rs2, rs3/);
    expect(r.stderr).to.match(/fix: /);
  });
});
