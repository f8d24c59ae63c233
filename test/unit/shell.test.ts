import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { shellCommand, shellQuote, stepsScript } from '../../harness/util/shell.js';

/** What sh reads back: each argument on its own line, NUL-free. */
const echoBack = (argv: string[]) => spawnSync('sh', ['-c', `for a in ${shellCommand(argv)}; do printf '%s\\0' "$a"; done`], { encoding: 'utf8' }).stdout.split('\0').slice(0, -1);

describe('shell quoting (one function for every script run in a node)', () => {
  it('leaves plain words alone and quotes everything else', () => {
    expect(shellQuote('iptables')).to.equal('iptables');
    expect(shellQuote('10.89.10.100/32')).to.equal('10.89.10.100/32');
    expect(shellQuote('')).to.equal("''");
    expect(shellQuote("it's")).to.equal("'it'\\''s'");
    expect(shellQuote('a b')).to.equal("'a b'");
  });

  it('sh reads hostile arguments back exactly', () => {
    const hostile = ['$(touch /tmp/pwned)', '`id`', "'; rm -rf / #", '"double" \\back', 'new\nline', '*', '~root', '-n', 'ä ö ü', '$HOME', '!x', 'a\tb', '{a,b}', '>out', '&&', ';'];
    expect(echoBack(hostile)).to.deep.equal(hostile);
  });

  it('runs the steps in order, skips a step whose check succeeds, and stops at the first failure naming it', () => {
    const ok = spawnSync('sh', ['-c', stepsScript([{ argv: ['echo', 'one'] }, { argv: ['echo', 'skipped'], unless: ['true'] }, { argv: ['echo', 'two words'] }])], { encoding: 'utf8' });
    expect(ok.status).to.equal(0);
    expect(ok.stdout).to.equal('one\ntwo words\n');
    const bad = spawnSync('sh', ['-c', stepsScript([{ argv: ['echo', 'one'] }, { argv: ['sh', '-c', 'echo oops >&2; exit 3'] }, { argv: ['echo', 'never'] }])], { encoding: 'utf8' });
    expect(bad.status).to.equal(1);
    expect(bad.stdout).to.equal('one\n');
    expect(bad.stderr).to.equal('oops\n`sh -c echo oops >&2; exit 3` exited with 3\n');
  });
});
