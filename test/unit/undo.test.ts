import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HarnessError } from '../../harness/errors.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import type { ExecOptions, ExecResult, Node } from '../../harness/runtime/node.js';
import { SshNode } from '../../harness/runtime/ssh-node.js';
import { formatUndoReport, parseJournal, serializeJournal, UndoJournal, undoOrder, type UndoEntry } from '../../harness/runtime/undo.js';
import { shellCommand } from '../../harness/util/shell.js';
import { rejection } from '../helpers.js';
import { NodeStub } from './node-stub.js';
import { Sshd, sshdMissing } from './sshd-fixture.js';

/** A node that records what it ran; `fail` picks the commands that exit 1, `down` makes it unreachable. */
class FakeNode extends NodeStub {
  ran: string[] = [];
  down = false;
  constructor(
    name: string,
    private fail: (cmd: string) => boolean = () => false,
  ) {
    super(name);
  }
  async exec(argv: readonly string[], _opts?: ExecOptions): Promise<ExecResult> {
    const cmd = shellCommand(argv);
    if (this.down) throw new HarnessError('ERR_LVS_SSH_CONNECT', `cannot connect to ${this.name}: connection refused`);
    this.ran.push(cmd);
    if (this.fail(cmd)) throw new HarnessError('ERR_LVS_EXEC_FAILED', `\`${argv.join(' ')}\` on ${this.name} exited with 1: nope`);
    return { exitCode: 0, stdout: '', stderr: '' };
  }
  handCommand(argv: readonly string[]): string {
    return `ssh ${this.name} ${shellCommand([shellCommand(argv)])}`;
  }
}

const onDisk = (file: string): UndoEntry[] => parseJournal(JSON.parse(readFileSync(file, 'utf8')), file);

