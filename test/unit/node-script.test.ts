import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CHECK_EXIT_MARK, NODE_SCRIPT_EXIT, nodeScript, readNodeScriptFailure, type NodeScriptSpec } from '../../harness/topology/node-script.js';

/**
 * The one script configureNode runs in a node. Only its parts that need nothing of a lab node
 * (steps, files, config checks, the restart) run here on the host; the rest is checked by `sh -n`.
 */

const spec = (s: Partial<NodeScriptSpec>): NodeScriptSpec => ({ steps: [], dirs: [], files: [], checks: [], daemons: [], ...s });
const run = (script: string) => spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 15_000 });
/** sh reads the whole script without running it: nonzero and a message on a syntax error */
const parse = (script: string) => spawnSync('sh', ['-n'], { input: script, encoding: 'utf8', timeout: 15_000 });

/** Text no quoting or heredoc may break: quotes, expansions, the heredoc delimiter itself, unicode, CRLF. */
const HOSTILE = [
  "it's a 'quoted' \"double\" \\back\\slash",
  '$HOME ${PATH} $(touch /tmp/lvsh-pwned) `id` $1 $@ $?',
  'LVSH_EOF',
  "'LVSH_EOF'",
  '  LVSH_EOF  ',
  'ä ö ü ß — 日本語 🎉 \u0000nul',
  'tab\there\r\nwindows line',
  '',
  'no newline at the end',
].join('\n');

