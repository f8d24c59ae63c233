import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { renderJUnit } from '../../harness/report/junit.js';
import { escapeAttr, escapeText } from '../../harness/report/format.js';
import type { Results } from '../../harness/report/results.js';
import { FIXTURE_NAMES, fixture } from '../fixtures/report/fixtures.js';
import { CAUSED, PASSING, UNEXPLAINED, UNKNOWN, withCauses } from '../fixtures/report/causes.js';
import { CAUSE_RULES } from '../../harness/diagnose/rules/index.js';

type Node = Record<string, unknown> & { '#text'?: string };

// every element a list, attributes as plain strings with character references decoded
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name, _path, _leaf, isAttribute) => !isAttribute && name !== '?xml', parseAttributeValue: false, parseTagValue: false, trimValues: false, htmlEntities: true });

// XML 1.0 Char: what fast-xml-parser's validator does not check
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

const list = (v: unknown) => (v ?? []) as Node[];
const attr = (n: Node, k: string) => n[k] as string | undefined;

/**
 * The shape CI tools read (Jenkins' and GitLab's JUnit schemas): <testsuites> of <testsuite>
 * with name/tests/failures/errors/skipped, <testcase> with classname and name, at most one of
 * <failure>/<error> with message and type; counts add up.
 */
function checkShape(xml: string): Node[] {
  expect(XMLValidator.validate(xml)).to.equal(true);
  expect(xml).to.not.match(NOT_XML_CHAR);
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).to.equal(true);
  const doc = parser.parse(xml) as Node;
  const roots = list(doc.testsuites);
  expect(roots).to.have.length(1);
  const root = roots[0]!;
  const suites = list(root.testsuite);
  const sum = (k: string) => suites.reduce((a, s) => a + Number(attr(s, k)), 0);
  for (const k of ['tests', 'failures', 'errors']) expect(Number(attr(root, k)), `testsuites ${k}`).to.equal(sum(k));
  expect(attr(root, 'time')).to.match(/^\d+\.\d{3}$/);
  for (const s of suites) {
    for (const k of ['name', 'tests', 'failures', 'errors', 'skipped']) expect(attr(s, k), `testsuite ${k}`).to.be.a('string');
    if (attr(s, 'time') !== undefined) expect(attr(s, 'time')).to.match(/^\d+\.\d{3}$/);
    const cases = list(s.testcase);
    expect(cases.length).to.equal(Number(attr(s, 'tests')));
    expect(cases.filter((c) => c.failure).length).to.equal(Number(attr(s, 'failures')));
    expect(cases.filter((c) => c.error).length).to.equal(Number(attr(s, 'errors')));
    for (const c of cases) {
      expect(attr(c, 'classname')).to.be.a('string').and.not.equal('');
      expect(attr(c, 'name')).to.be.a('string').and.not.equal('');
      const bad = [...list(c.failure), ...list(c.error)];
      expect(bad.length).to.be.at.most(1);
      for (const b of bad) {
        expect(attr(b, 'message')).to.be.a('string');
        expect(attr(b, 'message')!.length).to.be.at.most(200);
        expect(attr(b, 'message')).to.not.include('\n');
        expect(attr(b, 'type')).to.be.a('string');
      }
    }
  }
  return suites;
}

