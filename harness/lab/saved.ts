import net from 'node:net';
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { run } from '../util/proc.js';
import { DEFAULT_RELEASE, stableHash } from './recipe.js';
import type { LabPaths } from './paths.js';

/**
 * A booted lab, saved once and restored on every later `lab up`: under software emulation a
 * cold boot takes about two minutes (kernel, modules, dockerd, the node image's import),
 * a restore seconds.
 *
 * The root disk is a qcow2 overlay over the cached raw image (run/root.qcow2), so that its
 * state can be kept. Once a cold boot is ready, the VM is stopped, its RAM and devices written
 * by qemu's migration to a file (state.bin) and its overlay copied (disk.qcow2), and it goes on.
 * A restore starts qemu with the same command line on a new overlay over the saved one, with
 * `-incoming` from the file. The guest's clock is then where it was at the save: the host sends
 * its time down the second serial port, where lab-init sets it and answers on the console with
 * the time set and whether ip_vs is loaded; the Docker API must then answer over mutual TLS, as
 * after a boot. Anything short of that: the restored VM is stopped, the saved state deleted,
 * and the lab boots cold.
 *
 * The saved state is keyed on what it depends on: the lab artefacts, memory, CPUs, accelerator
 * and qemu's version. Only the newest of each release is kept (meta.json names the release;
 * one without is bookworm's, saved before releases existed).
 */
export const SAVED_VERSION = 1;

export interface SavedKeyInputs {
  artifactsKey: string;
  memoryMiB: number;
  cpus: number;
  accel: string;
  qemuVersion: string;
  /**
   * which files exactly (inode, size, mtime) the saved lab was made from: the root image under
   * its disk overlay above all (an overlay over a rebuilt image would read blocks that moved),
   * the kernel and initrd, and the TLS credentials dockerd read at boot
   */
  files: Record<string, string>;
}

/** A file's identity for the key: inode, size and modification time (no read of its content). */
export async function fileSignature(file: string): Promise<string> {
  const st = await stat(file).catch(() => undefined);
  return st ? `${st.ino}:${st.size}:${Math.round(st.mtimeMs)}` : 'missing';
}

export const savedKey = (i: SavedKeyInputs): string => stableHash({ v: SAVED_VERSION, ...i });

export const savedDir = (paths: LabPaths, key: string): string => path.join(paths.home, 'saved', key);

export interface SavedLab {
  dir: string;
  disk: string;
  state: string;
  console: string;
}

export const savedFiles = (dir: string): SavedLab => ({ dir, disk: path.join(dir, 'disk.qcow2'), state: path.join(dir, 'state.bin'), console: path.join(dir, 'console.log') });

/** The saved lab for this key, when it is complete. */
export async function findSaved(paths: LabPaths, key: string): Promise<SavedLab | undefined> {
  const s = savedFiles(savedDir(paths, key));
  try {
    for (const f of [s.disk, s.state, s.console, path.join(s.dir, 'meta.json')]) await stat(f);
    return s;
  } catch {
    return undefined;
  }
}

export async function qemuVersion(qemu: string): Promise<string> {
  const r = await run([qemu, '--version'], { allowFailure: true });
  return r.stdout.match(/version\s+(\S+)/)?.[1] ?? 'unknown';
}

/** `qemu-img create` of a qcow2 overlay over a backing file (raw or qcow2). */
export async function createOverlay(qemuImg: string, file: string, backing: string, backingFormat: 'raw' | 'qcow2'): Promise<void> {
  await rm(file, { force: true });
  await run([qemuImg, 'create', '-q', '-f', 'qcow2', '-b', path.resolve(backing), '-F', backingFormat, file], { pkg: 'qemu-utils' });
}

/** The paths of a running lab's control sockets (inside run/: they go with it). */
export const monitorSocket = (paths: LabPaths): string => path.join(paths.run, 'qmp.sock');
export const clockSocket = (paths: LabPaths): string => path.join(paths.run, 'clock.sock');

/**
 * A minimal QMP client (qemu's JSON monitor): one command at a time, events skipped.
 */
