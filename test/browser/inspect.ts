import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Opens a report.html in Debian's headless Chromium (playwright-core drives it) and returns
 * what a reader's browser did: every request, every console error, a full-page screenshot,
 * and the charts as the live DOM draws them (series and points per SVG).
 */
export const CHROMIUM = process.env.LVS_HARNESS_CHROMIUM ?? '/usr/bin/chromium';

export interface DomChart {
  kind: string;
  node: string | null;
  series: { name: string; points: number; sum: number }[];
  width: number;
  height: number;
}

export interface PageInspection {
  url: string;
  requests: string[];
  errors: string[];
  charts: DomChart[];
  /** failures open, passes closed */
  openDetails: boolean[];
  distributionTip?: string | null;
}

export class ReportBrowser {
  private constructor(
    readonly dir: string,
    readonly context: BrowserContext,
  ) {}

  static async launch(): Promise<ReportBrowser> {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set LVS_HARNESS_CHROMIUM)`);
    const dir = await mkdtemp(path.join(tmpdir(), 'lvs-report-browser-'));
    const context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      // without the background-networking flags Chromium reaches out to Google at start
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    return new ReportBrowser(dir, context);
  }

  /** A page on the file, loaded, with a full-page screenshot: every request and console error it made are collected. The caller closes it. */
  async open(file: string, screenshot: string): Promise<{ url: string; page: Page; requests: string[]; errors: string[] }> {
    const url = pathToFileURL(file).href;
    const page = await this.context.newPage();
    const requests: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      await page.goto(url, { waitUntil: 'load' });
      await page.screenshot({ path: screenshot, fullPage: true });
    } catch (e) {
      await page.close();
      throw e;
    }
    return { url, page, requests, errors };
  }

  async inspect(file: string, screenshot: string): Promise<PageInspection> {
    const { url, page, requests, errors } = await this.open(file, screenshot);
    try {
      const charts = await page.$$eval('svg[data-chart]', (svgs) =>
        svgs.map((svg) => {
          const box = svg.getBoundingClientRect();
          return {
            kind: svg.getAttribute('data-chart')!,
            node: svg.getAttribute('data-node'),
            series: [...svg.querySelectorAll('g[data-series]')].map((g) => ({
              name: g.getAttribute('data-series')!,
              points: g.querySelectorAll('[data-point]').length,
              sum: [...g.querySelectorAll('[data-point]')].reduce((a, p) => a + (Number(p.getAttribute('data-value')) || 0), 0),
            })),
            width: box.width,
            height: box.height,
          };
        }),
      );
      const openDetails = await page.$$eval('table.checks details', (ds) => ds.map((d) => (d as HTMLDetailsElement).open));
      const distributionTip = await page.$eval('svg[data-chart="distribution"] g[data-series="observed"] [data-point] title', (t) => t.textContent).catch(() => undefined);
      return { url, requests, errors, charts, openDetails, distributionTip };
    } finally {
      await page.close();
    }
  }

  async close(keep = !!process.env.LVS_HARNESS_KEEP_SCREENSHOTS): Promise<void> {
    await this.context.close();
    if (!keep) await rm(this.dir, { recursive: true, force: true });
  }
}
