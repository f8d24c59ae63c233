import { existsSync, readFileSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { onCleanup } from '../util/cleanup.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { findHang, findLockup, parseRegisters, type Lockup, type VcpuSample } from './lockup.js';
import { monitorSocket, Qmp } from './saved.js';
import { labPaths, type LabPaths } from './paths.js';

/**
 * Watches the running lab VM's console from a process that uses the lab (every command that
 * resolves the lab runtime, and the e2e tests): a kernel that stays locked up (findLockup) is
 * stopped, so that Docker calls into it fail now and the run ends with that cause, instead of
 * waiting for ever on a VM that will not answer again. What was seen is kept in
 * <lab home>/lockup.json and named by `lvs-harness lab status`; the next `lab up` boots afresh.
 */
export interface WatchdogOptions {
  paths?: LabPaths;
  intervalMs?: number;
  thresholdSeconds?: number;
  log?: Logger;
  /** stops the VM (vm.ts's labDown in real use; a test passes its own) */
  stop: () => Promise<unknown>;
  /** how long a vCPU may stay at one instruction with interrupts off before it counts as hung (findHang) */
  hangSeconds?: number;
  /** one look at every vCPU (qemu's monitor in real use; a test passes its own) */
  sampleVcpus?: (paths: LabPaths) => Promise<VcpuSample[]>;
}

export interface LockupRecord extends Lockup {
  at: string;
  pid?: number;
  /** the console's last lines when the watchdog stopped the VM */
  consoleTail: string[];
}

let seen: LockupRecord | undefined;
/** the vCPU samples of the last minutes (findHang reads them) */
let samples: VcpuSample[] = [];
let timer: NodeJS.Timeout | undefined;
let watched: string | undefined;

/**
 * The lockup the lab was stopped for, if it was (and no lab started since): this process's
 * watchdog's, or, given `since`, the one another process's watchdog recorded in lockup.json at or
 * after `since` (two processes that use the lab each watch it, and either may see it first).
 */
export const labLockup = (since?: Date, paths: Pick<LabPaths, 'home'> = labPaths()): LockupRecord | undefined => {
  if (seen || !since) return seen;
  try {
    const rec = JSON.parse(readFileSync(lockupFile(paths), 'utf8')) as LockupRecord;
    return typeof rec.summary === 'string' && Date.parse(rec.at) >= since.getTime() ? rec : undefined;
  } catch {
    return undefined;
  }
};

/** A new lab VM starts: the previous one's lockup no longer explains what fails. */
export const forgetLockup = (): void => {
  seen = undefined;
};

export const lockupFile = (paths: Pick<LabPaths, 'home'>) => path.join(paths.home, 'lockup.json');
/** Every lockup a watchdog acted on in this lab home, one JSON line each, across restarts. */
export const lockupLog = (paths: Pick<LabPaths, 'home'>) => path.join(paths.home, 'lockups.ndjson');

/** One look at the console: the lockup found and acted on, or undefined. Exported for tests. */
export async function checkOnce(o: WatchdogOptions & { paths: LabPaths }): Promise<LockupRecord | undefined> {
  let text: string;
  try {
    text = await readFile(o.paths.console, 'utf8');
  } catch {
    samples = [];
    return undefined; // no lab running
  }
  const l = findLockup(text, o.thresholdSeconds ?? 60) ?? (await lookAtVcpus(o));
  if (!l) return undefined;
  let pid: number | undefined;
  try {
    pid = (JSON.parse(await readFile(o.paths.state, 'utf8')) as { pid?: number }).pid;
  } catch {
    /* state gone: the VM is being stopped already */
  }
  const rec: LockupRecord = { ...l, at: new Date().toISOString(), ...(pid ? { pid } : {}), consoleTail: text.trimEnd().split(/\r?\n/).slice(-12) };
  seen = rec;
  (o.log ?? defaultLog)(`lab watchdog: ${l.summary}. The lab VM${pid ? ` (pid ${pid})` : ''} is stopped so that this run fails now instead of waiting on it; \`lvs-harness lab up\` starts it again. Its console: ${o.paths.lastConsole}`);
  await writeFile(lockupFile(o.paths), JSON.stringify(rec, null, 2) + '\n').catch(() => {});
  // lockup.json goes with the next VM; this one keeps every lockup of the lab home (CI prints it at the end)
  await appendFile(lockupLog(o.paths), JSON.stringify(rec) + '\n').catch(() => {});
  // the process may be ending already (the run failed the moment the VM died): its exit waits for the stop
  const stopping: Promise<void> = o.stop().then(() => {}, () => {});
  const unregister = onCleanup('the locked-up lab VM', () => stopping);
  await stopping;
  unregister();
  return rec;
}

/** Samples the vCPUs (when the monitor answers) and says whether one has hung with interrupts off. */
async function lookAtVcpus(o: WatchdogOptions & { paths: LabPaths }): Promise<Lockup | undefined> {
  try {
    samples.push(...(await (o.sampleVcpus ?? sampleVcpus)(o.paths)));
  } catch {
    return undefined; // no monitor (an older lab, a VM being saved or stopped): the console alone
  }
  const latest = Math.max(...samples.map((x) => x.t));
  samples = samples.filter((x) => latest - x.t <= 5 * 60_000);
  return findHang(samples, o.hangSeconds ?? 30);
}

/** Every vCPU's registers through qemu's monitor (QMP's human-monitor-command "info registers"). */
export async function sampleVcpus(paths: LabPaths): Promise<VcpuSample[]> {
  if (!existsSync(monitorSocket(paths))) throw new Error(`no monitor socket at ${monitorSocket(paths)}`);
  const q = await Qmp.connect(monitorSocket(paths), 2_000);
  try {
    const cpus = (await q.execute('query-cpus-fast', undefined, 2_000)) as { 'cpu-index': number }[];
    const out: VcpuSample[] = [];
    for (const c of cpus) {
      const text = (await q.execute('human-monitor-command', { 'command-line': 'info registers', 'cpu-index': c['cpu-index'] }, 2_000)) as string;
      const x = parseRegisters(text, c['cpu-index'], Date.now());
      if (x) out.push(x);
    }
    return out;
  } finally {
    q.close();
  }
}

/**
 * Starts watching (once per process and lab home; later calls for the same home do nothing).
 * The timer does not keep the process alive.
 */
export function watchLab(o: WatchdogOptions): void {
  const paths = o.paths ?? labPaths();
  if (timer && watched === paths.home) return;
  if (timer) clearInterval(timer);
  watched = paths.home;
  let busy = false;
  timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void checkOnce({ ...o, paths })
      .catch(() => undefined)
      .finally(() => {
        busy = false;
      });
  }, o.intervalMs ?? 5_000);
  timer.unref();
}

/** Stops watching and forgets what was seen (tests; a process that starts a new lab itself). */
export function stopWatching(): void {
  if (timer) clearInterval(timer);
  timer = undefined;
  watched = undefined;
  samples = [];
  forgetLockup();
}

/** The lockup a watchdog recorded for this lab home, if any (for `lab status`). */
export async function readLockup(paths: Pick<LabPaths, 'home'> = labPaths()): Promise<LockupRecord | undefined> {
  try {
    return JSON.parse(await readFile(lockupFile(paths), 'utf8')) as LockupRecord;
  } catch {
    return undefined;
  }
}
