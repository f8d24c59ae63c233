import { expect } from 'chai';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SHELL_SOURCE } from '../../harness/runtime/node-shell.js';
import { waitFor } from '../../harness/util/wait.js';

/**
 * The node shell's own script (what runs inside every node), run here on the host with the
 * same Node: its protocol, exit statuses, stdin, a missing program, the kill of a command past
 * its deadline, a daemon left holding the output, and its end when its input ends.
 */
interface Answer {
  id?: number;
  code?: number;
  stdout?: string;
  stderr?: string;
  ready?: number;
}

class Shell {
  readonly proc: ChildProcessWithoutNullStreams;
  private buf = '';
  private readonly waiters = new Map<number, (a: Answer) => void>();
  readonly ready: Promise<void>;
  private nextId = 1;

  constructor() {
    this.proc = spawn(process.execPath, ['-e', SHELL_SOURCE]);
    let onReady: () => void = () => {};
    this.ready = new Promise((r) => (onReady = r));
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const a = JSON.parse(this.buf.slice(0, i)) as Answer;
        this.buf = this.buf.slice(i + 1);
        if (a.ready) onReady();
        else this.waiters.get(a.id!)?.(a);
      }
    });
  }

  run(argv: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string; id: number }> {
    return this.start(argv, input).done;
  }

  start(argv: string[], input?: string): { id: number; done: Promise<{ code: number; stdout: string; stderr: string; id: number }> } {
    const id = this.nextId++;
    const done = new Promise<{ code: number; stdout: string; stderr: string; id: number }>((resolve) => {
      this.waiters.set(id, (a) => resolve({ id, code: a.code!, stdout: Buffer.from(a.stdout!, 'base64').toString(), stderr: Buffer.from(a.stderr!, 'base64').toString() }));
      this.proc.stdin.write(`${JSON.stringify({ id, argv, ...(input !== undefined ? { input: Buffer.from(input).toString('base64') } : {}) })}\n`);
    });
    return { id, done };
  }

  kill(id: number): void {
    this.proc.stdin.write(`${JSON.stringify({ kill: id })}\n`);
  }
}

describe('node shell (the script every node runs)', function () {
  this.timeout(20_000);
  let sh: Shell;
  before(async () => {
    sh = new Shell();
    await sh.ready;
  });
  after(() => sh.proc.kill());

  it('returns stdout, stderr and the exit status of each command', async () => {
    const r = await sh.run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).to.include({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('passes stdin, binary safe', async () => {
    const r = await sh.run(['cat'], 'line 1\nline 2 ✓\n');
    expect(r.stdout).to.equal('line 1\nline 2 ✓\n');
  });

  it('runs commands side by side: the quick one answers before the slow one', async () => {
    const order: string[] = [];
    await Promise.all([sh.run(['sh', '-c', 'sleep 0.5; echo slow']).then((r) => order.push(r.stdout.trim())), sh.run(['echo', 'quick']).then((r) => order.push(r.stdout.trim()))]);
    expect(order).to.deep.equal(['quick', 'slow']);
  });

  it('says 127 for a program that does not exist', async () => {
    const r = await sh.run(['no-such-program-lvsh']);
    expect(r.code).to.equal(127);
    expect(r.stderr).to.match(/ENOENT/);
  });

  it('kills a command and its children on request (a deadline), with 128 + the signal', async () => {
    const pidFile = path.join(tmpdir(), `lvsh-shell-${process.pid}.pid`);
    const p = sh.start(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; sleep 30; echo never`]);
    await waitFor('the child to start', async () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', { timeoutMs: 5_000, intervalMs: 20 });
    sh.kill(p.id);
    const r = await p.done;
    expect(r.code).to.equal(137);
    expect(r.stdout).to.equal('');
    const child = Number(readFileSync(pidFile, 'utf8'));
    rmSync(pidFile);
    await waitFor('the background child to die too', async () => {
      try {
        process.kill(child, 0);
        return false;
      } catch {
        return true;
      }
    }, { timeoutMs: 5_000, intervalMs: 20 });
  });

  it('answers when the command exits though a daemon it started keeps the output open', async () => {
    const t = Date.now();
    const r = await sh.run(['sh', '-c', 'sleep 5 & echo started']);
    expect(r).to.include({ code: 0, stdout: 'started\n' });
    expect(Date.now() - t).to.be.below(3_000);
  });

  it('ends when its input ends', async () => {
    const other = new Shell();
    await other.ready;
    const exited = new Promise<number | null>((r) => other.proc.on('exit', r));
    other.proc.stdin.end();
    expect(await exited).to.equal(0);
  });
});
