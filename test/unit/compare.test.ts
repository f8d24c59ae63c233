import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareCommand } from '../../harness/compare/command.js';
import { midRanks, mannWhitney } from '../../harness/compare/rank-test.js';
import { judge, TOO_FEW } from '../../harness/compare/times.js';
import { isHarnessError } from '../../harness/errors.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';

/**
 * `lvs-harness compare` on the runs in test/fixtures/compare (an upgrade from Debian 12 to 13:
 * one verdict flipped each way, times shifted, the environment changed; see its README), and the
 * rank test against published values.
 */
const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/compare');
const A = path.join(FIX, 'upgrade-a');
const B = path.join(FIX, 'upgrade-b');
const ERR = path.join(FIX, 'build-error');

async function usageError(argv: string[]): Promise<{ message: string; hint?: string }> {
  try {
    await compareCommand(argv);
  } catch (e) {
    if (isHarnessError(e) && e.code === 'ERR_LVS_USAGE') return { message: e.message, hint: e.hint };
    throw e;
  }
  throw new Error(`compare ${argv.join(' ')} did not refuse`);
}

describe('compare: the Mann-Whitney rank test', () => {
  it('gives the textbook exact p: Hollander & Wolfe permeability data (R wilcox.test: W = 35, one-sided 0.1272)', () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const t = mannWhitney(x, y);
    expect(t.method).to.equal('exact');
    expect(t.uA).to.equal(35);
    expect(t.uB).to.equal(15);
    expect(t.p).to.be.closeTo(2 * 0.1272, 0.0002);
    // scipy.stats.mannwhitneyu(x, y, method='asymptotic'): continuity-corrected normal
    expect(mannWhitney(x, y, 'normal').p).to.be.closeTo(0.2446236051, 1e-8);
  });

  it('gives scipy documentation values: U = 17, exact p = 1/9, asymptotic p = 0.111347', () => {
    const males = [19, 22, 16, 29, 24];
    const females = [20, 11, 17, 12];
    expect(mannWhitney(males, females).uA).to.equal(17);
    expect(mannWhitney(males, females).p).to.be.closeTo(1 / 9, 1e-12);
    expect(mannWhitney(males, females, 'normal').p).to.be.closeTo(0.11134688653314, 1e-9);
  });

  it('cannot go below p = 0.1 with 3 and 3 values, and says so', () => {
    const t = mannWhitney([1, 2, 3], [4, 5, 6]);
    expect(t.uA).to.equal(0);
    expect(t.p).to.be.closeTo(0.1, 1e-12);
    expect(t.smallestP).to.be.closeTo(0.1, 1e-12);
    const j = judge([1, 2, 3], [4, 5, 6]);
    expect(j).to.include({ judged: true, beyondSpread: false, underpowered: true });
    // 4 and 4 all apart: 2/70
    expect(mannWhitney([1, 2, 3, 4], [5, 6, 7, 8]).p).to.be.closeTo(2 / 70, 1e-12);
  });

  it('counts ties exactly, as a brute-force enumeration of every split does', () => {
    const brute = (a: number[], b: number[]) => {
      const all = [...a, ...b];
      const r = midRanks(all);
      const n = all.length;
      const centre = (a.length * (n + 1)) / 2;
      const obs = Math.abs(r.slice(0, a.length).reduce((x, y) => x + y, 0) - centre);
      let hit = 0;
      let total = 0;
      for (let mask = 0; mask < 1 << n; mask++) {
        let k = 0;
        let s = 0;
        for (let i = 0; i < n; i++) if (mask & (1 << i)) (k++, (s += r[i]!));
        if (k !== a.length) continue;
        total++;
        if (Math.abs(s - centre) >= obs - 1e-9) hit++;
      }
      return hit / total;
    };
    expect(midRanks([3, 1, 3, 2])).to.deep.equal([3.5, 1, 3.5, 2]);
    const samples: [number[], number[]][] = [
      [[1, 2, 2, 3], [2, 3, 4, 4]],
      [[250, 250, 500, 500, 750], [500, 750, 750, 1000, 1000, 1250]],
      [[3000, 3000, 3250], [3000, 3250, 3250, 3500]],
    ];
    for (const [a, b] of samples) expect(mannWhitney(a, b).p, `${a} vs ${b}`).to.be.closeTo(brute(a, b), 1e-12);
    expect(mannWhitney([1, 2, 2, 3], [2, 3, 4, 4]).p).to.be.closeTo(0.2, 1e-12);
  });

  it('uses the normal approximation past 50 values, and p = 1 when every value is the same', () => {
    const a = Array.from({ length: 30 }, (_, i) => 1000 + i * 10);
    const b = Array.from({ length: 30 }, (_, i) => 1150 + i * 10);
    const t = mannWhitney(a, b);
    expect(t.method).to.equal('normal');
    expect(t.p).to.be.greaterThan(0).and.lessThan(0.05);
    expect(mannWhitney([5, 5, 5], [5, 5, 5]).p).to.equal(1);
    expect(mannWhitney(Array(40).fill(5), Array(40).fill(5)).p).to.equal(1);
  });

  it('refuses empty or non-finite samples, and judge() says too few below 3 values', () => {
    expect(() => mannWhitney([], [1])).to.throw(RangeError);
    expect(() => mannWhitney([1, NaN], [1])).to.throw(RangeError);
    expect(judge([1, 2], [3, 4, 5])).to.deep.equal({ judged: false, reason: TOO_FEW });
  });
});

