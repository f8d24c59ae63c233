import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';
import type { ExecResult } from './exec.js';

/**
 * One long-lived process per node that runs the harness's commands, instead of one
 * `docker exec` per command. Under software emulation an exec costs 0.5 s and most of the
 * lab's CPU (dockerd, containerd, the shim and the OCI runtime each take a turn); a command
 * sent over the shell's open stream costs only its own fork and exec inside the node.
 *
 * The shell is the node image's Node binary running SHELL_SOURCE: JSON lines in (a command:
 * id, argv, stdin), JSON lines out (its exit status, stdout, stderr). Commands run side by side.
 * A command past its deadline is killed with its process group (an abandoned docker exec
 * would go on running). When the container stops, restarts or is paused the stream ends or is
 * closed, and the caller falls back to docker exec until a new shell opens.
 */
export const SHELL_SOURCE = `'use strict';
const { spawn } = require('node:child_process');
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const running = new Map();
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (line) handle(JSON.parse(line));
  }
});
process.stdin.on('end', () => {
  for (const c of running.values()) try { process.kill(-c.pid, 'SIGKILL'); } catch {}
  process.exit(0);
});
function handle(m) {
  if (m.kill !== undefined) {
    const c = running.get(m.kill);
    if (c) try { process.kill(-c.pid, 'SIGKILL'); } catch {}
    return;
  }
  const o = [], e = [];
  let settled = false;
  const finish = (code) => {
    if (settled) return;
    settled = true;
    running.delete(m.id);
    out({ id: m.id, code, stdout: Buffer.concat(o).toString('base64'), stderr: Buffer.concat(e).toString('base64') });
  };
  let child;
  try {
    child = spawn(m.argv[0], m.argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  } catch (err) {
    e.push(Buffer.from(String(err && err.message) + '\\n'));
    return finish(127);
  }
  running.set(m.id, child);
  child.stdout.on('data', (b) => o.push(b));
  child.stderr.on('data', (b) => e.push(b));
  child.on('error', (err) => { e.push(Buffer.from('exec: ' + err.message + '\\n')); finish(err.code === 'ENOENT' ? 127 : 126); });
  // 'close' waits for every holder of the pipes; a daemon started in the background that kept
  // them would hold the answer forever: after the exit, what came within 300 ms is the output
  child.on('close', (code, sig) => finish(code === null ? 128 + (require('node:os').constants.signals[sig] || 9) : code));
  child.on('exit', (code, sig) => setTimeout(() => finish(code === null ? 128 + (require('node:os').constants.signals[sig] || 9) : code), 300).unref());
  child.stdin.on('error', () => {});
  if (m.input !== undefined) child.stdin.end(Buffer.from(m.input, 'base64'));
  else child.stdin.end();
}
out({ ready: process.pid });
`;

interface Pending {
  resolve: (r: { exitCode: number; stdout: string; stderr: string }) => void;
  reject: (e: Error) => void;
}

export class NodeShell {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** commands sent and not answered yet */
  get busy(): number {
    return this.pending.size;
  }
  private buf = '';
  alive = true;

  private constructor(
    private readonly container: Docker.Container,
    private readonly stream: NodeJS.ReadWriteStream,
  ) {}

