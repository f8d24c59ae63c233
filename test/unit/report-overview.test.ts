import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { formatRuns, listRuns } from '../../harness/report/index.js';
import {
  OVERVIEW_PREFIX,
  overviewTotals,
  overviewVerdict,
  relativeHref,
  renderOverview,
  runEntry,
  smokeEntry,
  writeMainOverview,
  type OverviewEntry,
} from '../../harness/report/overview.js';
import { allPassing, mainRuns, smokeError, smokePassed } from '../fixtures/report/overview.js';

const REPORTS = '/srv/lvs/reports';
const DIR = path.join(REPORTS, 'main-20261129T192800-zz00');

/** the rows of the runs table: name, verdict, passed, failed, time, link and its text */
function rows(html: string) {
  return [...html.matchAll(/<tr class="[^"]+" data-run="([^"]*)" data-verdict="([^"]+)"><td class="name">[\s\S]*?<\/td><td>[\s\S]*?<\/td><td class="num">(\d+)<\/td><td class="num">(\d+)<\/td><td class="num">([^<]*)<\/td><td><a href="([^"]*)">([^<]*)<\/a><\/td><\/tr>/g)].map((m) => ({
    name: m[1]!,
    verdict: m[2]!,
    passed: Number(m[3]),
    failed: Number(m[4]),
    time: m[5]!,
    href: m[6]!,
    text: m[7]!,
  }));
}

const detail = (html: string, name: string) => html.match(new RegExp(`<tr class="detail [^"]+" data-detail-for="${name}">([\\s\\S]*?)</tr>`))?.[1];

function job(reports = REPORTS, dir = DIR) {
  return [smokeEntry(smokePassed(reports), dir, 4_300), ...mainRuns(reports).map((x) => runEntry(`${x.topology} modes`, x.result, dir, x.ms))];
}

describe('report: the main job overview page', () => {
  describe('entries', () => {
    it('count as the main job table does: failed adds unknown checks, errors and the error that ended the run', () => {
      const e = job();
      expect(e.map((x) => [x.name, x.verdict, x.passed, x.failed])).to.deep.equal([
        ['smoke', 'passed', 2, 0],
        ['nat modes', 'passed', 3, 0],
        ['dr modes', 'failed', 1, 2],
        ['tun modes', 'error', 1, 2],
        ['full<nat>&"x" modes', 'failed', 0, 1],
      ]);
      expect(overviewTotals(e)).to.deep.equal({ runs: 5, passed: 7, failed: 5, notPassed: 3 });
    });

    it('carry the error that ended a run first, then the errors that did not, one line each; failing checks by group', () => {
      const tun = job()[3]!;
      expect(tun.errors).to.deep.equal(['error in build: ERR_LVS_IPVS_MISMATCH: director: IPVS table differs from the plan', 'modes "before all" hook: agent did not start']);
      expect(job()[2]!.failures).to.deep.equal(['web: arp_ignore on lo', 'mark: mark balances']);
      const smoke = smokeEntry(smokeError(REPORTS), DIR, 900);
      expect([smoke.verdict, smoke.passed, smoke.failed]).to.deep.equal(['error', 0, 1]);
      expect(smoke.errors).to.deep.equal(['error in runtime: ERR_LVS_LAB_DOWN: the lab did not boot: <qemu> exited & left "no" pid']);
    });

    it('link relatively from the overview directory: report.html for a suite run, results.json for the smoke check', () => {
      const e = job();
      expect(e.map((x) => x.href)).to.deep.equal([
        '../20261129T192806-a3v0/results.json',
        '../20261129T193405-9959/report.html',
        '../20261129T193829-next/report.html',
        '../20261129T194541-yv74/report.html',
        '../20261129T194604-ums8/report.html',
      ]);
      expect(relativeHref('/r/main-x', '/r/run #1/report.html')).to.equal('../run%20%231/report.html');
      expect(relativeHref('/r/main-x', '/elsewhere/a/results.json')).to.equal('../../elsewhere/a/results.json');
    });
  });

  describe('verdict', () => {
    const e = (verdict: OverviewEntry['verdict'], failed = 0): OverviewEntry => ({ name: verdict, verdict, passed: 1, failed, href: 'x' });
    it('passes only when every run passed and nothing failed', () => {
      expect(overviewVerdict([e('passed'), e('passed')])).to.equal('passed');
      expect(overviewVerdict([e('passed'), e('failed', 1)])).to.equal('failed');
      expect(overviewVerdict([e('passed', 1)])).to.equal('failed');
      expect(overviewVerdict([e('passed'), e('unknown')])).to.equal('unknown');
      expect(overviewVerdict([e('failed', 1), e('error', 1)])).to.equal('error');
      expect(overviewVerdict([e('error', 1), e('interrupted', 1)])).to.equal('interrupted');
      expect(overviewVerdict([])).to.equal('unknown');
    });
  });

  describe('renderOverview', () => {
    const meta = {
      id: 'main-20261129T192800-zz00',
      startedAt: '2026-11-29T19:28:00.000Z',
      finishedAt: '2026-11-29T19:34:30.000Z',
      runtime: { kind: 'lab', kernel: '6.1.0-27-amd64', endpoint: 'tcp://127.0.0.1:23750', docker: '20.10.24', reason: 'no IPVS on the host kernel' },
      host: { os: 'Linux 6.12.0 x64', kernel: '6.12.0', node: 'v20.19.0', cpus: 4, memoryMiB: 15_000 },
    };

    it('a job with a failure: FAIL at the top with the totals, every row with its verdict, counts, time and link', () => {
      const html = renderOverview(job(), meta);
      expect(html).to.match(/<title>ERROR lvs-harness main main-20261129T192800-zz00<\/title>/);
      expect(html).to.include('<header class="run error">');
      expect(html).to.include('3 of 5 runs did not pass; 7 checks passed, 5 failed.');
      expect(html).to.include('data-totals="7/5"');
      expect(rows(html)).to.deep.equal([
        { name: 'smoke', verdict: 'passed', passed: 2, failed: 0, time: '4.3 s', href: '../20261129T192806-a3v0/results.json', text: 'results.json' },
        { name: 'nat modes', verdict: 'passed', passed: 3, failed: 0, time: '1 min 31 s', href: '../20261129T193405-9959/report.html', text: 'report.html' },
        { name: 'dr modes', verdict: 'failed', passed: 1, failed: 2, time: '1 min 28 s', href: '../20261129T193829-next/report.html', text: 'report.html' },
        { name: 'tun modes', verdict: 'error', passed: 1, failed: 2, time: '12.5 s', href: '../20261129T194541-yv74/report.html', text: 'report.html' },
        { name: 'full&lt;nat&gt;&amp;&quot;x&quot; modes', verdict: 'failed', passed: 0, failed: 1, time: '450 ms', href: '../20261129T194604-ums8/report.html', text: 'report.html' },
      ]);
      // the error line under the run it ended, failing checks under theirs, nothing under a pass
      expect(detail(html, 'tun modes')).to.include('<pre class="error-line">error in build: ERR_LVS_IPVS_MISMATCH: director: IPVS table differs from the plan</pre>');
      expect(detail(html, 'dr modes')).to.include('<li>web: arp_ignore on lo</li><li>mark: mark balances</li>');
      expect(detail(html, 'nat modes')).to.equal(undefined);
      expect(detail(html, 'smoke')).to.equal(undefined);
    });

    it('a job that failed without an error is FAIL', () => {
      const entries = job().filter((x) => x.verdict !== 'error');
      const html = renderOverview(entries, meta);
      expect(overviewVerdict(entries)).to.equal('failed');
      expect(html).to.include('<header class="run failed">');
      expect(html).to.match(/<h1><span class="badge failed">✘ failed<\/span> lvs-harness main<\/h1>/);
      expect(html).to.include('2 of 4 runs did not pass; 6 checks passed, 3 failed.');
    });

    it('a job where everything passed says so, with the machine and the runtime', () => {
      const dir = DIR;
      const entries = [smokeEntry(smokePassed(REPORTS), dir, 4_300), ...allPassing(REPORTS).map((x) => runEntry(`${x.topology} modes`, x.result, dir, x.ms))];
      const html = renderOverview(entries, meta);
      expect(html).to.include('<header class="run passed">');
      expect(html).to.match(/<title>PASSED lvs-harness main/);
      expect(html).to.include('All 2 runs passed: 5 checks passed, 0 failed.');
      expect(rows(html).map((r) => r.verdict)).to.deep.equal(['passed', 'passed']);
      expect(html).to.not.include('class="detail');
      expect(html).to.include('<dt>runtime</dt><dd>lab (tcp://127.0.0.1:23750), kernel 6.1.0-27-amd64, Docker 20.10.24<br><span class="muted">no IPVS on the host kernel</span></dd>');
      expect(html).to.include('<dt>machine</dt><dd>Linux 6.12.0 x64, kernel 6.12.0, node v20.19.0, 4 CPUs, 15000 MiB</dd>');
      expect(html).to.include('finished 2026-11-29T19:34:30.000Z (6 min 30 s)');
    });

    it('a smoke check that ended the job: its error, no runtime, the topologies not run', () => {
      const html = renderOverview([smokeEntry(smokeError(REPORTS), DIR, 900)], { notRun: { names: ['nat', 'dr', 'tun', 'fullnat'], reason: 'the smoke check ended in an error' } });
      expect(html).to.include('<header class="run error">');
      expect(rows(html)).to.deep.equal([{ name: 'smoke', verdict: 'error', passed: 0, failed: 1, time: '900 ms', href: '../20261129T193357-1jw1/results.json', text: 'results.json' }]);
      expect(detail(html, 'smoke')).to.include('<pre class="error-line">error in runtime: ERR_LVS_LAB_DOWN: the lab did not boot: &lt;qemu&gt; exited &amp; left "no" pid</pre>');
      expect(detail(html, 'smoke')).to.not.include('second line');
      expect(html).to.include('not known (the smoke check ended before it had one)');
      expect(html).to.include('<b>Not run</b>: nat, dr, tun, fullnat <span class="muted">(the smoke check ended in an error)</span>');
    });

    it('escapes every text and attribute it is given', () => {
      const evil = '<img src=x onerror="alert(1)">&\'';
      const html = renderOverview(
        [{ name: evil, verdict: 'failed', passed: 0, failed: 1, durationMs: 10, href: `../a"><script>x</script>/report.html`, runId: evil, errors: [evil], failures: [evil] }],
        { id: evil, runtime: { kind: evil, kernel: evil }, host: { os: evil, kernel: evil, node: evil }, notRun: { names: [evil], reason: evil } },
      );
      expect(html).to.not.include('<img');
      expect(html).to.not.include('<script');
      // text may keep its quotes; no tag may carry the handler outside its quoted values
      const tags = [...html.matchAll(/<[a-z][^>]*>/gi)].map((m) => m[0].replace(/"[^"]*"/g, '""'));
      expect(tags.filter((t) => /onerror|<script|<img/i.test(t))).to.deep.equal([]);
      expect(html).to.include('data-run="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&apos;"');
      expect(html).to.include('href="../a&quot;&gt;&lt;script&gt;x&lt;/script&gt;/report.html"');
      expect(html).to.include('&lt;img src=x onerror="alert(1)"&gt;&amp;\'');
    });

    it('is self-contained: no script, no external reference; the only links are the relative ones to the reports', () => {
      const html = renderOverview(job(), meta);
      expect(html).to.include(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'`);
      expect(html).to.not.match(/https?:\/\//);
      expect(html).to.not.match(/url\(|@import|<script|<link|<img|<iframe|<object|<embed/i);
      const refs = [...html.matchAll(/\s(?:src|href|xlink:href|action|poster|srcset)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]!);
      expect(refs).to.deep.equal(rows(html).map((r) => r.href));
      for (const r of refs) expect(r).to.match(/^\.\.\/[^/]+\/(report\.html|results\.json)$/);
    });

    it('a job with no run at all is unknown, not passed', () => {
      const html = renderOverview([]);
      expect(html).to.include('<header class="run unknown">');
      expect(html).to.include('The main job made no run.');
    });
  });

  describe('writeMainOverview', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'lvs-overview-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('writes main-<run-id>/index.html beside the run directories, its links leading to their files', async () => {
      const smoke = smokePassed(dir);
      const runs = mainRuns(dir);
      for (const r of [smoke.reportDir, ...runs.map((x) => x.result.reportDir)]) {
        await mkdir(r, { recursive: true });
        await writeFile(path.join(r, 'results.json'), '{}');
        await writeFile(path.join(r, 'report.html'), '<!doctype html>');
      }
      const id = `${OVERVIEW_PREFIX}20261129T192800-zz00`;
      const file = await writeMainOverview({ id, startedAt: new Date('2026-11-29T19:28:00Z'), smoke, smokeMs: 4_300, runs: runs.slice(0, 3), planned: ['nat', 'dr', 'tun', 'fullnat'] });
      expect(file).to.equal(path.join(dir, id, 'index.html'));
      expect(await readdir(path.join(dir, id))).to.deep.equal(['index.html']);
      const html = await readFile(file, 'utf8');
      const links = rows(html).map((r) => r.href);
      expect(links).to.have.length(4);
      for (const l of links) expect(existsSync(path.resolve(path.dirname(file), decodeURIComponent(l))), l).to.equal(true);
      // tun ended in its build, not its runtime, but the job ran three of four: the fourth is said
      expect(html).to.include('<b>Not run</b>: fullnat');
      expect(html).to.include('<dt>runtime</dt><dd>lab (tcp://127.0.0.1:23750)');
      expect(html).to.include('<dt>machine</dt><dd>');
    });

    it('`runs` does not list the overview directory as an unfinished run', async () => {
      await mkdir(path.join(dir, '20261129T192806-a3v0'));
      await writeMainOverview({ id: `${OVERVIEW_PREFIX}20261129T192800-zz00`, startedAt: new Date(), smoke: smokePassed(dir), smokeMs: 1, runs: [], planned: [] });
      expect((await listRuns(dir)).map((r) => [r.id, r.status])).to.deep.equal([['20261129T192806-a3v0', 'incomplete']]);
    });
    it('`runs` names a run with no results.json by its started.json: running while its process lives, killed after, and incomplete without one', async () => {
      const mk = async (id: string, started?: object) => {
        await mkdir(path.join(dir, id));
        if (started) await writeFile(path.join(dir, id, 'started.json'), JSON.stringify(started));
      };
      const base = { schema: 'lvs-harness/started@1', startedAt: '2026-11-30T10:00:00.000Z', host: hostname(), topology: 'tiny-nat', suites: ['modes'] };
      await mk('20261130T100000-live', { ...base, runId: '20261130T100000-live', pid: process.pid });
      await mk('20261130T100001-dead', { ...base, runId: '20261130T100001-dead', pid: 2 ** 22 + 17 });
      await mk('20261130T100002-none');
      await mk('20261130T100003-damg', { schema: 'something else' });
      await mk('20261130T100004-away', { ...base, host: 'another-host', pid: 1 });
      const list = await listRuns(dir);
      const by = Object.fromEntries(list.map((r) => [r.id, r]));
      expect(by['20261130T100000-live']).to.include({ status: 'running', topology: 'tiny-nat' });
      expect(by['20261130T100001-dead']).to.include({ status: 'killed', topology: 'tiny-nat' });
      expect(by['20261130T100001-dead']!.suites).to.deep.equal(['modes']);
      expect(by['20261130T100002-none']!.status).to.equal('incomplete');
      expect(by['20261130T100003-damg']!.status).to.equal('incomplete');
      expect(by['20261130T100004-away']!.status).to.equal('incomplete');
      expect(formatRuns(list)).to.match(/20261130T100001-dead\s+2026-11-30 10:00:00\s+tiny-nat\s+modes\s+killed\s+its process \(pid \d+\) ended without writing results\.json/);
    });
  });
});