describe('report: junit.xml', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: parses as JUnit XML with one testsuite per suite and one testcase per check`, () => {
      const { results } = fixture(name);
      const suites = checkShape(renderJUnit(results));
      expect(suites.map((s) => attr(s, 'name'))).to.deep.equal(results.suites);
      const cases = suites.flatMap((s) => list(s.testcase).filter((c) => !c.error));
      expect(cases.map((c) => `${attr(c, 'classname')} / ${attr(c, 'name')}`)).to.have.members(results.checks.map((c) => `${c.suite}.${c.group} / ${c.name}`));
    });
  }

  it('suite times are the runner timings in seconds', () => {
    const { results } = fixture('nat');
    const suites = checkShape(renderJUnit(results));
    expect(suites.map((s) => attr(s, 'time'))).to.deep.equal(['72.141', '14.051', '17.906']);
  });

  it('a check that could not judge is a failure of type "unknown", not a skip', () => {
    const suites = checkShape(renderJUnit(fixture('ha-synthetic').results));
    const wrr = suites.flatMap((s) => list(s.testcase)).find((c) => attr(c, 'name') === 'wrr shares follow the weights')!;
    const f = list(wrr.failure)[0]!;
    expect(attr(f, 'type')).to.equal('unknown');
    expect(attr(f, 'message')).to.equal('could not judge: only 4 of 24 connections answered: too few to judge shares');
    expect(wrr.skipped).to.equal(undefined);
    expect(suites.every((s) => attr(s, 'skipped') === '0')).to.equal(true);
  });

  it('a failure carries rule, detail, observed and expected in its body', () => {
    const suites = checkShape(renderJUnit(fixture('ha-synthetic').results));
    const rr = suites.flatMap((s) => list(s.testcase)).find((c) => attr(c, 'name') === 'rr rotates over the real servers')!;
    const f = list(rr.failure)[0]!;
    expect(attr(f, 'type')).to.equal('violation');
    expect(attr(f, 'message')).to.equal('round 2 had {"rs1":2,"rs2":1,"rs3":0}');
    const body = f['#text']!;
    expect(body).to.include('rule:     round robin: in each round of 3 new connections');
    expect(body).to.include('observed: {\n  "connections": 9,');
    expect(body).to.include('"totals": {"rs1": 5, "rs2": 4}');
    expect(body).to.include('expected: {"perRound": {"rs1": 1, "rs2": 1, "rs3": 1}, "maxMinusMin": "≤ 1"}');
  });

  it('a mocha error is an <error> testcase in the suite that was running', () => {
    const suites = checkShape(renderJUnit(fixture('ha-synthetic').results));
    const failover = suites.find((s) => attr(s, 'name') === 'failover')!;
    const e = list(failover.testcase).find((c) => c.error)!;
    expect(attr(e, 'name')).to.equal('failover on nat-ha "after all" hook in "failover on nat-ha"');
    expect(attr(list(e.error)[0]!, 'message')).to.equal('ERR_LVS_COMMAND_FAILED: `ipvsadm -S -n` exited with 2:');
    expect(list(e.error)[0]!['#text']).to.include('Protocol not available');
  });

  it('results@0 errors find their suite by title, or land in an "lvs-harness" testsuite', () => {
    const { results } = fixture('nat');
    const r: Results = { ...results, valid: false, errors: [{ title: 'drain on nat "before all" hook', message: 'boom' }, { title: 'something else', message: 'lost' }] };
    const suites = checkShape(renderJUnit(r));
    expect(suites.map((s) => attr(s, 'name'))).to.deep.equal(['schedulers', 'persistence', 'drain', 'lvs-harness']);
    expect(attr(suites[2]!, 'errors')).to.equal('1');
    expect(attr(suites[3]!, 'tests')).to.equal('1');
  });

  it('escapes markup, quotes, line breaks and characters XML 1.0 forbids', () => {
    const { results } = fixture('nat');
    const nasty = 'a <b> & "c" \'d\'\nline2\ttab \u0000nul \u001b[31mred\u001b[0m \uFFFE lone \uD800 ok 🙂 ]]>';
    const r: Results = { ...results, checks: [{ ...results.checks[0]!, name: nasty, group: nasty, valid: false, detail: nasty, observed: { text: nasty } }] };
    const xml = renderJUnit(r);
    const suites = checkShape(xml);
    const c = list(suites[0]!.testcase)[0]!;
    const visible = 'a <b> & "c" \'d\'\nline2\ttab \\u0000nul \\u001b[31mred\\u001b[0m \\ufffe lone \\ud800 ok 🙂 ]]>';
    expect(attr(c, 'name')).to.equal(visible);
    expect(attr(c, 'classname')).to.equal(`schedulers.${visible}`);
    expect(attr(list(c.failure)[0]!, 'message')).to.equal('a <b> & "c" \'d\'');
    expect(list(c.failure)[0]!['#text']).to.include(`detail:   ${visible}`);
  });

  describe('the causes of a failed check, in the failure text (issue 15)', () => {
    const xml = renderJUnit(withCauses());
    const cases = checkShape(xml).flatMap((s) => list(s.testcase));
    const body = (name: string) => {
      const c = cases.find((x) => attr(x, 'name') === name)!;
      expect(list(c.failure), name).to.have.length(1);
      return list(c.failure)[0]!['#text']!;
    };

    it('a recognised cause: the sentence, each command with its note and indented output, and the fix, after the detail and before the observation', () => {
      const b = body(CAUSED);
      const want = [
        'cause:    both directors hold the VIP 10.89.10.100 <VI_1>: auth_pass "s3cr&t" on director1 vs "s3cr3t" on director2 | each drops the other\'s adverts',
        '  director1$ ip -o addr show',
        '    7: eth1    inet 10.89.10.100/24 scope global secondary eth1\\       valid_lft forever preferred_lft forever',
        "  director2$ test -f /var/log/keepalived.log && tail -n 200 /var/log/keepalived.log   # keepalived drops director1's adverts & stays MASTER",
        '    Nov 21 07:35:02 director2 Keepalived_vrrp[41]: (VI_1) received an invalid passwd! <from 10.89.10.2>',
        'fix:      write the same auth_pass on both directors (8 characters at most, no <&> or !) and restart keepalived on director2',
      ].join('\n');
      expect(b).to.include(want);
      expect(b.indexOf('detail:')).to.be.lessThan(b.indexOf('cause:'));
      expect(b.indexOf('fix:')).to.be.lessThan(b.indexOf('observed:'));
      // escaped in the file, readable once parsed
      expect(xml).to.include('&lt;VI_1&gt;: auth_pass "s3cr&amp;t"');
      expect(xml).to.include('no &lt;&amp;&gt; or !');
      expect(xml).to.not.match(/<VI_1>|<from |<&>|<no answer>/);
    });

    it('"no known cause": said as such on the "unknown" failure, with the number of rules tried, every command gathered and the fix', () => {
      const b = body(UNEXPLAINED);
      expect(b).to.match(new RegExp(`^no known cause: +(no known cause: )?none of the ${CAUSE_RULES.length} recognised causes shows in the evidence gathered from 2 nodes$`, 'm'));
      expect(b).to.not.match(/^cause:/m);
      for (const q of UNKNOWN.evidence) expect(b).to.include(`\n  ${q.node}$ ${q.command}   # ${q.note}\n`);
      expect(b).to.include('  rs2$ evidence script   # exec timed out after 10 s <no answer>');
      expect(b).to.match(/^fix: +read the check's detail and run the commands listed \(all read-only\) on the nodes;/m);
    });

    it('a passing check, and a failed one without causes, show none', () => {
      for (const name of PASSING) {
        const c = cases.find((x) => attr(x, 'name') === name)!;
        expect(c.failure, name).to.equal(undefined);
      }
      expect(body('rr rotates over the real servers')).to.not.match(/^(cause|no known cause|fix):/m);
      expect(xml.match(/^(cause|no known cause): /gm)).to.have.length(2);
      expect(renderJUnit(fixture('ha-synthetic').results)).to.not.match(/^(cause|no known cause|fix):/m);
    });

    it('evidence past six commands, or twelve lines of one, is counted, not dropped silently', () => {
      const many = { ...UNKNOWN, evidence: Array.from({ length: 8 }, (_, i) => ({ node: `rs${i}`, command: 'ip neigh show', lines: Array.from({ length: i === 0 ? 15 : 1 }, (_, k) => `10.0.0.${k} dev eth0 FAILED`) })) };
      const r = withCauses();
      const b = checkShape(renderJUnit({ ...r, checks: r.checks.map((c) => (c.name === UNEXPLAINED ? { ...c, causes: [many] } : c)) }))
        .flatMap((s) => list(s.testcase))
        .find((x) => attr(x, 'name') === UNEXPLAINED)!;
      const t = list(b.failure)[0]!['#text']!;
      expect(t).to.include('    10.0.0.11 dev eth0 FAILED\n    … and 3 more lines in results.json\n');
      expect(t).to.not.include('10.0.0.12 ');
      expect(t).to.include('  rs5$ ip neigh show');
      expect(t).to.not.include('rs6$');
      expect(t).to.include('  … and 2 more commands in results.json\nfix:');
      expect(xml).to.not.include('more command');
    });
  });

  it('escapeText and escapeAttr keep valid astral characters and show invalid ones', () => {
    expect(escapeText('x\u0007y')).to.equal('x\\u0007y');
    expect(escapeText('🙂')).to.equal('🙂');
    expect(escapeText('\uDC00')).to.equal('\\udc00');
    expect(escapeAttr('a\r\n\tb')).to.equal('a&#13;&#10;&#9;b');
  });
});