  /** Starts the shell in a running container; undefined when it cannot (not running, paused, no Node). */
  static async open(container: Docker.Container, timeoutMs = 30_000): Promise<NodeShell | undefined> {
    let stream: NodeJS.ReadWriteStream | undefined;
    try {
      const exec = await container.exec({ Cmd: ['node', '-e', SHELL_SOURCE], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      stream = await exec.start({ hijack: true, stdin: true });
    } catch {
      return undefined;
    }
    const shell = new NodeShell(container, stream);
    const out = new PassThrough();
    const err = new PassThrough();
    container.modem.demuxStream(stream, out, err);
    err.resume();
    // the shell must not keep the harness's process alive: a command in flight does (its deadline timer)
    (stream as unknown as { unref?: () => void; socket?: { unref?: () => void } }).unref?.();
    (stream as unknown as { socket?: { unref?: () => void } }).socket?.unref?.();
    const ready = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      shell.onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      shell.onEnd = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
    out.setEncoding('utf8');
    out.on('data', (d: string) => shell.data(d));
    const end = () => shell.ended(new HarnessError('ERR_LVS_EXEC_FAILED', `the node shell in ${container.id.slice(0, 12)} ended (the container stopped, restarted or was paused)`));
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
    if (!(await ready)) {
      await shell.close(0);
      return undefined;
    }
    return shell;
  }

  private onReady: () => void = () => {};
  private onEnd: () => void = () => {};

  private data(d: string): void {
    this.buf += d;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      let m: { ready?: number; id?: number; code?: number; stdout?: string; stderr?: string };
      try {
        m = JSON.parse(line) as typeof m;
      } catch {
        continue;
      }
      if (m.ready !== undefined) {
        this.onReady();
        continue;
      }
      const p = m.id !== undefined ? this.pending.get(m.id) : undefined;
      if (!p) continue;
      this.pending.delete(m.id!);
      p.resolve({ exitCode: m.code ?? -1, stdout: Buffer.from(m.stdout ?? '', 'base64').toString(), stderr: Buffer.from(m.stderr ?? '', 'base64').toString() });
    }
  }

  private ended(e: Error): void {
    if (!this.alive) return;
    this.alive = false;
    this.onEnd();
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Runs argv in the node; the same contract as execIn (a non-zero exit throws unless allowed). */
  async run(argv: readonly string[], opts: { allowFailure?: boolean; timeoutMs?: number; input?: string | Buffer } = {}): Promise<ExecResult> {
    if (!this.alive) throw new HarnessError('ERR_LVS_EXEC_FAILED', 'the node shell has ended');
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const res = await new Promise<ExecResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      timer = setTimeout(() => {
        this.pending.delete(id);
        this.send({ kill: id });
        reject(new HarnessError('ERR_LVS_TIMEOUT', `\`${argv.join(' ')}\` in ${this.container.id.slice(0, 12)} did not finish within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.send({ id, argv, ...(opts.input !== undefined ? { input: Buffer.from(opts.input).toString('base64') } : {}) });
    }).finally(() => clearTimeout(timer));
    if (res.exitCode !== 0 && !opts.allowFailure)
      throw new HarnessError('ERR_LVS_EXEC_FAILED', `\`${argv.join(' ')}\` in container ${this.container.id.slice(0, 12)} exited with ${res.exitCode}: ${(res.stderr || res.stdout).trim()}`);
    return res;
  }

  private send(m: object): void {
    try {
      this.stream.write(`${JSON.stringify(m)}\n`);
    } catch {
      /* the end of the stream rejects what is pending */
    }
  }

  /** Ends the shell (its commands are killed); what is pending fails. */
  /**
   * Ends the shell: its input ends, it kills what it still runs and exits; the stream closes
   * when it has (waited for at most `waitMs`, then cut), so that a container removed right
   * after holds no shell caught half way through starting a process.
   */
  async close(waitMs = 2_000): Promise<void> {
    const wasAlive = this.alive;
    this.ended(new HarnessError('ERR_LVS_EXEC_FAILED', 'the node shell was closed'));
    const closed = new Promise<void>((resolve) => {
      const s = this.stream as unknown as NodeJS.EventEmitter & { destroyed?: boolean };
      if (!wasAlive || s.destroyed) return resolve();
      s.once('close', () => resolve());
      s.once('end', () => resolve());
    });
    try {
      this.stream.end();
    } catch {
      /* gone already */
    }
    await Promise.race([closed, new Promise((r) => setTimeout(r, waitMs).unref())]);
    (this.stream as unknown as { destroy?: () => void }).destroy?.();
  }
}
