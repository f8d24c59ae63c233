import { expect } from 'chai';
import { confirmFindings, type ValidateSection } from '../../harness/report/results.js';
import type { RecordedCheck } from '../../harness/suite/context.js';
import { prepareValidate } from '../../harness/validate/command.js';

const L = 'test/fixtures/lint';

describe('validate: preparing a run from the operator files', () => {
  it("the seed 002 pair: lint clean, a plan whose directors run the operator's own text, translated, and the suites that apply", () => {
    const p = prepareValidate({ keepalived: `${L}/seed002-vi14x-a.conf`, peer: `${L}/seed002-vi14x-b.conf` });
    expect(p.section.findings.filter((f) => f.severity !== 'info')).to.deep.equal([]);
    expect(p.suites).to.deep.equal(['modes', 'failover']);
    const d1 = p.plan.nodes.find((n) => n.name === 'director1')!;
    expect(d1.keepalivedFiles!.map((f) => f.path)).to.deep.equal(['/etc/keepalived/keepalived.conf']);
    const text = d1.keepalivedFiles![0]!.text;
    // their addresses and interfaces are gone, their comments (UTF-8) and everything else stay
    expect(text).not.to.match(/192\.168\.10\.14[12]/);
    expect(text).to.match(/interface @net:\S+/);
    expect(text).to.contain('10.89.200.141/26');
    expect(text.split('\n')[0]).to.match(/^! seed 002 \(主机/);
    expect(p.preface).to.match(/^lint: 0 errors, 0 warnings, \d+ info$/m);
    // the files change the plan's hash: a changed file is a new topology, never a reused one
    const again = prepareValidate({ keepalived: `${L}/seed002-vi14x-a.conf`, peer: `${L}/seed002-vi14x-b.conf` });
    expect(again.plan.hash).to.equal(p.plan.hash);
  });

  it('one file without --peer: the director runs the operator\'s own keepalived.conf, translated, and the modes suite judges it', () => {
    const p = prepareValidate({ keepalived: 'test/fixtures/validate/lone-nat.conf' });
    expect(p.suites).to.deep.equal(['modes']);
    const d1 = p.plan.nodes.find((n) => n.name === 'director1')!;
    expect(d1.keepalived).to.exist;
    const text = d1.keepalivedFiles![0]!.text;
    expect(text).not.to.match(/192\.168\.40\.80|172\.16\.40\.2[12]/);
    expect(text).to.contain('virtual_server 10.89.200.80 80').and.contain('path /health');
  });

  it('a pair that disagrees on its password is linted with the finding the run then confirms', () => {
    const p = prepareValidate({ keepalived: `${L}/good-a.conf`, peer: `${L}/auth-mismatch-b.conf` });
    expect(p.section.findings.map((f) => f.rule)).to.include('pair-mismatch');
  });

  it('needs a file, and --peer only with --keepalived', () => {
    expect(() => prepareValidate({})).to.throw(/give --keepalived FILE/);
    expect(() => prepareValidate({ peer: `${L}/good-b.conf` })).to.throw(/--peer goes with --keepalived/);
  });
});

describe('validate: findings the run confirms', () => {
  const section: ValidateSection = {
    sources: ['a.conf', 'b.conf'],
    findings: [
      { rule: 'pair-mismatch', severity: 'error', file: 'b.conf', line: 12, message: 'auth_pass differs' },
      { rule: 'takeover-bound', severity: 'info', file: 'a.conf', line: 3, message: '3.6 s' },
    ],
    translation: [],
    notes: [],
  };
  const check = (valid: boolean, detail: string): RecordedCheck => ({ name: 'exactly one director holds 10.89.200.141', valid, suite: 'failover', group: 'VI_1 kill one holder', observed: {}, expected: {}, rule: '', detail });

  it('a split brain seen by a one-holder check confirms the finding that predicted it', () => {
    const v = confirmFindings(section, [check(false, 'split brain on 10.89.200.141: director1 and director2 held it together for 4 s')]);
    expect(v.findings[0]!.confirmedBy).to.match(/^VI_1 kill one holder: split brain/);
    expect(v.findings[1]!.confirmedBy).to.equal(undefined);
  });

  it('so does a build that stopped on split brain', () => {
    const v = confirmFindings(section, [], { phase: 'build', message: 'split brain: waited for 10.89.200.141 (VI_1) to be held by director1 alone, but it was held by director1, director2' });
    expect(v.findings[0]!.confirmedBy).to.match(/^the build: split brain/);
  });

  it('stays silent when the run saw one holder, or a gap that is no split brain', () => {
    expect(confirmFindings(section, [check(true, '120 observations, each with one holder')]).findings[0]!.confirmedBy).to.equal(undefined);
    expect(confirmFindings(section, [check(false, 'no director held 10.89.200.141 for 0.8 s')]).findings[0]!.confirmedBy).to.equal(undefined);
  });
});
