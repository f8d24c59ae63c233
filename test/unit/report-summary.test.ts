import { expect } from 'chai';
import { renderSummary } from '../../harness/report/summary.js';
import type { Results } from '../../harness/report/results.js';
import { fixture } from '../fixtures/report/fixtures.js';

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

  it('a run without checks says so instead of an empty table', () => {
    const { results } = fixture('nat');
    const md = renderSummary({ ...results, checks: [], valid: false, errors: [{ title: 'drain', message: 'suite drain recorded no check' }] });
    expect(md).to.include('No check recorded a verdict.');
    expect(md).to.include('#### ❌ error in drain: drain');
  });
});
