/**
 * A real host over SSH (issue 14), with the same `Node` contract as a container: argv in,
 * exit code / stdout / stderr out, one deadline per call, ERR_LVS_EXEC_FAILED on a non-zero exit.
 *
 * Built on ssh2's Client: one connection per host, opened on first use and again on the next
 * call after it was lost (a command never is retried: whether it took effect is unknown, and
 * the caller is told so with ERR_LVS_SSH_LOST). Each command is one `exec` channel; at most
 * `maxSessions` at once, below OpenSSH's MaxSessions (10), so a burst of parallel calls waits
 * instead of failing with "open failed".
 *
 * The host key is checked like OpenSSH's StrictHostKeyChecking=yes: a pinned fingerprint, or
 * known_hosts; an unknown or changed key is refused, naming the fingerprint to check and pin.
 *
 * The remote login shell must be a POSIX shell: argv is quoted for it (util/shell.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Duplex } from 'node:stream';
import { homedir } from 'node:os';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { errSshAuth, errSshConnect, errSshHostKey, errSshLost, errUsage, HarnessError } from '../errors.js';
import { shellCommand, shellQuote } from '../util/shell.js';
import { sleep } from '../util/wait.js';
import { NO_CAPABILITIES, readFileOver, writeFileOver, type ExecOptions, type ExecResult, type ExitStatus, type Node, type NodeCapabilities, type NodeProcess } from './node.js';
import { PID_MARK, PidLineFilter } from './pid-line.js';
import { hostKeyAlgorithms, entriesFor, normalizeFingerprint, parseKnownHosts, verifyHostKey, type HostKeyPolicy, type KnownHostsEntry } from './ssh-host-key.js';

const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

export interface SshNodeOptions {
  /** the topology's name for the host (lb1): every message names it */
  name: string;
  host: string;
  /** default 22 */
  port?: number;
  user: string;
  /** a private key file (OpenSSH or PEM format); `~/` is the home directory */
  keyFile?: string;
  passphrase?: string;
  /** an ssh-agent: its socket, or true for $SSH_AUTH_SOCK. Without keyFile or agent, $SSH_AUTH_SOCK if set. */
  agent?: string | boolean;
  /** the host key's fingerprint as `ssh-keygen -lf` prints it, `SHA256:…`: checked instead of known_hosts */
  hostKey?: string;
  /** default ~/.ssh/known_hosts; a missing file knows no host */
  knownHosts?: string;
  /** run every command as root through `sudo -n --` (passwordless sudo) */
  sudo?: boolean;
  /** TCP connect, handshake and authentication, default 10 s */
  connectTimeoutMs?: number;
  /** keepalive interval; the connection counts as lost after 3 unanswered (default 5 s, 0: off) */
  keepaliveMs?: number;
  /** exec channels open at once on the connection (default 8) */
  maxSessions?: number;
  /**
   * As OpenSSH's ProxyCommand: run here by `sh -c`, its stdin and stdout carry the connection
   * (a jump host: `ssh -W %h:%p bastion`); %h, %p, %r and %% are substituted. Its stderr goes
   * into the error when the connection fails; it is killed when the connection closes.
   */
  proxyCommand?: string;
}

/** ProxyCommand's text for a host: %h the host, %p the port, %r the user, %% a percent sign (as OpenSSH; other %x stay). */
export function proxyCommandText(cmd: string, host: string, port: number, user: string): string {
  return cmd.replace(/%([hpr%])/g, (_, c: string) => (c === 'h' ? host : c === 'p' ? String(port) : c === 'r' ? user : '%'));
}

/**
 * A proxy command's stdio as the Duplex ssh2 reads and writes: stdout in, stdin out. It ends
 * (and closes, so the client sees the connection go) when the command's stdout ends; destroying
 * it kills the command. `said` keeps the end of the command's stderr for error messages.
 */
export class ProxySocket extends Duplex {
  readonly child: ChildProcess;
  said = '';
  /** how the command ended, once it did */
  status?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly ended: Promise<void>;

