/**
 * A Docker container as a `Node` (issue 14): commands over the node's long-lived shell
 * (node-shell.ts) when it is open, else by docker exec (exec.ts); a streaming spawn over a
 * hijacked docker exec; and every lifecycle capability (kill, stop, start, pause, restart, and
 * attaching it to a Docker network), each keeping the shell out of the way: a pause suspends it,
 * a kill, stop or restart drops it.
 *
 * The shell's bookkeeping is the one StartedTopology had (per node): a shell being opened is
 * shared by the commands waiting for it, a node that could not open one is asked again at most
 * once a second, and LVSH_NODE_SHELL=0 turns it off (every command by docker exec).
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { shellCommand } from '../util/shell.js';
import { sleep } from '../util/wait.js';
import { execIn, type ExecResult } from './exec.js';
import { readFileOver, writeFileOver, type ExecOptions, type ExitStatus, type Node, type NodeCapabilities, type NodeLifecycle, type NodeProcess, type NodeState } from './node.js';
import { NodeShell } from './node-shell.js';
import { PidLineFilter, pidWrappedArgv } from './pid-line.js';

const shellOff = () => process.env.LVSH_NODE_SHELL === '0';

export class DockerNode implements Node, NodeLifecycle {
  readonly capabilities: NodeCapabilities = { kill: true, stop: true, start: true, pause: true, restart: true, networks: true };
  readonly lifecycle: NodeLifecycle = this;

  /** the container's name, for handCommand (`docker exec lvsh-nat-rs1 …`) and messages */
  readonly containerName: string;
  private readonly docker?: Docker;
  private readonly useShell: boolean;

  /**
   * @param name the topology's name for the node (rs1)
   * @param container its container
   * @param o.containerName its name (default: the id's first 12 characters)
   * @param o.docker the engine, for attaching it to networks (without it, that capability is off)
   * @param o.shell false: every command by docker exec, no node shell (default true; LVSH_NODE_SHELL=0 also turns it off)
   */
  constructor(
    readonly name: string,
    readonly container: Docker.Container,
    o: { containerName?: string; docker?: Docker; shell?: boolean } = {},
  ) {
    this.containerName = o.containerName ?? container.id.slice(0, 12);
    this.docker = o.docker;
    this.useShell = o.shell ?? true;
    if (!this.docker) this.capabilities.networks = false;
  }

  // ---- commands ---------------------------------------------------------------------------

  /**
   * Runs argv in the container: over its shell, or by docker exec while it has none (stopped,
   * paused, or LVSH_NODE_SHELL=0). `oneOff` runs it by docker exec at once and starts the shell
   * beside it, for every later command.
   */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const { oneOff, ...o } = opts;
    if (oneOff) {
      this.warmShell();
      return execIn(this.container, argv, o);
    }
    const shell = !this.useShell || shellOff() || this.suspended ? undefined : await this.shellOf();
    return shell?.alive ? shell.run(argv, o) : execIn(this.container, argv, o);
  }

  /**
   * argv left running over a hijacked docker exec (never the shell: its output is streamed).
   * It is started behind a wrapper that tells its pid (and execs it in its place), so that
   * kill() can signal it; the hijacked connection is dropped when it has not ended 2 s later.
   */
  async spawn(argv: readonly string[]): Promise<NodeProcess> {
    const exec = await this.container.exec({ Cmd: pidWrappedArgv(argv), AttachStdin: true, AttachStdout: true, AttachStderr: true });
    const stream = (await exec.start({ hijack: true, stdin: true })) as unknown as NodeJS.ReadWriteStream & import('node:stream').Duplex;
    const stdout = new PassThrough();
    const rawErr = new PassThrough();
    const stderr = new PidLineFilter();
    rawErr.pipe(stderr);
    this.container.modem.demuxStream(stream, stdout, rawErr);
    let status: ExitStatus | undefined;
    const exit = new Promise<ExitStatus>((resolve) => {
      let done = false;
      const ended = () => {
        if (done) return;
        done = true;
        stdout.end();
        rawErr.end();
        // the exit code, when the engine still has it (a node killed under it may not)
        void exec
          .inspect()
          .then(
            (i) => ({ exitCode: i.Running ? null : (i.ExitCode ?? null), signal: null }),
            () => ({ exitCode: null, signal: null }),
          )
          .then((st) => resolve((status = st)));
      };
      stream.on('end', ended);
      stream.on('close', ended);
      stream.on('error', ended);
    });
    exit.catch(() => {});
    const drop = () => (stream as unknown as { destroy?: () => void }).destroy?.();
    return {
      stdout,
      stderr,
      stdin: stream,
      exit,
      kill: (signal = 'TERM') => {
        if (status) return;
        const name = signal.replace(/^SIG/, '');
        const send = (pid: number) => void execIn(this.container, ['kill', '-s', name, String(pid)], { allowFailure: true, timeoutMs: 5_000 }).catch(() => {});
        if (stderr.pid !== undefined) send(stderr.pid);
        else stderr.once('pid', send);
        setTimeout(() => {
          if (!status) drop();
        }, 2_000).unref();
      },
    };
  }

  writeFile(path: string, text: string | Buffer, mode?: number): Promise<void> {
    return writeFileOver(this, path, text, mode);
  }

  readFile(path: string): Promise<string> {
    return readFileOver(this, path);
  }

  /** `rs1 (container lvsh-nat-rs1)`: how messages name it */
  get where(): string {
    return `${this.name} (container ${this.containerName})`;
  }

  handCommand(argv: readonly string[]): string {
    return `docker exec ${this.containerName} ${shellCommand(argv)}`;
  }

  /** Ends the node's shell (waits for it at most 2 s); the container itself is left as it is. */
  close(): Promise<void> {
    return this.dropShell();
  }

  // ---- the node shell ---------------------------------------------------------------------

  private shell?: Promise<NodeShell | undefined>;
  private shellRetryAt = 0;
  private suspended = false;

  private shellOf(): Promise<NodeShell | undefined> {
    const cur = this.shell;
    if (!cur) return this.openShell(undefined);
    return cur.then((sh) => (sh?.alive ? sh : this.shell === cur ? this.openShell(cur) : this.shellOf()));
  }

  private openShell(replacing: Promise<NodeShell | undefined> | undefined): Promise<NodeShell | undefined> {
    if (this.shell !== replacing) return this.shellOf();
    // a node that could not open one (stopped, paused) is asked again at most once a second
    if (this.shellRetryAt > Date.now()) return Promise.resolve(undefined);
    const p = NodeShell.open(this.container).then((sh) => {
      if (!sh) this.shellRetryAt = Date.now() + 1_000;
      return sh;
    });
    this.shell = p;
    return p;
  }

  /** Starts opening the shell now, so that the next command finds it open. */
  warmShell(): void {
    if (this.useShell && !shellOff()) void this.shellOf();
  }

  /**
   * Before the container is frozen (docker pause): no new command goes to its shell, and the
   * ones in flight are waited for (at most `timeoutMs`), so that the freeze never catches the
   * shell starting a process (the cgroup v1 freezer and a process caught between fork and exec
   * can wait on each other for ever). The shell itself stays, frozen with the node; until
   * resumeShell, commands go by docker exec and fail as Docker says ("is paused").
   */
  async suspendShell(timeoutMs = 5_000): Promise<void> {
    this.suspended = true;
    const p = this.shell;
    const sh = p && (await Promise.race([p, sleep(timeoutMs).then(() => undefined)]));
    const until = Date.now() + timeoutMs;
    while (sh?.alive && sh.busy > 0 && Date.now() < until) await sleep(20);
  }

  /** After the container is thawed: its shell takes commands again. */
  resumeShell(): void {
    this.suspended = false;
  }

  /**
   * Closes the shell before the container is stopped, killed or restarted (a pause suspends it
   * instead): until a new one opens, commands go by docker exec and fail as docker says ("is not running").
   */
  dropShell(): Promise<void> {
    const p = this.shell;
    this.shell = undefined;
    this.shellRetryAt = 0;
    return p ? p.then((sh) => sh?.close()) : Promise.resolve();
  }

  // ---- lifecycle --------------------------------------------------------------------------

  async state(): Promise<NodeState> {
    const s = (await this.container.inspect()).State;
    const ended = s.Running ? undefined : finishedAtMs(s.FinishedAt);
    return { running: s.Running, paused: s.Paused, status: s.Status, ...(ended !== undefined ? { endedAt: ended } : {}) };
  }

  /** docker kill -s KILL (the shell dropped first) */
  async kill(): Promise<void> {
    void this.dropShell();
    await this.container.kill({ signal: 'SIGKILL' });
  }

  /** docker stop -t (the shell dropped first) */
  async stop(graceMs = 10_000): Promise<void> {
    void this.dropShell();
    await this.container.stop({ t: Math.ceil(graceMs / 1000) });
  }

  /** docker start */
  async start(): Promise<void> {
    await this.container.start();
  }

  /** Starts it (a stopped container's shell is dropped first) or unpauses it; the shell takes commands again. */
  async ensureRunning(): Promise<void> {
    const state = (await this.container.inspect()).State;
    if (!state.Running) void this.dropShell();
    if (state.Paused) await this.container.unpause();
    else if (!state.Running) await this.container.start();
    this.resumeShell();
  }

  /** docker restart -t (the shell dropped first) */
  async restart(graceMs = 0): Promise<void> {
    void this.dropShell();
    await this.container.restart({ t: Math.ceil(graceMs / 1000) });
  }

  /** The shell suspended (commands in flight waited for), then docker pause. */
  async pause(): Promise<void> {
    await this.suspendShell();
    await this.container.pause();
  }

  /** docker unpause when it is paused; either way its shell takes commands again. */
  async unpause(): Promise<void> {
    if ((await this.state()).paused) await this.container.unpause();
    this.resumeShell();
  }

  async attachNetwork(name: string): Promise<void> {
    await this.network(name).connect({ Container: this.container.id });
  }

  async detachNetwork(name: string): Promise<void> {
    await this.network(name).disconnect({ Container: this.container.id, Force: true });
  }

  private network(name: string): Docker.Network {
    if (!this.docker) throw new Error(`node ${this.name}: no Docker engine given to attach it to networks`);
    return this.docker.getNetwork(name);
  }
}

/**
 * Docker's State.FinishedAt ("2026-12-01T01:17:58.123456789Z", nanoseconds) as ms since the epoch;
 * undefined for a container that never ended ("0001-01-01T00:00:00Z") or anything unreadable.
 */
export function finishedAtMs(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = text.match(/^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/);
  if (!m) return undefined;
  const whole = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(whole) || whole <= 0) return undefined;
  return whole + Math.floor(Number((m[2] ?? '0').padEnd(3, '0').slice(0, 3)));
}
