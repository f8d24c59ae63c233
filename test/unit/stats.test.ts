import { expect } from 'chai';
import { chiSquare, gammaQ, lnGamma, percentile, round } from '../../harness/stats.js';

describe('stats', () => {
  describe('lnGamma', () => {
    it('matches ln((n-1)!) at integers', () => {
      expect(lnGamma(1)).to.be.closeTo(0, 1e-12);
      expect(lnGamma(2)).to.be.closeTo(0, 1e-12);
      expect(lnGamma(5)).to.be.closeTo(Math.log(24), 1e-12);
      expect(lnGamma(11)).to.be.closeTo(Math.log(3628800), 1e-10);
    });
    it('matches Γ(1/2) = √π and the reflection branch below 1/2', () => {
      expect(lnGamma(0.5)).to.be.closeTo(0.5 * Math.log(Math.PI), 1e-12);
      // Γ(0.25) = 3.6256099082219083
      expect(lnGamma(0.25)).to.be.closeTo(Math.log(3.6256099082219083), 1e-12);
    });
    it('stays accurate for large arguments', () => {
      // ln Γ(101) = ln(100!) = 363.73937555556347
      expect(lnGamma(101)).to.be.closeTo(363.73937555556347, 1e-9);
    });
  });

  describe('gammaQ', () => {
    it('Q(1, x) = exp(−x) on both branches (series and continued fraction)', () => {
      for (const x of [0.1, 0.5, 1.5, 2, 5, 20]) expect(gammaQ(1, x)).to.be.closeTo(Math.exp(-x), 1e-12);
    });
    it('Q(a, 0) = 1 and Q(a, x) → 0 as x grows', () => {
      expect(gammaQ(3, 0)).to.equal(1);
      expect(gammaQ(3, -1)).to.equal(1);
      expect(gammaQ(2, 200)).to.be.lessThan(1e-80);
    });
    it('Q(2, x) = (1 + x) exp(−x)', () => {
      for (const x of [0.5, 2.5, 3, 10]) expect(gammaQ(2, x)).to.be.closeTo((1 + x) * Math.exp(-x), 1e-12);
    });
    it('Q(1/2, x) = erfc(√x): Q(0.5, 1) = erfc(1)', () => {
      expect(gammaQ(0.5, 1)).to.be.closeTo(0.15729920705028513, 1e-12);
    });
    it('is monotone decreasing in x', () => {
      let prev = 1;
      for (let x = 0.25; x < 30; x += 0.25) {
        const q = gammaQ(4.5, x);
        expect(q).to.be.at.most(prev);
        prev = q;
      }
    });
  });

  describe('chiSquare', () => {
    const pOf = (stat: number, df: number) => gammaQ(df / 2, stat / 2);
    it('gives the textbook 5% critical values', () => {
      expect(pOf(3.841, 1)).to.be.closeTo(0.05, 1e-3);
      expect(pOf(5.991, 2)).to.be.closeTo(0.05, 1e-3);
      expect(pOf(18.307, 10)).to.be.closeTo(0.05, 1e-3);
      expect(pOf(6.635, 1)).to.be.closeTo(0.01, 1e-3);
    });
    it('a perfectly uniform sample has statistic 0 and p = 1', () => {
      const r = chiSquare([10, 10, 10], [1 / 3, 1 / 3, 1 / 3]);
      expect(r.statistic).to.be.closeTo(0, 1e-12);
      expect(r.df).to.equal(2);
      expect(r.pValue).to.equal(1);
    });
    it('computes Pearson’s statistic against the shares', () => {
      // expected 30 / 10 for shares 3:1 over 40; observed 20 / 20
      const r = chiSquare([20, 20], [0.75, 0.25]);
      expect(r.statistic).to.be.closeTo(100 / 30 + 100 / 10, 1e-12);
      expect(r.df).to.equal(1);
      expect(r.pValue).to.be.closeTo(pOf(100 / 30 + 10, 1), 1e-15);
      expect(r.pValue).to.be.lessThan(0.001);
    });
    it('all keys on one of three servers is rejected', () => {
      const r = chiSquare([40, 0, 0], [1 / 3, 1 / 3, 1 / 3]);
      expect(r.statistic).to.be.closeTo(80, 1e-9);
      expect(r.pValue).to.be.lessThan(1e-15);
    });
    it('categories with a zero expected share do not count towards df', () => {
      const r = chiSquare([5, 5, 0], [0.5, 0.5, 0]);
      expect(r.df).to.equal(1);
      expect(r.statistic).to.equal(0);
    });
    it('df never drops below 1', () => {
      expect(chiSquare([7], [1]).df).to.equal(1);
      expect(chiSquare([7], [1]).pValue).to.equal(1);
    });
  });

  describe('percentile', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    it('uses the nearest rank', () => {
      expect(percentile(xs, 50)).to.equal(5);
      expect(percentile(xs, 90)).to.equal(9);
      expect(percentile(xs, 95)).to.equal(10);
      expect(percentile(xs, 99)).to.equal(10);
      expect(percentile(xs, 100)).to.equal(10);
      expect(percentile(xs, 0)).to.equal(1);
      expect(percentile([42], 50)).to.equal(42);
    });
    it('is NaN for no data', () => {
      expect(percentile([], 50)).to.be.NaN;
    });
  });

  it('round keeps the asked number of digits', () => {
    expect(round(1.23456)).to.equal(1.235);
    expect(round(1.23456, 1)).to.equal(1.2);
    expect(round(2.5, 0)).to.equal(3);
    expect(round(0.00004, 4)).to.equal(0);
  });
});