  constructor(command: string) {
    super({ allowHalfOpen: false });
    const child = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.ended = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.status = { code, signal };
        resolve();
      });
      child.once('error', (e) => {
        this.said += `${e.message}\n`;
        this.status = { code: null, signal: null };
        resolve();
      });
    });
    child.stderr!.on('data', (b: Buffer) => (this.said = (this.said + b.toString()).slice(-2000)));
    child.stdout!.on('data', (b: Buffer) => {
      if (!this.push(b)) child.stdout!.pause();
    });
    child.stdout!.once('end', () => {
      this.push(null);
      // the connection is over once the command's output is: the client is told by 'close'
      setImmediate(() => this.destroy());
    });
    child.stdin!.on('error', () => {}); // EPIPE after the command exited: its exit says what happened
  }

  override _read(): void {
    this.child.stdout?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return cb();
    stdin.write(chunk, () => cb());
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin?.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.kill();
    cb(err);
  }

  /** Ends the command (TERM, then KILL a moment later if it is still there). */
  kill(): void {
    if (this.status || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    setTimeout(() => {
      if (!this.status) this.child.kill('SIGKILL');
    }, 1000).unref();
  }

  /** Resolves once the command has ended, or after `ms`. */
  settled(ms = 1000): Promise<void> {
    return Promise.race([this.ended, sleep(ms)]);
  }

  /** How it ended, for messages: `exited with 1: <its stderr>`; undefined while it runs and said nothing. */
  describe(): string | undefined {
    const said = this.said.trim().split('\n').slice(-5).join(' | ');
    const how = this.status ? (this.status.signal ? `was ended by ${this.status.signal}` : `exited with ${this.status.code}`) : undefined;
    if (!how && !said) return undefined;
    return `${how ?? 'said'}${said ? `: ${said}` : ''}`;
  }
}

/** One open connection; `lost` says why once it went away. */
interface Conn {
  client: Client;
  lost?: string;
  onLost: Set<(why: string) => void>;
}

