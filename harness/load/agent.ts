/**
 * The load agent. It runs inside a client node (bundled into one file with esbuild, run by
 * the node image's Node 20), reads commands as JSON lines on stdin and writes every operation
 * as one JSON line on stdout, as it happens:
 *   {"cmd":"http", ...}  sequential HTTP requests, a new TCP connection each, from each source,
 *                        to one host and port or in turn to several (a fwmark service's destinations)
 *   {"cmd":"load", ...}  autocannon: connections, duration or amount, rate, keep-alive or a new
 *                        connection per request, spread over the source addresses
 *   {"cmd":"tcp", ...}   TCP connect probe at a fixed interval
 *   {"cmd":"udp", ...}   UDP probe at a fixed interval, answers carry the real server identity
 *   {"cmd":"hold", ...}  open a connection, learn its real server, keep it open
 *   {"cmd":"release", ...} close a held connection
 * After each command: {"type":"done","id":...}. Events use the node's clock (Date.now()).
 */
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';
import { encodeError, httpTarget, identityFromBody, type AgentCommand, type AgentEvent } from './protocol.js';

/**
 * Operations leave in batches, at most FLUSH_MS after they happened (each carries its own
 * time): every write on the exec's stream costs containerd's shim and dockerd a wake-up, a
 * frame and a TLS record, which under emulation competes with the traffic measured. Anything
 * else (ready, clock, summary, done, error) goes at once, after the operations before it.
 */
const FLUSH_MS = 200;
let unsent = '';
let flushTimer: NodeJS.Timeout | undefined;
function flush(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (!unsent) return;
  const s = unsent;
  unsent = '';
  process.stdout.write(s);
}
const emit = (e: AgentEvent) => {
  unsent += JSON.stringify(e) + '\n';
  if (e.type !== 'op' || unsent.length >= 64 * 1024) flush();
  else flushTimer ??= setTimeout(flush, FLUSH_MS);
};

/**
 * Source ports, chosen here rather than by the kernel: a client port reused while the director
 * still holds the old connection (FIN_WAIT in DR, where it sees one direction only) sends the
 * new connection to the old real server, which would look like a scheduler fault. Ports rotate
 * through 20000-59999 per source address, so a run never reuses one within 40000 connections.
 */
