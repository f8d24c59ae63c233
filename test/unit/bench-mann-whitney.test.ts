import { expect } from 'chai';
import { mannWhitney } from '../../harness/bench/mann-whitney.js';

describe('bench Mann–Whitney U', () => {
  it('fully separated samples of 3 and 3: U = 0 or 9, p = 2/20 (the smallest 3+3 repetitions allow)', () => {
    const r = mannWhitney([1, 2, 3], [4, 5, 6]);
    expect(r).to.include({ u: 0, method: 'exact' });
    expect(r.pValue).to.be.closeTo(0.1, 1e-12);
    expect(r.minPValue).to.be.closeTo(0.1, 1e-12);
    expect(mannWhitney([4, 5, 6], [1, 2, 3]).u).to.equal(9);
  });

  it('5 and 5 fully separated: p = 2/252', () => {
    expect(mannWhitney([10, 11, 12, 13, 14], [1, 2, 3, 4, 5]).pValue).to.be.closeTo(2 / 252, 1e-12);
  });

  const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
  const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];

  it('exact p equals brute-force enumeration of every split (ties within a sample included)', () => {
    const pooled = [...x, ...y];
    const u = (idx: number[]) => {
      const inA = new Set(idx);
      let s = 0;
      for (const i of idx) for (let j = 0; j < pooled.length; j++) if (!inA.has(j)) s += pooled[i]! > pooled[j]! ? 1 : pooled[i] === pooled[j] ? 0.5 : 0;
      return s;
    };
    const obs = Math.abs(u([0, 1, 2, 3, 4, 5, 6, 7, 8]) - 40.5);
    let hit = 0;
    let all = 0;
    const pick = (start: number, idx: number[]) => {
      if (idx.length === 9) {
        all++;
        if (Math.abs(u(idx) - 40.5) >= obs - 1e-9) hit++;
        return;
      }
      for (let i = start; i <= pooled.length - (9 - idx.length); i++) pick(i + 1, [...idx, i]);
    };
    pick(0, []);
    const r = mannWhitney(x, y);
    expect(r.u).to.equal(58);
    expect(r.pValue).to.be.closeTo(hit / all, 1e-12);
  });

  it('the normal approximation matches R wilcox.test(x, y, exact = FALSE): W = 58, p = 0.1329', () => {
    const r = mannWhitney(x, y, 'normal');
    expect(r.u).to.equal(58);
    expect(r.pValue).to.be.closeTo(0.1329, 5e-5);
  });

  it('identical samples: p = 1; all values tied: p = 1', () => {
    expect(mannWhitney([1, 2, 3], [1, 2, 3]).pValue).to.equal(1);
    expect(mannWhitney([5, 5, 5], [5, 5]).pValue).to.equal(1);
  });

  it('ties are counted exactly: [1,1,2] against [2,3,3] has U = 0.5', () => {
    const r = mannWhitney([1, 1, 2], [2, 3, 3]);
    expect(r.u).to.equal(0.5);
    // splits of doubled ranks {3,3,7,7,11,11} whose sum deviates at least as far: 4 of 20
    expect(r.pValue).to.be.closeTo(4 / 20, 1e-12);
  });

  it('on 30 + 30 values the normal approximation is within 0.01 of the exact p', () => {
    const a = Array.from({ length: 30 }, (_, i) => i + 0.3 * (i % 3));
    const b = Array.from({ length: 30 }, (_, i) => i + 4.1);
    const exact = mannWhitney(a, b);
    expect(exact.method).to.equal('exact');
    expect(exact.pValue).to.be.within(0.05, 0.9);
    expect(Math.abs(exact.pValue - mannWhitney(a, b, 'normal').pValue)).to.be.below(0.01);
    expect(mannWhitney([...a, 1000], b).method).to.equal('normal');
  });

  it('an empty side or non-numbers: NaN, not a throw', () => {
    expect(mannWhitney([], [1]).pValue).to.be.NaN;
    expect(mannWhitney([NaN, 1], [2]).pValue).to.be.closeTo(1, 1e-12);
  });
});
