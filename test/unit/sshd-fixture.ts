/**
 * A real OpenSSH server for the SSH node's tests: its own host key, user keys and config in a
 * temporary directory, listening on 127.0.0.1 on a free port, as the user running the tests.
 * `sshdMissing()` says why it cannot run here (the tests then skip, saying so).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { run } from '../../harness/util/proc.js';
import { waitFor } from '../../harness/util/wait.js';

export const SSHD = '/usr/sbin/sshd';

export function sshdMissing(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} is not installed (apt-get install -y openssh-server)`;
  if (!existsSync('/usr/bin/ssh-keygen')) return 'ssh-keygen is not installed (apt-get install -y openssh-client)';
  return undefined;
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

async function keygen(file: string, type = 'ed25519'): Promise<{ file: string; pub: string; fingerprint: string }> {
  await run(['ssh-keygen', '-q', '-t', type, '-N', '', '-C', path.basename(file), '-f', file]);
  const pub = (await readFile(`${file}.pub`, 'utf8')).trim();
  const fingerprint = (await run(['ssh-keygen', '-l', '-E', 'sha256', '-f', `${file}.pub`])).stdout.split(/\s+/)[1]!;
  return { file, pub, fingerprint };
}

/** Every process below pid, from /proc (children first found, then theirs). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) (out.push(c), walk(c));
  };
  walk(pid);
  return out;
}

export const alive = (pid: number): boolean => {
  try {
    // a zombie is dead for our purposes
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

export class Sshd {
  readonly user = userInfo().username;
  private child?: ChildProcess;
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly config: string,
    readonly hostKey: { file: string; pub: string; fingerprint: string },
    /** in authorized_keys */
    readonly userKey: string,
    /** not in authorized_keys */
    readonly wrongKey: string,
    /** another host's ed25519 and ecdsa keys, for "the key changed" */
    readonly otherHostKey: { pub: string; fingerprint: string },
    readonly otherEcdsaKey: { pub: string; fingerprint: string },
  ) {}

  static async create(): Promise<Sshd> {
    const dir = await mkdtemp(path.join(tmpdir(), 'lvs-sshd-'));
    const [hostKey, user, wrong, other, otherEcdsa] = await Promise.all([
      keygen(path.join(dir, 'host_ed25519')),
      keygen(path.join(dir, 'user_ed25519')),
      keygen(path.join(dir, 'wrong_ed25519')),
      keygen(path.join(dir, 'other_host_ed25519')),
      keygen(path.join(dir, 'other_host_ecdsa'), 'ecdsa'),
    ]);
    await writeFile(path.join(dir, 'authorized_keys'), user.pub + '\n', { mode: 0o600 });
    const port = await freePort();
    const root = process.getuid?.() === 0;
    const config = path.join(dir, 'sshd_config');
    await writeFile(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey.file}`,
        `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
        `PidFile ${path.join(dir, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        'PubkeyAuthentication yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'MaxStartups 100',
        process.env.SSHD_LOGLEVEL ? `LogLevel ${process.env.SSHD_LOGLEVEL}` : 'LogLevel ERROR',
        // sessions get this directory as HOME: the tests do not run the machine user's own ~/.bashrc
        // (bash sources it for every command sshd runs; on this machine it runs `pyenv init`, 0.2 s)
        `SetEnv HOME=${dir}`,
        ...(root ? ['PermitRootLogin prohibit-password'] : []),
        '',
      ].join('\n'),
    );
    // as root, sshd wants its privilege separation directory (the Debian service makes it at start)
    if (root && !existsSync('/run/sshd')) await mkdir('/run/sshd', { mode: 0o755 });
    const s = new Sshd(dir, port, config, hostKey, user.file, wrong.file, other, otherEcdsa);
    await s.start();
    return s;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts sshd and waits (up to 5 s) until its port accepts. */
  async start(): Promise<void> {
    this.log = '';
    const child = spawn(SSHD, ['-D', '-e', '-f', this.config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.on('data', (b: Buffer) => (this.log = (this.log + b.toString()).slice(-4000)));
    let exited = false;
    child.once('exit', () => (exited = true));
    await waitFor(
      `sshd to listen on 127.0.0.1:${this.port}`,
      async () => {
        if (exited) throw Object.assign(new Error(`sshd exited: ${this.log.trim()}`), { fatal: true });
        return canConnect(this.port);
      },
      { timeoutMs: 5000, intervalMs: 20 },
    );
  }

  /** SIGKILLs the sessions (sshd's children and theirs), not the listener: connections drop mid-command. */
  killSessions(): number {
    if (!this.child?.pid) return 0;
    const pids = descendants(this.child.pid);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    return pids.length;
  }

  /** Stops the listener and every session, and waits for the listener to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    this.killSessions();
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
    this.child = undefined;
  }

  /** A known_hosts line for this server as OpenSSH writes it for a non-22 port. */
  knownHostsLine(pub = this.hostKey.pub): string {
    const [type, b64] = pub.split(/\s+/);
    return `[127.0.0.1]:${this.port} ${type} ${b64}`;
  }

  get stderr(): string {
    return this.log;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
