import { expect } from 'chai';
import { renderHtml } from '../../harness/report/html.js';
import { bucketFor, faultWindows, percentile, distributionOf, latencies } from '../../harness/report/data.js';
import type { HistoryEvent } from '../../harness/history/history.js';
import { FIXTURE_NAMES, expectedCharts, fixture } from '../fixtures/report/fixtures.js';
import { CAUSED, PASSING, UNEXPLAINED, withCauses } from '../fixtures/report/causes.js';
import { CAUSE_RULES } from '../../harness/diagnose/rules/index.js';

interface Series {
  name: string;
  points: number;
  values: string[];
}
interface Chart {
  kind: string;
  node?: string;
  series: Series[];
}

// the renderer's own shape: a series <g> holds no nested <g>, so a lazy match finds its end
function charts(html: string): Chart[] {
  return [...html.matchAll(/<svg data-chart="([^"]+)"([^>]*)>([\s\S]*?)<\/svg>/g)].map((m) => ({
    kind: m[1]!,
    node: m[2]!.match(/data-node="([^"]+)"/)?.[1],
    series: [...m[3]!.matchAll(/<g data-series="([^"]+)"[^>]*>([\s\S]*?)<\/g>/g)].map((s) => ({
      name: s[1]!,
      points: (s[2]!.match(/data-point="/g) ?? []).length,
      values: [...s[2]!.matchAll(/data-value="([^"]*)"/g)].map((v) => v[1]!),
    })),
  }));
}

const sum = (s: Series | undefined) => (s?.values ?? []).reduce((a, v) => a + Number(v), 0);

