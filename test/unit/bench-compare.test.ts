import { expect } from 'chai';
import { compareBench, formatComparison, holm } from '../../harness/bench/compare.js';
import type { BenchMode, BenchRepetition } from '../../harness/bench/schema.js';
import { modeKnees, summarisePoint } from '../../harness/bench/summarise.js';
import { mode, rep, report, seeded } from './bench-fixture.js';

/** a mode with one point per concurrency, each from its own repetitions */
function modeAt(name: BenchMode['mode'], byConcurrency: [number, BenchRepetition[]][]): BenchMode {
  const points = byConcurrency.map(([c, reps]) => summarisePoint({ concurrency: c, sizeBytes: 1024, connection: 'keep-alive' }, reps));
  return { mode: name, points, knees: modeKnees(points) };
}

/** n repetitions around `rate` with a relative spread `sd`, drawn from a seeded generator */
function reps(rnd: () => number, n: number, rate: number, latencyMs: number, sd = 0.02) {
  return Array.from({ length: n }, () => {
    const k = 1 + sd * (rnd() + rnd() + rnd() - 1.5) * 2;
    return rep(rate * k, latencyMs / k);
  });
}

describe('bench --compare', () => {
  it('flags a 20% slowdown with small spread as a regression, exit code 1', () => {
    const rnd = seeded(13);
    const old = report([mode('nat', reps(rnd, 5, 1000, 2))]);
    const slow = report([mode('nat', reps(rnd, 5, 800, 2.5))]);
    const c = compareBench(old, slow);
    const rate = c.figures.find((f) => f.figure === 'rate')!;
    expect(rate).to.include({ verdict: 'regression', basis: 'absolute' });
    expect(rate.change).to.be.closeTo(-0.2, 0.03);
    expect(rate.pValue).to.be.closeTo(2 / 252, 1e-9);
    expect(c.figures.find((f) => f.figure === 'p99')!.verdict).to.equal('regression');
    expect(c.exitCode).to.equal(1);
    // two figures were tested together (rate and p99; no errors on either side is no test): corrected, 2 × 0.0079
    expect(c.family).to.equal(2);
    expect(rate.pAdjusted).to.be.closeTo(4 / 252, 1e-9);
    expect(formatComparison(c)).to.match(/regression\s+nat\/web\/nat\/keep-alive\/1024B\/c16 rate: \d+ → \d+ \(−?-?\d+\.\d%, p = 0\.0079, corrected 0\.016\)/);
  });

  it('the same build twice (seeded samples of one distribution, 10 draws of 5 repetitions): never a regression', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = seeded(seed);
      const c = compareBench(report([mode('nat', reps(rnd, 5, 1000, 2, 0.05))]), report([mode('nat', reps(rnd, 5, 1000, 2, 0.05))]));
      expect(c.regressions, `seed ${seed}: ${formatComparison(c)}`).to.equal(0);
      expect(c.exitCode).to.equal(0);
    }
  });

  it("Holm's correction: the k-th smallest of m p-values times m − k + 1, monotone, capped at 1", () => {
    expect(holm([0.01, 0.04, 0.03, 0.005])).to.deep.equal([0.03, 0.06, 0.06, 0.02]);
    expect(holm([0.5, 0.9])).to.deep.equal([1, 1]);
    expect(holm([])).to.deep.equal([]);
    expect(holm([Number.NaN, 0.01])).to.deep.equal([1, 0.02]);
  });

  it('many figures at once, the same build twice (40 draws of 8 points): no regression by chance, where uncorrected tests would find some', function () {
    this.timeout(20_000);
    let uncorrected = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const rnd = seeded(100 + seed);
      const run = () => report([modeAt('nat', [1, 2, 4, 8, 16, 32, 64, 128].map((c) => [c, reps(rnd, 5, 1000, 2, 0.05)] as [number, BenchRepetition[]]))]);
      const c = compareBench(run(), run());
      expect(c.regressions, `seed ${seed}: ${formatComparison(c)}`).to.equal(0);
      uncorrected += c.figures.filter((f) => f.pValue < 0.05 && Math.abs(f.change) >= 0.02).length;
    }
    // the reason for the correction: without it these same-build pairs would have "changed"
    expect(uncorrected).to.be.above(0);
  });

  it('a real slowdown of every point survives the correction; the settings that differ are said', () => {
    const rnd = seeded(5);
    const pts = (rate: number) => [1, 4, 16].map((c) => [c, reps(rnd, 5, rate, 1000 / rate)] as [number, BenchRepetition[]]);
    const old = report([modeAt('nat', pts(1000))]);
    const slow = report([modeAt('nat', pts(400))]);
    slow.settings = { ...slow.settings, faults: ['netem-delay=20ms:director1'] };
    const c = compareBench(old, slow);
    expect(c.family).to.equal(6);
    expect(c.figures.filter((f) => f.figure === 'rate').every((f) => f.verdict === 'regression')).to.equal(true);
    expect(c.exitCode).to.equal(1);
    expect(c.settingsDiffer).to.deep.equal(['faults held: OLD none, NEW netem-delay=20ms:director1']);
    expect(formatComparison(c)).to.contain('settings differ: faults held: OLD none, NEW netem-delay=20ms:director1');
  });

  it('four repetitions a side over six figures cannot reach a corrected α: too few, said so', () => {
    const rnd = seeded(9);
    const pts = (rate: number) => [1, 4, 16].map((c) => [c, reps(rnd, 4, rate, 1000 / rate)] as [number, BenchRepetition[]]);
    const c = compareBench(report([modeAt('nat', pts(1000))]), report([modeAt('nat', pts(400))]));
    // 0.029 alone would pass α, but not times 6
    const changed = c.figures.filter((f) => Math.abs(f.change) >= 0.02);
    expect(changed.length).to.equal(6);
    expect(changed.every((f) => f.verdict === 'too-few-repetitions')).to.equal(true);
    expect(c.exitCode).to.equal(0);
  });

  it('a faster run is an improvement and exits 0', () => {
    const rnd = seeded(7);
    const c = compareBench(report([mode('dr', reps(rnd, 5, 1000, 2))]), report([mode('dr', reps(rnd, 5, 1300, 1.5))]));
    expect(c.figures.find((f) => f.figure === 'rate')!.verdict).to.equal('improvement');
    expect(c).to.include({ improvements: 2, regressions: 0, exitCode: 0 });
  });

  it('prefers ratios to the ceiling: a machine 30% slower for the director and the ceiling alike is no regression', () => {
    const rnd = seeded(21);
    const old = report([mode('nat', reps(rnd, 5, 900, 2, 0)), mode('ceiling', reps(rnd, 5, 1000, 1, 0))]);
    const busy = report([mode('nat', reps(rnd, 5, 630, 2.857, 0)), mode('ceiling', reps(rnd, 5, 700, 1.4286, 0))]);
    const c = compareBench(old, busy);
    const nat = c.figures.filter((f) => f.key.includes('/nat/'));
    expect(nat.find((f) => f.figure === 'rate')).to.include({ basis: 'ratio-to-ceiling', verdict: 'within-noise' });
    // the ceiling itself did get slower, and says so, but cannot fail the comparison
    expect(c.figures.find((f) => f.key.includes('/ceiling/') && f.figure === 'rate')).to.include({ verdict: 'regression', gating: false });
    expect(c.exitCode).to.equal(0);
  });

  it("director CPU as a ratio to the ceiling's: the emulator 20% slower for both is no regression (2026-12-01's two runs of one build, as measured), a director that works twice as hard is", () => {
    // the kernel CPU per 1,000 req/s of CI's two runs of one build (nat, keep-alive, c4, 5 × 2 s): every
    // repetition of the second above the first's, in the mode (+19.4%) and in the ceiling (+9.0%) alike
    const run = (rates: number[], cpu: number[], crates: number[], ccpu: number[]) =>
      report([
        mode('nat', rates.map((r, i) => rep(r, 2, { directorCpuCores: (cpu[i]! * r) / 1000 }))),
        mode('ceiling', crates.map((r, i) => rep(r, 1, { directorCpuCores: (ccpu[i]! * r) / 1000 }))),
      ]);
    const a = run([1361, 1463, 1429, 1473, 1500], [1.137, 1.055, 1.071, 1.05, 1.012], [1976, 1956, 2010, 2058, 2074], [0.54, 0.509, 0.547, 0.518, 0.51]);
    const b = run([1278, 1214, 1230, 1237, 1267], [1.215, 1.224, 1.272, 1.292, 1.259], [1867, 1837, 1837, 1663, 1797], [0.543, 0.587, 0.556, 0.649, 0.564]);
    const same = compareBench(a, b);
    const cpu = same.figures.find((f) => f.key.includes('/nat/') && f.figure === 'directorCpu')!;
    expect(cpu).to.include({ basis: 'ratio-to-ceiling', verdict: 'within-noise' });
    expect(same.exitCode, formatComparison(same)).to.equal(0);
    // measured absolutely, the same data was a regression (p = 0.0079): the drift of the machine, not the director
    const absolute = compareBench(report([a.topologies[0]!.services[0]!.modes[0]!]), report([b.topologies[0]!.services[0]!.modes[0]!]));
    expect(absolute.figures.find((f) => f.figure === 'directorCpu')).to.include({ basis: 'absolute', verdict: 'regression' });
    // twice the director's CPU against an unchanged ceiling
    const heavy = run([1361, 1463, 1429, 1473, 1500], [2.274, 2.11, 2.142, 2.1, 2.024], [1976, 1956, 2010, 2058, 2074], [0.54, 0.509, 0.547, 0.518, 0.51]);
    expect(compareBench(a, heavy).figures.find((f) => f.key.includes('/nat/') && f.figure === 'directorCpu')).to.include({ basis: 'ratio-to-ceiling', verdict: 'regression' });
  });

  it('three repetitions a side cannot reach α = 0.05: said so, not called noise, not a regression', () => {
    const c = compareBench(report([mode('nat', [rep(1000, 2), rep(1001, 2), rep(1002, 2)])]), report([mode('nat', [rep(500, 4), rep(501, 4), rep(502, 4)])]));
    const rate = c.figures.find((f) => f.figure === 'rate')!;
    expect(rate.verdict).to.equal('too-few-repetitions');
    expect(rate.minPValue).to.be.closeTo(0.1, 1e-9);
    expect(formatComparison(c)).to.contain('can be no lower than 0.1');
    expect(c.exitCode).to.equal(0);
  });

  it('a significant change under the 2% noise threshold is noise', () => {
    const c = compareBench(report([mode('nat', [1000, 1001, 1002, 1003, 1004].map((r) => rep(r, 2)))]), report([mode('nat', [990, 991, 992, 993, 994].map((r) => rep(r, 2)))]));
    const rate = c.figures.find((f) => f.figure === 'rate')!;
    expect(rate.pValue).to.be.below(0.05);
    expect(rate.verdict).to.equal('within-noise');
  });

  it('errors rising from 0 to 5% are a regression; director CPU per 1,000 conn/s is compared when measured', () => {
    const old = report([mode('nat', [0, 1, 2, 3, 4].map((i) => rep(1000 + i, 2, { directorCpuCores: 0.2 })))]);
    const bad = report([mode('nat', [0, 1, 2, 3, 4].map((i) => rep(1000 + i, 2, { ok: 9500, errors: { reset: 500 }, directorCpuCores: 0.3 })))]);
    const c = compareBench(old, bad);
    expect(c.figures.find((f) => f.figure === 'errors')).to.include({ verdict: 'regression' });
    expect(c.figures.find((f) => f.figure === 'errors')!.change).to.be.closeTo(0.05, 1e-9);
    expect(c.figures.find((f) => f.figure === 'directorCpu')).to.include({ verdict: 'regression' });
  });

  it('points measured in one run only are listed, not compared', () => {
    const c = compareBench(report([mode('nat', [rep(1000, 2)])]), report([mode('tun', [rep(1000, 2)])]));
    expect(c.figures).to.have.length(0);
    expect(c.unmatched.onlyOld).to.deep.equal(['nat/web/nat/keep-alive/1024B/c16']);
    expect(c.unmatched.onlyNew).to.deep.equal(['nat/web/tun/keep-alive/1024B/c16']);
    expect(formatComparison(c)).to.contain('only in NEW: nat/web/tun');
  });
});
