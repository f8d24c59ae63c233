import { expect } from 'chai';
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readBench } from '../../harness/bench/schema.js';
import { labUp } from '../../harness/lab/vm.js';
import type { Results } from '../../harness/report/results.js';
import { resolveRuntime } from '../../harness/runtime/select.js';
import { teardown } from '../../harness/topology/builder.js';
import { ReportBrowser } from '../browser/inspect.js';
import { cli } from '../helpers.js';

/**
 * Short `lvs-harness bench` runs on one nat topology, brought up once (`up nat`) and reused by
 * every run:
 * - a ramp (2 s per point, one repetition, 1 and 4 connections, one size): bench.json valid
 *   and holding the nat row and its ceiling for both connection modes, the run's five files
 *   with bench's charts in report.html (in Chromium), and `bench --compare` of the run against
 *   itself, which must find no regression (exit 0);
 * - two runs of the same build (5 repetitions of one point): `--compare` stays quiet; a third
 *   with `--fault netem-delay=20ms:director` held through its point: `--compare` flags the
 *   slowdown (exit 1) and says which setting differs.
 */
const quiet = () => {};

describe('lvs-harness bench (real lab)', function () {
  this.timeout(20 * 60_000);

  before(async () => {
    await labUp({ log: quiet });
    await teardown((await resolveRuntime({ log: quiet })).docker, { all: true }, quiet);
    const up = await cli(['up', 'nat'], 10 * 60_000);
    expect(up.code, `${up.stdout}\n${up.stderr}`).to.equal(0);
  });

  after(async () => {
    await teardown((await resolveRuntime({ log: quiet })).docker, { all: true }, quiet);
  });

  it('nat: a short ramp through the VIP and straight to a real server, its reports, and a compare with itself', async () => {
    const r = await cli(['bench', 'nat', '--seconds', '2', '--repeat', '1', '--warmup', '1', '--concurrency', '1,4', '--size', '1024'], 15 * 60_000);
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    const file = r.stdout.match(/bench: +(\S+bench\.json)/)?.[1];
    expect(file, r.stdout).to.be.a('string');
    const dir = path.dirname(file!);
    for (const f of ['bench.json', 'results.json', 'history.ndjson', 'junit.xml', 'summary.md', 'report.html']) expect(existsSync(path.join(dir, f)), f).to.equal(true);

    const b = await readBench(file!);
    expect(b.environment.lab?.kernel).to.match(/^6\./);
    expect(b.environment.generator).to.match(/^wrk/);
    expect(b.harness.topologies[0]!.topology).to.equal('nat');
    expect(b.harness.topologies[0]!.upSeconds).to.be.above(0);
    const svc = b.topologies[0]!.services[0]!;
    expect(svc.service).to.equal('web');
    expect(svc.ceilingPath).to.match(/^straight from client to rs1/);
    expect(svc.modes.map((m) => m.mode)).to.deep.equal(['nat', 'ceiling']);
    for (const m of svc.modes) {
      for (const connection of ['keep-alive', 'new-connection'] as const) {
        const pts = m.points.filter((p) => p.connection === connection);
        expect(pts.length, `${m.mode} ${connection}`).to.be.at.least(1);
        for (const p of pts) {
          expect(p.rate.median, `${m.mode} ${connection} c=${p.concurrency}`).to.be.above(0);
          expect(p.errorRate).to.be.below(0.01);
          expect(p.latency.p99Ms).to.be.above(0);
          expect(p.repetitions[0]!.directorCpuCores, 'kernel CPU read').to.be.a('number');
        }
      }
    }
    const nat = svc.modes[0]!;
    expect(nat.points.every((p) => p.ratio?.rate?.median !== undefined), 'every nat point over its ceiling').to.equal(true);
    expect(nat.knees.map((k) => k.ratio)).to.satisfy((xs: unknown[]) => xs.every((x) => typeof x === 'number' && x > 0));

    const res = JSON.parse(await readFile(path.join(dir, 'results.json'), 'utf8')) as Results;
    expect(res.suites).to.deep.equal(['bench']);
    expect(res.valid).to.equal(true);
    const history = await readFile(path.join(dir, 'history.ndjson'), 'utf8');
    expect(history).to.include('"what":"bench-repetition"');

    const browser = await ReportBrowser.launch();
    try {
      const page = await browser.inspect(path.join(dir, 'report.html'), path.join(dir, 'report.png'));
      expect(page.requests).to.deep.equal([page.url]);
      expect(page.errors).to.deep.equal([]);
      const kinds = page.charts.map((c) => c.kind);
      for (const k of ['bench-throughput', 'bench-latency', 'bench-cpu', 'bench-ceiling']) expect(kinds, k).to.include(k);
      const ramp = page.charts.find((c) => c.kind === 'bench-throughput')!;
      expect(ramp.series.map((s) => s.name)).to.have.members(['nat', 'ceiling (nat)']);
      expect(statSync(path.join(dir, 'report.png')).size).to.be.above(20_000);
    } finally {
      await browser.close();
    }

    const same = await cli(['bench', '--compare', dir, dir]);
    expect(same.code, `${same.stdout}\n${same.stderr}`).to.equal(0);
    expect(same.stdout).to.match(/0 regressions, 0 improvements/);
    const json = await cli(['bench', '--compare', file!, dir, '--format', 'json']);
    expect(json.code, json.stderr).to.equal(0);
    const c = JSON.parse(json.stdout) as { regressions: number; figures: { verdict: string }[] };
    expect(c.regressions).to.equal(0);
    expect(c.figures.length).to.be.above(0);
    // one repetition a side: no change can be shown, and the comparison says so rather than "within noise" alone
    expect(c.figures.every((f) => f.verdict === 'within-noise' || f.verdict === 'too-few-repetitions')).to.equal(true);
  });

  it('--compare: quiet on two runs of the same build, a regression with a netem delay on the director', async () => {
    const point = ['--seconds', '2', '--repeat', '5', '--warmup', '1', '--concurrency', '4', '--connection', 'keep-alive', '--size', '1024'];
    const bench = async (extra: string[] = []) => {
      const r = await cli(['bench', 'nat', ...point, ...extra], 15 * 60_000);
      expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
      return path.dirname(r.stdout.match(/bench: +(\S+bench\.json)/)![1]!);
    };
    const a = await bench();
    const b = await bench();
    const slow = await bench(['--fault', 'netem-delay=20ms:director']);

    const same = await cli(['bench', '--compare', a, b, '--format', 'json']);
    const sc = JSON.parse(same.stdout) as { regressions: number; family: number; settingsDiffer: string[]; figures: { key: string; figure: string; verdict: string; change: number; pValue: number; pAdjusted: number }[] };
    const table = (c: typeof sc) => c.figures.map((f) => `${f.key} ${f.figure} ${f.verdict} ${(f.change * 100).toFixed(1)}% p=${f.pValue.toPrecision(2)} adj=${f.pAdjusted.toPrecision(2)}`).join('\n');
    expect(same.code, table(sc)).to.equal(0);
    expect(sc.regressions, table(sc)).to.equal(0);
    expect(sc.settingsDiffer).to.deep.equal([]);
    expect(sc.figures.some((f) => f.key === 'nat/web/nat/keep-alive/1024B/c4' && f.figure === 'rate'), table(sc)).to.equal(true);

    const worse = await cli(['bench', '--compare', a, slow]);
    expect(worse.code, worse.stdout).to.equal(1);
    expect(worse.stdout).to.contain('settings differ: faults held: OLD none, NEW netem-delay=20ms:director');
    expect(worse.stdout).to.match(/regression\s+nat\/web\/nat\/keep-alive\/1024B\/c4 rate \(÷ ceiling\)/);
    const sb = await readBench(path.join(slow, 'bench.json'));
    expect(sb.settings.faults).to.deep.equal(['netem-delay=20ms:director']);
    // the fault was injected and healed: both ends are in the history
    const h = await readFile(path.join(slow, 'history.ndjson'), 'utf8');
    expect(h).to.match(/"type":"fault","t":\d+,"phase":"start","fault":"netem-delay","target":"director"/);
    expect(h).to.match(/"phase":"end","fault":"netem-delay","target":"director"/);
  });
});
