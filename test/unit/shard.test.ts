import { expect } from 'chai';
import { HarnessError } from '../../harness/errors.js';
import { formatShard, parseShard, shardAssignment, shardOf } from '../../harness/suite/shard.js';
import { seeded } from './bench-fixture.js';

/**
 * The shard planner: n machines that never talk to each other each run `--shard i/n` of the
 * same list, so the n shards must partition the list exactly, every time, on every machine.
 */


const jobsOf = (n: number) => Array.from({ length: n }, (_, i) => `job${i}`);

/** Every shard of n, concatenated in shard order. */
const allShards = <T>(jobs: readonly T[], n: number, weight?: (j: T) => number) => Array.from({ length: n }, (_, i) => shardOf(jobs, { index: i + 1, total: n }, weight));

const usage = (spec: string): HarnessError => {
  try {
    parseShard(spec, 'matrix');
  } catch (e) {
    expect(e).to.be.instanceOf(HarnessError);
    return e as HarnessError;
  }
  throw new Error(`--shard ${spec} was accepted`);
};

describe('shard planner', () => {
  describe('--shard i/n', () => {
    it('reads i/n, 1-based', () => {
      expect(parseShard('1/4')).to.deep.equal({ index: 1, total: 4 });
      expect(parseShard('4/4')).to.deep.equal({ index: 4, total: 4 });
      expect(parseShard('1/1')).to.deep.equal({ index: 1, total: 1 });
      expect(parseShard(undefined)).to.equal(undefined);
      expect(formatShard({ index: 2, total: 4 })).to.equal('2/4');
    });

    it('refuses a shard outside 1..n, naming the option and what is allowed', () => {
      for (const spec of ['0/2', '3/2']) {
        const e = usage(spec);
        expect(e.code).to.equal('ERR_LVS_USAGE');
        expect(e.message).to.equal(`matrix: --shard "${spec}": the shard i must be from 1 to 2 (shards count from 1, as in Playwright's --shard)`);
        expect(e.hint).to.match(/--shard 2\/4/);
      }
    });

    it('refuses zero shards', () => {
      const e = usage('1/0');
      expect(e.code).to.equal('ERR_LVS_USAGE');
      expect(e.message).to.equal('matrix: --shard "1/0": the number of shards n must be at least 1 (i/n: shard i of n, whole numbers with 1 ≤ i ≤ n)');
    });

    it('refuses what is not i/n', () => {
      for (const spec of ['x', '', '1', '1/2/3', '1.5/2', '-1/2', '1/-2', ' 1/2', '1 / 2', 'a/b', '2of4']) {
        const e = usage(spec);
        expect(e.code, spec).to.equal('ERR_LVS_USAGE');
        expect(e.message, spec).to.equal(`matrix: --shard ${JSON.stringify(spec)}: not i/n: shard i of n, whole numbers with 1 ≤ i ≤ n`);
      }
      expect(usage('99999999999999999999/99999999999999999999').message).to.match(/too large/);
    });
  });

  describe('without weights (as Playwright splits)', () => {
    it('every job lands in exactly one shard, in order, for every n up to 3 × the jobs', () => {
      for (let count = 0; count <= 25; count++) {
        const jobs = jobsOf(count);
        for (let n = 1; n <= Math.max(3 * count, 3); n++) {
          const shards = allShards(jobs, n);
          // concatenated in shard order they are the list itself: nothing lost, doubled or reordered
          expect(shards.flat(), `${count} jobs, ${n} shards`).to.deep.equal(jobs);
          const sizes = shards.map((s) => s.length);
          expect(Math.max(...sizes) - Math.min(...sizes), `${count} jobs, ${n} shards: ${sizes}`).to.be.at.most(1);
          // the bigger shards first, as Playwright's
          expect(sizes, `${count}/${n}`).to.deep.equal([...sizes].sort((a, b) => b - a));
        }
      }
    });

    it("cuts main's four topologies as Playwright would", () => {
      const main = ['nat', 'dr', 'tun', 'fullnat'];
      expect(allShards(main, 1)).to.deep.equal([main]);
      expect(allShards(main, 2)).to.deep.equal([['nat', 'dr'], ['tun', 'fullnat']]);
      expect(allShards(main, 3)).to.deep.equal([['nat', 'dr'], ['tun'], ['fullnat']]);
      expect(allShards(main, 4)).to.deep.equal([['nat'], ['dr'], ['tun'], ['fullnat']]);
      expect(allShards(main, 6)).to.deep.equal([['nat'], ['dr'], ['tun'], ['fullnat'], [], []]);
    });

    it('is the same on every call (a pure function of the list and n)', () => {
      const jobs = jobsOf(17);
      const first = allShards(jobs, 5);
      for (let k = 0; k < 20; k++) expect(allShards([...jobs], 5)).to.deep.equal(first);
      expect(shardOf(jobs, undefined)).to.deep.equal(jobs);
    });
  });

  describe('with weights', () => {
    it('every job lands in exactly one shard, contiguously, and no shard is idle while another has two jobs', () => {
      const rand = seeded(12);
      for (let trial = 0; trial < 300; trial++) {
        const count = 1 + Math.floor(rand() * 40);
        const n = 1 + Math.floor(rand() * 12);
        // skewed weights: most small, a few heavy, some zero
        const w = Array.from({ length: count }, () => (rand() < 0.1 ? 0 : Math.round(rand() ** 3 * 300)));
        const jobs = jobsOf(count).map((name, i) => ({ name, w: w[i]! }));
        const shards = allShards(jobs, n, (j) => j.w);
        expect(shards.flat(), `trial ${trial}`).to.deep.equal(jobs);
        const where = shardAssignment(jobs, n, (j) => j.w);
        for (let i = 1; i < where.length; i++) expect(where[i]! - where[i - 1]!, `trial ${trial}`).to.be.within(0, 1);
        if (count >= n) expect(shards.every((s) => s.length > 0), `trial ${trial}: ${shards.map((s) => s.length)}`).to.equal(true);
        else expect(shards.map((s) => s.length)).to.deep.equal([...Array(count).fill(1), ...Array(n - count).fill(0)]);
        // balanced: no shard carries more than its share plus the heaviest job
        const total = w.reduce((a, b) => a + b, 0);
        const heaviest = Math.max(...w);
        for (const s of shards) expect(s.reduce((a, j) => a + j.w, 0), `trial ${trial}`).to.be.at.most(total / n + heaviest + 1e-9);
      }
    });

    it('puts the boundaries where the weight is, not where the count is', () => {
      const jobs = [
        { name: 'nat failover', w: 120 },
        { name: 'nat modes', w: 50 },
        { name: 'nat drain', w: 18 },
        { name: 'dr persistence', w: 16 },
        { name: 'dr drain', w: 18 },
        { name: 'dr protocols', w: 25 },
      ];
      const names = (n: number) => allShards(jobs, n, (j) => j.w).map((s) => s.map((j) => j.name));
      expect(names(2)).to.deep.equal([['nat failover'], ['nat modes', 'nat drain', 'dr persistence', 'dr drain', 'dr protocols']]);
      // by count it would have been three and three: 188 s against 59 s
      expect(allShards(jobs, 2).map((s) => s.length)).to.deep.equal([3, 3]);
    });

    it('with every weight zero, or one shard, is the split without weights', () => {
      const jobs = jobsOf(11);
      for (let n = 1; n <= 13; n++) expect(allShards(jobs, n, () => 0)).to.deep.equal(allShards(jobs, n));
      expect(allShards(jobs, 1, (j) => j.length)).to.deep.equal([jobs]);
    });

    it('is the same on every call', () => {
      const rand = seeded(7);
      const jobs = jobsOf(30).map((name) => ({ name, w: Math.round(rand() * 100) }));
      const first = shardAssignment(jobs, 7, (j) => j.w);
      for (let k = 0; k < 20; k++) expect(shardAssignment(jobs.map((j) => ({ ...j })), 7, (j) => j.w)).to.deep.equal(first);
    });

    it('refuses a weight that is not a finite number ≥ 0, and a shard count below 1', () => {
      expect(() => shardAssignment(['a', 'b'], 2, () => -1)).to.throw(RangeError, /job 0: weight -1/);
      expect(() => shardAssignment(['a', 'b'], 2, () => NaN)).to.throw(RangeError, /NaN/);
      expect(() => shardAssignment(['a'], 0)).to.throw(RangeError, /shard count 0/);
    });
  });
});
