import { expect } from 'chai';
import { withCeilingRatios } from '../../harness/bench/ceiling.js';
import { renderBenchSection } from '../../harness/bench/html.js';
import { formatBenchEnd } from '../../harness/bench/run.js';
import { parseBench, type BenchMode, type BenchReport, type ConnectionMode, type ModeName } from '../../harness/bench/schema.js';
import { modeKnees, summarisePoint } from '../../harness/bench/summarise.js';
import { rep, report } from './bench-fixture.js';

/** a ramp over 1, 4, 16 for both connection modes; rate scales with `k`, CPU cores with `cpu` */
function ramp(name: ModeName, k: number, cpu?: number): BenchMode {
  const points = (['keep-alive', 'new-connection'] as ConnectionMode[]).flatMap((connection) =>
    [1, 4, 16].map((c) => summarisePoint({ concurrency: c, sizeBytes: 1024, connection }, [rep(k * Math.min(c, 4) * 100, 1 + c / 4, cpu !== undefined ? { directorCpuCores: cpu } : {}), rep(k * Math.min(c, 4) * 101, 1 + c / 4, cpu !== undefined ? { directorCpuCores: cpu } : {})])),
  );
  return { mode: name, points, knees: modeKnees(points, { steps: [1, 4, 16] }) };
}

function benchReport(): BenchReport {
  const r = report([ramp('nat', 0.8, 0.4), ramp('ceiling', 1, 0.3)]);
  const out: BenchReport = withCeilingRatios({
    ...r,
    settings: { ...r.settings, steps: [1, 4, 16], connections: ['keep-alive', 'new-connection'], generator: 'wrk' },
    topologies: [{ topology: 'nat', services: [{ ...r.topologies[0]!.services[0]!, ceilingPath: 'straight from client to rs1 (10.89.20.11)' }] }],
  });
  return parseBench(JSON.parse(JSON.stringify(out)), 'bench.json');
}

const count = (html: string, re: RegExp) => (html.match(re) ?? []).length;

describe('bench section of report.html', () => {
  const b = benchReport();
  const html = renderBenchSection(b);

  it('draws the four charts: throughput by concurrency, latency, kernel CPU per 1,000 conn/s, ratio to the ceiling', () => {
    for (const kind of ['bench-throughput', 'bench-latency', 'bench-cpu', 'bench-ceiling']) expect(html, kind).to.include(`data-chart="${kind}"`);
    // one throughput chart per connection mode, a line per mode (nat and the ceiling), a point per concurrency
    expect(count(html, /data-chart="bench-throughput"/g)).to.equal(2);
    expect(count(html, /<g data-series="nat">/g)).to.equal(2);
    expect(count(html, /<g data-series="ceiling \(nat\)">/g)).to.equal(2);
    expect(count(html, /<circle data-point=/g)).to.equal(12);
    expect(html).not.to.match(/NaN|undefined|Infinity/);
  });

  it('says how the director CPU was measured, how the ceiling was reached, and the environment', () => {
    expect(html).to.include(b.directorCpu.how);
    expect(html).to.include('straight from client to rs1');
    expect(html).to.include('software emulation');
    expect(html).to.match(/<td>nat<\/td><td class="num">41\.2 s<\/td>/);
  });

  it('the ratio chart shows the knee over the ceiling\'s (0.8 here)', () => {
    const ratio = html.slice(html.indexOf('data-chart="bench-ceiling"'));
    expect(ratio).to.match(/data-value="0\.8\d*"/);
  });

  it('the terminal\'s end names each knee, its ratio and where the files are', () => {
    const text = formatBenchEnd({ runId: 'r', reportDir: 'reports/r', benchFile: 'reports/r/bench.json', report: b, reports: { written: [], failed: [] } });
    expect(text).to.match(/nat\s+keep-alive\s+1024 B\s+knee\s+4 conns\s+\d+\/s .* 0\.80 of the ceiling/);
    expect(text).to.match(/nat\s+new-connection .* kernel \d\.\d{3} cores per 1,000\/s/);
    expect(text).to.include('bench:   reports/r/bench.json');
    expect(text).to.include('report:  reports/r/report.html');
  });
});
