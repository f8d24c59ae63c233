import { expect } from 'chai';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderHtml } from '../../harness/report/html.js';
import { FIXTURE_NAMES, expectedCharts, fixture } from '../fixtures/report/fixtures.js';
import { ReportBrowser, type DomChart } from './inspect.js';

/**
 * report.html in a real browser (Debian's chromium, driven by playwright-core): it must load
 * nothing but itself, log no error, and draw in the live DOM the series and points the
 * fixture calls for. The end-to-end tests do the same with the report of a real run.
 */
describe('report.html in headless Chromium', function () {
  this.timeout(60_000);
  let browser: ReportBrowser;

  before(async () => {
    browser = await ReportBrowser.launch();
  });

  after(async () => {
    await browser?.close();
  });

  for (const name of FIXTURE_NAMES) {
    it(`${name}: loads nothing but itself, logs no error, and draws every series and point`, async () => {
      const { results, history } = fixture(name);
      const file = path.join(browser.dir, `${name}-report.html`);
      await writeFile(file, renderHtml(results, history));
      const png = path.join(browser.dir, `${name}-report.png`);
      const { url, requests, errors, charts, openDetails, distributionTip } = await browser.inspect(file, png);
      expect(requests).to.deep.equal([url]);
      expect(errors).to.deep.equal([]);
      expect(statSync(png).size).to.be.greaterThan(50_000);

      const want = expectedCharts(results, history);
      const of = (k: string) => charts.filter((c) => c.kind === k);
      const series = (c: DomChart | undefined, n: string) => c?.series.find((s) => s.name === n);

      // every chart is laid out, not collapsed to nothing
      for (const c of charts) expect(c.width * c.height, `${c.kind} size`).to.be.greaterThan(10_000);

      expect(of('distribution').map((c) => c.series.map((s) => `${s.name}:${s.points}`))).to.deep.equal(
        want.distribution.map((w) => [`observed:${w.servers}`, ...(w.expected ? [`expected:${w.servers}`] : [])]),
      );

      expect(of('timeline').map((c) => c.node)).to.deep.equal(want.timeline.map((t) => t.node));
      for (const [i, c] of of('timeline').entries()) {
        expect(series(c, 'ok')?.sum ?? 0).to.equal(want.timeline[i]!.ok);
        expect(series(c, 'failed')?.sum ?? 0).to.equal(want.timeline[i]!.failed);
        expect(series(c, 'faults')?.points ?? 0).to.equal(want.faults);
        expect(series(c, 'vrrp')?.points ?? 0).to.equal(want.vrrp);
        expect(series(c, 'ipvs-edit')?.points ?? 0).to.equal(want.edits);
      }

      const bound = of('time-vs-bound');
      expect(bound).to.have.length(want.bound.rows ? 1 : 0);
      if (want.bound.rows) {
        expect(series(bound[0], 'measured')?.points ?? 0).to.equal(want.bound.measured);
        expect(series(bound[0], 'bound')!.points).to.equal(want.bound.rows);
        expect(series(bound[0], 'tolerance')?.points ?? 0).to.equal(want.bound.tolerance);
        expect(series(bound[0], 'resolution')?.points ?? 0).to.equal(want.bound.resolution);
      }

      expect(of('latency').map((c) => c.series.map((s) => `${s.name}:${s.points}`))).to.deep.equal([['p50', 'p90', 'p99', 'max'].map((p) => `${p}:${want.latencyRows}`)]);

      // the native tooltip of a point says what it is
      expect(distributionTip).to.match(/^rs\d: observed \d+(\.\d)?%$/);

      // failures open, passes closed: a reader sees what went wrong without clicking
      expect(openDetails.filter(Boolean).length).to.equal(results.checks.filter((c) => c.valid !== true).length + results.errors.length);
    });
  }
});
