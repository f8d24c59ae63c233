import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { endpointOf, labUp, readState } from '../../harness/lab/vm.js';
import { dockerFromEndpoint } from '../../harness/runtime/docker.js';
import { L, reap, teardown } from '../../harness/topology/builder.js';
import { waitFor } from '../../harness/util/wait.js';
import { cli, type CliResult } from '../helpers.js';

/**
 * Topologies for real: each shipped topology comes up from the CLI in the lab and passes the
 * modes suite; each broken-on-purpose variant fails it and says why.
 */
const CLI = path.join(REPO_ROOT, 'bin', 'lvs-harness.mjs');
const quiet = () => {};

async function results(r: CliResult) {
  const file = r.stdout.match(/results: (\S+results\.json)/)?.[1];
  expect(file, `no report path in:\n${r.stdout}\n${r.stderr}`).to.be.a('string');
  return JSON.parse(await readFile(file!, 'utf8')) as {
    topology: { name: string };
    valid: boolean | 'unknown';
    checks: { name: string; group: string; valid: boolean | 'unknown'; detail: string; observed: unknown }[];
  };
}

const running = async (docker: Docker, topology: string) => (await docker.listContainers({ all: true, filters: { label: [`${L.topology}=${topology}`] } })).length;

describe('topologies and the modes suite (real lab)', function () {
  this.timeout(20 * 60_000);
  let docker: Docker;

  before(async () => {
    await labUp({ log: quiet });
    docker = dockerFromEndpoint(endpointOf((await readState())!));
    await teardown(docker, { all: true }, quiet);
  });

  /** virtual services per shipped topology: web, echo (UDP), mark (fwmark), and web6 (IPv6) on nat */
  const SERVICES: Record<string, number> = { nat: 4, dr: 3, tun: 3, fullnat: 3 };
  /** checks one service has beyond its mode's signature: TUN's TCP service (not the fwmark one) sends a large body */
  const LARGE = 'a large request body comes through the tunnel';
  const expectedNames = (t: string) => (t === 'tun' ? [...signature.tun!, LARGE, ...signature.tun!, ...signature.tun!] : Array.from({ length: SERVICES[t]! }, () => signature[t]!).flat());
  const signature: Record<string, string[]> = {
    nat: ['every real server answers through the VIP', 'real servers see the client address', 'the director carries the replies'],
    dr: ['every real server answers through the VIP', 'replies bypass the director', 'only the director answers ARP for the VIP'],
    tun: ['every real server answers through the VIP', 'replies bypass the director', 'only the director answers ARP for the VIP', 'real servers receive IP-in-IP'],
    fullnat: ['every real server answers through the VIP', 'real servers see the director address (DIP)', 'the director carries the replies'],
  };

  describe('the main job (npm start): smoke check, then the modes suite on every shipped topology', () => {
    let main: CliResult;
    before(async () => {
      main = await cli(['main'], 20 * 60_000);
      process.stderr.write(`      main job: ${main.seconds.toFixed(1)} s\n`);
    });

    it('exits 0 and prints one line per run with its report', () => {
      expect(main.code, main.stdout + main.stderr).to.equal(0);
      expect(main.stdout).to.match(/^smoke\s+lab\s+2 passed\s+0 failed\s+\S+results\.json$/m);
      // the signature of each mode once per virtual service (TCP, UDP and fwmark everywhere; IPv6 on nat), and the smoke check
      const total = Object.keys(signature).reduce((a, t) => a + expectedNames(t).length, 2);
      expect(main.stdout).to.match(new RegExp(`^${total} passed, 0 failed$`, 'm'));
    });

    it('ends with the path of one overview page that links every run', async () => {
      const last = main.stdout.trim().split('\n').pop()!;
      expect(last, main.stdout).to.match(/^overview: \S+index\.html$/);
      const file = last.slice('overview: '.length);
      const html = await readFile(file, 'utf8');
      for (const t of Object.keys(signature)) {
        const line = main.stdout.split('\n').find((l) => l.startsWith(`${t} modes `))!;
        const runDir = path.basename(path.dirname(line.trim().split(/\s+/).pop()!));
        expect(html, t).to.contain(`../${runDir}/report.html`);
        expect(existsSync(path.join(path.dirname(file), '..', runDir, 'report.html')), t).to.equal(true);
      }
    });

    for (const t of Object.keys(signature)) {
      it(`${t}: comes up and passes the modes suite, leaving nothing behind`, async () => {
        const line = main.stdout.split('\n').find((l) => l.startsWith(`${t} modes `));
        expect(line, main.stdout).to.match(new RegExp(`^${t} modes\\s+pass\\s+${expectedNames(t).length} passed\\s+0 failed`));
        const dir = path.dirname(line!.trim().split(/\s+/).pop()!);
        const res = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8')) as Awaited<ReturnType<typeof results>>;
        expect(res.topology.name).to.equal(t);
        expect(res.valid).to.equal(true);
        expect(res.checks.map((c) => c.name)).to.deep.equal(expectedNames(t));
        // the probes are in the history as client operations (the report's distribution, timeline and latencies)
        const ops = (await readFile(path.join(dir, 'history.ndjson'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; tag?: string; server?: string; latencyMs?: number });
        const probes = ops.filter((o) => o.type === 'op' && o.tag === 'modes');
        expect(probes.length, `${t}: modes probes in the history`).to.be.greaterThan(12 * SERVICES[t]! - 1);
        expect(new Set(probes.filter((o) => o.server).map((o) => o.server)).size, t).to.equal(3);
        expect(probes.every((o) => typeof o.latencyMs === 'number')).to.equal(true);
        expect(await readFile(path.join(dir, 'report.html'), 'utf8')).to.not.contain('No client operation in the history');
        for (const f of ['history.ndjson', 'junit.xml', 'summary.md', 'report.html']) expect(existsSync(path.join(dir, f)), `${t}: ${f}`).to.equal(true);
        expect(res.checks.every((c) => c.valid === true)).to.equal(true);
        expect(await running(docker, t), 'a transient run leaves nothing behind').to.equal(0);
      });
    }
  });

  // each with the cause the evidence gathered before teardown names (diagnose/)
  const broken: [string, string, RegExp, string][] = [
    ['dr-noarp', 'only the director answers ARP for the VIP', /ARP for 10\.89\.30\.100 answered by (rs\d \(\S+\)(, )?)+/, 'arp-flux'],
    ['tun-rpfilter', 'every real server answers through the VIP', /\d+ of \d+ requests failed \(timeout\); no answer from rs1, rs2, rs3/, 'tun-rp-filter'],
    ['nat-noforward', 'every real server answers through the VIP', /\d+ of \d+ requests failed \(timeout\); no answer from rs1, rs2, rs3/, 'nat-no-forward'],
  ];
  // The three run side by side (their topologies share no subnet; each fails by design, judged on
  // what answers, not on time): CI waits for the slowest instead of the sum. The first test starts all.
  let brokenRuns: Map<string, Promise<CliResult>> | undefined;
  const brokenRun = (name: string) => {
    brokenRuns ??= new Map(broken.map(([n]) => [n, cli(['run', `test/fixtures/broken/${n}.yaml`, '--suite', 'modes'], 20 * 60_000)]));
    for (const p of brokenRuns.values()) p.catch(() => undefined);
    return brokenRuns.get(name)!;
  };
  for (const [name, check, why, cause] of broken) {
    it(`${name} (broken on purpose) fails the modes suite and says why`, async () => {
      const r = await brokenRun(name);
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      const res = await results(r);
      expect(res.valid).to.equal(false);
      const c = res.checks.find((x) => x.name === check)!;
      expect(c, `no check "${check}" in ${res.checks.map((x) => x.name).join(', ')}`).to.exist;
      expect(c.valid).to.equal(false);
      expect(c.detail).to.match(why);
      expect((c as { causes?: { id: string }[] }).causes?.map((k) => k.id), JSON.stringify((c as { causes?: unknown }).causes)).to.include(cause);
      expect(r.stdout).to.match(/FAIL\s.*modes\s+web /);
    });
  }

  it('up prints the nodes and leaves the topology running; exec, ipvs and a second up use it; down removes it', async () => {
    const up = await cli(['up', 'dr']);
    process.stderr.write(`      up dr: ${up.seconds.toFixed(1)} s\n`);
    expect(up.code, up.stderr).to.equal(0);
    // the VIP, then the mark service's other destinations (extra_vips), then the services
    expect(up.stdout).to.match(/director\s+director\s+lvsh-dr-director\s+lan 10\.89\.30\.2\/24\s+10\.89\.30\.100\/32 on lan, 10\.89\.30\.101\/32 on lan, 10\.89\.30\.102\/32 on lan, 10\.89\.30\.103\/32 on lan, 3 virtual service/);
    expect(up.stdout).to.match(/rs1\s+real-server\s+lvsh-dr-rs1\s+lan 10\.89\.30\.11\/24\s+10\.89\.30\.100\/32 on lo/);
    expect(await running(docker, 'dr')).to.equal(5);

    const ex = await cli(['exec', 'client', '--', 'curl', '-s', '-H', 'Connection: close', 'http://10.89.30.100/']);
    expect(ex.code).to.equal(0);
    expect(ex.stdout).to.match(/^server=rs\d rip=10\.89\.30\.1\d client=10\.89\.30\.3:\d+ local=10\.89\.30\.100:80/);
    const fail = await cli(['exec', 'client', '--', 'sh', '-c', 'exit 7']);
    expect(fail.code, 'exec passes the exit code through').to.equal(7);

    const ipvs = await cli(['ipvs', 'director']);
    expect(ipvs.stdout).to.match(/TCP 10\.89\.30\.100:80\s+rr/);
    expect(ipvs.stdout).to.match(/-> 10\.89\.30\.11:80\s+Route\s+1/);
    const json = JSON.parse((await cli(['ipvs', 'director', '--json'])).stdout);
    expect(json[0].realServers).to.have.length(3);
    expect(json[0].stats.conns).to.be.at.least(1);

    const again = await cli(['up', 'dr']);
    expect(again.stdout).to.contain('topology dr was already up');
    const run = await cli(['run', 'dr', '--suite', 'modes']);
    expect(run.code).to.equal(0);
    expect(await running(docker, 'dr'), 'run leaves a topology it did not start').to.equal(5);

    const dir = await mkdtemp(path.join(tmpdir(), 'lvs-twin-'));
    try {
      const twin = path.join(dir, 'twin.yaml');
      await writeFile(twin, (await readFile(path.join(REPO_ROOT, 'topologies', 'dr.yaml'), 'utf8')).replace('name: dr', 'name: dr-twin'));
      const clash = await cli(['up', twin]);
      expect(clash.code).to.equal(1);
      expect(clash.stderr).to.contain('ERR_LVS_SUBNET_IN_USE: network lan of dr-twin: subnet 10.89.30.0/24 is already used by lvsh-dr-lan');
      expect(await running(docker, 'dr-twin'), 'a failed up leaves nothing').to.equal(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const down = await cli(['down', 'dr']);
    expect(down.stdout).to.contain('removed dr');
    expect(await running(docker, 'dr')).to.equal(0);
    expect((await cli(['down', 'dr'])).stdout).to.contain('nothing to remove for dr');
  });

  it('Ctrl-C during a run removes what it created', async () => {
    const child = spawn(process.execPath, [CLI, 'run', 'nat', '--suite', 'modes'], { stdio: 'ignore' });
    await waitFor('the run to create nat containers', async () => (await running(docker, 'nat')) >= 5, { timeoutMs: 120_000, intervalMs: 500 });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).to.equal(130);
    expect(await running(docker, 'nat')).to.equal(0);
    expect((await docker.listNetworks({ filters: { label: [`${L.topology}=nat`] } })).length).to.equal(0);
  });

  it('leftovers of a crashed run are reaped on the next start', async () => {
    const child = spawn(process.execPath, [CLI, 'run', 'fullnat', '--suite', 'modes'], { stdio: 'ignore' });
    await waitFor('the run to create fullnat containers', async () => (await running(docker, 'fullnat')) >= 5, { timeoutMs: 120_000, intervalMs: 500 });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(await running(docker, 'fullnat'), 'a killed run cannot clean up').to.be.at.least(5);
    const n = await reap(docker, quiet);
    expect(n).to.be.at.least(6);
    expect(await running(docker, 'fullnat')).to.equal(0);
  });

  // Ctrl-C and SIGKILL in each later phase of a run (lab up: lab.test.ts; a build: the two tests
  // above): the checks and the report, on the smallest topology. Each run is found by its new
  // directory under reports/; the checks are caught on the first client operation in its history,
  // the report (too short to catch) on LVS_HARNESS_HOLD_AT=report, where the run waits for a signal.
  describe('Ctrl-C and SIGKILL in the checks and the report', () => {
    const TINY = 'test/fixtures/interrupt/tiny-nat.yaml';
    const REPORTS = path.join(REPO_ROOT, 'reports');
    const FILES = ['results.json', 'history.ndjson', 'junit.xml', 'summary.md', 'report.html'];
    const runIds = async () => new Set((await readdir(REPORTS).catch(() => [] as string[])).filter((n) => /^\d{8}T\d{6}-/.test(n)));
    const startRun = async (env: Record<string, string> = {}) => {
      const before = await runIds();
      const child = spawn(process.execPath, [CLI, 'run', TINY, '--suite', 'modes'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exit = new Promise<number | null>((r) => child.on('exit', (c, sig) => r(c ?? (sig ? -1 : null))));
      const dir = await waitFor('the run to make its directory', async () => [...(await runIds())].find((n) => !before.has(n)), { timeoutMs: 60_000, intervalMs: 100 });
      return { child, exit, out: () => out, dir: path.join(REPORTS, dir), id: dir };
    };
    const inChecks = (dir: string) =>
      waitFor('a client operation in the run\'s history (the checks are running)', async () => (await readFile(path.join(dir, 'history.ndjson'), 'utf8').catch(() => '')).includes('"type":"op"'), { timeoutMs: 180_000, intervalMs: 200 });
    const held = (r: { out: () => string }) => waitFor('the run to hold at the report', () => r.out().includes('holding at report'), { timeoutMs: 240_000, intervalMs: 200 });
    const leftovers = async () => ({
      containers: await running(docker, 'tiny-nat'),
      networks: (await docker.listNetworks({ filters: { label: [`${L.topology}=tiny-nat`] } })).length,
    });
    const interrupted = async (dir: string) => {
      for (const f of FILES) expect(existsSync(path.join(dir, f)), f).to.equal(true);
      return JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8')) as { interrupted?: { signal: string; phase: string }; error?: { code?: string }; checks: unknown[] };
    };

    it('SIGKILL in the checks leaves the nodes; the next run reaps them, and Ctrl-C at its report writes all five files and leaves nothing', async () => {
      const killed = await startRun();
      await inChecks(killed.dir);
      killed.child.kill('SIGKILL');
      await killed.exit;
      expect((await leftovers()).containers, 'a killed run cannot take its nodes down').to.be.at.least(4);
      const runs = await cli(['runs']);
      expect(runs.stdout).to.match(new RegExp(`${killed.id}.*tiny-nat.*killed`));

      const next = await startRun({ LVS_HARNESS_HOLD_AT: 'report' });
      await held(next);
      expect(next.out()).to.match(/reaped \d+ leftovers of crashed runs \(tiny-nat\)/);
      expect(await leftovers(), 'the held run took its own nodes down before the report').to.deep.equal({ containers: 0, networks: 0 });
      next.child.kill('SIGINT');
      expect(await next.exit, next.out()).to.equal(130);
      const res = await interrupted(next.dir);
      expect(res.interrupted).to.deep.equal({ signal: 'SIGINT', phase: 'report' });
      expect(res.checks.length, 'the checks made before the report are in it').to.be.above(0);
    });

    it('Ctrl-C in the checks: exit 130, the five files with what the run had, nothing left', async () => {
      // held after its checks, still in phase suite: on a fast machine tiny-nat's checks were over
      // before a signal sent on the history's first operation arrived (CI, 2026-12-02: phase teardown)
      const r = await startRun({ LVS_HARNESS_HOLD_AT: 'checks' });
      await waitFor('the run to hold in its checks', () => r.out().includes('holding at checks'), { timeoutMs: 240_000, intervalMs: 200 });
      r.child.kill('SIGINT');
      expect(await r.exit, r.out()).to.equal(130);
      const res = await interrupted(r.dir);
      expect(res.interrupted?.signal).to.equal('SIGINT');
      expect(res.interrupted?.phase, 'the suites run in phase suite').to.equal('suite');
      expect(res.error?.code).to.equal('ERR_LVS_INTERRUPTED');
      expect(await leftovers()).to.deep.equal({ containers: 0, networks: 0 });
    });

    it('SIGKILL at the report: the nodes are already down, and runs lists the run as killed', async () => {
      const r = await startRun({ LVS_HARNESS_HOLD_AT: 'report' });
      await held(r);
      r.child.kill('SIGKILL');
      await r.exit;
      expect(await leftovers()).to.deep.equal({ containers: 0, networks: 0 });
      expect(existsSync(path.join(r.dir, 'results.json'))).to.equal(false);
      expect((await cli(['runs'])).stdout).to.match(new RegExp(`${r.id}.*tiny-nat.*killed`));
    });
  });

  it('a bad topology file is refused before anything is built, naming file, path, value and what is allowed', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lvs-topo-'));
    try {
      const text = (await readFile(path.join(REPO_ROOT, 'topologies', 'dr.yaml'), 'utf8')).replace('scheduler: rr', 'scheduler: wrrr');
      const file = path.join(dir, 'dr.yaml');
      await writeFile(file, text);
      const r = await cli(['run', file, '--suite', 'modes']);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('services[0].scheduler: "wrrr" is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)');
      expect(r.stderr).to.contain(`${path.basename(file)}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