describe('compare RUN_A RUN_B', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'lvs-compare-'));
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('lists the checks whose verdict changed, with both details, and exits 1 for a pass-to-fail', async () => {
    const r = await compareCommand([A, B]);
    expect(r.code).to.equal(1);
    const c = r.comparison;
    expect(c.passToFail).to.equal(1);
    expect(c.verdicts.unchanged).to.equal(24);
    expect(c.verdicts.changes.map((x) => x.kind)).to.deep.equal(['pass-to-fail', 'to-unknown', 'removed', 'removed', 'fail-to-pass', 'added']);
    const wrr = c.verdicts.changes[0]!;
    expect(wrr).to.include({ suite: 'schedulers', group: 'web nat wrr', name: 'wrr shares follow the weights' });
    expect(wrr.a?.detail).to.contain('rs1 50.0%');
    expect(wrr.b?.detail).to.contain('rs1 58.3%');
    // the pause fault's gratuitous-ARP check ran in both repetitions: each removal is its own row
    expect(c.verdicts.changes.filter((x) => x.kind === 'removed').map((x) => x.occurrence)).to.deep.equal([0, 1]);
    expect(r.text).to.match(/pass → fail\s+schedulers · web nat wrr · wrr shares follow the weights/);
    expect(r.text).to.contain('(#2)');
    expect(r.text).to.contain('1 check went from pass to fail');
  });

  it('exits 0 when nothing went from pass to fail; a fix elsewhere does not hide a new failure', async () => {
    expect((await compareCommand([A, A])).code).to.equal(0);
    const same = (await compareCommand([A, A])).comparison;
    expect(same.verdicts.changes).to.deep.equal([]);
    // B → A: wrr fails → passes, but the rr check that B passed fails in A
    expect((await compareCommand([B, A])).comparison.verdicts.changes.find((x) => x.kind === 'pass-to-fail')?.group).to.equal('web nat rr drain');
  });

  it('sets measured times side by side per kind and topology, and judges only with 3 repetitions a side', async () => {
    const { times } = (await compareCommand([A, B])).comparison;
    expect(times.map((s) => `${s.kind} ${s.topology}`)).to.deep.equal(['failover nat-ha', 'removal nat-ha', 'reinsertion nat-ha', 'preemption nat-ha']);
    const [failover, removal, reinsertion, preemption] = times;
    expect(failover!.a.samples.map((x) => x.ms)).to.deep.equal([3120, 3250, 3180, 3090, 3300, 3210]);
    expect(failover!.b.samples).to.have.length(6);
    expect(failover!.a.median).to.equal(3195);
    expect(failover!.changeMs).to.equal(3410 - 3195);
    expect(failover!.judgement).to.include({ judged: true, beyondSpread: true, method: 'exact', u: 0 });
    if (failover!.judgement.judged) expect(failover!.judgement.p).to.be.closeTo(2 / 924, 1e-12);
    expect(removal!.judgement).to.include({ judged: true, beyondSpread: false, underpowered: true });
    expect(reinsertion!.b).to.include({ unmeasured: 1 });
    expect(reinsertion!.judgement).to.deep.equal({ judged: false, reason: TOO_FEW });
    expect(preemption!.judgement).to.deep.equal({ judged: false, reason: TOO_FEW });
  });

  it('sets the shares per real server side by side', async () => {
    const { distributions } = (await compareCommand([A, B])).comparison;
    const wrr = distributions.find((d) => d.group === 'web nat wrr')!;
    expect(wrr.a?.verdict).to.equal('passed');
    expect(wrr.b?.verdict).to.equal('failed');
    const rs1 = wrr.rows.find((x) => x.server === 'rs1')!;
    expect(rs1).to.include({ a: 0.5, b: 0.583, expected: 0.5 });
    expect(rs1.change).to.be.closeTo(0.083, 1e-9);
    // rs3 answered nothing in A's failing rr check: no share there, no change to compute
    const rr = distributions.find((d) => d.group === 'web nat rr drain')!;
    expect(rr.rows.find((x) => x.server === 'rs3')).to.deep.equal({ server: 'rs3', b: 1 / 3, expected: 1 / 3 });
  });

  it('shows both environments and marks the upgrade', async () => {
    const r = await compareCommand([A, B]);
    const differs = r.comparison.environment.filter((e) => e.differs).map((e) => e.field);
    expect(differs).to.deep.equal(['lab kernel', 'keepalived', 'docker', 'node image']);
    expect(r.comparison.environment.find((e) => e.field === 'keepalived')).to.include({ a: '2.2.7', b: '2.3.3' });
    expect(r.text).to.match(/≠\s+lab kernel\s+6\.1\.0-41-amd64\s+6\.12\.57\+deb13-amd64/);
    expect(r.text).to.match(/^\s+ipvsadm\s+1\.31\s+1\.31$/m);
  });

  it('--format json: one object with the runs, environment, verdicts, times and distributions', async () => {
    const r = await compareCommand([A, B, '--format', 'json']);
    const j = JSON.parse(r.text);
    expect(j).to.have.all.keys('schema', 'a', 'b', 'environment', 'verdicts', 'times', 'distributions', 'passToFail', 'exitCode');
    expect(j.schema).to.equal('lvs-harness/compare@1');
    expect(j.a).to.include({ runId: '20261201T090000-a1bw', topology: 'nat-ha', verdict: 'failed', historyEvents: 30 });
    expect(j.exitCode).to.equal(1);
    expect(j.verdicts.changes[0]).to.have.all.keys('kind', 'suite', 'group', 'name', 'occurrence', 'a', 'b');
    expect(j.times[0].judgement).to.include({ test: 'mann-whitney-u', alpha: 0.05 });
    expect(j.times[0].a.samples[0]).to.have.all.keys('ms', 'group', 'name', 'verdict');
  });

  it('takes a run that ended in an error: its missing checks are "not reached", and the error is shown', async () => {
    const r = await compareCommand([A, ERR]);
    expect(r.code).to.equal(0);
    const c = r.comparison;
    expect(c.b).to.include({ verdict: 'error' });
    expect(c.b.error?.code).to.equal('ERR_LVS_IPVS_MISMATCH');
    expect(c.b.historyEvents).to.equal(undefined);
    expect(c.verdicts.changes.every((x) => x.kind === 'removed' && x.notReached === 'B')).to.equal(true);
    expect(r.text).to.contain('B error in build: ERR_LVS_IPVS_MISMATCH');
    expect(r.text).to.contain('not reached: B ended in an error in build');
    // nat-ha against dr: no kind of time on both sides, nothing judged
    expect(c.times.every((s) => !s.judgement.judged && s.b.samples.length === 0)).to.equal(true);
  });

  it('--html writes a self-contained page with both runs side by side and no external reference', async () => {
    const file = path.join(tmp, 'compare.html');
    const r = await compareCommand([A, B, '--html', file]);
    expect(r.html).to.equal(file);
    const html = await readFile(file, 'utf8');
    expect(html).to.match(/^<!doctype html>/);
    expect(html).to.contain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
    expect(html).to.not.match(/\b(src|srcset|action|xlink:href)=/i);
    expect(html).to.not.match(/url\(|@import|<script|<link|<iframe/i);
    for (const m of html.matchAll(/href="([^"]*)"/g)) expect(m[1], 'links only within the page').to.match(/^#/);
    expect(html).to.contain('data-run="A"').and.contain('data-run="B"');
    expect((html.match(/data-differs/g) ?? []).length).to.equal(4);
    expect(html).to.contain('data-change="pass-to-fail"');
    expect(html).to.match(/<svg data-chart="compare-times"/);
    expect((html.match(/<svg data-chart="compare-distribution"/g) ?? []).length).to.equal(3);
  });

  it('escapes what the runs recorded', async () => {
    const dir = path.join(tmp, 'markup');
    await mkdir(dir, { recursive: true });
    const raw = JSON.parse(await readFile(path.join(B, 'results.json'), 'utf8'));
    // the wrr check: its verdict changed, so its detail is on the page and in the text
    const wrr = raw.checks.find((c: { group: string }) => c.group === 'web nat wrr');
    wrr.detail = '<img src=x onerror=alert(1)> & "quotes"\u001b[31m';
    raw.environment.lab.keepalived = '<b>2.3.3</b>\u001b[0m';
    await writeFile(path.join(dir, 'results.json'), JSON.stringify(raw));
    const file = path.join(tmp, 'markup.html');
    await compareCommand([A, dir, '--html', file]);
    const html = await readFile(file, 'utf8');
    expect(html).to.not.contain('<img').and.not.contain('<b>2.3.3</b>');
    expect(html).to.contain('&lt;b&gt;2.3.3&lt;/b&gt;\\u001b[0m');
    expect(html).to.contain('&lt;img src=x onerror=alert(1)&gt; &amp; "quotes"\\u001b[31m');
    const text = (await compareCommand([A, dir])).text;
    expect(text).to.contain('<img src=x onerror=alert(1)>');
    expect(text, 'an escape code from a run does not reach the terminal').to.not.contain('\u001b');
  });

  it('takes the path of a results.json for its directory', async () => {
    expect((await compareCommand([path.join(A, 'results.json'), B])).comparison.a.dir).to.equal(A);
  });

  describe('usage errors (exit 2) say which argument and what it needs', () => {
    it('a directory without results.json', async () => {
      const e = await usageError([A, FIX]);
      expect(e.message).to.equal(`compare: RUN_B ${FIX}: no results.json in it`);
      expect(e.hint).to.contain('reports/<run-id>/');
    });

    it('a path that does not exist, a file that is not results.json', async () => {
      expect((await usageError([path.join(tmp, 'nope'), B])).message).to.contain('RUN_A').and.contain('no such directory');
      expect((await usageError([path.join(FIX, 'README.md'), B])).message).to.contain('not a directory');
    });

    it('a results.json that is not one, naming the field', async () => {
      const dir = path.join(tmp, 'bad');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'results.json'), JSON.stringify({ schema: 'lvs-harness/results@1', runId: 'x' }));
      const e = await usageError([dir, B]);
      expect(e.message).to.contain('RUN_A').and.contain('results.json: field');
      await writeFile(path.join(dir, 'results.json'), 'not json');
      expect((await usageError([B, dir])).message).to.contain('not JSON');
    });

    it('the wrong number of runs, an unknown format or option, an --html nowhere', async () => {
      expect((await usageError([A])).message).to.contain('give two run directories');
      expect((await usageError([A, B, ERR])).message).to.contain('got 3');
      expect((await usageError([A, B, '--format', 'xml'])).message).to.contain('--format xml');
      expect((await usageError([A, B, '--colour'])).message).to.contain('--colour');
      expect((await usageError([A, B, '--html', path.join(tmp, 'no', 'such', 'dir.html')])).message).to.contain('cannot write it');
    });
  });

  it('the CLI exits 0, 1 and 2 and prints JSON alone on stdout', function () {
    this.timeout(60_000);
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin/lvs-harness.mjs'), 'compare', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    expect(cli(A, A).status).to.equal(0);
    const one = cli(A, B, '--format', 'json', '--html', path.join(tmp, 'cli.html'));
    expect(one.status).to.equal(1);
    expect(JSON.parse(one.stdout).passToFail).to.equal(1);
    expect(one.stderr).to.contain('cli.html');
    const two = cli(A, FIX);
    expect(two.status).to.equal(2);
    expect(two.stderr).to.contain('no results.json');
  });
});
