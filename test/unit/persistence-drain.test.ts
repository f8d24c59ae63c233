import { expect } from 'chai';
import { drainWeightZero, removal, thresholds } from '../../harness/checkers/drain.js';
import { clientKey, expiry, sticky } from '../../harness/checkers/persistence.js';
import type { OpEvent, Outcome } from '../../harness/history/history.js';

const op = (t: number, src: string, server: string | undefined, outcome: Outcome = 'ok', extra: Partial<OpEvent> = {}): OpEvent => ({
  type: 'op',
  t,
  latencyMs: 1,
  node: 'client1',
  op: 'http',
  src,
  dst: '10.0.0.100',
  dstPort: 80,
  outcome,
  ...(server ? { server } : {}),
  ...extra,
});
/** `rounds` interleaved rounds: in each, every client asks once; where(client, round) is the server it reaches */
const rounds = (clients: string[], n: number, where: (client: string, round: number) => string) => {
  const out: OpEvent[] = [];
  clients.forEach((c, i) => {
    for (let r = 0; r < n; r++) out.push(op(r * 100 + i, c, where(c, r)));
  });
  return out;
};

describe('persistence checkers', () => {
  describe('clientKey', () => {
    it('is the address itself without a netmask or with /32', () => {
      expect(clientKey('10.1.0.7')).to.equal('10.1.0.7');
      expect(clientKey('10.1.0.7', '255.255.255.255')).to.equal('10.1.0.7');
    });
    it('groups by the netmask', () => {
      expect(clientKey('10.1.0.7', '255.255.255.0')).to.equal('10.1.0.0/255.255.255.0');
      expect(clientKey('10.1.0.13', '255.255.255.248')).to.equal('10.1.0.8/255.255.255.248');
      expect(clientKey('10.1.0.15', '255.255.255.248')).to.equal(clientKey('10.1.0.9', '255.255.255.248'));
      expect(clientKey('10.1.0.16', '255.255.255.248')).to.not.equal(clientKey('10.1.0.15', '255.255.255.248'));
      // high bit set: no negative numbers
      expect(clientKey('192.168.77.200', '255.255.0.0')).to.equal('192.168.0.0/255.255.0.0');
    });
  });

  describe('sticky', () => {
    const clients = ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.0.13'];
    const home = (c: string) => `rs${(Number(c.split('.')[3]) % 3) + 1}`;
    it('passes when each client keeps one server and clients spread', () => {
      const r = sticky(rounds(clients, 15, home), { servers: 3 });
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('4 clients, each on one server for 15+ answers, over 3 servers');
    });
    it('fails when persistence is off: a client moves between servers, named with where it went', () => {
      // round robin over 3 servers with 4 interleaved clients: every client moves
      let i = 0;
      const ops = rounds(clients, 15, () => `rs${(i++ % 3) + 1}`);
      const r = sticky(ops, { servers: 3 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.match(/^10\.1\.0\.10 moved from rs1 to rs2 after 1 answers; /);
    });
    it('fails when a client moves late, after a run of answers', () => {
      const r = sticky(rounds(clients, 20, (c, round) => (c === '10.1.0.12' && round >= 16 ? 'rs3' : home(c))), { servers: 3 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('10.1.0.12 moved from rs1 to rs3 after 16 answers');
    });
    it('fails when persistence does not spread clients: all on one server', () => {
      const r = sticky(rounds(clients, 15, () => 'rs2'), { servers: 3 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('all 4 clients landed on rs2: persistence does not spread clients');
    });
    it('does not demand a spread with fewer clients than servers, or when told not to', () => {
      expect(sticky(rounds(clients.slice(0, 2), 15, () => 'rs2'), { servers: 3 }).valid).to.equal(true);
      expect(sticky(rounds(clients, 15, () => 'rs1'), { servers: 3, spread: false }).valid).to.equal(true);
    });
    it('is unknown with one real server: nobody can move', () => {
      const r = sticky(rounds(clients, 15, () => 'rs1'), { servers: 1 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 real server: a client cannot move, so persistence cannot be told from its absence; needs ≥ 2');
    });
    it('is unknown with too few answers per client, naming them', () => {
      const r = sticky(rounds(clients, 5, home), { servers: 3 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('too few answers to confirm: 10.1.0.10 5, 10.1.0.11 5, 10.1.0.12 5, 10.1.0.13 5');
      expect(sticky(rounds(clients, 5, home), { servers: 3, minConsecutive: 5 }).valid).to.equal(true);
    });
    it('is unknown with no answers at all', () => {
      const r = sticky([op(1, '10.1.0.10', undefined, 'timeout')], { servers: 3 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no answered connections');
    });
    it('ignores failed requests and reads answers in time order', () => {
      const ops = [op(30, 'c', 'rs1'), op(10, 'c', 'rs1'), op(20, 'c', undefined, 'reset'), op(40, 'c', 'rs1')];
      expect(sticky(ops, { servers: 2, minConsecutive: 3 }).valid).to.equal(true);
    });
    describe('with a netmask', () => {
      const net = ['10.1.0.8', '10.1.0.9', '10.1.0.10', '10.1.0.16', '10.1.0.17'];
      it('passes when all clients of a /29 share a server', () => {
        const r = sticky(rounds(net, 15, (c) => (Number(c.split('.')[3]) < 16 ? 'rs1' : 'rs2')), { netmask: '255.255.255.248', servers: 2 });
        expect(r.valid).to.equal(true);
        expect(r.name).to.equal('persistence keeps each client network on one real server');
        expect(r.detail).to.equal('2 clients, each on one server for 30+ answers, over 2 servers');
      });
      it('fails when clients of one /29 reach different servers (a /32 persistence)', () => {
        const r = sticky(rounds(net, 15, (c) => (c === '10.1.0.9' ? 'rs2' : 'rs1')), { netmask: '255.255.255.248', servers: 3, spread: false });
        expect(r.valid).to.equal(false);
        expect(r.detail).to.equal('10.1.0.8/255.255.255.248 moved from rs1 to rs2 after 1 answers');
      });
    });
  });

  describe('expiry', () => {
    it('passes when a client reaches another server after the timeout', () => {
      const r = expiry([op(1, 'a', 'rs1'), op(2, 'b', 'rs2')], [op(10, 'a', 'rs2'), op(11, 'b', 'rs2')]);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('1 clients reached another server after expiry');
    });
    it('fails when no client moves: the template did not expire', () => {
      const r = expiry([op(1, 'a', 'rs1'), op(2, 'b', 'rs2')], [op(10, 'a', 'rs1'), op(11, 'b', 'rs2'), op(12, 'c', 'rs3')]);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('no client moved after the timeout: the template did not expire');
    });
    it('groups clients by the netmask', () => {
      // 10.1.0.9 is new, but its /29 was on rs1 before
      const before = [op(1, '10.1.0.8', 'rs1')];
      expect(expiry(before, [op(10, '10.1.0.9', 'rs2')], '255.255.255.248').valid).to.equal(true);
      expect(expiry(before, [op(10, '10.1.0.8', 'rs1')], '255.255.255.248').valid).to.equal(false);
    });
    it('is unknown when no client was answered on both sides of the timeout (none could show a move)', () => {
      const r = expiry([op(1, '10.1.0.8', 'rs1')], [op(10, '10.1.0.9', 'rs1')]);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no client was answered both before and after the timeout');
    });
    it('is unknown without answers before or after', () => {
      const r = expiry([op(1, 'a', 'rs1')], [op(10, 'a', undefined, 'timeout')]);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('not enough answers before and after');
      expect(expiry([], [op(1, 'a', 'rs1')]).valid).to.equal('unknown');
    });
  });
});

describe('drain checkers', () => {
  describe('removal (ipvsadm -d)', () => {
    const editAt = 1000;
    const hold = (conn: string, server: string) => op(500, '10.1.0.10', server, 'ok', { op: 'hold', conn });
    const release = (conn: string, server: string, outcome: Outcome = 'ok') => op(3000, '10.1.0.10', outcome === 'ok' ? server : undefined, outcome, { op: 'release', conn });
    const after = (servers: string[]) => servers.map((s, i) => op(1100 + i * 10, '10.1.0.11', s));
    const opts = { server: 'rs1', editAt, heldConns: ['h1'], otherHeld: ['h2'] };
    it('passes when new connections avoid it, its held connection stalls and the others complete', () => {
      const r = removal([hold('h1', 'rs1'), hold('h2', 'rs2'), ...after(['rs2', 'rs3']), release('h1', 'rs1', 'timeout'), release('h2', 'rs2')], opts);
      expect(r.valid).to.equal(true);
    });
    it('fails when new connections still reach the removed server', () => {
      const r = removal([hold('h1', 'rs1'), hold('h2', 'rs2'), ...after(['rs1', 'rs3']), release('h1', 'rs1', 'timeout'), release('h2', 'rs2')], opts);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 new connections still reached rs1');
    });
    it('fails when a connection to another server breaks', () => {
      const r = removal([hold('h1', 'rs1'), hold('h2', 'rs2'), ...after(['rs2', 'rs3']), release('h1', 'rs1', 'timeout'), release('h2', 'rs2', 'reset')], opts);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 connections to other servers broke');
    });
    it('fails when the removed server still answers its old connection (the kernel no longer drops them)', () => {
      const r = removal([hold('h1', 'rs1'), hold('h2', 'rs2'), ...after(['rs2', 'rs3']), release('h1', 'rs1'), release('h2', 'rs2')], opts);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.contain('connections to the removed server were still answered');
    });
  });

  describe('weight 0', () => {
    const editAt = 1000;
    const hold = (conn: string, server: string, t = 500) => op(t, '10.1.0.10', server, 'ok', { op: 'hold', conn });
    const release = (conn: string, server: string, outcome: Outcome = 'ok', t = 3000) => op(t, '10.1.0.10', outcome === 'ok' ? server : undefined, outcome, { op: 'release', conn });
    const after = (servers: string[], t0 = 1100) => servers.map((s, i) => op(t0 + i * 10, '10.1.0.11', s));
    const base = () => [hold('h1', 'rs1'), hold('h2', 'rs2'), op(600, 'c', 'rs1'), ...after(['rs2', 'rs3', 'rs2', 'rs3'])];
    const opts = { server: 'rs1', editAt, heldConns: ['h1'] };

    it('passes when new connections avoid the drained server and its held connection completes', () => {
      const r = drainWeightZero([...base(), release('h1', 'rs1'), release('h2', 'rs2')], opts);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('4 new connections after the edit, none to rs1; 1 held connections completed');
    });
    it('fails when new connections still reach the drained server', () => {
      const r = drainWeightZero([...base(), ...after(['rs1', 'rs1'], 1500), release('h1', 'rs1')], opts);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('2 new connections still reached rs1');
    });
    it('fails when a held connection breaks (reset on release)', () => {
      const r = drainWeightZero([...base(), release('h1', 'rs1', 'reset')], opts);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 held connections broke');
    });
    it('fails when a held connection is never released', () => {
      const r = drainWeightZero([...base(), release('h2', 'rs2')], { ...opts, heldConns: ['h1', 'h2'] });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 held connections were never released');
    });
    it('fails when requests fail after the edit, and lists every problem', () => {
      const ops = [...base(), op(1200, 'c', undefined, 'refused'), op(1300, 'c', 'rs1'), release('h1', 'rs1', 'timeout')];
      const r = drainWeightZero(ops, opts);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 new connections still reached rs1; 1 requests failed after the edit; 1 held connections broke');
    });
    it('connections to the server before the edit and releases of other servers do not count', () => {
      const r = drainWeightZero([...base(), release('h1', 'rs1'), release('h2', 'rs2', 'reset')], opts);
      expect(r.valid).to.equal(true);
    });
    it('is unknown with no answered traffic after the edit, or nothing held across it', () => {
      const quiet = drainWeightZero([hold('h1', 'rs1'), release('h1', 'rs1')], opts);
      expect(quiet.valid).to.equal('unknown');
      expect(quiet.detail).to.equal('not enough traffic after the edit, or no connection held across it');
      expect(drainWeightZero([...base(), release('h1', 'rs1')], { ...opts, heldConns: [] }).valid).to.equal('unknown');
    });
  });

  describe('thresholds', () => {
    type B = Record<string, { active: number; upper: number; lower: number; weight: number }>;
    const s = (chosen: string | undefined, a1: number, a2: number, outcome: Outcome = 'ok', upper = 2): { chosen?: string; outcome: Outcome; before: B } => ({
      chosen,
      outcome,
      before: { rs1: { active: a1, upper, lower: 1, weight: 1 }, rs2: { active: a2, upper: 0, lower: 0, weight: 1 } },
    });
    it('passes when a full server gets no new connection', () => {
      const r = thresholds([s('rs1', 0, 0), s('rs1', 1, 0), s('rs2', 2, 0), s('rs2', 2, 1), s('rs1', 0, 2)], 'rs1');
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('2 new connections while rs1 was overloaded, none sent to it');
    });
    it('keeps a server overloaded until it drops below the lower threshold (hysteresis), and counts inactive connections', () => {
      const t = (chosen: string, active: number, inactive: number) => ({ chosen, outcome: 'ok' as Outcome, before: { rs1: { active, inactive, upper: 4, lower: 2, weight: 1 }, rs2: { active: 0, upper: 0, lower: 0, weight: 1 } } });
      // 1 active + 3 inactive reaches -x 4; at 3 it is still overloaded (not below -y 2); at 1 it is free again
      const ok = thresholds([t('rs2', 1, 3), t('rs2', 1, 2), t('rs1', 1, 0)], 'rs1');
      expect(ok.valid).to.equal(true);
      const bad = thresholds([t('rs2', 1, 3), t('rs1', 1, 2)], 'rs1');
      expect(bad.valid).to.equal(false);
      expect(bad.detail).to.equal('1 connections sent to rs1 while overloaded (first: connection 2)');
    });
    it('fails when a connection is sent to a server at its upper threshold, naming the first', () => {
      const r = thresholds([s('rs1', 0, 0), s('rs1', 1, 0), s('rs2', 2, 0), s('rs1', 2, 1), s('rs1', 3, 1)], 'rs1');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('2 connections sent to rs1 while overloaded (first: connection 4)');
    });
    it('failed connections are not held against it', () => {
      const r = thresholds([s('rs2', 2, 0), s('rs1', 2, 0, 'refused')], 'rs1');
      expect(r.valid).to.equal(true);
    });
    it('is unknown when the server never reached its upper threshold', () => {
      const r = thresholds([s('rs1', 0, 0), s('rs1', 1, 0)], 'rs1');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('rs1 never reached its upper threshold');
    });
    it('is unknown, not a pass, when the server has no upper threshold (0) in the table', () => {
      const r = thresholds([s('rs1', 0, 0, 'ok', 0), s('rs1', 1, 0, 'ok', 0), s('rs1', 2, 0, 'ok', 0)], 'rs1');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('rs1 never reached its upper threshold');
      // rs2 has none either
      expect(thresholds([s('rs2', 0, 0), s('rs2', 0, 1)], 'rs2').valid).to.equal('unknown');
    });
  });
});