/** Counting semaphore: at most n holders, the others wait in order. */
class Slots {
  private free: number;
  private waiting: (() => void)[] = [];
  constructor(n: number) {
    this.free = n;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

const signalExitCode = (signal: string) => 128 + ((osConstants.signals as Record<string, number>)[signal] ?? 0);
const sigName = (s: string) => (s.startsWith('SIG') ? s : `SIG${s}`);

export { PidLineFilter } from './pid-line.js';

export class SshNode implements Node {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly capabilities: NodeCapabilities = { ...NO_CAPABILITIES };
  /** `lb1 (root@10.0.0.5:22)`: how messages name this host */
  readonly where: string;
  private readonly opts: SshNodeOptions;
  private readonly pinned?: string;
  private readonly slots: Slots;
  /** the connection in use or being opened; `conn` once it is open */
  private current?: { promise: Promise<Conn>; conn?: Conn };

  constructor(opts: SshNodeOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.host = opts.host;
    this.port = opts.port ?? 22;
    this.user = opts.user;
    this.where = `${opts.name} (${opts.user}@${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${this.port})`;
    if (opts.hostKey !== undefined) {
      this.pinned = normalizeFingerprint(opts.hostKey);
      if (!this.pinned)
        throw errUsage(`node ${opts.name}: hostKey ${JSON.stringify(opts.hostKey)} is not a SHA256 fingerprint`, 'give it as `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` prints it: SHA256: and 43 base64 characters');
    }
    this.slots = new Slots(Math.max(1, opts.maxSessions ?? 8));
  }

  /** The text the remote login shell runs for argv: quoted, behind `sudo -n --` when asked. */
  remoteCommand(argv: readonly string[]): string {
    if (!argv.length) throw errUsage(`node ${this.name}: an empty command`);
    return shellCommand(this.opts.sudo ? ['sudo', '-n', '--', ...argv] : argv);
  }

  handCommand(argv: readonly string[]): string {
    const key = this.opts.keyFile ? ['-i', this.opts.keyFile] : [];
    const port = this.port === 22 ? [] : ['-p', String(this.port)];
    const proxy = this.opts.proxyCommand ? ['-o', `ProxyCommand=${this.opts.proxyCommand}`] : [];
    return shellCommand(['ssh', ...port, ...key, ...proxy, `${this.user}@${this.host}`]) + ' ' + shellQuote(this.remoteCommand(argv));
  }

  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const shown = argv.join(' ');
    const cmd = this.wrapped(argv);
    const timeoutMs = opts.timeoutMs ?? 120_000;
    let phase: 'waiting' | 'connecting' | 'running' = 'waiting';
    let started: Started | undefined;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        if (started) {
          started.stop();
          closeChannel(started.ch);
        }
        const why = phase === 'connecting' ? ' (still connecting)' : phase === 'waiting' ? ' (waiting for a free SSH session)' : '';
        reject(new HarnessError('ERR_LVS_TIMEOUT', `\`${shown}\` on ${this.where} did not finish within ${timeoutMs / 1000} s${why}`, { details: { argv, node: this.name } }));
      }, timeoutMs);
    });
    const run = async (): Promise<ExecResult> => {
      const release = await this.slots.acquire();
      try {
        if (timedOut) throw new Error('timed out');
        phase = 'connecting';
        const conn = await this.connection();
        if (timedOut) throw new Error('timed out');
        phase = 'running';
        started = await this.start(conn, cmd, shown);
        if (timedOut) {
          started.stop();
          closeChannel(started.ch);
        }
        return await this.collect(conn, started, shown, opts.input);
      } finally {
        release();
      }
    };
    const running = run();
    running.catch(() => {}); // lost to the deadline: its late failure is nobody's
    let res: ExecResult;
    try {
      res = await Promise.race([running, deadline]);
    } finally {
      clearTimeout(timer);
    }
    if (res.exitCode !== 0 && !opts.allowFailure) {
      const sudoHint = this.opts.sudo && /sudo: (a password is required|a terminal is required)/.test(res.stderr) ? `let ${this.user} run commands through sudo without a password (NOPASSWD in sudoers), or connect as root` : undefined;
      throw new HarnessError('ERR_LVS_EXEC_FAILED', `\`${shown}\` on ${this.where} exited with ${res.exitCode}: ${(res.stderr || res.stdout).trim()}`, {
        hint: sudoHint,
        details: { argv, node: this.name, exitCode: res.exitCode, stderr: res.stderr },
      });
    }
    return res;
  }

  /**
   * What the login shell runs: first its own pid on stderr (sshd made it a session leader, so
   * that is the process group of the command and all it starts), then the command in its place.
   * The pid lets a deadline or kill() end the command on the host: closing the channel alone
   * leaves it running, and sshd refuses SSH signal requests in sessions of root.
   */
  private wrapped(argv: readonly string[]): string {
    return `printf '\\037${PID_MARK}%s\\n' "$$" >&2; exec ${this.remoteCommand(argv)}`;
  }

  /** Opens a channel running cmd; `stop(signal)` ends it on the host (now, or as soon as its pid is known). */
  private async start(conn: Conn, cmd: string, shown: string): Promise<Started> {
    // sshd frees a session a moment after its channel closed: a new one opened in that moment is
    // refused ("no more sessions": open failed, reason 2) though fewer than MaxSessions are in use
    for (let wait = 10; ; wait *= 2) {
      try {
        return await this.startOnce(conn, cmd, shown);
      } catch (e) {
        const reason = ((e as HarnessError).cause as { reason?: unknown } | undefined)?.reason;
        if (conn.lost || wait > 1280 || !(reason === 1 || reason === 2 || reason === 4)) throw e;
        await sleep(wait);
      }
    }
  }

  private startOnce(conn: Conn, cmd: string, shown: string): Promise<Started> {
    return new Promise((resolve, reject) => {
      if (conn.lost) return reject(this.lostError(`before \`${shown}\` could start (${conn.lost})`));
      conn.client.exec(cmd, (err, ch) => {
        if (err) return reject(conn.lost ? this.lostError(`starting \`${shown}\` (${conn.lost})`) : new HarnessError('ERR_LVS_EXEC_FAILED', `could not start \`${shown}\` on ${this.where}: ${err.message}`, { cause: err }));
        const stderr = new PidLineFilter();
        ch.stderr.pipe(stderr);
        let exitedWith!: (st: ExitStatus) => void;
        const exited = new Promise<ExitStatus>((r) => (exitedWith = r));
        let pending: string | undefined;
        const killGroup = (pid: number, signal: string) =>
          void this.exec(['kill', '-s', signal, '--', `-${pid}`], { timeoutMs: 5000, allowFailure: true }).catch(() => {});
        stderr.once('pid', (pid: number) => pending && killGroup(pid, pending));
        const started: Started = {
          ch,
          stderr,
          exited,
          stop: (signal = 'TERM') => {
            if (started.status) return; // ended: its pid may be another process's by now
            const name = signal.replace(/^SIG/, '');
            sendSignal(ch, name);
            if (stderr.pid !== undefined) killGroup(stderr.pid, name);
            else pending = name;
          },
        };
        // now, not after an await: the exit status may come in the same packet as the exec's success
        ch.once('exit', (code: number | null, signal?: string) => {
          started.status = { exitCode: code ?? null, signal: signal ? sigName(signal) : null };
          exitedWith(started.status);
        });
        resolve(started);
      });
    });
  }

  /** Feeds input, reads the command to its end: exit code (128+n for a signal), stdout and stderr. */
  private collect(conn: Conn, s: Started, shown: string, input: string | Buffer | undefined): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const lost = (why: string) => reject(this.lostError(`while \`${shown}\` ran (${why})`));
      if (conn.lost) return lost(conn.lost);
      conn.onLost.add(lost);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      s.ch.on('data', (b: Buffer) => out.push(b));
      s.stderr.on('data', (b: Buffer) => errOut.push(b));
      const closed = new Promise<void>((r) => s.ch.on('close', () => r()));
      const errEnded = new Promise<void>((r) => s.stderr.on('end', () => r()));
      void Promise.all([closed, errEnded]).then(() => {
        conn.onLost.delete(lost);
        const status = s.status;
        if (conn.lost && !status) return lost(conn.lost);
        const exitCode = status?.exitCode ?? (status?.signal ? signalExitCode(status.signal) : -1);
        resolve({ exitCode, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() });
      });
      if (input !== undefined) s.ch.end(input);
      else s.ch.end();
    });
  }

  async spawn(argv: readonly string[]): Promise<NodeProcess> {
    const shown = argv.join(' ');
    const cmd = this.wrapped(argv);
    const release = await this.slots.acquire();
    let conn: Conn;
    let s: Started;
    try {
      conn = await this.connection();
      s = await this.start(conn, cmd, shown);
    } catch (e) {
      release();
      throw e;
    }
    const exit = new Promise<ExitStatus>((res, rej) => {
      const lost = (why: string) => {
        release();
        rej(this.lostError(`while \`${shown}\` ran (${why})`));
      };
      if (conn.lost) return lost(conn.lost);
      conn.onLost.add(lost);
      void s.exited.then((st) => {
        conn.onLost.delete(lost);
        release();
        res(st);
      });
      // 'close' comes only once stdout has been read to its end; 'exit' does not wait for it
      s.ch.on('close', () => {
        conn.onLost.delete(lost);
        release();
        if (conn.lost && !s.status) rej(this.lostError(`while \`${shown}\` ran (${conn.lost})`));
        else res(s.status ?? { exitCode: null, signal: null });
      });
    });
    exit.catch(() => {});
    return {
      stdout: s.ch,
      stderr: s.stderr,
      stdin: s.ch,
      exit,
      kill: (signal = 'TERM') => {
        s.stop(signal);
        setTimeout(() => {
          if (!s.status) closeChannel(s.ch);
        }, 2000).unref();
      },
    };
  }

  writeFile(file: string, text: string | Buffer, mode?: number): Promise<void> {
    return writeFileOver(this, file, text, mode);
  }

  readFile(file: string): Promise<string> {
    return readFileOver(this, file);
  }

  async close(): Promise<void> {
    const pending = this.current;
    this.current = undefined;
    if (!pending) return;
    let conn: Conn;
    try {
      conn = await pending.promise;
    } catch {
      return;
    }
    if (conn.lost) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        conn.client.destroy();
        resolve();
      }, 2000);
      conn.client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      conn.client.end();
    });
  }

  private lostError(what: string): HarnessError {
    return errSshLost(this.where, what, { hint: 'whether the command took effect is unknown; the next command reconnects' });
  }

  /** The open connection, or a new one: after a loss, the next call connects again. */
  private connection(): Promise<Conn> {
    if (this.current?.conn?.lost) this.current = undefined;
    if (!this.current) {
      const current: { promise: Promise<Conn>; conn?: Conn } = { promise: this.connect() };
      current.promise.then(
        (c) => (current.conn = c),
        () => {
          if (this.current === current) this.current = undefined;
        },
      );
      this.current = current;
    }
    return this.current.promise;
  }

  private async connect(): Promise<Conn> {
    const o = this.opts;
    const connectTimeoutMs = o.connectTimeoutMs ?? 10_000;
    const cfg: ConnectConfig = {
      host: this.host,
      port: this.port,
      username: this.user,
      readyTimeout: connectTimeoutMs,
      keepaliveInterval: o.keepaliveMs ?? 5000,
      keepaliveCountMax: 3,
      tryKeyboard: false,
    };
    const offered: string[] = [];
    if (o.keyFile) {
      const file = o.keyFile.startsWith('~/') ? path.join(homedir(), o.keyFile.slice(2)) : o.keyFile;
      try {
        cfg.privateKey = await readFile(file);
      } catch (e) {
        throw errSshAuth(this.where, `cannot read the key file ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
      }
      if (o.passphrase !== undefined) cfg.passphrase = o.passphrase;
      offered.push(`the key in ${file}`);
    }
    const agent = o.agent === true || (o.agent === undefined && !o.keyFile) ? process.env.SSH_AUTH_SOCK : o.agent || undefined;
    if (agent) {
      cfg.agent = agent;
      offered.push(`the agent at ${agent}`);
    }
    if (!offered.length)
      throw errSshAuth(this.where, 'no key to offer', { hint: o.agent === true ? 'agent: true needs SSH_AUTH_SOCK set (is ssh-agent running?)' : 'give keyFile, or agent (an ssh-agent socket)' });

    const policy: HostKeyPolicy = { host: this.host, port: this.port, pinned: this.pinned };
    let known: KnownHostsEntry[] = [];
    if (!this.pinned) {
      const file = o.knownHosts ?? path.join(homedir(), '.ssh', 'known_hosts');
      let text = '';
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw errSshConnect(this.where, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
      }
      policy.knownHosts = { file, entries: parseKnownHosts(text) };
      known = entriesFor(policy.knownHosts.entries, this.host, this.port);
      const algos = hostKeyAlgorithms(known);
      if (algos) cfg.algorithms = { serverHostKey: algos as NonNullable<NonNullable<ConnectConfig['algorithms']>['serverHostKey']> };
    }
    let refused: HarnessError | undefined;
    cfg.hostVerifier = (key: Buffer): boolean => {
      const v = verifyHostKey(key, policy);
      if (!v.ok) refused = errSshHostKey(this.where, v.message, { hint: v.hint, details: { kind: v.kind } });
      return v.ok;
    };

    let proxy: ProxySocket | undefined;
    let proxyText = '';
    if (o.proxyCommand) {
      proxyText = proxyCommandText(o.proxyCommand, this.host, this.port, this.user);
      proxy = new ProxySocket(proxyText);
      cfg.sock = proxy;
    }
    const client = new Client();
    const conn: Conn = { client, onLost: new Set() };
    return new Promise<Conn>((resolve, reject) => {
      let ready = false;
      let lastError: Error | undefined;
      const fail = (err: Error & { level?: string; code?: string }) => {
        if (refused) return reject(refused);
        if (proxy) return void failThroughProxy(proxy, err);
        failDirect(err);
      };
      // the command's stderr says why (a jump host refused, nc could not connect): in the error, once it has ended
      const failThroughProxy = async (p: ProxySocket, err: Error & { level?: string }) => {
        await p.settled();
        p.kill();
        const said = p.describe();
        const hint = `run it by hand to see what it does: sh -c ${shellQuote(proxyText)}`;
        if (err.level === 'client-authentication' || err.level === 'client-timeout' || !said) return failDirect(err, said);
        reject(errSshConnect(this.where, `the proxy command \`${proxyText}\` ${said}`, { hint, cause: err }));
      };
      const failDirect = (err: Error & { level?: string; code?: string }, proxySaid?: string) => {
        if (proxySaid && err.level !== 'client-authentication' && err.level !== 'client-timeout') err = Object.assign(new Error(`${err.message} (the proxy command \`${proxyText}\` ${proxySaid})`), { level: err.level, code: err.code });
        const msg = err.message;
        if (err.level === 'client-authentication')
          return reject(errSshAuth(this.where, `${this.user} was refused (offered ${offered.join(' and ')})`, { hint: `is the public key in ~${this.user}/.ssh/authorized_keys on ${this.host}?`, cause: err }));
        if (err.level === 'client-timeout')
          return reject(errSshConnect(this.where, `no SSH handshake within ${connectTimeoutMs / 1000} s${proxySaid ? ` (the proxy command \`${proxyText}\` ${proxySaid})` : proxy ? ` through the proxy command \`${proxyText}\`` : ''}`, { hint: 'is the host up, and is it sshd that listens on that port?', cause: err }));
        if (err.level === 'client-dns') return reject(errSshConnect(this.where, `cannot resolve ${this.host} (${err.code ?? msg})`, { cause: err }));
        if (err.level === 'client-socket') {
          const what =
            err.code === 'ECONNREFUSED' ? 'connection refused' :
            err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' ? 'no route to host' :
            err.code === 'ETIMEDOUT' ? 'the TCP connection timed out' :
            err.code === 'ECONNRESET' ? 'the connection was reset' : msg;
          return reject(errSshConnect(this.where, what, { hint: `is sshd running on ${this.host} and listening on port ${this.port}?`, cause: err }));
        }
        if (known.length && /host key|no matching/i.test(msg))
          return reject(
            errSshHostKey(this.where, `the host key has CHANGED: it offers none of the key types ${policy.knownHosts!.file} has for it (${[...new Set(known.map((e) => e.type))].join(', ')}); refusing to connect`, {
              hint: `if the host was reinstalled, check its new key out of band and pin it with hostKey: 'SHA256:…'`,
              details: { kind: 'changed' },
            }),
          );
        reject(errSshConnect(this.where, msg, { cause: err }));
      };
      client.on('ready', () => {
        ready = true;
        resolve(conn);
      });
      client.on('error', (err: Error) => {
        lastError = err;
        if (!ready) fail(err);
      });
      client.on('close', () => {
        proxy?.kill();
        if (!ready) return fail(lastError ?? new Error('the host closed the connection during the handshake'));
        conn.lost = lastError ? lastError.message : 'the connection closed';
        for (const f of [...conn.onLost]) f(conn.lost);
        conn.onLost.clear();
      });
      try {
        client.connect(cfg);
      } catch (e) {
        proxy?.kill();
        // ssh2 checks the private key before it connects
        reject(errSshAuth(this.where, `cannot use the key in ${o.keyFile}: ${(e as Error).message}`, { hint: o.passphrase === undefined ? 'is it encrypted? give passphrase' : undefined, cause: e }));
      }
    });
  }
}

/** A command started on the host. */
interface Started {
  ch: ClientChannel;
  /** its stderr, without the wrapper's pid line */
  stderr: PidLineFilter;
  /** resolves with its exit status, if one comes */
  exited: Promise<ExitStatus>;
  /** that status, once it came */
  status?: ExitStatus;
  /** ends it on the host: the signal (default TERM) to its process group, and over SSH */
  stop(signal?: string): void;
}

/**
 * Sends a signal over SSH. ssh2's `signal()` sends nothing once stdin is closed (it checks that
 * the channel is still writable), but SSH allows it after EOF (RFC 4254 6.9), and exec closes
 * stdin at once: so past EOF, the request goes out through ssh2's protocol object. (sshd acts on
 * it in sessions of users other than root only: the process group kill is what always works.)
 */
function sendSignal(ch: ClientChannel, name: string): void {
  const c = ch as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal?: (id: number, s: string) => void } } };
  try {
    if (c.outgoing?.state === 'eof' && typeof c._client?._protocol?.signal === 'function') c._client._protocol.signal(c.outgoing.id, name);
    else ch.signal(name);
  } catch {
    /* gone already, or a signal SSH has no name for */
  }
}

function closeChannel(ch: ClientChannel): void {
  try {
    ch.close();
  } catch {
    /* gone already */
  }
}
