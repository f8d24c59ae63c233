import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { commandHelp, help, main } from '../../harness/cli.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { DEBIAN_RELEASES } from '../../harness/keepalived/releases.js';

/**
 * `lvs-harness --help` and the README's CLI table name the same commands, and the help names
 * every shipped topology and suite (read here from the directories, not from the harness).
 */
const names = (dir: string, ext: string) => readdirSync(path.join(REPO_ROOT, dir)).filter((f) => f.endsWith(ext)).map((f) => f.slice(0, -ext.length));

/** "lab up [--memory MiB]" → "lab up": the words before the first argument or option. */
const command = (usage: string) => usage.split(/\s+/).filter((w, i, all) => all.slice(0, i + 1).every((x) => /^[a-z][a-z-]*$/.test(x))).join(' ');

function readmeCommands(): string[] {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## CLI reference'), readme.indexOf('Environment:', readme.indexOf('## CLI reference')));
  const rows = section.split('\n').filter((l) => /^\| `/.test(l));
  return [...new Set(rows.map((l) => command(l.match(/^\| `([^`]+)`/)![1]!)))].sort();
}

function helpCommands(text: string): string[] {
  return [...new Set([...text.matchAll(/^ {2}lvs-harness (.+)$/gm)].map((m) => command(m[1]!.split(/\s{2,}/)[0]!)))].sort();
}

describe('--help matches the README and the checkout', () => {
  const text = help();

  it('names every command of the README CLI table, and no other', () => {
    const readme = readmeCommands();
    expect(readme).to.include.members(['main', 'run', 'lab up', 'runs']);
    expect(helpCommands(text)).to.deep.equal(readme);
  });

  it('up lists every shipped topology', () => {
    const topologies = names('topologies', '.yaml');
    expect(topologies).to.include.members(['nat', 'nat-ha', 'haproxy-ha']);
    const upText = text.slice(text.indexOf('lvs-harness up '), text.indexOf('lvs-harness down '));
    for (const t of topologies) expect(upText, t).to.match(new RegExp(`[\\s(:]${t}[\\s),]`));
  });

  it('run lists every suite, the keepalived ones too', () => {
    const suites = names('suites', '.spec.ts');
    expect(suites).to.include.members(['modes', 'failover', 'health', 'sync', 'splitbrain']);
    const runText = text.slice(text.indexOf('lvs-harness run '), text.indexOf('lvs-harness faults'));
    for (const s of suites) expect(runText, s).to.match(new RegExp(`[\\s(]${s}[,)]`));
  });

  it('lint and validate name every release and keepalived version they accept, and the default release', () => {
    for (const cmd of ['lint', 'validate']) {
      const line = text.split('\n').find((l) => l.startsWith(`  lvs-harness ${cmd} `))!;
      expect(line, cmd).to.include(`[--release ${DEBIAN_RELEASES.map((r) => r.name).join('|')}]`);
      expect(line, cmd).to.include(`[--keepalived-version ${DEBIAN_RELEASES.map((r) => r.keepalived).join('|')}]`);
    }
    expect(text).to.include('--release (default bookworm)');
  });
});

describe('<command> --help', () => {
  it('prints that command\'s usage lines and descriptions, and where the rest is', () => {
    const run = commandHelp('run');
    expect(run).to.match(/^Usage:\n  lvs-harness run <topology>/);
    expect(run).to.include('--expect');
    expect(run).to.not.include('lvs-harness bench');
    expect(run).to.match(/lvs-harness --help$/);
    // a command with several subcommands gets them all
    for (const sub of ['lab build', 'lab up', 'lab down', 'lab status']) expect(commandHelp('lab')).to.include(`lvs-harness ${sub}`);
    // an unknown command: the whole help
    expect(commandHelp('nosuch')).to.equal(help());
  });

  it('is what `run --help` prints, exit 0, where it used to be an unknown option', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      expect(await main(['run', '--help'])).to.equal(0);
      expect(await main(['validate', 'a.conf', '-h'])).to.equal(0);
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).to.include('lvs-harness run <topology>').and.to.include('lvs-harness validate');
  });
});
