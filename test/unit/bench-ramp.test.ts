import { expect } from 'chai';
import { findKnee, rampNext, rose, type RampPoint } from '../../harness/bench/ramp.js';

const pt = (concurrency: number, rates: number[], errorRate = 0): RampPoint => ({ concurrency, rates, errorRate });

/** drives the planner as bench would: measure what it asks for until it names the knee */
function drive(curve: (c: number) => RampPoint) {
  const seen: RampPoint[] = [];
  for (;;) {
    const r = rampNext(seen);
    if ('knee' in r) return { knee: r.knee, asked: seen.map((p) => p.concurrency) };
    seen.push(curve(r.next));
  }
}

describe('bench concurrency ramp', () => {
  it('a saturating curve (rate = 1000·c/(c+4), repetitions ±5%): the knee at 64', () => {
    // medians 200, 500, 800, 941, 985: 64→256 gains 44, inside the steps' spread (~96)
    const { knee, asked } = drive((c) => pt(c, [0.95, 1, 1.05].map((k) => (k * 1000 * c) / (c + 4))));
    expect(asked).to.deep.equal([1, 4, 16, 64, 256]);
    expect(knee).to.include({ concurrency: 64, reason: 'plateau', stoppedAt: 256, reached: true });
  });

  it('a hard ceiling at 2000 req/s: the knee is the first step that reached it', () => {
    const { knee, asked } = drive((c) => pt(c, [Math.min(2000, 300 * c) - 5, Math.min(2000, 300 * c) + 5]));
    expect(asked).to.deep.equal([1, 4, 16, 64]);
    expect(knee).to.include({ concurrency: 16, reason: 'plateau', stoppedAt: 64 });
    expect(knee.rate).to.equal(2000);
  });

  it('errors past 1% stop the ramp; the knee is the last clean step', () => {
    const { knee, asked } = drive((c) => pt(c, [100 * c], c >= 64 ? 0.05 : 0.002));
    expect(asked).to.deep.equal([1, 4, 16, 64]);
    expect(knee).to.include({ concurrency: 16, reason: 'errors', stoppedAt: 64 });
  });

  it('errors at the first step: no knee', () => {
    const { knee } = drive((c) => pt(c, [10], 0.5));
    expect(knee).to.include({ reason: 'errors', stoppedAt: 1 });
    expect(knee.concurrency).to.equal(undefined);
  });

  it('still rising at 256: the knee is not reached', () => {
    const { knee } = drive((c) => pt(c, [50 * c]));
    expect(knee).to.include({ concurrency: 256, reason: 'end', reached: false });
  });

  it('a gain inside the repetitions\' spread is not a rise, however large in percent', () => {
    // +20% in median, but each step's repetitions range over ±30%
    const r = rose(pt(16, [700, 1000, 1300]), pt(64, [800, 1200, 1500]));
    expect(r.rose).to.equal(false);
    expect(r.needed).to.equal(650);
  });

  it('the same +20% with tight repetitions is a rise; +3% with none is not (the 5% floor)', () => {
    expect(rose(pt(16, [995, 1000, 1005]), pt(64, [1195, 1200, 1205])).rose).to.equal(true);
    expect(rose(pt(16, [1000]), pt(64, [1030])).rose).to.equal(false);
  });

  it('a point with no rates or a NaN error rate stops the ramp rather than crashing', () => {
    expect(findKnee([pt(1, [100]), pt(4, [])])).to.include({ concurrency: 1, reason: 'plateau' });
    expect(findKnee([pt(1, [100]), pt(4, [400], NaN)])).to.include({ concurrency: 1, reason: 'errors' });
    expect(findKnee([])).to.include({ reason: 'end', reached: false });
  });

  it('findKnee reads a measured ramp in any order', () => {
    const pts = [pt(64, [2000]), pt(1, [300]), pt(16, [1990]), pt(4, [1200])];
    expect(findKnee(pts)).to.include({ concurrency: 16, reason: 'plateau', stoppedAt: 64 });
  });

  it('custom steps are honoured and sorted', () => {
    expect(rampNext([pt(2, [100])], { steps: [8, 2, 32] })).to.deep.equal({ next: 8 });
  });
});
