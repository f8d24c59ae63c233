import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { formatRuns, listRuns, REPORTERS, rerender, writeReports, type FileReporter } from '../../harness/report/index.js';
import { renderJUnit } from '../../harness/report/junit.js';
import { renderSummary } from '../../harness/report/summary.js';
import { rejection } from '../helpers.js';
import { FIXTURES, fixture, historyFile, resultsFile } from '../fixtures/report/fixtures.js';

describe('report: writing and listing runs', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-reports-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function runDir(id: string, n?: 'nat' | 'ha-synthetic'): Promise<string> {
    const d = path.join(dir, id);
    await mkdir(d, { recursive: true });
    if (n) {
      await copyFile(resultsFile(n), path.join(d, 'results.json'));
      await copyFile(historyFile(n), path.join(d, 'history.ndjson'));
    }
    return d;
  }

  it('writeReports writes junit.xml, summary.md and report.html next to results.json', async () => {
    const d = await runDir('20261121T073453-c434', 'nat');
    const { results, history } = fixture('nat');
    const out = await writeReports(d, results, history);
    expect(out.errors).to.deep.equal([]);
    expect(out.written.map((f) => path.basename(f))).to.deep.equal(['junit.xml', 'summary.md', 'report.html']);
    expect((await readdir(d)).sort()).to.deep.equal(['history.ndjson', 'junit.xml', 'report.html', 'results.json', 'summary.md']);
    expect(await readFile(path.join(d, 'summary.md'), 'utf8')).to.equal(renderSummary(results));
  });

  it('a reporter that throws costs only its own file, and its error comes back', async () => {
    const d = await runDir('r1');
    await writeFile(path.join(d, 'report.html'), 'the previous report');
    const broken: FileReporter = { name: 'html', file: 'report.html', render: () => { throw new Error('chart exploded'); } };
    const { results, history } = fixture('ha-synthetic');
    const out = await writeReports(d, results, history, [REPORTERS[0]!, broken, REPORTERS[1]!]);
    expect(out.written.map((f) => path.basename(f))).to.deep.equal(['junit.xml', 'summary.md']);
    expect(out.errors.map((e) => `${e.reporter} ${path.basename(e.file)} ${e.error.message}`)).to.deep.equal(['html report.html chart exploded']);
    expect(await readFile(path.join(d, 'report.html'), 'utf8')).to.equal('the previous report');
    expect((await readdir(d)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('rerender renders a run directory again from its results and history', async () => {
    const d = await runDir('20261121T083320-k2pq', 'ha-synthetic');
    const out = await rerender(d);
    expect(out.errors).to.deep.equal([]);
    expect(out.warnings).to.deep.equal([]);
    expect(await readFile(path.join(d, 'junit.xml'), 'utf8')).to.equal(renderJUnit(fixture('ha-synthetic').results));
    expect(await readFile(path.join(d, 'report.html'), 'utf8')).to.include('data-chart="timeline"');
  });

  it('rerender survives a history cut mid-line and a missing history, with a warning', async () => {
    const d = await runDir('cut', 'ha-synthetic');
    const h = path.join(d, 'history.ndjson');
    const text = await readFile(h, 'utf8');
    await writeFile(h, text.slice(0, text.length - 40));
    const out = await rerender(d);
    expect(out.errors).to.deep.equal([]);
    expect(out.warnings).to.have.length(1);
    expect(out.warnings[0]).to.match(/history\.ndjson: skipped 1 line that is not a history event \(line 173\)$/);
    await rm(h);
    const again = await rerender(d);
    expect(again.warnings[0]).to.match(/history\.ndjson: no such file; the report has no timeline/);
    expect(await readFile(path.join(d, 'report.html'), 'utf8')).to.include('The history is empty');
  });

  it('rerender of a directory without results.json says which file is missing', async () => {
    const d = await runDir('empty');
    expect((await rejection(rerender(d))).message).to.equal(`${path.join(d, 'results.json')}: no such file`);
  });

  it('listRuns lists finished, unfinished and unreadable runs, newest first', async () => {
    await runDir('20261121T073453-c434', 'nat');
    await runDir('20261121T083320-k2pq', 'ha-synthetic');
    await runDir('20261121T090000-zzzz');
    const bad = await runDir('20261120T235959-bad1');
    await writeFile(path.join(bad, 'results.json'), '{"schema":"lvs-harness/results@0"');
    await writeFile(path.join(dir, 'README'), 'not a run');
    const runs = await listRuns(dir);
    expect(runs.map((r) => `${r.id} ${r.status}`)).to.deep.equal([
      '20261121T090000-zzzz incomplete',
      '20261121T083320-k2pq failed',
      '20261121T073453-c434 passed',
      '20261120T235959-bad1 unreadable',
    ]);
    expect(runs[0]!.startedAt).to.equal('2026-11-21T09:00:00Z');
    expect(runs[1]).to.deep.include({ topology: 'nat-ha', suites: ['failover', 'drain'], errors: 1 });
    expect(runs[1]!.checks).to.deep.equal({ total: 6, passed: 2, failed: 2, unknown: 2 });
    expect(runs[3]!.problem).to.match(/results\.json: not JSON/);
    const table = formatRuns(runs).split('\n');
    expect(table[0]).to.match(/^RUN\s+STARTED \(UTC\)\s+TOPOLOGY\s+SUITES\s+VERDICT\s+CHECKS$/);
    expect(table[1]).to.match(/^20261121T090000-zzzz\s+2026-11-21 09:00:00\s+incomplete$/);
    expect(table[2]).to.match(/^20261121T083320-k2pq\s+2026-11-21 08:33:20\s+nat-ha\s+failover,drain\s+failed\s+2\/6 passed, 2 failed, 2 unknown, 1 error$/);
    expect(table[3]).to.match(/^20261121T073453-c434\s+2026-11-21 07:34:53\s+nat\s+schedulers,persistence,drain\s+passed\s+19\/19 passed$/);
  });

  it('a run that ended in an error is listed with its topology, verdict "error" and the error, and renders again', async () => {
    const d = await runDir('20261122T101500-b3rr');
    await copyFile(path.join(FIXTURES, 'build-error-results.json'), path.join(d, 'results.json'));
    await runDir('20261121T073453-c434', 'nat');
    const runs = await listRuns(dir);
    expect(runs.map((r) => `${r.id} ${r.status}`)).to.deep.equal(['20261122T101500-b3rr error', '20261121T073453-c434 passed']);
    expect(runs[0]).to.deep.include({ topology: 'dr', suites: ['modes'], error: 'error in build: ERR_LVS_IPVS_MISMATCH: director: the IPVS table read back differs from the plan' });
    expect(formatRuns(runs).split('\n')[1]).to.match(/^20261122T101500-b3rr\s+2026-11-22 10:15:00\s+dr\s+modes\s+error\s+error in build: ERR_LVS_IPVS_MISMATCH: director: the IPVS table read back differs from the plan$/);
    const out = await rerender(d);
    expect(out.errors).to.deep.equal([]);
    expect(await readFile(path.join(d, 'junit.xml'), 'utf8')).to.include('<testcase classname="dr" name="build">');
    expect(await readFile(path.join(d, 'summary.md'), 'utf8')).to.include('Hint: a DR real server listed on another port');
  });

  it('listRuns of a reports directory that does not exist is empty', async () => {
    expect(await listRuns(path.join(dir, 'nothing-here'))).to.deep.equal([]);
    expect(formatRuns([])).to.equal('no runs\n');
  });
});