describe('report: report.html', () => {
  for (const name of FIXTURE_NAMES) {
    describe(name, () => {
      const { results, history } = fixture(name);
      const html = renderHtml(results, history);
      const want = expectedCharts(results, history);
      const all = charts(html);

      it('references nothing outside the file', () => {
        const refs = [...html.matchAll(/\s(?:src|href|xlink:href|action|poster|srcset)\s*=\s*"([^"]*)"/gi)].map((m) => m[1]!);
        expect(refs.filter((r) => !r.startsWith('#'))).to.deep.equal([]);
        expect(html).to.not.match(/https?:\/\//);
        expect(html).to.not.match(/url\(|@import|<script|<link|<img|<iframe|<object|<embed/i);
        expect(html).to.include(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'`);
      });

      it('has every section, in order, with a verdict header', () => {
        const ids = [...html.matchAll(/<section id="([^"]+)"/g)].map((m) => m[1]);
        expect(ids).to.deep.equal(['checks', 'distribution', 'timeline', 'time-vs-bound', 'latency', 'ipvs']);
        expect(html).to.match(new RegExp(`<header class="run ${results.valid === true ? 'passed' : results.valid === false ? 'failed' : 'unknown'}"`));
        expect(html).to.include(results.runId);
      });

      it('lists errors and failed checks before passing ones, failures expanded', () => {
        const verdicts = [...html.matchAll(/<tr class="[^"]+" data-verdict="([^"]+)"/g)].map((m) => m[1]);
        expect(verdicts).to.have.length(results.checks.length + results.errors.length);
        const rank = { error: 0, failed: 1, unknown: 2, passed: 3 } as Record<string, number>;
        expect(verdicts.map((v) => rank[v!])).to.deep.equal([...verdicts.map((v) => rank[v!])].sort());
        expect((html.match(/<details open>/g) ?? []).length).to.equal(results.checks.filter((c) => c.valid !== true).length + results.errors.length);
      });

      it('draws one distribution chart per check with shares or totals, a point per real server', () => {
        const d = all.filter((c) => c.kind === 'distribution');
        expect(d.map((c) => c.series.map((s) => `${s.name}:${s.points}`))).to.deep.equal(
          want.distribution.map((w) => [`observed:${w.servers}`, ...(w.expected ? [`expected:${w.servers}`] : [])]),
        );
        for (const c of d) expect(sum(c.series[0]!)).to.be.closeTo(1, 0.01);
      });

      it('draws a timeline per client node whose bars add up to its operations, with every fault, VRRP and IPVS mark', () => {
        const t = all.filter((c) => c.kind === 'timeline');
        expect(t.map((c) => c.node)).to.deep.equal(want.timeline.map((w) => w.node));
        for (const [i, c] of t.entries()) {
          const by = (n: string) => c.series.find((s) => s.name === n);
          expect(sum(by('ok')), `${c.node} ok`).to.equal(want.timeline[i]!.ok);
          expect(sum(by('failed')), `${c.node} failed`).to.equal(want.timeline[i]!.failed);
          expect(by('faults')?.points ?? 0).to.equal(want.faults);
          expect(by('vrrp')?.points ?? 0).to.equal(want.vrrp);
          expect(by('ipvs-edit')?.points ?? 0).to.equal(want.edits);
          // a series exists only when it has something to show
          expect(c.series.every((s) => s.points > 0)).to.equal(true);
        }
      });

      it('draws time against bound for every check that measured one, or says there is none', () => {
        const b = all.filter((c) => c.kind === 'time-vs-bound');
        if (!want.bound.rows) {
          expect(b).to.have.length(0);
          expect(html).to.include('No check in this run measured a time against a bound');
          return;
        }
        expect(b).to.have.length(1);
        const by = (n: string) => b[0]!.series.find((s) => s.name === n)?.points ?? 0;
        expect([by('measured'), by('bound'), by('tolerance'), by('resolution')]).to.deep.equal([want.bound.measured, want.bound.rows, want.bound.tolerance, want.bound.resolution]);
        expect((b[0]!.series.length ? html.match(/not measured<\/text>/g) ?? [] : []).length).to.equal(want.bound.rows - want.bound.measured);
      });

      it('draws latency percentiles per node and operation kind', () => {
        const l = all.filter((c) => c.kind === 'latency');
        expect(l).to.have.length(1);
        expect(l[0]!.series.map((s) => `${s.name}:${s.points}`)).to.deep.equal(['p50', 'p90', 'p99', 'max'].map((p) => `${p}:${want.latencyRows}`));
        expect((html.match(/<section id="latency">[\s\S]*?<\/table>/)?.[0].match(/<tr><td>/g) ?? []).length).to.equal(want.latencyRows);
      });

      it('shows the first and last IPVS table per director, or says there is none', () => {
        const ipvs = html.match(/<section id="ipvs">[\s\S]*?<\/section>/)![0];
        if (!want.ipvsDirectors) {
          expect(ipvs).to.include('No IPVS table was observed during this run');
          return;
        }
        expect((ipvs.match(/<h3>/g) ?? []).length).to.equal(want.ipvsDirectors);
        expect(ipvs).to.include('TCP 10.89.10.100:80');
        expect(ipvs).to.include('  -&gt; 10.89.20.11:80');
      });

      it('renders the same bytes every time', () => {
        expect(renderHtml(results, history)).to.equal(html);
      });
    });
  }

  it('the nat fixture draws what the run did (2 distributions, 20 IPVS edits, 1 timed-out release)', () => {
    const { results, history } = fixture('nat');
    const c = charts(renderHtml(results, history));
    expect(c.map((x) => x.kind)).to.deep.equal(['distribution', 'distribution', 'timeline', 'latency']);
    const tl = c.find((x) => x.kind === 'timeline')!;
    expect(tl.series.map((s) => s.name)).to.deep.equal(['ok', 'failed', 'ipvs-edit']);
    expect(tl.series.find((s) => s.name === 'ipvs-edit')!.points).to.equal(20);
    expect(sum(tl.series.find((s) => s.name === 'failed'))).to.equal(1);
  });

  it("shows what `--suite all` left out in the header, escaped, and no such line when nothing was", () => {
    const { results, history } = fixture('nat');
    expect(renderHtml(results, history)).to.not.include('<dt>left out</dt>');
    const html = renderHtml({ ...results, leftOut: [{ suite: 'schedulers', tests: ['dh', 'lblc', 'lblcr'], why: 'one destination <b>address</b>' }] }, history);
    expect(html).to.match(/<dt>left out<\/dt><dd>dh, lblc, lblcr of schedulers: one destination &lt;b&gt;address&lt;\/b&gt;<\/dd>/);
  });

  it('an empty run renders sentences, not broken charts', () => {
    const { results } = fixture('nat');
    const html = renderHtml({ ...results, checks: [], errors: [] }, []);
    expect(charts(html)).to.deep.equal([]);
    for (const s of ['No check recorded a verdict', 'No check in this run observed shares', 'The history is empty', 'No check in this run measured a time', 'No successful operation in the history', 'No IPVS table was observed']) expect(html).to.include(s);
  });

  it('a history of only failures has a timeline but no latency chart', () => {
    const { results } = fixture('nat');
    const h: HistoryEvent[] = [0, 1, 2].map((i) => ({ type: 'op', t: 1000 + i * 400, latencyMs: 2000, node: 'client', op: 'http', src: '10.0.0.1', dst: '10.0.0.100', dstPort: 80, outcome: 'timeout' }));
    const c = charts(renderHtml({ ...results, checks: [] }, h));
    expect(c.map((x) => x.kind)).to.deep.equal(['timeline']);
    expect(sum(c[0]!.series.find((s) => s.name === 'failed'))).to.equal(3);
  });
});

/** The table row of one check (a row's text holds no `</tr>`: the renderer escapes it). */
const rowOf = (html: string, name: string) => {
  const rows = [...html.matchAll(/<tr class="[^"]+" data-verdict="[^"]+">[\s\S]*?<\/tr>/g)].map((m) => m[0]).filter((r) => r.includes(`<summary>${name}</summary>`));
  expect(rows, name).to.have.length(1);
  return rows[0]!;
};

describe('report: report.html shows the causes of a failed check (issue 15)', () => {
  const html = renderHtml(withCauses(), fixture('ha-synthetic').history);

  it('a recognised cause: the sentence, each command with its note and lines, and the fix, all escaped, before the rule', () => {
    const row = rowOf(html, CAUSED);
    expect(row).to.include(
      '<div class="cause"><p><b>cause</b>: both directors hold the VIP 10.89.10.100 &lt;VI_1&gt;: auth_pass "s3cr&amp;t" on director1 vs "s3cr3t" on director2 | each drops the other\'s adverts</p>',
    );
    expect(row).to.include('<pre>director1$ ip -o addr show\n7: eth1    inet 10.89.10.100/24 scope global secondary eth1\\       valid_lft forever preferred_lft forever</pre>');
    expect(row).to.include(
      '<pre>director2$ test -f /var/log/keepalived.log &amp;&amp; tail -n 200 /var/log/keepalived.log   # keepalived drops director1\'s adverts &amp; stays MASTER\nNov 21 07:35:02 director2 Keepalived_vrrp[41]: (VI_1) received an invalid passwd! &lt;from 10.89.10.2&gt;</pre>',
    );
    expect(row).to.include('<p><b>fix</b>: write the same auth_pass on both directors (8 characters at most, no &lt;&amp;&gt; or !) and restart keepalived on director2</p></div>');
    // the cause leads the expanded check: the reader sees why before the rule and the raw observation
    expect(row.indexOf('<div class="cause">')).to.be.lessThan(row.indexOf('<b>rule</b>'));
    expect(row).to.include('<details open>');
  });

  it('"no known cause": said as such, with the number of rules tried, every command gathered and what happened to it, and the fix', () => {
    const row = rowOf(html, UNEXPLAINED);
    expect(row).to.include('<div class="cause"><p><b>no known cause</b>: ');
    expect(row).to.include(`none of the ${CAUSE_RULES.length} recognised causes shows in the evidence gathered from 2 nodes</p>`);
    expect(row).to.not.include('<b>cause</b>');
    expect(row).to.match(/<pre>director1\$ for f in \/proc\/sys\/net\/ipv4\/ip_forward [^<]*&lt; "\$f"[^<]*   # 2 lines, exit 0\n<\/pre>/);
    expect(row).to.include('<pre>director1$ timeout 5 ipvsadm -Ln   # 3 lines, exit 0\n</pre>');
    expect(row).to.include('<pre>rs2$ evidence script   # exec timed out after 10 s &lt;no answer&gt;\n</pre>');
    expect(row).to.include('<p><b>fix</b>: read the check\'s detail and run the commands listed (all read-only) on the nodes;');
  });

  it('no markup of a cause reaches the page unescaped', () => {
    for (const raw of ['<VI_1>', '<from 10.89.10.2>', '<&>', '<no answer>', 's3cr&t', '&& tail', 'adverts & stays']) expect(html, raw).to.not.include(raw);
  });

  it('a passing check, and a failed one without causes, show none', () => {
    for (const name of [...PASSING, 'rr rotates over the real servers']) {
      const row = rowOf(html, name);
      expect(row, name).to.not.include('class="cause"');
      expect(row, name).to.not.include('<b>fix</b>');
    }
    expect((html.match(/<div class="cause">/g) ?? []).length).to.equal(2);
    // the run without causes: nothing of the kind anywhere
    const { results, history } = fixture('ha-synthetic');
    expect(renderHtml(results, history)).to.not.match(/class="cause"|<b>fix<\/b>|no known cause/);
  });
});

describe('report: figures behind the HTML charts', () => {
  it('pairs fault starts and ends per fault and target, keeping unmatched ones', () => {
    const f = (t: number, phase: 'start' | 'end', fault: string, target: string): HistoryEvent => ({ type: 'fault', t, phase, fault, target });
    const w = faultWindows([f(10, 'start', 'kill', 'd1'), f(12, 'start', 'pause', 'rs1'), f(20, 'end', 'kill', 'd1'), f(25, 'end', 'loss', 'rs2'), f(30, 'start', 'kill', 'd1')], 0, 100);
    expect(w.map((x) => `${x.fault}@${x.target} ${x.start}-${x.end}${x.open ? ' open' : ''}${x.startUnknown ? ' from-t0' : ''}`)).to.deep.equal([
      'loss@rs2 0-25 from-t0',
      'kill@d1 10-20',
      'pause@rs1 12-100 open',
      'kill@d1 30-100 open',
    ]);
  });

  it('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(v, 50), percentile(v, 90), percentile(v, 99), percentile(v, 100)]).to.deep.equal([50, 90, 99, 100]);
    expect(percentile([7], 99)).to.equal(7);
    expect(percentile([], 50)).to.be.NaN;
  });

  it('latencies come only from operations that succeeded', () => {
    const op = (latencyMs: number, outcome: 'ok' | 'timeout'): HistoryEvent => ({ type: 'op', t: 0, latencyMs, node: 'c', op: 'http', src: 's', dst: 'd', dstPort: 80, outcome });
    expect(latencies([op(5, 'ok'), op(3000, 'timeout'), op(9, 'ok')])).to.deep.equal([{ node: 'c', op: 'http', count: 2, p50: 5, p90: 9, p99: 9, max: 9 }]);
  });

  it('picks a round bucket that keeps a timeline within 120 bars', () => {
    expect(bucketFor(99_000)).to.equal(1000);
    expect(bucketFor(41_000)).to.equal(500);
    expect(bucketFor(10 * 3_600_000)).to.equal(300_000);
  });

  it('rr totals become shares, its per-round expectation the expected shares', () => {
    const { results } = fixture('ha-synthetic');
    const d = distributionOf(results.checks.find((c) => c.name === 'rr rotates over the real servers')!)!;
    expect(d.servers).to.deep.equal(['rs1', 'rs2', 'rs3']);
    expect(d.observed.rs1).to.be.closeTo(5 / 9, 1e-9);
    expect(d.observed.rs3).to.equal(undefined);
    expect(d.expected).to.deep.equal({ rs1: 1 / 3, rs2: 1 / 3, rs3: 1 / 3 });
  });
});
