import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchSection, benchSectionsOfRun, renderBenchSection } from '../../harness/bench/html.js';
import { readHistoryLenient, REPORTERS, rerender, withHtmlSections, writeReports } from '../../harness/report/index.js';
import { loadResults } from '../../harness/report/results.js';
import { historyFile, resultsFile } from '../fixtures/report/fixtures.js';
import { benchReport } from './bench-fixture.js';

const BENCH_CHARTS = ['bench-throughput', 'bench-latency', 'bench-cpu', 'bench-ceiling'];

describe('report: `lvs-harness report` of a bench run draws its bench section again from bench.json', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-report-bench-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** a run directory: the nat fixture's results (as a bench run's, suites ["bench"], when `bench`) and history, and bench.json's text if given */
  async function runDir(id: string, o: { bench: boolean; benchJson?: string }): Promise<string> {
    const d = path.join(dir, id);
    await mkdir(d, { recursive: true });
    const results = JSON.parse(await readFile(resultsFile('nat'), 'utf8')) as { suites: string[] };
    if (o.bench) results.suites = ['bench'];
    await writeFile(path.join(d, 'results.json'), JSON.stringify(results, null, 2));
    await copyFile(historyFile('nat'), path.join(d, 'history.ndjson'));
    if (o.benchJson !== undefined) await writeFile(path.join(d, 'bench.json'), o.benchJson);
    return d;
  }

  const html = (d: string) => readFile(path.join(d, 'report.html'), 'utf8');
  /** rerender as `lvs-harness report <run-dir>` calls it (harness/cli.ts): with bench's sections */
  const report = (d: string) => rerender(d, { sections: benchSectionsOfRun });

  it('a valid bench.json: the section with its four charts, the same page bench wrote', async () => {
    const b = benchReport();
    const d = await runDir('20261121T073453-b3nc', { bench: true, benchJson: JSON.stringify(b, null, 2) + '\n' });
    // report.html as `lvs-harness bench` writes it at the end of the run
    const results = await loadResults(path.join(d, 'results.json'));
    const { events } = await readHistoryLenient(path.join(d, 'history.ndjson'));
    const byBench = await writeReports(d, results, events, withHtmlSections(REPORTERS, () => benchSection({ report: b })));
    expect(byBench.errors).to.deep.equal([]);
    const written = await html(d);
    await rm(path.join(d, 'report.html'));

    const out = await report(d);
    expect(out.errors).to.deep.equal([]);
    expect(out.warnings).to.deep.equal([]);
    const page = await html(d);
    expect(page).to.include('<section id="bench" class="bench">');
    for (const kind of BENCH_CHARTS) expect(page, kind).to.include(`data-chart="${kind}"`);
    expect(page).to.include(renderBenchSection(b));
    expect(page).to.include('straight from client to rs1');
    expect(page).not.to.include('data-bench-absent');
    // the run's own sections are still there, after bench's
    expect(page.indexOf('id="bench"')).to.be.lessThan(page.indexOf('id="checks"'));
    expect(page).to.equal(written);
  });

  for (const [what, text, line] of [
    ['cut short (not JSON)', JSON.stringify(benchReport()).slice(0, 200), /bench\.json: not JSON \(/],
    ['of another schema version', JSON.stringify({ ...benchReport(), schema: 'lvs-harness/bench@2' }), /bench\.json: field schema: "lvs-harness\/bench@2" is not a bench schema this harness reads \(lvs-harness\/bench@1\)/],
    ['invalid in a field', JSON.stringify({ ...benchReport(), runId: 7 }), /bench\.json: field runId: 7 is not a string/],
    ['missing', undefined, /bench\.json: no such file/],
  ] as const)
    it(`a bench.json ${what}: the page renders, with a line saying why the bench section is absent`, async () => {
      const d = await runDir('20261121T073453-dmg1', { bench: true, ...(text !== undefined ? { benchJson: text } : {}) });
      const out = await report(d);
      expect(out.errors).to.deep.equal([]);
      expect(out.written.map((f) => path.basename(f))).to.deep.equal(['junit.xml', 'summary.md', 'report.html']);
      expect(out.warnings).to.have.length(1);
      expect(out.warnings[0]).to.match(/^no bench section in report\.html: /);
      expect(out.warnings[0]).to.match(line);
      const page = await html(d);
      const absent = page.match(/<p class="empty" data-bench-absent>([^<]*)<\/p>/)?.[1];
      expect(absent, 'the explanatory line').to.be.a('string');
      expect(absent).to.match(/^No bench figures or charts: /);
      expect(absent).to.match(line);
      for (const kind of BENCH_CHARTS) expect(page, kind).not.to.include(`data-chart="${kind}"`);
      expect(page).to.include('id="checks"');
      expect(page).to.include('data-chart="timeline"');
    });

  it('a run that is not a bench run has no bench section, even beside a bench.json', async () => {
    const d = await runDir('20261121T073453-c434', { bench: false, benchJson: JSON.stringify(benchReport()) });
    const out = await report(d);
    expect(out.errors).to.deep.equal([]);
    expect(out.warnings).to.deep.equal([]);
    const page = await html(d);
    expect(page).not.to.include('id="bench"');
    expect(page).not.to.include('data-bench-absent');
    for (const kind of BENCH_CHARTS) expect(page, kind).not.to.include(`data-chart="${kind}"`);
    expect(page).to.include('id="checks"');
  });

  it('rerender without sections (report itself knows no command) gives a bench run no bench section', async () => {
    const d = await runDir('20261121T073453-b3nd', { bench: true, benchJson: JSON.stringify(benchReport()) });
    const out = await rerender(d);
    expect(out.errors).to.deep.equal([]);
    expect(out.warnings).to.deep.equal([]);
    const page = await html(d);
    expect(page).not.to.include('id="bench"');
    expect(page).to.include('id="checks"');
  });
});