const nextPorts = new Map<string, number>();
function sourcePort(src: string): number {
  const p = nextPorts.get(src) ?? 20000 + Math.floor(Math.random() * 40000);
  nextPorts.set(src, p + 1 >= 60000 ? 20000 : p + 1);
  return p;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` once the I/O already waiting has been read: setImmediate runs after the event loop's
 * poll phase. A timer that comes due while the process is stalled (the emulated CPU ran something
 * else) runs first when it resumes, before the answer that arrived meanwhile is read; a timeout
 * decided here sees that answer first.
 */
const afterPendingIo = (fn: () => void) => setImmediate(fn);

function httpOnce(host: string, port: number, path: string, src: string, timeoutMs: number, tag?: string): Promise<void> {
  const t = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (e: Partial<AgentEvent & { type: 'op' }>) => {
      if (done) return;
      done = true;
      emit({ type: 'op', op: 'http', t, latencyMs: Date.now() - t, src, dst: host, dstPort: port, outcome: 'ok', tag, ...e } as AgentEvent);
      resolve();
    };
    const req = http.request({ host, port, path, localAddress: src, localPort: sourcePort(src), agent: false, headers: { Connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const id = identityFromBody(body);
        finish({
          outcome: 'ok',
          status: res.statusCode,
          srcPort: req.socket?.localPort,
          server: (res.headers['x-real-server'] as string | undefined) ?? id?.server,
          rip: (res.headers['x-real-server-address'] as string | undefined) ?? id?.rip,
          seen: id?.client,
        });
      });
      res.on('error', (err) => finish({ outcome: encodeError(err), error: err.message }));
    });
    req.on('socket', (s) => s.on('connect', () => undefined));
    req.on('timeout', () => {
      // decided after the I/O already waiting is read (afterPendingIo): a stalled agent must not
      // call an answer that came in time a timeout; activity since re-arms the socket's timer
      const s = req.socket;
      const before = { read: s?.bytesRead ?? 0, connecting: !!s?.connecting };
      afterPendingIo(() => {
        if (done) return;
        if (s && (s.bytesRead > before.read || (before.connecting && !s.connecting))) return;
        req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
      });
    });
    req.on('error', (err) => finish({ outcome: encodeError(err), error: err.message, srcPort: req.socket?.localPort }));
    req.end();
  });
}

/** commands a 'cancel' ended early: they stop before their next request */
const cancelled = new Set<string>();

async function cmdHttp(c: Extract<AgentCommand, { cmd: 'http' }>) {
  const per = c.perSource ?? 1;
  let n = 0;
  for (let i = 0; i < (c.rounds ?? 1); i++)
    for (const src of c.sources)
      for (let k = 0; k < per; k++) {
        if (cancelled.delete(c.id)) return;
        const t0 = Date.now();
        const { host, port } = httpTarget(c, n++);
        await httpOnce(host, port, c.path ?? '/', src, c.timeoutMs ?? 3000, c.tag);
        if (c.intervalMs) await sleep(Math.max(0, c.intervalMs - (Date.now() - t0)));
      }
}

async function cmdTcp(c: Extract<AgentCommand, { cmd: 'tcp' }>) {
  for (let i = 0; i < c.count; i++) {
    const src = c.sources[i % c.sources.length]!;
    const t = Date.now();
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: c.host, port: c.port, localAddress: src, localPort: sourcePort(src), timeout: c.timeoutMs ?? 1000 });
      let done = false;
      const fin = (e: Partial<AgentEvent & { type: 'op' }>) => {
        if (done) return;
        done = true;
        s.destroy();
        emit({ type: 'op', op: 'tcp', t, latencyMs: Date.now() - t, src, srcPort: s.localPort, dst: c.host, dstPort: c.port, outcome: 'ok', tag: c.tag, ...e } as AgentEvent);
        resolve();
      };
      s.once('connect', () => fin({ outcome: 'ok' }));
      // a connect already completed when a stalled agent resumes is read before the timeout is decided
      s.once('timeout', () => afterPendingIo(() => fin({ outcome: 'timeout' })));
      s.once('error', (err) => fin({ outcome: encodeError(err), error: err.message }));
    });
    await sleep(Math.max(0, (c.intervalMs ?? 100) - (Date.now() - t)));
  }
}

async function cmdUdp(c: Extract<AgentCommand, { cmd: 'udp' }>) {
  const open = async (src: string, port: number) => {
    const s = dgram.createSocket(src.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, src, () => {
        s.off('error', reject);
        resolve();
      });
    });
    return s;
  };
  const socks = new Map<string, dgram.Socket>();
  if (!c.newFlow) for (const src of c.sources) socks.set(src, await open(src, 0));
  try {
    for (let i = 0; i < c.count; i++) {
      const src = c.sources[i % c.sources.length]!;
      const s = c.newFlow ? await open(src, sourcePort(src)) : socks.get(src)!;
      const t = Date.now();
      await new Promise<void>((resolve) => {
        // the timeout is decided after the I/O already waiting is read (afterPendingIo)
        const timer = setTimeout(() => afterPendingIo(() => fin({ outcome: 'timeout' })), c.timeoutMs ?? 1000);
        let done = false;
        const onMsg = (msg: Buffer) => {
          const id = identityFromBody(msg.toString());
          fin({ outcome: 'ok', server: id?.server, rip: id?.rip, seen: id?.client });
        };
        function fin(e: Partial<AgentEvent & { type: 'op' }>) {
          if (done) return;
          done = true;
          clearTimeout(timer);
          s.off('message', onMsg);
          emit({ type: 'op', op: 'udp', t, latencyMs: Date.now() - t, src, srcPort: s.address().port, dst: c.host, dstPort: c.port, outcome: 'ok', tag: c.tag, ...e } as AgentEvent);
          if (c.newFlow) s.close();
          resolve();
        }
        s.on('message', onMsg);
        s.send(`probe ${i}`, c.port, c.host);
      });
      await sleep(Math.max(0, (c.intervalMs ?? 100) - (Date.now() - t)));
    }
  } finally {
    for (const s of socks.values()) s.close();
  }
}

const held = new Map<string, net.Socket>();

function cmdHold(c: Extract<AgentCommand, { cmd: 'hold' }>): Promise<void> {
  const t = Date.now();
  return new Promise((resolve) => {
    const s = net.connect({ host: c.host, port: c.port, localAddress: c.source, localPort: sourcePort(c.source), timeout: c.timeoutMs ?? 3000 });
    let buf = '';
    let done = false;
    const fin = (e: Partial<AgentEvent & { type: 'op' }>) => {
      if (done) return;
      done = true;
      s.setTimeout(0);
      emit({ type: 'op', op: 'hold', t, latencyMs: Date.now() - t, src: c.source, srcPort: s.localPort, dst: c.host, dstPort: c.port, conn: c.conn, outcome: 'ok', tag: c.tag, ...e } as AgentEvent);
      resolve();
    };
    s.on('connect', () => s.write(`GET / HTTP/1.1\r\nHost: ${c.host}\r\nConnection: keep-alive\r\n\r\n`));
    s.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\r\n\r\n') || done) return;
      const server = buf.match(/^X-Real-Server: (.+)$/im)?.[1]?.trim();
      held.set(c.conn, s);
      s.removeAllListeners('data');
      s.on('data', () => undefined);
      fin({ outcome: 'ok', server, status: Number(buf.match(/^HTTP\/1\.\d (\d+)/)?.[1] ?? 0) });
    });
    s.on('timeout', () => {
      s.destroy();
      fin({ outcome: 'timeout' });
    });
    s.on('error', (err) => fin({ outcome: encodeError(err), error: err.message }));
  });
}

/** Closes a held connection after one more request on it: a drained or removed server must still answer it. */
async function cmdRelease(c: Extract<AgentCommand, { cmd: 'release' }>): Promise<void> {
  const ids = c.conn === '*' ? [...held.keys()] : [c.conn];
  for (const id of ids) {
    const s = held.get(id);
    held.delete(id);
    const t = Date.now();
    const base = { type: 'op' as const, op: 'release' as const, t, src: s?.localAddress ?? '', srcPort: s?.localPort, dst: s?.remoteAddress ?? '', dstPort: s?.remotePort ?? 0, conn: id, tag: c.tag };
    if (!s || s.destroyed) {
      emit({ ...base, latencyMs: 0, outcome: 'reset', error: 'the held connection was already closed' });
      continue;
    }
    const res = await new Promise<{ outcome: AgentEventOutcome; server?: string; error?: string }>((resolve) => {
      let buf = '';
      const timer = setTimeout(() => resolve({ outcome: 'timeout' }), c.timeoutMs ?? 3000);
      s.removeAllListeners('data');
      s.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\r\n\r\n')) {
          clearTimeout(timer);
          resolve({ outcome: 'ok', server: buf.match(/^X-Real-Server: (.+)$/im)?.[1]?.trim() });
        }
      });
      s.once('error', (err) => (clearTimeout(timer), resolve({ outcome: encodeError(err), error: err.message })));
      s.once('close', () => (clearTimeout(timer), resolve({ outcome: 'reset', error: 'closed by the peer' })));
      s.write(`GET / HTTP/1.1\r\nHost: ${s.remoteAddress}\r\nConnection: close\r\n\r\n`);
    });
    s.destroy();
    emit({ ...base, latencyMs: Date.now() - t, ...res });
  }
}

type AgentEventOutcome = 'ok' | 'refused' | 'reset' | 'timeout' | 'error';

async function cmdLoad(c: Extract<AgentCommand, { cmd: 'load' }>) {
  // autocannon connects with net.connect(port, host); give each new connection the next source address
  const origConnect = net.connect;
  let n = 0;
  (net as { connect: unknown }).connect = (port: number, host: string) => {
    const localAddress = c.sources[n++ % c.sources.length]!;
    return origConnect({ port, host, localAddress, localPort: sourcePort(localAddress) });
  };
  const autocannon = (await import('autocannon')).default;
  try {
    const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const inst = autocannon(
        {
          url: `http://${c.host}:${c.port}${c.path ?? '/'}`,
          connections: c.connections,
          ...(c.amount ? { amount: c.amount } : { duration: c.durationS ?? 10 }),
          ...(c.rate ? { overallRate: c.rate } : {}),
          timeout: (c.timeoutMs ?? 3000) / 1000,
          // Connection: close makes the server end each connection after its answer and
          // autocannon reconnect (its reconnectRate drops the answer it resets on)
          headers: c.mode === 'new-connection' ? { Connection: 'close' } : {},
          setupClient: (client: import('node:events').EventEmitter & { conn?: net.Socket }) => {
            let server: string | undefined;
            let t = Date.now();
            client.on('headers', (h: { headers: string[] }) => {
              for (let i = 0; i < h.headers.length; i += 2) if (h.headers[i]!.toLowerCase() === 'x-real-server') server = h.headers[i + 1];
            });
            client.on('response', (status: number, _bytes: number, ms: number) => {
              emit({ type: 'op', op: 'http', t: Date.now() - Math.round(ms), latencyMs: ms, src: client.conn?.localAddress ?? '', srcPort: client.conn?.localPort, dst: c.host, dstPort: c.port, outcome: 'ok', status, server, tag: c.tag });
              server = undefined;
              t = Date.now();
            });
            client.on('connError', (err: NodeJS.ErrnoException) => {
              emit({ type: 'op', op: 'http', t, latencyMs: Date.now() - t, src: '', dst: c.host, dstPort: c.port, outcome: encodeError(err), error: err.message, tag: c.tag });
              t = Date.now();
            });
            client.on('timeout', () => undefined);
          },
        },
        (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res as Record<string, unknown>)),
      );
      void inst;
    });
    emit({ type: 'summary', id: c.id, data: { requests: result.requests, latency: result.latency, throughput: result.throughput, errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, duration: result.duration, connections: c.connections, mode: c.mode } });
  } finally {
    (net as { connect: unknown }).connect = origConnect;
  }
}

