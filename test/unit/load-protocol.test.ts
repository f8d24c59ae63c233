import { expect } from 'chai';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { History, parseHistory, readHistory, type HistoryEvent, type OpEvent } from '../../harness/history/history.js';
import { decodeEvent, encodeError, httpTarget, identityFromBody } from '../../harness/load/protocol.js';

const op = (t: number, server: string, outcome: OpEvent['outcome'] = 'ok'): OpEvent => ({ type: 'op', t, latencyMs: 2, node: 'client1', op: 'http', src: '10.1.0.10', dst: '10.0.0.100', dstPort: 80, outcome, server });

describe('load agent protocol', () => {
  describe('httpTarget', () => {
    it('takes the ports in turn, then the next host: H × P requests reach every host on every port once', () => {
      const c = { host: 'ignored', port: 1, hosts: ['10.0.0.100', '10.0.0.101'], ports: [8080, 8081] };
      expect([0, 1, 2, 3, 4].map((n) => httpTarget(c, n))).to.deep.equal([
        { host: '10.0.0.100', port: 8080 },
        { host: '10.0.0.100', port: 8081 },
        { host: '10.0.0.101', port: 8080 },
        { host: '10.0.0.101', port: 8081 },
        { host: '10.0.0.100', port: 8080 },
      ]);
      // one host and one port, as before hosts existed
      expect(httpTarget({ host: 'vip', port: 80 }, 7)).to.deep.equal({ host: 'vip', port: 80 });
    });
  });

  describe('encodeError', () => {
    it('maps socket error codes to outcomes', () => {
      expect(encodeError({ code: 'ECONNREFUSED' })).to.equal('refused');
      expect(encodeError({ code: 'ECONNRESET' })).to.equal('reset');
      expect(encodeError({ code: 'EPIPE' })).to.equal('reset');
      expect(encodeError({ code: 'ETIMEDOUT' })).to.equal('timeout');
      expect(encodeError({ code: 'ESOCKETTIMEDOUT' })).to.equal('timeout');
      expect(encodeError({ code: 'UND_ERR_CONNECT_TIMEOUT' })).to.equal('timeout');
    });
    it('falls back on the message, else error', () => {
      expect(encodeError({ message: 'request Timeout after 2000 ms' })).to.equal('timeout');
      expect(encodeError({ code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH 10.0.0.100:80' })).to.equal('error');
      expect(encodeError({})).to.equal('error');
    });
    it('takes a real Node error', () => {
      const e = Object.assign(new Error('connect ECONNREFUSED 10.0.0.100:80'), { code: 'ECONNREFUSED' });
      expect(encodeError(e)).to.equal('refused');
    });
  });

  describe('identityFromBody', () => {
    it('reads the real-server app’s identity line', () => {
      expect(identityFromBody('server=rs1 rip=10.2.0.11 client=10.1.0.10:40312 local=10.0.0.100:80\n')).to.deep.equal({ server: 'rs1', rip: '10.2.0.11', client: '10.1.0.10', clientPort: 40312 });
    });
    it('splits an IPv6 client at its last colon', () => {
      expect(identityFromBody('server=rs2 rip=fd00:2::11 client=fd00:1::10:51000 local=[fd00::100]:80')).to.deep.equal({ server: 'rs2', rip: 'fd00:2::11', client: 'fd00:1::10', clientPort: 51000 });
    });
    it('is undefined for anything else', () => {
      expect(identityFromBody('<html>502 Bad Gateway</html>')).to.equal(undefined);
      expect(identityFromBody('')).to.equal(undefined);
      expect(identityFromBody('server=rs1 rip=10.2.0.11')).to.equal(undefined);
    });
  });

  describe('decodeEvent', () => {
    it('parses an event line', () => {
      const line = JSON.stringify({ type: 'op', t: 1, latencyMs: 2, op: 'http', src: 'a', dst: 'b', dstPort: 80, outcome: 'ok', server: 'rs1' });
      expect(decodeEvent(line)).to.deep.include({ type: 'op', server: 'rs1' });
      expect(decodeEvent('{"type":"done","id":"c1"}')).to.deep.equal({ type: 'done', id: 'c1' });
      expect(decodeEvent('{"type":"ready","now":5,"node":"client1"}')).to.deep.equal({ type: 'ready', now: 5, node: 'client1' });
    });
    it('ignores lines that are not events: log text, broken JSON, objects without a type', () => {
      expect(decodeEvent('agent starting')).to.equal(undefined);
      expect(decodeEvent(' {"type":"done","id":"x"}')).to.equal(undefined);
      expect(decodeEvent('{"type":"done",')).to.equal(undefined);
      expect(decodeEvent('{"id":"x"}')).to.equal(undefined);
      expect(decodeEvent('')).to.equal(undefined);
    });
  });
});

describe('history', () => {
  it('keeps events in memory without a file and filters operations', async () => {
    const h = await History.open();
    h.append(op(1, 'rs1'));
    h.append({ type: 'fault', t: 2, phase: 'start', fault: 'kill', target: 'rs2' });
    h.append(op(3, 'rs2', 'reset'));
    h.append({ type: 'observe', t: 4, node: 'director', what: 'note', data: 'x' });
    expect(h.events).to.have.length(4);
    expect(h.ops().map((o) => o.t)).to.deep.equal([1, 3]);
    expect(h.ops((o) => o.outcome === 'ok').map((o) => o.server)).to.deep.equal(['rs1']);
    await h.close();
    await h.close();
  });

  it('writes one JSON object per line to its file, which reads back the same', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lvs-history-'));
    try {
      const file = path.join(dir, 'run', 'history.ndjson');
      const h = await History.open(file);
      const events: HistoryEvent[] = [op(1, 'rs1'), { type: 'fault', t: 2, phase: 'end', fault: 'kill', target: 'rs2', detail: 'restarted' }];
      for (const e of events) h.append(e);
      await h.close();
      const text = await readFile(file, 'utf8');
      expect(text.split('\n')).to.have.length(3);
      expect(await readHistory(file)).to.deep.equal(events);
      // appends, does not truncate
      const again = await History.open(file);
      again.append(op(5, 'rs3'));
      await again.close();
      expect((await readHistory(file)).map((e) => e.t)).to.deep.equal([1, 2, 5]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe('parseHistory', () => {
    it('skips blank lines', () => {
      expect(parseHistory('\n{"type":"op","t":1}\n\n   \n{"type":"op","t":2}\n').map((e) => e.t)).to.deep.equal([1, 2]);
      expect(parseHistory('')).to.deep.equal([]);
    });
    it('names the line that is not JSON', () => {
      expect(() => parseHistory('{"type":"op","t":1}\n\n{"type":"op",\n')).to.throw('history line 3 is not JSON: {"type":"op",');
    });
  });
});