describe('node script (one exec configures a node)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'lvsh-node-script-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('is valid POSIX sh', () => {
    const full = (): NodeScriptSpec =>
      spec({
        steps: [
          { argv: ['ip', 'link', 'set', 'eth1', 'up'] },
          { argv: ['ip', 'addr', 'replace', '10.89.10.100/32', 'dev', 'lo'] },
          { argv: ['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-m', 'comment', '--comment', "it's $x `y`"], unless: ['iptables', '-t', 'mangle', '-C', 'PREROUTING', '-m', 'comment', '--comment', "it's $x `y`"] },
        ],
        dirs: ['/etc/keepalived', '/opt/lvs-harness', '/run/with space'],
        files: [
          { path: '/etc/keepalived/keepalived.conf', text: HOSTILE },
          { path: "/opt/lvs-harness/it's $odd `name`.sh", text: '#!/bin/sh\necho hi\n', mode: '755' },
          { path: '/etc/empty', text: '' },
        ],
        checks: [
          { tool: 'haproxy', argv: ['haproxy', '-c', '-f', '/etc/haproxy/haproxy.cfg'] },
          { tool: 'keepalived', argv: ['keepalived', '-t', '-f', '/etc/keepalived/keepalived.conf'] },
        ],
        daemons: [
          { process: 'haproxy', argv: ['haproxy', '-db', '-f', '/etc/haproxy/haproxy.cfg'], log: '/run/lvs-harness/haproxy.log' },
          { process: 'keepalived', argv: ['keepalived', '--dont-fork', '--log-console'], log: '/run/lvs-harness/keepalived.log', removeFirst: ['/run/keepalived.pid', '/run/vrrp.pid'] },
        ],
        nginx: { conf: '/etc/lvs-harness/nginx.conf', healthUrl: 'http://127.0.0.1:8080/health' },
        restart: { argv: ['node', '/opt/lvs-harness/udp-echo.cjs', 'rs1', '10.89.20.11', '53,5353', '10.89.20.11', 'fd00::11'] },
        waitSeconds: 5,
      });

    it('parses with everything in it: steps, hostile files, checks, daemons, nginx, restart', () => {
      const r = parse(nodeScript(full()));
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
    });

    it('parses each part on its own, and with nothing at all', () => {
      const f = full();
      const parts: Partial<NodeScriptSpec>[] = [
        {},
        { steps: f.steps },
        { dirs: f.dirs },
        { files: f.files },
        { checks: f.checks },
        { daemons: f.daemons },
        { nginx: f.nginx },
        { restart: f.restart },
        { nginx: f.nginx, restart: f.restart },
      ];
      for (const p of parts) {
        const r = parse(nodeScript(spec(p)));
        expect(r.status, `${JSON.stringify(p)}: ${r.stderr}`).to.equal(0);
      }
    });

    it('starts the daemons in order, each only when it does not run, removing stale files first', () => {
      const s = nodeScript(full());
      const h = s.indexOf('if ! pgrep -x haproxy');
      const k = s.indexOf('if ! pgrep -x keepalived');
      expect(h).to.be.above(-1);
      expect(k).to.be.above(h);
      expect(s).to.include("rm -f /run/keepalived.pid /run/vrrp.pid; start_daemon /run/lvs-harness/keepalived.log keepalived --dont-fork --log-console; wait_proc keepalived /run/lvs-harness/keepalived.log");
      // the checks come after the files and before the daemons
      expect(s.indexOf('haproxy -c -f')).to.be.above(s.lastIndexOf('LVSH_EOF'));
      expect(s.indexOf('haproxy -c -f')).to.be.below(h);
    });

    it('ends with a newline so sh -c sees the last heredoc closed', () => {
      expect(nodeScript(full()).endsWith('\n')).to.equal(true);
      expect(nodeScript(spec({ files: [{ path: '/x', text: 'x' }] })).endsWith('LVSH_EOF\n')).to.equal(true);
    });
  });

  describe('writes the files exactly (run on the host)', () => {
    it('round-trips every byte, makes the directories, and sets the mode where given', () => {
      const files = [
        { path: path.join(dir, 'etc/keepalived/keepalived.conf'), text: HOSTILE },
        { path: path.join(dir, "deep/er/it's a $dir/notify.sh"), text: '#!/bin/sh\necho "$@"\n', mode: '755' },
        { path: path.join(dir, 'empty'), text: '' },
        // 57 bytes is exactly one 76-character base64 line: the line break falls at the very end
        { path: path.join(dir, 'one-line'), text: 'x'.repeat(57) },
        { path: path.join(dir, 'big.txt'), text: Array.from({ length: 2000 }, (_, i) => `line ${i} 'q' $v \`c\` ü`).join('\n') + '\n' },
        { path: path.join(dir, 'trailing-newlines'), text: 'a\n\n\n' },
      ];
      const r = run(nodeScript(spec({ dirs: [path.join(dir, 'made/by dirs')], files })));
      expect(r.stderr).to.equal('');
      expect(r.status).to.equal(0);
      for (const f of files) {
        expect(readFileSync(f.path, 'utf8'), f.path).to.equal(f.text);
        if (f.mode) expect((statSync(f.path).mode & 0o777).toString(8), f.path).to.equal(f.mode);
      }
      expect(statSync(path.join(dir, 'made/by dirs')).isDirectory()).to.equal(true);
      expect(existsSync('/tmp/lvsh-pwned')).to.equal(false);
    });

    it('is idempotent: a second run over changed files writes the new text', () => {
      const p = path.join(dir, 'conf');
      expect(run(nodeScript(spec({ files: [{ path: p, text: 'old, and longer than the new text\n', mode: '755' }] }))).status).to.equal(0);
      expect(run(nodeScript(spec({ files: [{ path: p, text: 'new\n', mode: '755' }] }))).status).to.equal(0);
      expect(readFileSync(p, 'utf8')).to.equal('new\n');
      expect((statSync(p).mode & 0o777).toString(8)).to.equal('755');
    });

    it('a file it cannot write fails as a step, naming the file', () => {
      const blocker = path.join(dir, 'blocker');
      const r = run(nodeScript(spec({ files: [{ path: blocker, text: 'a file' }, { path: path.join(blocker, 'below'), text: 'x' }] })));
      expect(r.status).to.equal(NODE_SCRIPT_EXIT.step);
      expect(r.stderr).to.match(/`write .*\/blocker\/below` exited with [1-9]/);
    });
  });

  describe('stops at a failing step (run on the host)', () => {
    it('exits 1, says which command failed, and runs nothing after it', () => {
      const later = path.join(dir, 'later');
      const file = path.join(dir, 'file');
      const r = run(nodeScript(spec({ steps: [{ argv: ['true'] }, { argv: ['false'] }, { argv: ['touch', later] }], files: [{ path: file, text: 'x' }] })));
      expect(r.status).to.equal(NODE_SCRIPT_EXIT.step);
      expect(r.stderr).to.equal('`false` exited with 1\n');
      expect(existsSync(later)).to.equal(false);
      expect(existsSync(file)).to.equal(false);
    });

    it('skips a step whose unless-check succeeds', () => {
      const r = run(nodeScript(spec({ steps: [{ argv: ['false'], unless: ['true'] }, { argv: ['touch', path.join(dir, 'ran')] }] })));
      expect(r.status).to.equal(0);
      expect(existsSync(path.join(dir, 'ran'))).to.equal(true);
    });
  });

  describe('config checks (run on the host)', () => {
    it('keepalived: exits keepalivedCheck with the status and what it said on stderr', () => {
      const r = run(nodeScript(spec({ files: [{ path: path.join(dir, 'k.conf'), text: 'x' }], checks: [{ tool: 'keepalived', argv: ['sh', '-c', 'echo bad >&2; exit 3'] }] })));
      expect(r.status).to.equal(NODE_SCRIPT_EXIT.keepalivedCheck);
      expect(r.stderr).to.equal(`bad\n${CHECK_EXIT_MARK} keepalived 3\n`);
      expect(readNodeScriptFailure(r.stderr)).to.deep.equal({ checkStatus: 3, said: 'bad' });
    });

    it('keepalived: its stdout is not what it said', () => {
      const r = run(nodeScript(spec({ checks: [{ tool: 'keepalived', argv: ['sh', '-c', 'echo noise; echo bad >&2; exit 3'] }] })));
      expect(r.status).to.equal(NODE_SCRIPT_EXIT.keepalivedCheck);
      expect(r.stdout).to.equal('');
      expect(readNodeScriptFailure(r.stderr)).to.deep.equal({ checkStatus: 3, said: 'bad' });
    });

    it('haproxy: exits haproxyCheck with the status and what it said on stdout and stderr', () => {
      const r = run(nodeScript(spec({ checks: [{ tool: 'haproxy', argv: ['sh', '-c', 'echo bad; exit 2'] }] })));
      expect(r.status).to.equal(NODE_SCRIPT_EXIT.haproxyCheck);
      expect(readNodeScriptFailure(r.stderr)).to.deep.equal({ checkStatus: 2, said: 'bad' });
      const both = run(nodeScript(spec({ checks: [{ tool: 'haproxy', argv: ['sh', '-c', 'echo [ALERT] one; echo [WARNING] two >&2; exit 1'] }] })));
      expect(both.status).to.equal(NODE_SCRIPT_EXIT.haproxyCheck);
      expect(readNodeScriptFailure(both.stderr)).to.deep.equal({ checkStatus: 1, said: '[ALERT] one\n[WARNING] two' });
    });

    it('runs after the files are written, and the first failing check stops the script', () => {
      const conf = path.join(dir, 'haproxy.cfg');
      const later = path.join(dir, 'later');
      const r = run(
        nodeScript(
          spec({
            files: [{ path: conf, text: 'global\n' }],
            checks: [
              { tool: 'haproxy', argv: ['test', '-f', conf] },
              { tool: 'haproxy', argv: ['sh', '-c', 'echo bad; exit 2'] },
              { tool: 'keepalived', argv: ['touch', later] },
            ],
          }),
        ),
      );
      expect(r.status).to.equal(NODE_SCRIPT_EXIT.haproxyCheck);
      expect(existsSync(later)).to.equal(false);
    });

    it('checks that pass let the script succeed', () => {
      const r = run(nodeScript(spec({ checks: [{ tool: 'haproxy', argv: ['true'] }, { tool: 'keepalived', argv: ['sh', '-c', 'echo fine >&2'] }] })));
      expect(r.status).to.equal(0);
      expect(r.stderr).to.equal('');
    });
  });

  describe('readNodeScriptFailure', () => {
    it('reads a daemon that did not run and the end of its log', () => {
      expect(readNodeScriptFailure('lvsh-not-running keepalived\nline1\nline2')).to.deep.equal({ daemon: 'keepalived', said: 'line1\nline2' });
      expect(readNodeScriptFailure('lvsh-not-running haproxy\n')).to.deep.equal({ daemon: 'haproxy', said: '' });
    });

    it('reads a check status after the check output', () => {
      expect(readNodeScriptFailure(`a\nb\n${CHECK_EXIT_MARK} haproxy 2\n`)).to.deep.equal({ checkStatus: 2, said: 'a\nb' });
    });

    it('gives plain text back trimmed, with no status or daemon', () => {
      expect(readNodeScriptFailure('  `ip link set eth9 up` exited with 1\n')).to.deep.equal({ said: '`ip link set eth9 up` exited with 1' });
      expect(readNodeScriptFailure('')).to.deep.equal({ said: '' });
    });
  });

  describe('restart', () => {
    const argv = ['node', '/opt/lvs-harness/udp-echo.cjs', 'rs1', '10.89.20.11', '53'];

    it('kills the old process by a pattern anchored at the start of its command line', () => {
      const s = nodeScript(spec({ restart: { argv } }));
      expect(s).to.include("pkill -f '^node /opt/lvs-harness/udp-echo.cjs'\n");
      expect(s).to.include('setsid node /opt/lvs-harness/udp-echo.cjs rs1 10.89.20.11 53 </dev/null >/dev/null 2>&1 &\n');
      // pkill -f matches the command line, arguments joined by spaces: the echo's, not the script's own
      const pattern = new RegExp(s.match(/pkill -f '([^']*)'/)![1]!);
      expect(pattern.test(argv.join(' '))).to.equal(true);
      expect(pattern.test(`sh -c ${s}`)).to.equal(false);
      expect(pattern.test(`/bin/sh -c ${s}`)).to.equal(false);
    });

    it('with a ready file: removes it before the start, gives it to the process, and waits for it last (run on the host)', function () {
      this.timeout(15_000);
      const ready = path.join(dir, 'echo.ready');
      // a process of this test's own (pkill -f matches its script's path, nothing else)
      const echo = path.join(dir, 'echo.sh');
      writeFileSync(echo, `sleep 0.5; echo $$ > "$LVSH_READY"; exec sleep 3602.${process.pid}\n`);
      const mine = ['sh', echo];
      const s = nodeScript(spec({ restart: { argv: mine, ready }, waitSeconds: 5 }));
      expect(s.indexOf(`rm -f ${ready}`)).to.be.above(s.indexOf('pkill -f'));
      expect(s).to.include(`LVSH_READY=${ready} setsid sh ${echo}`);
      expect(s.lastIndexOf(`until [ -e ${ready} ]`)).to.be.above(s.indexOf(`setsid sh ${echo}`));
      try {
        // a stale ready file from before does not count
        spawnSync('sh', ['-c', `echo stale > ${ready}`]);
        const t0 = Date.now();
        const r = run(s);
        expect(r.status, r.stderr).to.equal(0);
        expect(Date.now() - t0).to.be.at.least(400);
        expect(readFileSync(ready, 'utf8').trim()).to.match(/^\d+$/);
      } finally {
        spawnSync('pkill', ['-f', `^sh ${echo}`]);
        spawnSync('pkill', ['-f', `^sleep 3602.${process.pid}$`]);
      }
    });

    it('with a ready file that never comes: exits notReady within its wait, saying what it waited for (run on the host)', function () {
      this.timeout(15_000);
      const ready = path.join(dir, 'never.ready');
      const mine = ['sleep', `3601.${process.pid}`];
      try {
        const t0 = Date.now();
        const r = run(nodeScript(spec({ restart: { argv: mine, ready }, waitSeconds: 1 })));
        expect(r.status).to.equal(NODE_SCRIPT_EXIT.notReady);
        expect(Date.now() - t0).to.be.below(5_000);
        expect(r.stderr).to.match(/^lvsh-not-ready sleep 3601\.\d+ 1$/m);
      } finally {
        spawnSync('pkill', ['-f', `^sleep 3601.${process.pid}`]);
      }
    });

    it('on the host: the second run replaces the first process and does not kill itself', async function () {
      this.timeout(15_000);
      // a command line only this test starts: the pattern matches nothing else on the host
      const mine = ['sleep', `3600.${process.pid}${Date.now() % 100_000}`];
      const re = `^${mine.join(' ')}`;
      const pids = () => (spawnSync('pgrep', ['-f', re], { encoding: 'utf8' }).stdout.match(/\d+/g) ?? []).map(Number);
      const settled = async (n: number) => {
        for (let i = 0; i < 50 && pids().length !== n; i++) await new Promise((r) => setTimeout(r, 100));
        return pids();
      };
      const script = nodeScript(spec({ restart: { argv: mine } }));
      try {
        const a = run(script);
        expect(a.status, a.stderr).to.equal(0);
        const first = await settled(1);
        expect(first).to.have.length(1);
        const b = run(script);
        expect(b.signal).to.equal(null);
        expect(b.status, b.stderr).to.equal(0);
        const second = await settled(1);
        expect(second).to.have.length(1);
        expect(second[0]).to.not.equal(first[0]);
      } finally {
        for (const p of pids()) {
          try {
            process.kill(p);
          } catch {
            // already gone
          }
        }
      }
    });
  });
});
