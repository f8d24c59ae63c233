import { expect } from 'chai';
import { renderBenchSection } from '../../harness/bench/html.js';
import { formatBenchEnd } from '../../harness/bench/run.js';
import { benchReport } from './bench-fixture.js';

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