async function handle(c: AgentCommand) {
  switch (c.cmd) {
    case 'http':
      return cmdHttp(c);
    case 'tcp':
      return cmdTcp(c);
    case 'udp':
      return cmdUdp(c);
    case 'hold':
      return cmdHold(c);
    case 'release':
      return cmdRelease(c);
    case 'load':
      return cmdLoad(c);
    case 'clock':
      emit({ type: 'clock', id: c.id, now: Date.now() });
      return;
    case 'exit':
      for (const s of held.values()) s.destroy();
      flush();
      process.exit(0);
  }
}

// commands run one at a time, in order; a command's events are all out before its "done"
let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  let c: AgentCommand;
  try {
    c = JSON.parse(line) as AgentCommand;
  } catch {
    emit({ type: 'error', id: '', message: `not a command: ${line.slice(0, 80)}` });
    return;
  }
  // a cancel acts on the command running now, so it does not wait behind it
  if (c.cmd === 'cancel') {
    cancelled.add(c.target);
    return;
  }
  queue = queue
    .then(() => handle(c))
    .then(
      () => void emit({ type: 'done', id: c.id }),
      (e: Error) => void emit({ type: 'error', id: c.id, message: e.message }),
    );
});
process.stdin.on('end', () => void queue.then(() => (flush(), process.exit(0))));
emit({ type: 'ready', now: Date.now(), node: process.version });
