import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { agentBundle } from '../../harness/load/bundle.js';

// the agent as it runs in a client node, here on the host against a local server: a cancel ends a probe series early
describe('load agent: cancel', function () {
  this.timeout(20_000);
  let dir: string;
  let server: http.Server;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lvs-agent-'));
    await writeFile(path.join(dir, 'agent.cjs'), await agentBundle());
    server = http.createServer((_q, r) => r.end('ok\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const runAgent = () => {
    const p = spawn(process.execPath, [path.join(dir, 'agent.cjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
    const events: { type: string; id?: string; tag?: string }[] = [];
    const waiters: (() => void)[] = [];
    readline.createInterface({ input: p.stdout! }).on('line', (l) => {
      events.push(JSON.parse(l));
      for (const w of waiters.splice(0)) w();
    });
    const until = (f: () => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => (f() ? resolve() : waiters.push(check));
        check();
      });
    const send = (c: object) => p.stdin!.write(JSON.stringify(c) + '\n');
    return { p, events, until, send };
  };

  it('a cancel stops the series before its next request, and the command ends with done; another command still runs', async () => {
    const a = runAgent();
    const port = (server.address() as AddressInfo).port;
    await a.until(() => a.events.some((e) => e.type === 'ready'));
    a.send({ id: 'h1', cmd: 'http', host: '127.0.0.1', port, sources: ['127.0.0.1'], rounds: 400, intervalMs: 25, tag: 'p' });
    await a.until(() => a.events.filter((e) => e.type === 'op').length >= 5);
    a.send({ id: 'c1', cmd: 'cancel', target: 'h1' });
    await a.until(() => a.events.some((e) => e.type === 'done' && e.id === 'h1'));
    const ops = a.events.filter((e) => e.type === 'op').length;
    expect(ops).to.be.below(40); // 400 × 25 ms had it run out
    a.send({ id: 'h2', cmd: 'http', host: '127.0.0.1', port, sources: ['127.0.0.1'], rounds: 3, tag: 'q' });
    await a.until(() => a.events.some((e) => e.type === 'done' && e.id === 'h2'));
    expect(a.events.filter((e) => e.type === 'op' && e.tag === 'q')).to.have.length(3);
    // a cancel of a command that already ended changes nothing
    a.send({ id: 'c2', cmd: 'cancel', target: 'h2' });
    a.send({ id: 'h3', cmd: 'http', host: '127.0.0.1', port, sources: ['127.0.0.1'], rounds: 2, tag: 'r' });
    await a.until(() => a.events.some((e) => e.type === 'done' && e.id === 'h3'));
    expect(a.events.filter((e) => e.type === 'op' && e.tag === 'r')).to.have.length(2);
    a.p.kill();
  });

  it("operations leave in batches (each with its own time), and a command's done comes after all of them", async () => {
    const a = runAgent();
    let chunks = 0;
    a.p.stdout!.on('data', () => chunks++);
    const port = (server.address() as AddressInfo).port;
    await a.until(() => a.events.some((e) => e.type === 'ready'));
    const before = chunks;
    a.send({ id: 'b1', cmd: 'http', host: '127.0.0.1', port, sources: ['127.0.0.1'], rounds: 60, intervalMs: 10, tag: 'b' });
    await a.until(() => a.events.some((e) => e.type === 'done' && e.id === 'b1'));
    const ops = a.events.filter((e) => e.type === 'op' && e.tag === 'b') as unknown as { t: number }[];
    expect(ops).to.have.length(60);
    expect(a.events.findIndex((e) => e.type === 'done' && e.id === 'b1')).to.be.greaterThan(a.events.lastIndexOf(ops.at(-1) as never));
    // 60 requests 10 ms apart over at least 0.6 s: a write every 200 ms, not one per request
    expect(chunks - before).to.be.below(20);
    expect(ops.map((o) => o.t)).to.deep.equal([...ops.map((o) => o.t)].sort((x, y) => x - y));
    a.p.kill();
  });
});
