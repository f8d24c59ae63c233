import { expect } from 'chai';
import * as dist from '../../harness/checkers/distribution.js';
import type { Step } from '../../harness/checkers/distribution.js';
import type { OpEvent, Outcome } from '../../harness/history/history.js';

const VIP = '10.0.0.100';
const op = (t: number, src: string, server: string | undefined, outcome: Outcome = 'ok', dst = VIP): OpEvent => ({
  type: 'op',
  t,
  latencyMs: 1,
  node: 'client1',
  op: 'http',
  src,
  dst,
  dstPort: 80,
  outcome,
  ...(server ? { server } : {}),
});
/** one op per server name, from one source, in time order */
const seq = (servers: string[], src = '10.1.0.10') => servers.map((s, i) => op(1000 + i * 10, src, s));
const W = (...ws: [string, number][]) => ws.map(([name, weight]) => ({ name, weight }));
const three = W(['rs1', 1], ['rs2', 1], ['rs3', 1]);
/** a step: counts are [active, inactive, weight] */
const step = (chosen: string | undefined, before: Record<string, [number, number, number]>, outcome: Outcome = 'ok'): Step => ({
  chosen,
  outcome,
  before: Object.fromEntries(Object.entries(before).map(([n, [active, inactive, weight]]) => [n, { active, inactive, weight }])),
});