describe('undo journal', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-undo-'));
    file = path.join(dir, 'run', 'undo.json');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads back what it writes, and names the file when it is not a journal', async () => {
    const entries: UndoEntry[] = [{ id: 1, node: 'lb1', what: 'vip', undo: ['ip', 'addr', 'del', '10.0.0.100/32', 'dev', 'eth0'], at: '2026-01-01T00:00:00.000Z' }];
    expect(parseJournal(JSON.parse(serializeJournal(entries)), 'f')).to.deep.equal(entries);
    expect(() => parseJournal({ version: 2, entries: [] }, '/x/undo.json')).to.throw('/x/undo.json: not an undo journal (version 2, this harness reads 1)');
    expect(() => parseJournal({ version: 1, entries: [{ id: 1, what: 'x', undo: [], at: 'now' }] }, 'f')).to.throw(/entry 0 is malformed/);
    await writeFile(path.join(dir, 'bad.json'), '{"version": 1, "entr');
    const e = await rejection(UndoJournal.open(path.join(dir, 'bad.json')));
    expect(e.code).to.equal('ERR_LVS_UNDO_JOURNAL');
    expect(e.message).to.contain(`${path.join(dir, 'bad.json')}: not JSON`);
  });

  it('orders undos last change first', () => {
    const e = (id: number): UndoEntry => ({ id, what: String(id), undo: ['true'], at: '' });
    expect(undoOrder([e(1), e(3), e(2)]).map((x) => x.id)).to.deep.equal([3, 2, 1]);
  });

  it('has each record on disk before record() returns, concurrent records included; a missing file is an empty journal', async () => {
    const j = await UndoJournal.open(file);
    expect(j.entries).to.deep.equal([]);
    expect(existsSync(file)).to.equal(false);
    await j.record('first', ['rm', '/etc/a'], 'lb1');
    expect(onDisk(file).map((e) => e.what)).to.deep.equal(['first']);
    await Promise.all(Array.from({ length: 20 }, (_, i) => j.record(`r${i}`, ['echo', String(i)], 'lb1')));
    expect(onDisk(file).map((e) => e.what)).to.deep.equal(['first', ...Array.from({ length: 20 }, (_, i) => `r${i}`)]);
    const id = j.entries.at(-1)!.id;
    await j.forget(id);
    expect(onDisk(file).map((e) => e.id)).to.not.include(id);
  });

  it('undoes in reverse order after a reload, keeps going past failures, and reports them with the command to run by hand', async () => {
    const j = await UndoJournal.open(file);
    await j.record('vip on lb1', ['ip', 'addr', 'del', '10.0.0.100/32', 'dev', 'eth0'], 'lb1');
    await j.record('drop rule', ['iptables', '-D', 'INPUT', '-s', '10.0.0.2', '-j', 'DROP'], 'lb1');
    await j.record("netem on rs1's eth0", ['tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], 'rs1');
    await j.record('sysctl', ['sysctl', '-w', 'net.ipv4.vs.conntrack=0'], 'lb1');

    // a later process: only the file
    const again = await UndoJournal.open(file);
    expect(again.entries).to.deep.equal(j.entries);
    const lb1 = new FakeNode('lb1', (cmd) => cmd.startsWith('iptables'));
    const rs1 = new FakeNode('rs1');
    const report = await again.undoAll([lb1, rs1]);
    expect(lb1.ran).to.deep.equal(['sysctl -w net.ipv4.vs.conntrack=0', 'iptables -D INPUT -s 10.0.0.2 -j DROP', 'ip addr del 10.0.0.100/32 dev eth0']);
    expect(rs1.ran).to.deep.equal(['tc qdisc del dev eth0 root']);
    expect(report.undone.map((e) => e.what)).to.deep.equal(['sysctl', "netem on rs1's eth0", 'vip on lb1']);
    expect(report.failed).to.have.length(1);
    expect(report.failed[0]!.byHand).to.equal("ssh lb1 'iptables -D INPUT -s 10.0.0.2 -j DROP'");
    expect(report.failed[0]!.error).to.equal('ERR_LVS_EXEC_FAILED: `iptables -D INPUT -s 10.0.0.2 -j DROP` on lb1 exited with 1: nope');
    expect(formatUndoReport(report, file)).to.equal(
      [`could not undo 1 change (still in ${file}); run by hand, in this order:`, '  lb1: drop rule: ERR_LVS_EXEC_FAILED: `iptables -D INPUT -s 10.0.0.2 -j DROP` on lb1 exited with 1: nope', "    ssh lb1 'iptables -D INPUT -s 10.0.0.2 -j DROP'"].join('\n'),
    );
    // what failed stays, on disk too; once it is undone the file goes
    expect(onDisk(file).map((e) => e.what)).to.deep.equal(['drop rule']);
    const last = await (await UndoJournal.open(file)).undoAll(new FakeNode('lb1'));
    expect(last.undone.map((e) => e.what)).to.deep.equal(['drop rule']);
    expect(formatUndoReport(last)).to.equal('');
    expect(existsSync(file)).to.equal(false);
  });

  it('does not try the rest on a node it cannot reach, and leaves entries of nodes not given', async () => {
    const j = await UndoJournal.open(file);
    await j.record('a', ['rm', '/a'], 'lb1');
    await j.record('b', ['rm', '/b'], 'lb2');
    await j.record('c', ['rm', '/c'], 'lb1');
    const lb1 = new FakeNode('lb1');
    lb1.down = true;
    const r = await j.undoAll(lb1);
    expect(r.failed.map((f) => [f.entry.what, f.error])).to.deep.equal([
      ['c', 'ERR_LVS_SSH_CONNECT: cannot connect to lb1: connection refused'],
      ['a', 'not tried: ERR_LVS_SSH_CONNECT: cannot connect to lb1: connection refused'],
    ]);
    expect(r.skipped.map((e) => e.what)).to.deep.equal(['b']);
    expect(onDisk(file).map((e) => e.what)).to.deep.equal(['a', 'b', 'c']);
    expect(formatUndoReport(r)).to.contain('not tried, their nodes were not given: lb2: b');
  });

  it('apply records before it changes; a change that exits non-zero is forgotten, one whose fate is unknown is kept', async () => {
    const j = await UndoJournal.open(file);
    const node = new FakeNode('lb1', (cmd) => cmd.includes('bad'));
    await j.apply(node, 'good', ['ip', 'addr', 'add', 'good'], ['ip', 'addr', 'del', 'good']);
    expect((await rejection(j.apply(node, 'bad', ['ip', 'addr', 'add', 'bad'], ['ip', 'addr', 'del', 'bad']))).code).to.equal('ERR_LVS_EXEC_FAILED');
    const lost: Node = Object.assign(Object.create(node) as FakeNode, {
      exec: async () => {
        throw new HarnessError('ERR_LVS_SSH_LOST', 'lost');
      },
    });
    await rejection(j.apply(lost, 'maybe', ['ip', 'link', 'set', 'eth0', 'down'], ['ip', 'link', 'set', 'eth0', 'up']));
    expect(onDisk(file).map((e) => e.what)).to.deep.equal(['good', 'maybe']);
  });

  describe('over SSH, after the run that made the changes was killed', function () {
    this.timeout(20_000);
    let sshd: Sshd;
    before(async function () {
      const why = sshdMissing();
      // a missing sshd fails the tests (npm test installs openssh-server; see HOST_TOOLS)
      if (why) throw new Error(`sshd cannot run here: ${why}`);
      sshd = await Sshd.create();
    });
    after(() => sshd?.dispose());

    it('a later process loads the journal, undoes the changes on the host, and says what to run by hand for the rest', async () => {
      const nodeOpts = { name: 'lb1', host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.userKey, hostKey: sshd.hostKey.fingerprint };
      const changed = path.join(dir, 'host');
      await mkdir(changed);
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'test/unit/undo-crash-child.ts'), JSON.stringify({ node: nodeOpts, journal: file, dir: changed })], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (b: Buffer) => (out += b));
      child.stderr!.on('data', (b: Buffer) => (err += b));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => out.includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the child exited with ${code}: ${err}`)));
      });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect(existsSync(path.join(changed, 'vip-a')) && existsSync(path.join(changed, 'vip b'))).to.equal(true);

      const node = new SshNode(nodeOpts);
      try {
        const report = await (await UndoJournal.open(file)).undoAll(node);
        expect(report.undone.map((e) => e.what)).to.deep.equal([`marker ${changed}/vip b`, `marker ${changed}/vip-a`]);
        expect(existsSync(path.join(changed, 'vip-a')) || existsSync(path.join(changed, 'vip b'))).to.equal(false);
        expect(report.failed).to.have.length(1);
        const never = path.join(changed, 'never-there');
        expect(report.failed[0]!.byHand).to.equal(`ssh -p ${sshd.port} -i ${sshd.userKey} ${sshd.user}@127.0.0.1 'rm ${never}'`);
        expect(report.failed[0]!.error).to.contain(`ERR_LVS_EXEC_FAILED: \`rm ${never}\` on lb1 (${sshd.user}@127.0.0.1:${sshd.port}) exited with 1`);
        expect(onDisk(file).map((e) => e.what)).to.deep.equal(['a rule already removed']);
      } finally {
        await node.close();
      }
    });
  });
});