export class Qmp {
  private buf = '';
  private waiting: ((m: Record<string, unknown>) => void) | undefined;
  private closed: Error | undefined;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        let m: Record<string, unknown>;
        try {
          m = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if ('event' in m) continue;
        const w = this.waiting;
        this.waiting = undefined;
        w?.(m);
      }
    });
    const end = (e?: Error) => {
      this.closed = e ?? new Error('the qemu monitor closed its socket');
      const w = this.waiting;
      this.waiting = undefined;
      w?.({ error: { desc: this.closed.message } });
    };
    sock.on('error', end);
    sock.on('close', () => end());
  }

  static async connect(file: string, timeoutMs = 10_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(file);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const q = new Qmp(sock);
        try {
          // the greeting: qemu serves one monitor client at a time, and the next waits for it
          await q.next(Math.max(1_000, deadline - Date.now()));
          await q.execute('qmp_capabilities', undefined, Math.max(1_000, deadline - Date.now()));
        } catch (e) {
          q.close();
          throw e;
        }
        return q;
      } catch (e) {
        if (Date.now() > deadline) throw new HarnessError('ERR_LVS_LAB_SAVED', `qemu's monitor at ${file} did not answer: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private next(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no answer from qemu's monitor within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting = (m) => {
        clearTimeout(t);
        resolve(m);
      };
    });
  }

  async execute(command: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<unknown> {
    const answer = this.next(timeoutMs);
    this.sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}) })}\n`);
    const m = await answer;
    if (m.error) throw new HarnessError('ERR_LVS_LAB_SAVED', `qemu refused ${command}: ${(m.error as { desc?: string }).desc ?? JSON.stringify(m.error)}`);
    return m.return;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Polls query-migrate until the migration completed (or failed, or the deadline passed). */
async function migrationDone(q: Qmp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = (await q.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (r.status === 'completed') return;
    if (r.status === 'failed' || r.status === 'cancelled') throw new HarnessError('ERR_LVS_LAB_SAVED', `qemu could not save the VM's state: ${r['error-desc'] ?? r.status}`);
    if (Date.now() > deadline) throw new HarnessError('ERR_LVS_LAB_SAVED', `saving the VM's state took more than ${timeoutMs / 1000} s (status ${r.status ?? 'none'})`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Whether a saved lab directory holds the given release's state (see the release in meta.json). */
export function sameReleaseSaved(meta: { release?: unknown } | undefined, release: string): boolean {
  return !meta || (typeof meta.release === 'string' ? meta.release : DEFAULT_RELEASE) === release;
}

/**
 * Saves the running, ready lab: stops the VM, writes its state and copies its disk overlay,
 * then lets it go on. Other saved states of the same release are removed (only the newest is
 * kept); another release's stays, so that switching back restores it.
 */
export async function saveLab(paths: LabPaths, key: string, overlay: string, meta: Record<string, unknown>): Promise<{ seconds: number; bytes: number }> {
  const t0 = Date.now();
  const final = savedDir(paths, key);
  const tmp = `${final}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const s = savedFiles(tmp);
  const q = await Qmp.connect(monitorSocket(paths));
  let stopped = false;
  try {
    await q.execute('stop');
    stopped = true;
    await q.execute('migrate', { uri: `exec:cat > ${shellQuote(s.state)}` });
    await migrationDone(q, 300_000);
    // the VM is stopped and its disk flushed by the migration: the overlay is consistent now
    await copyFile(overlay, s.disk);
    await copyFile(path.join(paths.run, 'console.log'), s.console);
    await writeFile(path.join(tmp, 'meta.json'), JSON.stringify({ ...meta, key, savedAt: new Date().toISOString() }, null, 2));
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    if (stopped) await q.execute('cont').catch(() => undefined);
    q.close();
  }
  const parent = path.dirname(final);
  const release = typeof meta.release === 'string' ? meta.release : DEFAULT_RELEASE;
  for (const d of await readdir(parent).catch(() => [] as string[])) {
    if (path.join(parent, d) === tmp) continue;
    const other = await readFile(path.join(parent, d, 'meta.json'), 'utf8')
      .then((t) => JSON.parse(t) as { release?: unknown })
      .catch(() => undefined);
    if (sameReleaseSaved(other, release)) await rm(path.join(parent, d), { recursive: true, force: true });
  }
  await rename(tmp, final);
  const bytes = (await stat(path.join(final, 'state.bin'))).size + (await stat(path.join(final, 'disk.qcow2'))).size;
  return { seconds: (Date.now() - t0) / 1000, bytes };
}

/** Removes one saved state (by key), or every saved state of this lab home. */
export async function forgetSaved(paths: LabPaths, key?: string): Promise<void> {
  await rm(key ? savedDir(paths, key) : path.join(paths.home, 'saved'), { recursive: true, force: true });
}

/**
 * Sends the host's time down the clock serial port (lab-init sets the guest's clock from it).
 * The connection stays open until the caller has seen the answer: closing it at once could
 * lose what qemu had not yet passed to the guest's UART.
 */
export async function sendClock(paths: LabPaths, timeoutMs = 10_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const s = await new Promise<net.Socket>((resolve, reject) => {
        const c = net.connect(clockSocket(paths));
        c.once('error', reject);
        c.once('connect', () => resolve(c));
      });
      s.on('error', () => {});
      s.write(`${(Date.now() / 1000).toFixed(3)}\n`);
      return () => s.destroy();
    } catch (e) {
      if (Date.now() > deadline) throw new HarnessError('ERR_LVS_LAB_SAVED', `the lab's clock port did not accept the time: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** The restored guest's answer on the console: `lab: clock set <epoch> ipvs=yes|no`. */
export function parseClockLine(text: string): { epoch: number; ipvs: boolean } | undefined {
  const m = [...text.matchAll(/^lab: clock set (\d+(?:\.\d+)?) ipvs=(yes|no)\s*$/gm)].pop();
  return m ? { epoch: Number(m[1]), ipvs: m[2] === 'yes' } : undefined;
}

export const readText = (f: string) => readFile(f, 'utf8').catch(() => '');