describe('distribution checkers', () => {
  describe('rr: round robin', () => {
    it('passes an exact rotation, whatever server it starts on', () => {
      const r = dist.roundRobin(seq(['rs2', 'rs3', 'rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3', 'rs1']), three);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('3 rounds, each spread ≤ 1');
      expect((r.observed as { totals: Record<string, number> }).totals).to.deep.equal({ rs1: 3, rs2: 3, rs3: 3 });
    });
    it('fails when one server gets two connections in a round, naming the round', () => {
      const r = dist.roundRobin(seq(['rs1', 'rs2', 'rs3', 'rs1', 'rs1', 'rs3', 'rs1', 'rs2', 'rs3']), three);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('round 2 had {"rs1":2,"rs2":0,"rs3":1}');
    });
    it('fails when a server is never chosen (a dead real server left in the table)', () => {
      const r = dist.roundRobin(seq(['rs1', 'rs2', 'rs1', 'rs2', 'rs1', 'rs2']), three);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.match(/^round \d had /);
      expect(r.detail).to.contain('"rs3":0');
    });
    it('leaves weight-0 (quiesced) servers out of the rotation', () => {
      const r = dist.roundRobin(seq(['rs1', 'rs2', 'rs1', 'rs2', 'rs1', 'rs2']), W(['rs1', 1], ['rs2', 1], ['rs3', 0]));
      expect(r.valid).to.equal(true);
    });
    it('counts only answered connections, in time order', () => {
      const ops = [op(30, 'c', 'rs1'), op(10, 'c', 'rs1'), op(20, 'c', 'rs2'), op(25, 'c', undefined, 'timeout'), op(40, 'c', 'rs2')];
      const r = dist.roundRobin(ops, W(['rs1', 1], ['rs2', 1]));
      expect(r.valid).to.equal(true);
      expect((r.observed as { connections: number }).connections).to.equal(4);
    });
    it('is unknown with fewer than two full rounds', () => {
      const r = dist.roundRobin(seq(['rs1', 'rs2', 'rs3', 'rs1', 'rs2']), three);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('only 1 full rounds observed; 2 needed');
      expect(dist.roundRobin([], three).valid).to.equal('unknown');
    });
    it('is unknown with one live server, which every scheduler would fill (and never loops on none)', () => {
      const r = dist.roundRobin(seq(['rs1', 'rs1', 'rs1', 'rs1']), W(['rs1', 1], ['rs2', 0]));
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 live server: rr cannot be told from any other scheduler; needs ≥ 2');
      expect(dist.roundRobin(seq(['rs1']), W(['rs1', 0])).valid).to.equal('unknown');
    });
  });

  describe('wrr: weighted shares', () => {
    const weights = W(['rs1', 3], ['rs2', 1]);
    const mix = (n1: number, n2: number) => seq([...Array(n1).fill('rs1'), ...Array(n2).fill('rs2')]);
    it('passes when shares follow 3:1', () => {
      const r = dist.weightedShares(mix(75, 25), weights, 'wrr');
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('rs1 75.0% (expected 75.0%), rs2 25.0% (expected 25.0%)');
      expect(r.name).to.equal('wrr shares follow the weights');
    });
    it('tolerates a share within ±5 points', () => {
      expect(dist.weightedShares(mix(71, 29), weights, 'wrr').valid).to.equal(true);
    });
    it('fails when the director is configured 1:1 while 3:1 is expected, naming both shares', () => {
      const r = dist.weightedShares(mix(50, 50), weights, 'wrr');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('rs1 got 50.0%, expected 75.0%; rs2 got 50.0%, expected 25.0%');
    });
    it('fails when a weight-0 server still gets connections', () => {
      const r = dist.weightedShares(seq(['rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3', 'rs1', 'rs2', 'rs3']), W(['rs1', 1], ['rs2', 1], ['rs3', 0]), 'wrr');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.contain('rs3 got 33.3%, expected 0.0%');
    });
    it('a custom tolerance applies', () => {
      expect(dist.weightedShares(mix(70, 30), weights, 'wrr', 0.01).valid).to.equal(false);
    });
    it('is unknown with fewer than 2 × Σweights connections', () => {
      const r = dist.weightedShares(mix(6, 1), weights, 'wrr');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('7 connections are too few to judge weights summing to 4');
    });
    it('is unknown when one server alone has a weight: it gets 100% whatever the scheduler', () => {
      const r = dist.weightedShares(mix(10, 0), W(['rs1', 3], ['rs2', 0]), 'wrr');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.match(/^1 server with a weight: every connection goes to it/);
      // the same scheduler misbehaving against two weighted servers fails
      expect(dist.weightedShares(mix(10, 0), W(['rs1', 3], ['rs2', 2]), 'wrr').valid).to.equal(false);
    });
  });

  describe('sh / dh / mh: hashing', () => {
    const servers = three;
    /** 40 sources, each asking `per` times; where(i) picks its server */
    const sources = (where: (i: number) => string, per = 3) => {
      const out: OpEvent[] = [];
      for (let r = 0; r < per; r++) for (let i = 0; i < 40; i++) out.push(op(r * 1000 + i, `10.1.0.${i + 10}`, where(i)));
      return out;
    };
    it('sh passes when each source keeps one server and sources spread over the servers', () => {
      const r = dist.hashing(sources((i) => `rs${(i % 3) + 1}`), servers, 'sh', 'src');
      expect(r.valid).to.equal(true);
      expect(r.detail).to.match(/^40 keys, each always on one server; spread p = /);
      expect((r.observed as { keysPerServer: Record<string, number> }).keysPerServer).to.deep.equal({ rs1: 14, rs2: 13, rs3: 13 });
    });
    it('sh fails when one source reaches two servers, naming the source', () => {
      const ops = sources((i) => `rs${(i % 3) + 1}`);
      ops.push(op(9999, '10.1.0.10', 'rs2'));
      const r = dist.hashing(ops, servers, 'sh', 'src');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 keys reached several servers: 10.1.0.10 → rs1, rs2');
    });
    it('sh fails the chi-square when all 40 sources land on one server of three', () => {
      const r = dist.hashing(sources(() => 'rs2'), servers, 'sh', 'src');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.match(/^keys are not spread as the weights say \(chi-square 80\.0, p = /);
      expect(r.detail).to.contain('{"rs1":0,"rs2":40,"rs3":0}');
    });
    it('sh judges the spread against the weights', () => {
      // weights 2:1:1 and keys 20/10/10 fit; 1:1:1 weights with the same keys still fit at p ≥ 0.001
      const where = (i: number) => (i < 20 ? 'rs1' : i < 30 ? 'rs2' : 'rs3');
      expect(dist.hashing(sources(where), W(['rs1', 2], ['rs2', 1], ['rs3', 1]), 'sh', 'src').valid).to.equal(true);
      // a weight-0 server must get no keys: 40 keys over rs1/rs2 only, rs3 weight 0
      expect(dist.hashing(sources((i) => (i % 2 ? 'rs1' : 'rs2')), W(['rs1', 1], ['rs2', 1], ['rs3', 0]), 'sh', 'src').valid).to.equal(true);
    });
    it('with too few sources the spread is not judged', () => {
      const ops = [op(1, '10.1.0.1', 'rs1'), op(2, '10.1.0.2', 'rs1'), op(3, '10.1.0.1', 'rs1')];
      const r = dist.hashing(ops, servers, 'sh', 'src');
      expect(r.valid).to.equal(true);
      expect((r.observed as { chiSquare: unknown }).chiSquare).to.equal('not judged (too few keys)');
      expect(r.detail).to.equal('2 keys, each always on one server');
    });
    it('is unknown with one key: one source (or destination) always "stays on one server"', () => {
      const one = [op(1, 'a', 'rs1'), op(2, 'a', 'rs1'), op(3, 'a', 'rs1')];
      const r = dist.hashing(one, servers, 'dh', 'dst');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 destination: dh cannot be told from any other scheduler; needs ≥ 2');
      expect(dist.hashing(one, servers, 'sh', 'src').detail).to.equal('1 source: sh cannot be told from any other scheduler; needs ≥ 2');
      // one key that moves is still a failure
      expect(dist.hashing([...one, op(4, 'a', 'rs2')], servers, 'sh', 'src').valid).to.equal(false);
    });
    it('is unknown with one live server, and fails when a source moves anyway', () => {
      const ops = [op(1, 'a', 'rs1'), op(2, 'b', 'rs1'), op(3, 'a', 'rs1')];
      const solo = W(['rs1', 1], ['rs2', 0]);
      expect(dist.hashing(ops, solo, 'sh', 'src').detail).to.equal('1 live server: every source lands on it whatever the scheduler; needs ≥ 2');
      expect(dist.hashing([...ops, op(4, 'b', 'rs2')], solo, 'sh', 'src').valid).to.equal(false);
    });
    it('mh behaves as a source hash too', () => {
      const r = dist.hashing(sources(() => 'rs1'), servers, 'mh', 'src');
      expect(r.valid).to.equal(false);
      expect(r.name).to.equal('mh maps each source to one real server');
    });
    it('a key on a server missing from the list is counted, not NaN', () => {
      const r = dist.hashing([op(1, 'a', 'rs9'), op(2, 'b', 'rs1')], servers, 'sh', 'src');
      expect((r.observed as { keysPerServer: Record<string, number> }).keysPerServer).to.deep.equal({ rs1: 1, rs2: 0, rs3: 0, rs9: 1 });
    });
    it('is unknown with no answered connection', () => {
      const r = dist.hashing([op(1, 'a', undefined, 'refused')], servers, 'sh', 'src');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no answered connections');
    });
  });

  describe('formulaChoice', () => {
    const b = (x: Record<string, [number, number, number]>) => step('x', x).before;
    it('lc: smallest active×256 + inactive, ignoring weights', () => {
      expect(dist.formulaChoice('lc', b({ rs1: [1, 0, 5], rs2: [0, 200, 1] }))).to.deep.equal(['rs2']);
      expect(dist.formulaChoice('lc', b({ rs1: [1, 0, 1], rs2: [0, 300, 1] }))).to.deep.equal(['rs1']);
    });
    it('wlc: (active×256 + inactive) / weight', () => {
      // rs1: 512/3 ≈ 170.7, rs2: 256/1
      expect(dist.formulaChoice('wlc', b({ rs1: [2, 0, 3], rs2: [1, 0, 1] }))).to.deep.equal(['rs1']);
      expect(dist.formulaChoice('lc', b({ rs1: [2, 0, 3], rs2: [1, 0, 1] }))).to.deep.equal(['rs2']);
    });
    it('sed: (active + 1) / weight, inactive ignored', () => {
      // rs1: 1/1, rs2: 2/3
      expect(dist.formulaChoice('sed', b({ rs1: [0, 0, 1], rs2: [1, 50, 3] }))).to.deep.equal(['rs2']);
    });
    it('nq: an idle server first, else as sed', () => {
      expect(dist.formulaChoice('nq', b({ rs1: [0, 9, 1], rs2: [1, 0, 3] }))).to.deep.equal(['rs1']);
      expect(dist.formulaChoice('nq', b({ rs1: [1, 0, 1], rs2: [1, 0, 3] }))).to.deep.equal(['rs2']);
    });
    it('returns every tied server, and never a weight-0 one', () => {
      expect(dist.formulaChoice('lc', b({ rs1: [0, 0, 1], rs2: [0, 0, 1], rs3: [0, 0, 0] }))).to.deep.equal(['rs1', 'rs2']);
      expect(dist.formulaChoice('wlc', b({ rs1: [0, 0, 0] }))).to.deep.equal([]);
      expect(dist.formulaChoice('nq', b({ rs1: [0, 0, 0], rs2: [3, 0, 1] }))).to.deep.equal(['rs2']);
    });
  });

  describe('lc / wlc / sed / nq: least connections', () => {
    const lcGood = [
      step('rs1', { rs1: [0, 0, 1], rs2: [0, 0, 1] }),
      step('rs2', { rs1: [1, 0, 1], rs2: [0, 0, 1] }),
      step('rs1', { rs1: [1, 0, 1], rs2: [1, 0, 1] }),
      step('rs2', { rs1: [2, 0, 1], rs2: [1, 0, 1] }),
    ];
    it('lc passes when every connection goes to the fewest connections', () => {
      const r = dist.leastConnections(lcGood, 'lc');
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('4 connections, each on a server the formula allows (2 of them where it ruled a server out)');
    });
    it('is unknown when the counts never ruled a server out (every choice tied)', () => {
      const tied = [step('rs1', { rs1: [0, 0, 1], rs2: [0, 0, 1] }), step('rs2', { rs1: [1, 0, 1], rs2: [1, 0, 1] }), step('rs1', { rs1: [2, 0, 1], rs2: [2, 0, 1] })];
      const r = dist.leastConnections(tied, 'lc');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('the counts never ruled a server out: every one of the 3 choices would have been allowed to any scheduler');
      // a choice against counts that rule it out fails
      expect(dist.leastConnections([...tied, step('rs1', { rs1: [3, 0, 1], rs2: [2, 0, 1] })], 'lc').valid).to.equal(false);
    });
    it('lc fails when a server with more active connections is chosen', () => {
      const steps = [...lcGood.slice(0, 3), step('rs1', { rs1: [2, 0, 1], rs2: [1, 0, 1] })];
      const r = dist.leastConnections(steps, 'lc');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('connection 4 went to rs1, the formula allows rs2 (counts {"rs1":"2/0","rs2":"1/0"})');
    });
    it('wlc fails when the weights are ignored (plain lc behaviour)', () => {
      const steps = [
        step('rs1', { rs1: [0, 0, 3], rs2: [0, 0, 1] }),
        step('rs2', { rs1: [1, 0, 3], rs2: [0, 0, 1] }),
        step('rs2', { rs1: [2, 0, 3], rs2: [1, 0, 1] }),
      ];
      const r = dist.leastConnections(steps, 'wlc');
      expect(r.valid).to.equal(false);
      // connection 3: rs1 512/3 ≈ 171 beats rs2 256/1, but plain lc would pick rs2
      expect(r.detail).to.equal('connection 3 went to rs2, the formula allows rs1 (counts {"rs1":"2/0","rs2":"1/0"})');
    });
    it('wlc passes when choices follow the weights', () => {
      const steps = [
        step('rs1', { rs1: [0, 0, 3], rs2: [0, 0, 1] }),
        step('rs2', { rs1: [1, 0, 3], rs2: [0, 0, 1] }),
        step('rs1', { rs1: [1, 0, 3], rs2: [1, 0, 1] }),
      ];
      expect(dist.leastConnections(steps, 'wlc').valid).to.equal(true);
    });
    it('sed passes and fails on the (active + 1) / weight rule', () => {
      const good = [
        step('rs2', { rs1: [0, 0, 1], rs2: [0, 0, 3] }),
        step('rs2', { rs1: [0, 0, 1], rs2: [1, 0, 3] }),
        step('rs1', { rs1: [0, 0, 1], rs2: [2, 0, 3] }),
      ];
      expect(dist.leastConnections(good, 'sed').valid).to.equal(true);
      // rs1: (1+1)/1 = 2, rs2: (2+1)/3 = 1 → rs2; choosing rs1 is wrong
      const wrong = [...good.slice(0, 2), step('rs1', { rs1: [1, 0, 1], rs2: [2, 0, 3] })];
      const r = dist.leastConnections(wrong, 'sed');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.contain('connection 3 went to rs1, the formula allows rs2');
    });
    it('nq passes when an idle server is preferred', () => {
      const steps = [
        step('rs2', { rs1: [0, 0, 1], rs2: [0, 0, 3] }),
        step('rs1', { rs1: [0, 0, 1], rs2: [1, 0, 3] }),
        step('rs2', { rs1: [1, 0, 1], rs2: [1, 0, 3] }),
      ];
      expect(dist.leastConnections(steps, 'nq').valid).to.equal(true);
    });
    it('nq fails when a busy server is chosen while one is idle', () => {
      const steps = [
        step('rs2', { rs1: [0, 0, 1], rs2: [0, 0, 3] }),
        step('rs2', { rs1: [0, 0, 1], rs2: [1, 0, 3] }),
        step('rs1', { rs1: [0, 0, 1], rs2: [2, 0, 3] }),
      ];
      const r = dist.leastConnections(steps, 'nq');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('connection 2 went to rs2, the formula allows rs1 (counts {"rs1":"0/0","rs2":"1/0"})');
    });
    it('skips failed connections and is unknown with fewer than 3 answered', () => {
      const steps = [step('rs1', { rs1: [0, 0, 1], rs2: [0, 0, 1] }), step(undefined, { rs1: [1, 0, 1], rs2: [0, 0, 1] }, 'timeout'), step('rs2', { rs1: [1, 0, 1], rs2: [0, 0, 1] })];
      const r = dist.leastConnections(steps, 'lc');
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('only 2 connections were opened');
    });
  });

  describe('fo: failover', () => {
    const weights = W(['rs1', 1], ['rs2', 5], ['rs3', 0]);
    it('passes when everything goes to the highest weight', () => {
      const r = dist.failover(seq(['rs2', 'rs2', 'rs2']), weights);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('3 connections, all to rs2');
    });
    it('fails when a lower-weight server gets a connection, naming it', () => {
      const r = dist.failover(seq(['rs2', 'rs1', 'rs2']), weights);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('connections reached rs1 although rs2 had the highest weight');
    });
    it('fails when a weight-0 server gets a connection', () => {
      expect(dist.failover(seq(['rs3']), weights).valid).to.equal(false);
    });
    it('is unknown with no answered connection', () => {
      const r = dist.failover([op(1, 'c', undefined, 'refused')], weights);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no answered connections');
    });
    it('is unknown when every live server has the top weight, fails when a weight-0 one is used', () => {
      const equal = W(['rs1', 2], ['rs2', 2], ['rs3', 0]);
      const r = dist.failover(seq(['rs1', 'rs2', 'rs1']), equal);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('every live server (rs1, rs2) has the highest weight: fo cannot be told from any other scheduler; needs distinct weights');
      expect(dist.failover(seq(['rs1', 'rs3']), equal).valid).to.equal(false);
    });
  });

  describe('ovf: overflow', () => {
    // rs1 weight 2, rs2 weight 1
    const at = (chosen: string, a1: number, a2: number) => step(chosen, { rs1: [a1, 0, 2], rs2: [a2, 0, 1] });
    it('passes when the top server takes weight + 1 connections before the next takes over (the kernel skips it only when active > weight)', () => {
      const r = dist.overflow([at('rs1', 0, 0), at('rs1', 1, 0), at('rs1', 2, 0), at('rs2', 3, 0)]);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('4 connections in weight order');
    });
    it('fails when the top server is given more than that', () => {
      const r = dist.overflow([at('rs1', 0, 0), at('rs1', 1, 0), at('rs1', 2, 0), at('rs1', 3, 0)]);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('connection 4 went to rs1, allowed rs2');
    });
    it('fails when it overflows too early', () => {
      const r = dist.overflow([at('rs1', 0, 0), at('rs2', 1, 0), at('rs1', 1, 1)]);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('connection 2 went to rs2, allowed rs1');
    });
    it('fails when every server is full and a connection is still scheduled', () => {
      const r = dist.overflow([at('rs1', 0, 0), at('rs1', 1, 0), at('rs2', 3, 2)]);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('connection 3 went to rs2, allowed none');
    });
    it('is unknown with fewer than 3 connections', () => {
      const r = dist.overflow([at('rs1', 0, 0), at('rs1', 1, 0)]);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('only 2 connections');
    });
    it('is unknown when equal weights and counts allowed every server at every step', () => {
      const eq = (chosen: string, a1: number, a2: number) => step(chosen, { rs1: [a1, 0, 1], rs2: [a2, 0, 1] });
      const r = dist.overflow([eq('rs1', 0, 0), eq('rs2', 1, 0), eq('rs1', 1, 1)]);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.match(/^the weights and counts never ruled a server out/);
      // an overloaded server chosen while the other is open is ruled out, and fails
      expect(dist.overflow([eq('rs1', 0, 0), eq('rs2', 1, 0), eq('rs1', 1, 1), eq('rs1', 2, 1)]).valid).to.equal(false);
    });
  });
});
