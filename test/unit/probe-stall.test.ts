/**
 * A probe whose process stalls (under emulation the CPU runs something else for a second or more)
 * while its answer arrives: when it resumes, its timeout timer is due and timers run before the
 * I/O waiting to be read. The probes decide a timeout only after that I/O (setImmediate), so the
 * answer counts; with nothing to read, a timeout is still a timeout. The stall is injected by a
 * preloaded module that busy-waits once the datagram is out or the connection is made.
 */
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { agentBundle } from '../../harness/load/bundle.js';
import { UDP_PROBE, parseProbeOutput } from '../../harness/observe/modes.js';

const STALL = `'use strict';
const ms = Number(process.env.LVSH_STALL_MS || 0);
const stall = () => { const end = Date.now() + ms; while (Date.now() < end); };
const dgram = require('node:dgram');
const send = dgram.Socket.prototype.send;
// the stall runs once the datagram is out (in send's callback), so its answer arrives during it
dgram.Socket.prototype.send = function (...a) {
  const i = a.findIndex((x) => typeof x === 'function');
  if (i >= 0) { const cb = a[i]; a[i] = function (...r) { stall(); return cb.apply(this, r); }; } else a.push(() => stall());
  return send.apply(this, a);
};
const net = require('node:net');
const emit = net.Socket.prototype.emit;
net.Socket.prototype.emit = function (ev, ...a) { const r = emit.call(this, ev, ...a); if (ev === 'connect') stall(); return r; };
`;

describe('probes under a stalled event loop (the answer waiting when the timeout comes due)', function () {
  this.timeout(30_000);
  let dir: string;
  let echo: dgram.Socket;
  let echoPort: number;
  let web: http.Server;
  let silent: net.Server;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lvsh-stall-'));
    await writeFile(path.join(dir, 'stall.cjs'), STALL);
    await writeFile(path.join(dir, 'agent.cjs'), await agentBundle());
    echo = dgram.createSocket('udp4');
    echo.on('message', (m, peer) => echo.send(`server=rs1 rip=127.0.0.1 client=${peer.address}:${peer.port} echo=${m}\n`, peer.port, peer.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    echoPort = echo.address().port;
    web = http.createServer((_q, r) => r.end('server=rs1 rip=127.0.0.1\n'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    echo.close();
    web.close();
    silent.close();
    await rm(dir, { recursive: true, force: true });
  });

  const agentOp = async (cmd: object, stallMs: number): Promise<{ outcome: string; latencyMs: number }> => {
    const p = spawn(process.execPath, ['-r', path.join(dir, 'stall.cjs'), path.join(dir, 'agent.cjs')], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, LVSH_STALL_MS: String(stallMs) } });
    try {
      return await new Promise((resolve, reject) => {
        readline.createInterface({ input: p.stdout! }).on('line', (l) => {
          const e = JSON.parse(l) as { type: string; outcome: string; latencyMs: number; message?: string };
          if (e.type === 'ready') p.stdin!.write(JSON.stringify({ id: 'x', ...cmd }) + '\n');
          if (e.type === 'op') resolve(e);
          if (e.type === 'error') reject(new Error(e.message));
        });
      });
    } finally {
      p.kill();
    }
  };

  it('agent udp: an echo that answered while the agent stalled past its timeout is an answer', async () => {
    const op = await agentOp({ cmd: 'udp', host: '127.0.0.1', port: echoPort, sources: ['127.0.0.1'], count: 1, timeoutMs: 500 }, 1200);
    expect(op.outcome).to.equal('ok');
    expect(op.latencyMs).to.be.at.least(1000);
  });

  it('agent udp: nothing to read after the stall is still a timeout', async () => {
    const closed = dgram.createSocket('udp4');
    await new Promise<void>((r) => closed.bind(0, '127.0.0.1', r));
    const port = closed.address().port;
    closed.close();
    expect((await agentOp({ cmd: 'udp', host: '127.0.0.1', port, sources: ['127.0.0.1'], count: 1, timeoutMs: 500 }, 1200)).outcome).to.equal('timeout');
  });

  it('agent http: a response that came while the agent stalled past its timeout is an answer; a server that never answers is a timeout', async () => {
    const ok = await agentOp({ cmd: 'http', host: '127.0.0.1', port: (web.address() as AddressInfo).port, sources: ['127.0.0.1'], rounds: 1, timeoutMs: 500 }, 1200);
    expect(ok.outcome).to.equal('ok');
    const none = await agentOp({ cmd: 'http', host: '127.0.0.1', port: (silent.address() as AddressInfo).port, sources: ['127.0.0.1'], rounds: 1, timeoutMs: 500 }, 1200);
    expect(none.outcome).to.equal('timeout');
  });

  it("the modes suite's UDP probe: an answer that came while it stalled past its 2 s is rc 0", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['-r', path.join(dir, 'stall.cjs'), '-e', UDP_PROBE, '--', '127.0.0.1', String(echoPort), '1', '4', '127.0.0.1'], { timeout: 15_000, env: { ...process.env, LVSH_STALL_MS: '2600' } }, (e, o) => (e ? reject(e) : resolve(o))),
    );
    const [a] = parseProbeOutput(out);
    expect(a).to.include({ ok: true, rc: 0, server: 'rs1' });
    expect(a!.latencyMs).to.be.at.least(2000);
  });
});
