import { spawn, type SpawnOptions } from 'node:child_process';
import { errCommandFailed, errCommandMissing, errTimeout } from '../errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /** resolve instead of throwing when the command exits non-zero */
  allowFailure?: boolean;
  /** Debian package that provides argv[0], for the "not installed" message */
  pkg?: string;
  /** called with each chunk of stderr/stdout as it arrives (progress) */
  onOutput?: (chunk: string) => void;
}

export interface RunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command given as argv (never a shell string); throws with the command and its stderr on failure. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(argv[0]!, argv.slice(1), spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      opts.onOutput?.(b.toString());
    });
    child.stderr!.on('data', (b: Buffer) => {
      err.push(b);
      opts.onOutput?.(b.toString());
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (e.code === 'ENOENT') reject(errCommandMissing(argv[0]!, opts.pkg ?? argv[0]!));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const res = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (timedOut) return reject(errTimeout(`\`${argv.join(' ')}\` to finish`, opts.timeoutMs!, res.stderr.trim().split('\n').pop()));
      if (code !== 0 && !opts.allowFailure) return reject(errCommandFailed(argv, code, signal, res.stderr || res.stdout));
      resolve(res);
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** True when an executable of that name is on PATH. */
export async function which(cmd: string): Promise<string | undefined> {
  const { access, constants } = await import('node:fs/promises');
  const path = await import('node:path');
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* keep looking */
    }
  }
  return undefined;
}

/** Whether a process with this pid lives on this host (one of another user's counts: EPERM). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
