import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { build } from 'esbuild';
import { NODE_BUNDLE } from '../../harness/load/bundle.js';
import { fileURLToPath } from 'node:url';
import { LatencyHistogram } from '../../harness/bench/histogram.js';

/** within HDR's 3 significant digits (0.1%), plus one µs for rounding to whole µs */
const near = (got: number, want: number) => expect(Math.abs(got - want)).to.be.at.most(want * 0.001 + 0.001, `${got} vs ${want}`);

describe('bench latency histogram', () => {
  it('uniform 1..10000 ms: percentiles, mean, min, max within 0.1%', () => {
    const h = LatencyHistogram.create();
    for (let i = 1; i <= 10_000; i++) h.recordMs(i);
    const s = h.summary();
    expect(s.count).to.equal(10_000);
    near(s.p50Ms, 5000);
    near(s.p90Ms, 9000);
    near(s.p99Ms, 9900);
    near(s.maxMs, 10_000);
    near(s.minMs, 1);
    near(s.meanMs, 5000.5);
  });

  it('bimodal (90% at 1 ms, 10% at 100 ms): p50 and p90 at the fast mode, p99 at the slow, mean between', () => {
    const h = LatencyHistogram.create();
    for (let i = 0; i < 900; i++) h.recordMs(1);
    for (let i = 0; i < 100; i++) h.recordMs(100);
    const s = h.summary();
    near(s.p50Ms, 1);
    near(s.p90Ms, 1);
    near(s.p99Ms, 100);
    near(s.meanMs, 10.9);
  });

  it('sub-millisecond latencies keep µs resolution', () => {
    const h = LatencyHistogram.create();
    for (const v of [0.05, 0.1, 0.25, 0.25]) h.recordMs(v);
    expect(h.summary().minMs).to.equal(0.05);
    expect(h.percentileMs(50)).to.equal(0.1);
    expect(h.summary().maxMs).to.equal(0.25);
  });

  it('merging the encoded parts gives the same summary as one histogram of all values', () => {
    const all = LatencyHistogram.create();
    const parts = [0, 1, 2].map(() => LatencyHistogram.create());
    for (let i = 0; i < 3000; i++) {
      const v = ((i * 7919) % 997) + 0.5;
      all.recordMs(v);
      parts[i % 3]!.recordMs(v);
    }
    const merged = LatencyHistogram.merge(parts.map((p) => p.encode()));
    expect(merged.summary()).to.deep.equal(all.summary());
  });

  it('a point of 100k requests encodes in under 2 KB', () => {
    const h = LatencyHistogram.create();
    for (let i = 0; i < 100_000; i++) h.recordMs(0.2 + ((i * 37) % 5000) / 100);
    expect(h.encode().length).to.be.below(2048);
  });

  it('counts bad latencies as rejected instead of throwing, and keeps the count through encoding', () => {
    const h = LatencyHistogram.create();
    for (const v of [NaN, -1, Infinity, 'x' as unknown as number]) h.recordMs(v);
    h.recordMs(2);
    const back = LatencyHistogram.decode(h.encode());
    expect(back.summary()).to.include({ count: 1, rejected: 4 });
    expect(LatencyHistogram.merge([back, back]).summary().rejected).to.equal(8);
  });

  it('an empty histogram summarises to NaN percentiles, not a crash', () => {
    const s = LatencyHistogram.decode(LatencyHistogram.create().encode()).summary();
    expect(s.count).to.equal(0);
    expect(s.p99Ms).to.be.NaN;
  });

  it('rejects garbage with ERR_LVS_BENCH_HISTOGRAM', () => {
    for (const bad of ['', 'not base64!', 'HISTFAAAAB', 'abc:xyz', 42 as unknown as string]) expect(() => LatencyHistogram.decode(bad), String(bad)).to.throw().with.property('code', 'ERR_LVS_BENCH_HISTOGRAM');
  });

  it('runs inside the load agent bundle (esbuild, CommonJS, node20) and its encoding reads back on the host', async function () {
    this.timeout(30_000);
    const out = await build({
      stdin: {
        contents: `import { LatencyHistogram } from './histogram.ts'; const h = LatencyHistogram.create(); for (let i = 1; i <= 1000; i++) h.recordMs(i / 10); process.stdout.write(h.encode());`,
        resolveDir: fileURLToPath(new URL('../../harness/bench/', import.meta.url)),
        loader: 'ts',
      },
      ...NODE_BUNDLE,
    });
    const encoded = execFileSync(process.execPath, ['-'], { input: out.outputFiles[0]!.text, encoding: 'utf8' });
    const s = LatencyHistogram.decode(encoded).summary();
    expect(s.count).to.equal(1000);
    near(s.p99Ms, 99);
  });
});
