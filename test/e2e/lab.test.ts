import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, readdir, rm, access, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildLab, type BuildReport } from '../../harness/lab/build.js';
import { labPaths, REPO_ROOT } from '../../harness/lab/paths.js';
import { QEMU_NAME, endpointOf, hasSavedLab, labDown, labStatus, labUp, readState } from '../../harness/lab/vm.js';
import { dockerFromEndpoint } from '../../harness/runtime/docker.js';
import { runOnce } from '../../harness/runtime/node-image.js';
import { run } from '../../harness/util/proc.js';
import { waitFor } from '../../harness/util/wait.js';
import { cli, rejection } from '../helpers.js';
import { findHang, type VcpuSample } from '../../harness/lab/lockup.js';
import { lockupLog, sampleVcpus, stopWatching } from '../../harness/lab/watchdog.js';

/**
 * The lab for real: build from Debian's archive, boot under qemu, talk to its dockerd over
 * mutual TLS, program kernel IPVS in a container, and stop without leaving anything behind.
 * These tests fail (never skip) when the lab cannot be built or booted.
 */
const sh = promisify(execFile);
const CLI = path.join(REPO_ROOT, 'bin', 'lvs-harness.mjs');
const quiet = () => {};
const paths = labPaths();

async function ourQemuPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const n of await readdir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    const cmd = await readFile(`/proc/${n}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(QEMU_NAME) && cmd.includes(paths.cache)) pids.push(Number(n));
  }
  return pids;
}

const exists = (p: string) => access(p).then(() => true, () => false);

async function expectNothingRunning() {
  expect(await ourQemuPids(), 'lab VM processes').to.deep.equal([]);
  expect(await exists(paths.state), 'state file').to.equal(false);
  expect((await labStatus({ paths })).running).to.equal(false);
}


/** GET /version against the lab port with the given client options; resolves status+body or rejects. */
function getVersion(mod: typeof http | typeof https, port: number, opts: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: '127.0.0.1', port, path: '/version', method: 'GET', timeout: 10_000, ...opts }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('the lab (real VM, real kernel IPVS)', function () {
  this.timeout(15 * 60_000);
  let cold: BuildReport;

  before(async function () {
    cold = await buildLab({ paths, log: (m) => process.stderr.write(`      ${m}\n`) });
    process.stderr.write(`      lab build: ${cold.seconds} s (${JSON.stringify(cold.steps)})\n`);
  });

  it('a second build with nothing changed finishes in under 5 s, from the cache', async () => {
    const t0 = Date.now();
    const warm = await buildLab({ paths, log: quiet });
    const s = (Date.now() - t0) / 1000;
    process.stderr.write(`      warm lab build: ${s.toFixed(2)} s\n`);
    expect(Object.values(warm.steps).every((v) => v === 'cached'), JSON.stringify(warm.steps)).to.equal(true);
    expect(warm.artifacts.key).to.equal(cold.artifacts.key);
    expect(s).to.be.below(5);
  });

  describe('failures leave nothing half-running', () => {
    before(() => labDown({ paths, log: quiet }));

    it('a port in use is refused with the port named and a way out', async () => {
      const srv = net.createServer();
      await new Promise<void>((r) => srv.listen(23790, '127.0.0.1', r));
      try {
        const e = await rejection(labUp({ paths, port: 23790, log: quiet }));
        expect(e.code).to.equal('ERR_LVS_PORT_IN_USE');
        expect(e.describe()).to.contain('127.0.0.1:23790').and.contain('--port 23791');
      } finally {
        srv.close();
      }
      await expectNothingRunning();
    });

    it('a VM that dies while booting gives a clear error and is cleaned up', async () => {
      const up = labUp({ paths, port: 23791, log: quiet, cold: true });
      const pid = await waitFor('the VM to start', async () => (await readState(paths))?.pid, { timeoutMs: 60_000, intervalMs: 100 });
      process.kill(pid, 'SIGKILL');
      const e = await rejection(up);
      expect(e.code).to.equal('ERR_LVS_LAB_BOOT');
      expect(e.message).to.contain('the VM process killed by SIGKILL');
      expect(e.describe()).to.contain('nothing is left running');
      await expectNothingRunning();
    });

    it('a boot that exceeds its deadline says what it waited for and stops the VM', async () => {
      const e = await rejection(labUp({ paths, port: 23792, timeoutMs: 3_000, log: quiet, cold: true }));
      expect(e.code).to.equal('ERR_LVS_LAB_BOOT');
      expect(e.message).to.match(/timed out after 3\.\d s waiting for the lab VM to report ready/);
      await expectNothingRunning();
    });

    // Ctrl-C and SIGKILL in the first phase of every run, lab up (the other phases: modes.test.ts)
    const upInBackground = () => {
      const child = spawn(process.execPath, [CLI, 'lab', 'up'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exit = new Promise<number | null>((r) => child.on('exit', (c, sig) => r(c ?? (sig ? -1 : null))));
      return { child, exit, out: () => out };
    };

    it('Ctrl-C during lab up stops the VM it was starting: exit 130, no process, port or state left', async () => {
      const up = upInBackground();
      const pid = await waitFor('lab up to start the VM', async () => (await readState(paths))?.pid, { timeoutMs: 60_000, intervalMs: 50 });
      expect(await ourQemuPids()).to.include(pid);
      up.child.kill('SIGINT');
      expect(await up.exit, up.out()).to.equal(130);
      await expectNothingRunning();
    });

    it('SIGKILL during lab up leaves a half-started VM, and the next lab up stops it and starts a good one', async () => {
      const up = upInBackground();
      const pid = await waitFor('lab up to start the VM', async () => (await readState(paths))?.pid, { timeoutMs: 60_000, intervalMs: 50 });
      up.child.kill('SIGKILL');
      await up.exit;
      expect(await ourQemuPids(), 'a killed lab up cannot stop its VM').to.include(pid);
      expect((await readState(paths))?.ready, 'the state says the boot did not finish').to.equal(false);
      const log: string[] = [];
      const st = await labUp({ paths, log: (m) => log.push(m) });
      expect(log.join('\n')).to.contain('was left half-started').and.contain(`(pid ${pid})`);
      expect(st.running).to.equal(true);
      expect(st.docker).to.equal('ok');
      expect(st.pid).to.not.equal(pid);
      expect(await ourQemuPids()).to.deep.equal([st.pid]);
      expect((await readState(paths))?.ready).to.equal(true);
      await labDown({ paths, log: quiet });
      await expectNothingRunning();
    });
  });

  describe('a running lab', () => {
    const upLog: string[] = [];
    let upStarted = 0;
    let upEnded = 0;
    before(async () => {
      // run alone, with no lab saved since the build: a first up boots and saves it
      if (!(await hasSavedLab({ paths }))) {
        await labUp({ paths, log: quiet });
        await labDown({ paths, log: quiet });
      }
      upStarted = Date.now();
      // the first boot of this build (the e2e files before this one) saved the lab: this up restores it
      await labUp({ paths, log: (m) => (upLog.push(m), process.stderr.write(`      ${m}\n`)) });
      upEnded = Date.now();
      process.stderr.write(`      lab up to ready: ${((upEnded - upStarted) / 1000).toFixed(1)} s\n`);
    });

    it('came back from the saved lab, not from a boot, with ip_vs loaded and the host\'s time', async () => {
      expect(upLog.join('\n'), 'restored, not booted').to.match(/lab restored in [\d.]+ s: kernel \S+, ip_vs loaded/);
      expect(upLog.join('\n')).to.not.match(/lab booting/);
      // the guest's clock answered on the console with the time it set: the host's, sent after the restore
      const consoleText = await readFile(paths.console, 'utf8');
      const set = [...consoleText.matchAll(/^lab: clock set (\d+\.\d+) ipvs=yes$/gm)].pop();
      expect(set, consoleText.slice(-500)).to.exist;
      expect(Number(set![1]) * 1000).to.be.within(upStarted - 1_000, upEnded + 1_000);
    });

    it('reports itself running with a Debian kernel and ip_vs loaded', async () => {
      const st = await labStatus({ paths });
      process.stderr.write(`      VM RSS on the host: ${st.rssMiB} MiB (of ${st.memoryMiB} MiB given)\n`);
      expect(st).to.include({ running: true, endpoint: 'tcp://127.0.0.1:23750', ipvs: true, docker: 'ok' });
      expect(st.kernel).to.match(/^6\.1\.0-\d+-amd64$/);
      expect(st.uptimeSeconds).to.be.a('number');
    });

    it('a second up reports the running lab instead of starting another', async () => {
      const before = await labStatus({ paths });
      const t0 = Date.now();
      const again = await labUp({ paths, log: quiet });
      expect(again.pid).to.equal(before.pid);
      expect(Date.now() - t0).to.be.below(10_000);
      expect(await ourQemuPids()).to.deep.equal([before.pid]);
    });

    it('`lab status --json` prints the documented fields', async () => {
      const { stdout } = await sh(process.execPath, [CLI, 'lab', 'status', '--json']);
      const st = JSON.parse(stdout);
      for (const k of ['running', 'pid', 'endpoint', 'kernel', 'ipvs', 'uptimeSeconds']) expect(st, k).to.have.property(k);
      expect(st.running).to.equal(true);
    });

    it('`lab env` points the docker CLI and testcontainers at the lab', async () => {
      const { stdout: env } = await sh(process.execPath, [CLI, 'lab', 'env']);
      expect(env).to.contain('export DOCKER_HOST=tcp://127.0.0.1:23750').and.contain('export DOCKER_TLS_VERIFY=1');
      const { stdout } = await sh('sh', ['-c', `${env}\ndocker version --format '{{.Server.Version}} {{.Server.KernelVersion}}'`]);
      expect(stdout.trim()).to.match(/^20\.10\.\S+ 6\.1\.0-\d+-amd64$/);
      const vars = Object.fromEntries([...env.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
      const { GenericContainer } = await import('testcontainers');
      const saved = { ...process.env };
      Object.assign(process.env, vars);
      try {
        const c = await new GenericContainer((await readState(paths))!.nodeImageTag).withCommand(['sleep', 'infinity']).withAddedCapabilities('NET_ADMIN').start();
        try {
          const r = await c.exec(['ipvsadm', '-Ln']);
          expect(r.exitCode).to.equal(0);
          expect(r.output).to.contain('IP Virtual Server version');
        } finally {
          await c.stop();
        }
      } finally {
        for (const k of Object.keys(vars)) if (saved[k] === undefined) delete process.env[k];
        Object.assign(process.env, saved);
      }
    });

    it('through dockerode, a NET_ADMIN node container programs IPVS and reads it back with ipvsadm -S -n', async () => {
      const st = (await readState(paths))!;
      const docker = dockerFromEndpoint(endpointOf(st));
      const r = await runOnce(docker, st.nodeImageTag, ['sh', '-c', 'ipvsadm -A -t 10.0.0.1:80 -s rr && ipvsadm -S -n'], { capAdd: ['NET_ADMIN'] });
      expect(r.exitCode, r.output).to.equal(0);
      expect(r.output.trim().split('\n')).to.deep.equal(['-A -t 10.0.0.1:80 -s rr']);
      const denied = await runOnce(docker, st.nodeImageTag, ['ipvsadm', '-A', '-t', '10.0.0.1:80', '-s', 'rr']);
      expect(denied.exitCode, 'without NET_ADMIN ipvsadm must be refused').to.not.equal(0);
    });

    it('the node image carries the tools every role needs', async () => {
      const st = (await readState(paths))!;
      const docker = dockerFromEndpoint(endpointOf(st));
      const tools = ['ipvsadm', 'keepalived', 'nginx', 'ip', 'iptables', 'nft', 'tcpdump', 'curl', 'ps', 'sshd', 'socat', 'node'];
      const r = await runOnce(docker, st.nodeImageTag, ['sh', '-c', `for t in ${tools.join(' ')}; do command -v $t >/dev/null || echo "missing $t"; done; node --version`]);
      expect(r.output).to.not.contain('missing');
      expect(r.output.trim()).to.match(/^v20\./);
    });

    it('refuses a plain-HTTP client', async () => {
      const r = await getVersion(http, 23750);
      expect(r.status).to.equal(400);
      expect(r.body).to.not.contain('ApiVersion');
    });

    it('refuses a TLS client without the client certificate', async () => {
      const ca = await readFile(path.join(paths.tls, 'ca.pem'));
      const err = await getVersion(https, 23750, { ca }).then(
        (r) => new Error(`answered ${r.status}: ${r.body.slice(0, 80)}`),
        (e: Error) => e,
      );
      expect(err.message).to.match(/certificate|socket hang up|ECONNRESET|alert/i);
    });

    it('refuses a TLS client whose certificate another CA signed, and answers the real one', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'lvs-foreign-'));
      try {
        await run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=intruder'], { cwd: dir });
        const ca = await readFile(path.join(paths.tls, 'ca.pem'));
        const foreign = { ca, cert: await readFile(path.join(dir, 'c.pem')), key: await readFile(path.join(dir, 'k.pem')) };
        const err = await getVersion(https, 23750, foreign).then(
          (r) => new Error(`answered ${r.status}`),
          (e: Error) => e,
        );
        expect(err.message).to.match(/certificate|socket hang up|ECONNRESET|alert/i);
        const ok = await getVersion(https, 23750, { ca, cert: await readFile(path.join(paths.tls, 'cert.pem')), key: await readFile(path.join(paths.tls, 'key.pem')) });
        expect(ok.status).to.equal(200);
        expect(ok.body).to.contain('ApiVersion');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('the smoke check runs in the lab and writes results.json', async () => {
      const { stdout } = await sh(process.execPath, [CLI, 'smoke'], { env: { ...process.env, LVS_HARNESS_QUIET: '1' } });
      expect(stdout).to.contain('2 passed, 0 failed');
      const report = stdout.match(/report: (\S+results\.json)/)![1]!;
      const results = JSON.parse(await readFile(report, 'utf8'));
      expect(results.runtime.kind).to.equal('lab');
      expect(results.checks.map((c: { name: string; valid: boolean }) => [c.name, c.valid])).to.deep.equal([
        ['ipvs-program-readback', true],
        ['kernel-ipvs', true],
      ]);
      await rm(path.dirname(report), { recursive: true, force: true });
    });

    it('lab down stops the VM and leaves no process, port or state; a second down is harmless', async () => {
      const pid = (await readState(paths))!.pid;
      const { stdout } = await sh(process.execPath, [CLI, 'lab', 'down']);
      expect(stdout).to.contain(`lab stopped (pid ${pid})`);
      await expectNothingRunning();
      const refused = await new Promise<boolean>((resolve) => {
        const s = net.connect(23750, '127.0.0.1');
        s.on('connect', () => (s.destroy(), resolve(false)));
        s.on('error', () => resolve(true));
      });
      expect(refused, 'the Docker API port still accepts connections').to.equal(true);
      const again = await sh(process.execPath, [CLI, 'lab', 'down']);
      expect(again.stdout).to.contain('lab was not running');
    });

    it("the watchdog's look at the vCPUs through qemu's monitor: each vCPU's instruction, and a healthy lab is no hang", async () => {
      await labUp({ paths, log: quiet });
      const samples: VcpuSample[] = [];
      for (let i = 0; i < 3; i++) {
        const s = await sampleVcpus(paths);
        expect(s.map((x) => x.cpu)).to.deep.equal([0, 1]);
        for (const x of s) expect(x.rip).to.match(/^[0-9a-f]{16}$/);
        samples.push(...s);
        await new Promise((r) => setTimeout(r, 1000)); // samples a second apart, as the watchdog's are 5 s apart
      }
      expect(findHang(samples, 1), JSON.stringify(samples)).to.equal(undefined);
    });

    it('a kernel that locks up under a run is stopped by the watchdog, and the run ends at once with that cause and its reports', async () => {
      await labUp({ paths, log: quiet });
      const docker = dockerFromEndpoint(endpointOf((await readState(paths))!));
      const started = Date.now();
      const running = cli(['run', 'nat', '--suite', 'modes'], 5 * 60_000);
      // once the run is building its nodes, the kernel "locks up": the lines a stuck 6.1 kernel writes
      await waitFor('the run to create its first node', async () => (await docker.listContainers({ all: true, filters: { label: ['io.lvs-harness.topology=nat'] } })).length > 0, { timeoutMs: 120_000, intervalMs: 300 });
      const uptime = (Date.now() - started) / 1000 + 100;
      const stuck = (cpu: number, secs: number) => `[ ${uptime.toFixed(6)}] watchdog: BUG: soft lockup - CPU#${cpu} stuck for ${secs}s! [containerd-shim:9${cpu}]\n`;
      // this test process watches the lab too (its other tests resolved the runtime): the run's own watchdog is
      // the one under test here, so this one stands aside (a stop it began would still be under way when the run
      // ends); which process sees a lockup first does not change the run's cause (lockup.json, unit-tested)
      stopWatching();
      const injected = Date.now();
      await appendFile(paths.console, stuck(0, 44) + stuck(1, 44) + stuck(0, 70) + stuck(1, 70));
      const r = await running;
      const afterInjection = (Date.now() - injected) / 1000;
      process.stderr.write(`      the run ended ${afterInjection.toFixed(1)} s after the lockup showed on the console\n`);
      expect(r.code, r.stderr.slice(-2000)).to.equal(1);
      expect(afterInjection, 'the run waited on the dead lab').to.be.below(60);
      expect(r.stderr).to.match(/lab watchdog: the lab VM's kernel locked up: CPUs #0 and #1 stuck for 70 s in containerd-shim\[90\], containerd-shim\[91\]/);
      expect(r.stderr).to.match(/ERR_LVS_LAB_LOCKUP: the lab VM's kernel locked up: CPUs #0 and #1 stuck for 70 s in containerd-shim\[90\], containerd-shim\[91\]/);
      await expectNothingRunning();
      const dir = r.stdout.match(/results: (\S+)\/results\.json/)![1]!;
      const results = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8'));
      expect(results.error.code).to.equal('ERR_LVS_LAB_LOCKUP');
      expect(results.error.message).to.match(/^the lab VM's kernel locked up: .*; the lab was stopped, and \w+ ended with: /);
      for (const f of ['junit.xml', 'summary.md', 'report.html', 'history.ndjson']) expect(await exists(path.join(dir, f)), f).to.equal(true);
      const status = await sh(process.execPath, [CLI, 'lab', 'status']).catch((e: { stdout: string }) => e);
      expect(status.stdout).to.match(/not running \(at \S+ the watchdog stopped it: the lab VM's kernel locked up/);
      await rm(dir, { recursive: true, force: true });
      // the lab home's log of lockups kept it; this one was written by the test, not by the kernel, so it leaves
      // the log again: CI's closing digest lists the lockups of the run's lab, and this one would read as real
      const log = (await readFile(lockupLog(paths), 'utf8')).split('\n').filter(Boolean);
      const ours = (l: string) => {
        const rec = JSON.parse(l) as { at: string; summary: string };
        return Date.parse(rec.at) >= injected && /CPUs #0 and #1 stuck for 70 s in containerd-shim\[90\], containerd-shim\[91\]/.test(rec.summary);
      };
      expect(log.filter(ours), 'lockups.ndjson holds the lockup acted on').to.have.length.greaterThan(0);
      await writeFile(lockupLog(paths), log.filter((l) => !ours(l)).map((l) => `${l}\n`).join(''));
    });
  });

  // last: a rebuilt step changes the files a saved lab was made from, so the restore above would boot instead
  describe('the cache', () => {
    it('a damaged cache is noticed and the damaged step rebuilt', async () => {
      const { artifacts } = await buildLab({ paths, log: quiet });
      await appendFile(artifacts.initrd, 'garbage');
      const lines: string[] = [];
      const r = await buildLab({ paths, log: (m) => lines.push(m) });
      expect(r.steps.initramfs).to.be.a('number');
      expect(lines.join('\n')).to.match(/cache damaged, rebuilding initramfs: .*initrd\.img has \d+ bytes/);
      expect(r.steps.kernel).to.equal('cached');
      expect((await buildLab({ paths, log: quiet })).steps.initramfs).to.equal('cached');
    });
  });
});
