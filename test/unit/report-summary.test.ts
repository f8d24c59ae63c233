import { expect } from 'chai';
import { renderSummary } from '../../harness/report/summary.js';
import type { Results } from '../../harness/report/results.js';
import { fixture } from '../fixtures/report/fixtures.js';
import { CAUSED, PASSING, RECOGNISED, UNEXPLAINED, UNKNOWN, withCauses } from '../fixtures/report/causes.js';
import { CAUSE_RULES } from '../../harness/diagnose/rules/index.js';

/** Splits a GFM table row into cells the way GitHub does: on pipes not escaped by a backslash. */
const cells = (row: string) => row.replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/);

describe('report: summary.md', () => {
  it('leads with the verdict and puts failures, then unknowns, before passing checks', () => {
    const md = renderSummary(fixture('ha-synthetic').results);
    expect(md.split('\n')[0]).to.equal('## ❌ lvs-harness failed: nat-ha, failover, drain');
    const rows = md.split('\n').filter((l) => /^\| (❌|❔|✅) \|/.test(l));
    expect(rows.map((r) => cells(r)[0]!.trim())).to.deep.equal(['❌', '❌', '❔', '❔', '✅', '✅']);
    expect(md.indexOf('### Failures')).to.be.lessThan(md.indexOf('### Checks'));
    expect(md).to.include('(could not judge)');
  });

  it('a run that passed has no failures section', () => {
    const md = renderSummary(fixture('nat').results);
    expect(md).to.not.include('### Failures');
    expect(md).to.include('**PASSED**: 19 checks: 19 passed.');
  });

  it('a pipe, a backtick or markup in a check cannot break the table or inject HTML', () => {
    const { results } = fixture('nat');
    const r: Results = {
      ...results,
      checks: [{ ...results.checks[0]!, name: 'a | b <img src=x>', group: 'g|h', observed: { 'k|ey': 'v`al|ue' } }],
    };
    const md = renderSummary(r);
    const row = md.split('\n').find((l) => l.startsWith('| ✅'))!;
    expect(cells(row)).to.have.length(6);
    expect(row).to.include('a \\| b &lt;img src=x&gt;');
    expect(row).to.include('``k\\|ey v`al\\|ue``');
    expect(md).to.not.include('<img');
  });

  it('says when the environment was not recorded (results@0)', () => {
    expect(renderSummary(fixture('nat').results)).to.include('environment not recorded (lvs-harness/results@0)');
    expect(renderSummary(fixture('ha-synthetic').results)).to.include('lab kernel 6.1.0-41-amd64, docker 20.10.24+dfsg1, ipvsadm 1.31, keepalived 2.2.7');
  });

  it("names what `--suite all` left out, with why, and says nothing of it when nothing was", () => {
    const { results } = fixture('nat');
    expect(renderSummary(results)).to.not.include('Left out');
    const md = renderSummary({ ...results, leftOut: [{ suite: 'protocols', why: 'no UDP service' }, { suite: 'schedulers', tests: ['dh', 'lblc', 'lblcr'], why: 'one destination | address' }] });
    expect(md).to.include('**Left out by `--suite all`**: protocols: no UDP service; dh, lblc, lblcr of schedulers: one destination \\| address');
  });

  it('a run without checks says so instead of an empty table', () => {
    const { results } = fixture('nat');
    const md = renderSummary({ ...results, checks: [], valid: false, errors: [{ title: 'drain', message: 'suite drain recorded no check' }] });
    expect(md).to.include('No check recorded a verdict.');
    expect(md).to.include('#### ❌ error in drain: drain');
  });

  describe('the causes of a failed check (issue 15)', () => {
    const md = renderSummary(withCauses());
    /** the text under a failure's heading, up to the next heading */
    const under = (name: string) => {
      const at = md.split('\n').findIndex((l) => l.startsWith('#### ') && l.includes(` › ${name}`));
      expect(at, name).to.be.greaterThan(-1);
      const rest = md.split('\n').slice(at + 1);
      const end = rest.findIndex((l) => l.startsWith('#'));
      return rest.slice(0, end < 0 ? undefined : end).join('\n');
    };
    /** the text outside fenced blocks: what GitHub renders as markdown */
    const prose = (t: string) => t.replace(/^(`{3,})[^\n]*\n[\s\S]*?\n\1$/gm, '');

    it('a recognised cause: the sentence, each command with its note and output lines in a block, and the fix, after the detail and before the rule', () => {
      const s = under(CAUSED);
      const cause = '**Cause**: both directors hold the VIP 10.89.10.100 &lt;VI_1&gt;: auth_pass "s3cr&t" on director1 vs "s3cr3t" on director2 \\| each drops the other\'s adverts';
      expect(s).to.include(cause);
      expect(s).to.include('```\ndirector1$ ip -o addr show\n7: eth1    inet 10.89.10.100/24 scope global secondary eth1\\       valid_lft forever preferred_lft forever\n```');
      expect(s).to.include(
        '```\ndirector2$ test -f /var/log/keepalived.log && tail -n 200 /var/log/keepalived.log   # keepalived drops director1\'s adverts & stays MASTER\nNov 21 07:35:02 director2 Keepalived_vrrp[41]: (VI_1) received an invalid passwd! <from 10.89.10.2>\n```',
      );
      const fix = 'Fix: write the same auth_pass on both directors (8 characters at most, no &lt;&&gt; or !) and restart keepalived on director2';
      expect(s).to.include(fix);
      expect(s.indexOf('clients got no answer for 4.18 s')).to.be.lessThan(s.indexOf(cause));
      expect(s.indexOf(fix)).to.be.lessThan(s.indexOf('Rule: '));
    });

    it('"no known cause": said as such, with the number of rules tried, every command gathered and the fix', () => {
      const s = under(UNEXPLAINED);
      expect(s).to.include(`**No known cause**: `);
      expect(s).to.include(`none of the ${CAUSE_RULES.length} recognised causes shows in the evidence gathered from 2 nodes`);
      expect(s).to.not.include('**Cause**');
      for (const q of UNKNOWN.evidence) expect(s).to.include(`\n${q.node}$ ${q.command}   # ${q.note}\n`);
      expect(s).to.include('rs2$ evidence script   # exec timed out after 10 s <no answer>');
      expect(s).to.include("Fix: read the check's detail and run the commands listed (all read-only) on the nodes;");
    });

    it('markup in a cause is escaped outside code blocks and a pipe cannot start a table', () => {
      const text = prose(md);
      expect(text).to.not.match(/<(VI_1|from|no answer)|<&>/);
      expect(text).to.include('&lt;VI_1&gt;');
      expect(text).to.not.match(/[^\\]\| each drops/);
    });

    it('a passing check, and a failed one without causes, show none', () => {
      for (const name of PASSING) expect(md.split('\n').filter((l) => l.startsWith('#### ') && l.includes(name)), name).to.deep.equal([]);
      const rr = under('rr rotates over the real servers');
      expect(rr).to.not.match(/Cause\*\*|Fix:/);
      expect(md.match(/^\*\*(Cause|No known cause)\*\*: /gm)).to.have.length(2);
      expect(md.match(/^Fix: /gm)).to.have.length(2);
      expect(renderSummary(fixture('ha-synthetic').results)).to.not.match(/Cause\*\*|^Fix: |no known cause/im);
    });

    it('evidence beyond the first six commands is counted, not dropped silently', () => {
      const many = { ...UNKNOWN, evidence: Array.from({ length: 9 }, (_, i) => ({ node: `rs${i}`, command: 'ip -o addr show', lines: [], note: '4 lines, exit 0' })) };
      const r = withCauses();
      const out = renderSummary({ ...r, checks: r.checks.map((c) => (c.name === UNEXPLAINED ? { ...c, causes: [many] } : c)) });
      expect(out).to.include('rs5$ ip -o addr show');
      expect(out).to.not.include('rs6$');
      expect(out).to.include('… and 3 more commands in results.json');
      expect(md).to.not.include('more command');
    });
  });
});
