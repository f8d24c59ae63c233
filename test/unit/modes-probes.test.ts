import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { HTTP_PROBE, UDP_PROBE, parseProbeOutput } from '../../harness/observe/modes.js';
import { waitFor } from '../../harness/util/wait.js';

/**
 * The modes suite's probes (Node scripts run inside the client node), run here on loopback with
 * the same Node: what they print is what parseProbeOutput reads, an answer carries the real
 * server's identity, and a failure carries curl's exit status (7 refused, 28 no answer).
 */
const run = (script: string, args: string[]) =>
  new Promise<string>((resolve, reject) => execFile(process.execPath, ['-e', script, '--', ...args], { timeout: 15_000 }, (e, out) => (e ? reject(e) : resolve(out))));

describe('modes probes (HTTP and UDP, as run in the client)', function () {
  this.timeout(20_000);
  let http: Server;
  let httpPort: number;
  let echo: ChildProcess;
  const echoPort = 20_000 + (process.pid % 20_000);

  before(async () => {
    // the identity line nginx answers in every real server
    http = createServer((req, res) => res.end(`server=rs1 rip=127.0.0.1 client=${req.socket.remoteAddress}:${req.socket.remotePort} local=127.0.0.1:0 port=0\n`));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    httpPort = (http.address() as AddressInfo).port;
    echo = spawn(process.execPath, [fileURLToPath(new URL('../../harness/images/udp-echo.cjs', import.meta.url)), 'rs2', '127.0.0.1', String(echoPort), '127.0.0.1'], { stdio: 'ignore' });
    await waitFor('the UDP echo', async () => parseProbeOutput(await run(UDP_PROBE, ['127.0.0.1', String(echoPort), '1', '4', '127.0.0.1']))[0]?.ok, { timeoutMs: 10_000, intervalMs: 100 });
  });
  after(() => {
    http.close();
    echo.kill();
  });

  it('HTTP: one new connection per probe, each answer with the server, its address and the client seen', async () => {
    const out = parseProbeOutput(await run(HTTP_PROBE, ['127.0.0.1', `127.0.0.1:${httpPort}`, '127.0.0.1', `127.0.0.1:${httpPort}`]));
    expect(out).to.have.length(2);
    for (const a of out) {
      expect(a).to.include({ ok: true, status: 200, rc: 0, server: 'rs1', rip: '127.0.0.1', seenClient: '127.0.0.1', target: `127.0.0.1:${httpPort}` });
      expect(a.t).to.be.a('number');
      expect(a.latencyMs).to.be.a('number').and.below(3_000);
    }
  });

  it('HTTP: a refused connection is curl 7, not an answer', async () => {
    const closed = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => r(p));
      });
    });
    const [a] = parseProbeOutput(await run(HTTP_PROBE, ['127.0.0.1', `127.0.0.1:${closed}`]));
    expect(a).to.include({ ok: false, rc: 7, status: 0 });
  });

  it('HTTP: a server that accepts and never answers is curl 28 within 3 s', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const t = Date.now();
    const [a] = parseProbeOutput(await run(HTTP_PROBE, ['127.0.0.1', `127.0.0.1:${(silent.address() as AddressInfo).port}`]));
    silent.closeAllConnections();
    silent.close();
    expect(a).to.include({ ok: false, rc: 28 });
    expect(Date.now() - t).to.be.below(6_000);
  });

  it('UDP: each probe a new flow, ended by its answer (not by a fixed wait)', async () => {
    const t = Date.now();
    const text = await run(UDP_PROBE, ['127.0.0.1', String(echoPort), '3', '4', '127.0.0.1']);
    const out = parseProbeOutput(text);
    expect(out).to.have.length(3);
    for (const a of out) expect(a).to.include({ ok: true, status: 200, server: 'rs2', seenClient: '127.0.0.1' });
    // a new source port each time: a new IPVS connection each time
    expect(new Set([...text.matchAll(/client=127\.0\.0\.1:(\d+)/g)].map((m) => m[1]))).to.have.length(3);
    expect(Date.now() - t).to.be.below(2_000 * 3);
    expect(Math.max(...out.map((a) => a.latencyMs!))).to.be.below(1_000);
  });

  it('UDP: no answer within 2 s is curl 28', async () => {
    const [a] = parseProbeOutput(await run(UDP_PROBE, ['127.0.0.1', String(echoPort + 1), '1', '4', '127.0.0.1']));
    expect(a).to.include({ ok: false, rc: 28, status: 0 });
    expect(a!.latencyMs).to.be.at.least(1_900);
  });

  it("the UDP echo writes $LVSH_READY (its pid) once every socket is bound, and answers at once then", async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(tmpdir(), 'lvsh-echo-'));
    const ready = path.join(dir, 'ready');
    const ports = [echoPort + 2, echoPort + 3];
    const p = spawn(process.execPath, [fileURLToPath(new URL('../../harness/images/udp-echo.cjs', import.meta.url)), 'rs3', '127.0.0.1', ports.join(','), '127.0.0.1', '127.0.0.2'], { stdio: 'ignore', env: { ...process.env, LVSH_READY: ready } });
    try {
      await waitFor('the ready file', async () => (await readFile(ready, 'utf8').catch(() => '')).trim() === String(p.pid), { timeoutMs: 10_000, intervalMs: 50 });
      for (const port of ports)
        for (const addr of ['127.0.0.1', '127.0.0.2']) {
          const [a] = parseProbeOutput(await run(UDP_PROBE, [addr, String(port), '1', '4', '127.0.0.1']));
          expect(a, `${addr}:${port}`).to.include({ ok: true, server: 'rs3' });
        }
    } finally {
      p.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
