import { expect } from 'chai';
import { createProgress, renderCheckTable } from '../../harness/report/terminal.js';
import { fixture } from '../fixtures/report/fixtures.js';

const ESC = '\x1b';

function harness(tty: boolean, intervalMs = 0) {
  let t = Date.parse('2026-11-21T12:03:04Z');
  const out: string[] = [];
  const p = createProgress({ tty, write: (s) => out.push(s), now: () => t, intervalMs, columns: 60 });
  return { p, out, advance: (ms: number) => (t += ms) };
}

describe('report: terminal progress', () => {
  it('without a TTY: timestamped lines, one per phase start and end, no escape codes', () => {
    const { p, out, advance } = harness(false);
    p.phase('build');
    p.step('creating network public (10.89.10.0/24)');
    advance(1500);
    p.phase('load');
    for (let i = 1; i <= 100; i++) {
      p.progress(i, 100);
      advance(10);
    }
    p.end('passed');
    const text = out.join('');
    expect(text).to.not.include(ESC);
    expect(text.split('\n').slice(0, 4)).to.deep.equal([
      '[12:03:04] build: started',
      '[12:03:04] build: creating network public (10.89.10.0/24)',
      '[12:03:05] build: done in 1.5 s',
      '[12:03:05] load: started',
    ]);
    // the first update, then a line per tenth of the work, not one per operation
    expect(out.filter((l) => / load: \d+\/100/.test(l)).map((l) => l.slice(17).trim())).to.deep.equal([
      '1/100 (1%)', '10/100 (10%)', '20/100 (20%)', '30/100 (30%)', '40/100 (40%)', '50/100 (50%)', '60/100 (60%)', '70/100 (70%)', '80/100 (80%)', '90/100 (90%)', '100/100 (100%)',
    ]);
    expect(out.at(-1)).to.equal('[12:03:06] passed in 2.5 s\n');
  });

  it('on a TTY: redraws one line in place, keeps a line per finished phase, and cuts lines to the width', () => {
    const { p, out, advance } = harness(true);
    p.phase('checks');
    p.step('a step whose text is much longer than the sixty columns of this terminal');
    p.progress(3, 12);
    advance(2000);
    p.end('failed');
    const live = out.filter((s) => s.startsWith('\r\x1b[2K⠋'));
    expect(live.length).to.be.greaterThan(1);
    for (const l of live) expect(l.length - '\r\x1b[2K'.length).to.be.at.most(59);
    expect(live.at(-1)).to.include('[#####---------------] 3/12');
    expect(out.join('')).to.include('\x1b[32m✔\x1b[0m checks');
    expect(out.at(-1)).to.equal('\x1b[31m✘ failed in 2.0 s\x1b[0m\n');
  });

  it('on a TTY: throttles redraws to the interval', () => {
    const { p, out, advance } = harness(true, 100);
    p.phase('load');
    const before = out.length;
    for (let i = 1; i <= 50; i++) {
      p.progress(i, 1000);
      advance(10);
    }
    p.end('passed');
    // 50 updates over 500 ms at most one per 100 ms, then the phase line and the outcome
    expect(out.length - before).to.be.within(3, 8);
  });

  it('ignores calls after end', () => {
    const { p, out } = harness(false);
    p.phase('report');
    p.end('error');
    const n = out.length;
    p.step('late');
    p.phase('again');
    p.end('passed');
    expect(out).to.have.length(n);
  });
});

describe('report: terminal check table', () => {
  it('failures first, every check one line, the tally and the report path last', () => {
    const { results } = fixture('ha-synthetic');
    const t = renderCheckTable(results.checks, { errors: results.errors, reportPath: 'reports/20261121T083320-k2pq/report.html', width: 120 });
    const lines = t.trimEnd().split('\n');
    expect(lines[0]).to.match(/^verdict\s+suite\s+group\s+check\s+detail$/);
    expect(lines.slice(1, 8).map((l) => l.split('  ')[0]!.trim())).to.deep.equal(['! ERROR', '✘ FAIL', '✘ FAIL', '? unknown', '? unknown', '✔ pass', '✔ pass']);
    for (const l of lines) expect(l.length).to.be.at.most(120);
    expect(lines.at(-2)).to.equal('6 checks: 2 passed, 2 failed, 2 unknown, 1 error');
    expect(lines.at(-1)).to.equal('report: reports/20261121T083320-k2pq/report.html');
    expect(t).to.not.include(ESC);
    expect(renderCheckTable(results.checks, { color: true })).to.include('\x1b[31m✘ FAIL');
  });

  it('shows control characters from a check or a step as text, not as escape codes', () => {
    const { results } = fixture('ha-synthetic');
    const check = { ...results.checks[0]!, detail: '\x1b[2J\x1b[31mipvsadm: Memory allocation problem' };
    expect(renderCheckTable([check], { width: 200 })).to.include('\\u001b[2J\\u001b[31mipvsadm: Memory allocation problem');
    expect(renderCheckTable([check])).to.not.include(ESC);
    const { p, out } = harness(false);
    p.phase('configure');
    p.step('ipvsadm said \x1b[31mno\x1b[0m');
    expect(out.join('')).to.not.include(ESC);
  });

  it('says so when nothing was judged', () => {
    expect(renderCheckTable([])).to.equal('no check recorded a verdict\n\n0 checks: 0 passed\n');
  });
});
