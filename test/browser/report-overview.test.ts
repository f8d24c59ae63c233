import { expect } from 'chai';
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderHtml } from '../../harness/report/html.js';
import { writeMainOverview } from '../../harness/report/overview.js';
import { fixture } from '../fixtures/report/fixtures.js';
import { mainRuns, smokePassed } from '../fixtures/report/overview.js';
import { ReportBrowser } from './inspect.js';

/**
 * The main job's overview page in a real browser: written into a reports folder beside run
 * directories that hold a real report.html, it must load nothing but itself, log no error,
 * show every run's row with its verdict and counts, and its links must lead, from the file
 * the browser opened, to each run's report.
 */
describe('the main job overview page in headless Chromium', function () {
  this.timeout(60_000);
  let browser: ReportBrowser;

  before(async () => {
    browser = await ReportBrowser.launch();
  });

  after(async () => {
    await browser?.close();
  });

  it('shows every run with its verdict and counts, loads nothing else, and its links open the runs’ reports', async () => {
    const reports = path.join(browser.dir, 'reports');
    const smoke = smokePassed(reports);
    const runs = mainRuns(reports);
    const nat = fixture('nat');
    await mkdir(smoke.reportDir, { recursive: true });
    await writeFile(path.join(smoke.reportDir, 'results.json'), JSON.stringify({ runId: smoke.runId, checks: smoke.checks }, null, 2));
    for (const x of runs) {
      await mkdir(x.result.reportDir, { recursive: true });
      await writeFile(path.join(x.result.reportDir, 'report.html'), renderHtml({ ...nat.results, runId: x.result.runId, topology: { ...nat.results.topology, name: x.topology } }, nat.history));
    }
    const file = await writeMainOverview({ id: 'main-20261129T192800-zz00', startedAt: new Date(Date.now() - 300_000), smoke, smokeMs: 4_300, runs, planned: ['nat', 'dr', 'tun', 'full<nat>&"x"'] });

    const png = path.join(browser.dir, 'overview.png');
    const { url, page, requests, errors } = await browser.open(file, png);
    try {
      expect(requests).to.deep.equal([url]);
      expect(errors).to.deep.equal([]);
      expect(statSync(png).size).to.be.greaterThan(20_000);

      expect(await page.title()).to.equal('ERROR lvs-harness main main-20261129T192800-zz00');
      expect(await page.locator('header.run.error h1').isVisible()).to.equal(true);
      expect((await page.locator('p.lede').innerText()).trim()).to.equal('3 of 5 runs did not pass; 7 checks passed, 5 failed.');

      const rows = page.locator('table.overview tr[data-run]');
      expect(await rows.count()).to.equal(5);
      const seen = await rows.evaluateAll((trs) =>
        trs.map((tr) => {
          const cells = [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim());
          const a = tr.querySelector('a')!;
          const box = tr.getBoundingClientRect();
          return { run: tr.getAttribute('data-run'), verdict: cells[1], passed: cells[2], failed: cells[3], link: a.textContent, href: (a as HTMLAnchorElement).href, visible: box.width > 0 && box.height > 0 };
        }),
      );
      expect(seen.map((r) => [r.run, r.verdict, r.passed, r.failed, r.link, r.visible])).to.deep.equal([
        ['smoke', '✔ PASSED', '2', '0', 'results.json', true],
        ['nat modes', '✔ PASSED', '3', '0', 'report.html', true],
        ['dr modes', '✘ FAILED', '1', '2', 'report.html', true],
        ['tun modes', '! ERROR', '1', '2', 'report.html', true],
        ['full<nat>&"x" modes', '✘ FAILED', '0', '1', 'report.html', true],
      ]);
      // each link, resolved by the browser against the file it opened, is a file that exists
      expect(seen.map((r) => fileURLToPath(r.href))).to.deep.equal([path.join(smoke.reportDir, 'results.json'), ...runs.map((x) => path.join(x.result.reportDir, 'report.html'))]);
      for (const r of seen) expect(existsSync(fileURLToPath(r.href)), r.href).to.equal(true);

      // the error line and the failing checks show under their runs
      expect(await page.locator('tr[data-detail-for="tun modes"] pre.error-line').first().innerText()).to.equal('error in build: ERR_LVS_IPVS_MISMATCH: director: IPVS table differs from the plan');
      expect(await page.locator('tr[data-detail-for="dr modes"] li').allInnerTexts()).to.deep.equal(['web: arp_ignore on lo', 'mark: mark balances']);
      expect(await page.locator('p.not-run').isVisible()).to.equal(false);

      // a click opens the run's own report
      await Promise.all([page.waitForURL(/20261129T193829-next\/report\.html$/), page.locator('tr[data-run="dr modes"] a').click()]);
      expect(await page.title()).to.match(/lvs-harness dr 20261129T193829-next$/);
      expect(await page.locator('section#checks').isVisible()).to.equal(true);
      await page.goBack();
      expect(page.url()).to.equal(url);
    } finally {
      await page.close();
    }
  });
});
