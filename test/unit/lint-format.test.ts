import { expect } from 'chai';
import path from 'node:path';
import { lintCommand } from '../../harness/lint/command.js';
import { isHarnessError } from '../../harness/errors.js';

const F = (f: string) => path.join('test/fixtures/lint', f);

describe('lint command: formats and exit codes', () => {
  it('text: file:line: severity rule: message, a hint line, a summary; exit 1 on an error', () => {
    const r = lintCommand([F('lb-kind-lower.conf')]);
    expect(r.code).to.equal(1);
    expect(r.text).to.match(/^test\/fixtures\/lint\/lb-kind-lower\.conf:\d+: error lb-kind-case: /m);
    expect(r.text).to.match(/^ {2}hint: write DR$/m);
    expect(r.text.trim().split('\n').at(-1)).to.match(/^1 file: 1 error, 0 warnings, \d+ info$/);
  });

  it('exit 0 when only info findings remain (the good pair)', () => {
    expect(lintCommand(['--pair', F('good-a.conf'), F('good-b.conf')]).code).to.equal(0);
  });

  it('json: one entry per file with file, parsed and findings', () => {
    const out = JSON.parse(lintCommand(['--format', 'json', '--pair', F('good-a.conf'), F('auth-mismatch-b.conf')]).text);
    expect(out.map((e: { file: string }) => e.file)).to.deep.equal([F('good-a.conf'), F('auth-mismatch-b.conf')]);
    expect(out[0].parsed.nodes).to.be.an('array');
    expect(out[0].findings.some((f: { rule: string }) => f.rule === 'pair-mismatch')).to.equal(true);
  });

  it('sarif: 2.1.0 with rules and results located by relative uri and startLine, info as note', () => {
    const log = JSON.parse(lintCommand(['--format', 'sarif', F('auth-pass-bang.conf')]).text);
    expect(log.version).to.equal('2.1.0');
    const run = log.runs[0];
    expect(run.tool.driver.rules.map((r: { id: string }) => r.id)).to.include('auth-pass');
    const res = run.results.find((r: { ruleId: string }) => r.ruleId === 'auth-pass');
    expect(res.level).to.equal('error');
    expect(res.locations[0].physicalLocation.artifactLocation.uri).to.equal('test/fixtures/lint/auth-pass-bang.conf');
    expect(res.locations[0].physicalLocation.region.startLine).to.equal(24);
    expect(run.results.some((r: { level: string }) => r.level === 'note')).to.equal(true);
  });

  const usage = (argv: string[], text: RegExp) => {
    try {
      lintCommand(argv);
    } catch (e) {
      expect(isHarnessError(e) && e.code).to.equal('ERR_LVS_USAGE');
      expect((e as Error).message).to.match(text);
      return;
    }
    expect.fail('no usage error');
  };
  it('usage errors (exit 2): a missing file is named, bad options say what is allowed', () => {
    usage(['nope.conf'], /nope\.conf: no such file/);
    usage([], /at least one/);
    usage(['--pair', F('good-a.conf')], /--pair needs two files/);
    usage(['--format', 'xml', F('good-a.conf')], /use text, json, sarif/);
    usage(['--keepalived-version', '1.3.5', F('good-a.conf')], /2\.2\.7, 2\.3\.3/);
    usage(['--release', 'stretch', F('good-a.conf')], /--release stretch: known releases are bookworm \(Debian 12, keepalived 2\.2\.7\), trixie/);
  });
});
