import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { HarnessError, tail } from '../errors.js';
import { dockerFromEndpoint, type Endpoint } from '../util/docker.js';
import { onCleanup } from '../util/cleanup.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { pidAlive, which } from '../util/proc.js';
import { sleep, waitFor } from '../util/wait.js';
import { buildLab, readArtifacts, type LabArtifacts } from './build.js';
import { bootPanic, parseConsole, type BootPanic } from './console.js';
import { forgetLockup, lockupFile } from './watchdog.js';
import { labPaths, type LabPaths } from './paths.js';
import { DEFAULT_RELEASE, type LabRelease } from './recipe.js';
import { TLS_FILES } from './tls.js';
import { Qmp, clockSocket, createOverlay, fileSignature, findSaved, forgetSaved, monitorSocket, parseClockLine, qemuVersion, readText, saveLab, savedKey, sendClock, type SavedLab } from './saved.js';

export const DEFAULT_PORT = 23750;
export const QEMU_NAME = 'lvs-harness-lab';

export interface LabState {
  pid: number;
  /** the Debian release the VM was built from (absent in a state written before releases: bookworm) */
  release?: LabRelease;
  port: number;
  startedAt: string;
  key: string;
  memoryMiB: number;
  cpus: number;
  accel: 'tcg' | 'kvm';
  kernel: string;
  nodeImageTag: string;
  tlsDir: string;
  rootImage: string;
  /**
   * the process booting (or restoring) the VM, and whether it saw the lab ready: a lab whose
   * booting process died before that (SIGKILL) is half-started (a restore not resumed, its clock
   * not set) and the next `lab up` stops it and starts again. Absent in older states: trusted.
   */
  bootedBy?: number;
  ready?: boolean;
}

/** What `lab up` does with a lab it finds running: use it, wait for the process booting it, or stop a boot that process left half-done. */
export function decideRunning(st: Pick<LabState, 'bootedBy' | 'ready'>, isAlive: (pid: number) => boolean): 'use' | 'wait' | 'restart' {
  if (st.ready !== false) return 'use';
  return st.bootedBy !== undefined && isAlive(st.bootedBy) ? 'wait' : 'restart';
}

export interface LabStatus {
  running: boolean;
  /** the running lab's Debian release */
  release?: LabRelease;
  pid: number | null;
  endpoint: string | null;
  kernel: string | null;
  ipvs: boolean | null;
  uptimeSeconds: number | null;
  /** whether the lab's Docker API answered (with the lab's credentials) */
  docker?: 'ok' | 'unreachable';
  nodeImage?: string;
  memoryMiB?: number;
  /** resident memory of the VM process on the host */
  rssMiB?: number;
  cpus?: number;
  accel?: string;
}

export interface UpOptions {
  memoryMiB?: number;
  cpus?: number;
  port?: number;
  accel?: 'tcg' | 'kvm';
  /** how long to wait for the VM to report ready */
  timeoutMs?: number;
  paths?: LabPaths;
  log?: Logger;
  /** boot cold even when a saved lab could be restored (also LVS_HARNESS_LAB_COLD=1) */
  cold?: boolean;
  /**
   * the Debian release to run. Absent: whichever lab runs, else bookworm. A lab of another
   * release already running is an error, unless `restart`
   */
  release?: LabRelease;
  /** when a lab of another release runs: stop it and boot `release` */
  restart?: boolean;
  /** the command that starts the lab (run, validate…), for a refusal's hint: `lvs-harness run … --restart`; absent: lab up */
  command?: string;
}

/** The release a state file describes (older state files name none: they were bookworm). */
export const stateRelease = (st: Pick<LabState, 'release'>): LabRelease => st.release ?? DEFAULT_RELEASE;

export type UpDecision =
  /** nothing runs: boot this release */
  | { action: 'boot'; release: LabRelease }
  /** the asked release (or, none asked, some release) runs: use it */
  | { action: 'reuse'; release: LabRelease }
  /** another release runs and --restart was given: stop it, then boot */
  | { action: 'restart'; release: LabRelease; running: LabRelease }
  /** another release runs: say so, change nothing */
  | { action: 'refuse'; release: LabRelease; running: LabRelease };

/** What `lab up` does, given what runs (one lab at a time per lab home). */
export function decideUp(o: { running?: LabRelease; wanted?: LabRelease; restart?: boolean }): UpDecision {
  if (!o.running) return { action: 'boot', release: o.wanted ?? DEFAULT_RELEASE };
  if (!o.wanted || o.wanted === o.running) return { action: 'reuse', release: o.running };
  return o.restart ? { action: 'restart', release: o.wanted, running: o.running } : { action: 'refuse', release: o.wanted, running: o.running };
}

/** The error of a refused `lab up`: which release runs, and the two ways on. */
export function otherReleaseRunning(d: { release: LabRelease; running: LabRelease }, pid: number | null, command?: string): HarnessError {
  const again = command && command !== 'lab up' ? `\`lvs-harness ${command} … --release ${d.release} --restart\`` : `\`lvs-harness lab up --release ${d.release} --restart\``;
  return new HarnessError('ERR_LVS_LAB_OTHER_RELEASE', `a ${d.running} lab is running${pid ? ` (pid ${pid})` : ''}; only one lab runs at a time, so the ${d.release} lab was not started`, {
    hint: `switch with ${again} (stops the ${d.running} lab), or stop it first with \`lvs-harness lab down\`; to use the running one: --release ${d.running}`,
  });
}

/** What `lab down` does: with a release named, a lab of another release is left running. */
export function decideDown(o: { running?: LabRelease; wanted?: LabRelease }): 'stop' | 'other-release' {
  return o.running && o.wanted && o.running !== o.wanted ? 'other-release' : 'stop';
}

export const endpointOf = (st: Pick<LabState, 'port' | 'tlsDir'>): Endpoint => ({
  kind: 'tcp',
  host: '127.0.0.1',
  port: st.port,
  tls: { caPath: path.join(st.tlsDir, TLS_FILES.ca), certPath: path.join(st.tlsDir, TLS_FILES.clientCert), keyPath: path.join(st.tlsDir, TLS_FILES.clientKey) },
});

export async function readState(paths: LabPaths = labPaths()): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(paths.state, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

/** Our VM, and not some process that reused its pid: the command line names our root image. */
export async function isOurQemu(pid: number, rootImage?: string): Promise<boolean> {
  try {
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmd.some((a) => a.includes('qemu-system')) && cmd.some((a) => a.includes(QEMU_NAME)) && (!rootImage || cmd.some((a) => a.includes(rootImage)));
  } catch {
    return false;
  }
}

/** Every lab VM of this lab home still running, e.g. left by a crashed harness. */
async function findOurQemus(paths: LabPaths): Promise<number[]> {
  const out: number[] = [];
  for (const n of await readdir('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmd = await readFile(`/proc/${n}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(QEMU_NAME) && cmd.includes(paths.cache)) out.push(Number(n));
    } catch {
      /* gone */
    }
  }
  return out;
}

async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const kb = (await readFile(`/proc/${pid}/status`, 'utf8')).match(/^VmRSS:\s+(\d+)/m)?.[1];
    return kb ? Math.round(Number(kb) / 1024) : undefined;
  } catch {
    return undefined;
  }
}

export async function labStatus(opts: { paths?: LabPaths; probeDocker?: boolean } = {}): Promise<LabStatus> {
  const paths = opts.paths ?? labPaths();
  const st = await readState(paths);
  const none: LabStatus = { running: false, pid: null, endpoint: null, kernel: null, ipvs: null, uptimeSeconds: null };
  if (!st || !(await isOurQemu(st.pid, st.rootImage))) return none;
  let consoleText = '';
  try {
    consoleText = await readFile(paths.console, 'utf8');
  } catch {
    /* not yet written */
  }
  const c = parseConsole(consoleText);
  const status: LabStatus = {
    running: true,
    release: stateRelease(st),
    pid: st.pid,
    endpoint: `tcp://127.0.0.1:${st.port}`,
    kernel: c.kernel ?? null,
    ipvs: c.ipvs ?? null,
    uptimeSeconds: Math.round((Date.now() - Date.parse(st.startedAt)) / 1000),
    nodeImage: st.nodeImageTag,
    memoryMiB: st.memoryMiB,
    rssMiB: await rssMiB(st.pid),
    cpus: st.cpus,
    accel: st.accel,
  };
  if (opts.probeDocker !== false) {
    try {
      await dockerFromEndpoint(endpointOf(st)).ping();
      status.docker = 'ok';
    } catch {
      status.docker = 'unreachable';
    }
  }
  return status;
}

export async function portFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

export interface QemuRunFiles {
  /** the root disk: a qcow2 overlay (kept, so that a booted lab can be saved); without it the cached image with snapshot=on */
  overlay?: string;
  /** QMP socket (the monitor saveLab drives) */
  qmp?: string;
  /** the second serial port, where the host sends its time after a restore */
  clock?: string;
  /** a saved state to start from (qemu's -incoming) */
  incoming?: string;
}

export function qemuArgs(a: LabArtifacts, o: { memoryMiB: number; cpus: number; port: number; accel: 'tcg' | 'kvm'; consolePath: string } & QemuRunFiles): string[] {
  const accel = o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
  const fw = (name: string, file: string) => ['-fw_cfg', `name=opt/lvs/${name},file=${file}`];
  return [
    '-name', `${QEMU_NAME},process=${QEMU_NAME}`,
    ...accel,
    '-smp', String(o.cpus),
    '-m', String(o.memoryMiB),
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    // appended to, not truncated: a restored lab's console goes on from the saved boot's
    '-chardev', `file,id=console,path=${o.consolePath},append=on`,
    '-serial', 'chardev:console',
    '-kernel', a.vmlinuz,
    '-initrd', a.initrd,
    '-append', 'console=ttyS0 root=/dev/vda rw panic=-1 quiet loglevel=4',
    // every boot starts from the pristine image, the cache is never written: the overlay is
    // thrown away with run/ (or, without qemu-img, snapshot=on keeps the changes in a temporary file)
    '-drive', o.overlay ? `file=${o.overlay},format=qcow2,if=virtio,cache=unsafe` : `file=${a.rootImage},format=raw,if=virtio,snapshot=on,cache=unsafe`,
    ...(o.clock ? ['-serial', `unix:${o.clock},server=on,wait=off`] : []),
    ...(o.qmp ? ['-qmp', `unix:${o.qmp},server=on,wait=off`] : []),
    ...(o.incoming ? ['-incoming', `exec:cat '${o.incoming.replace(/'/g, `'\\''`)}'`] : []),
    // restrict=on: the VM reaches nothing outside; only the forwarded Docker API comes in
    '-netdev', `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${o.port}-:2376`,
    '-device', 'virtio-net-pci,netdev=net0',
    '-device', 'virtio-rng-pci',
    ...fw(TLS_FILES.ca, path.join(a.tlsDir, TLS_FILES.ca)),
    ...fw(TLS_FILES.serverCert, path.join(a.tlsDir, TLS_FILES.serverCert)),
    ...fw(TLS_FILES.serverKey, path.join(a.tlsDir, TLS_FILES.serverKey)),
  ];
}

/** The VM's size and accelerator when `lab up` is not told otherwise. */
const vmDefaults = (o: Pick<UpOptions, 'memoryMiB' | 'cpus' | 'accel'> = {}) => ({
  // keepalived pairs, agents and suites side by side need headroom; the host gives it cheaply (the VM grows into it)
  memoryMiB: o.memoryMiB ?? 4096,
  cpus: o.cpus ?? 2,
  accel: o.accel ?? (process.env.LVS_HARNESS_LAB_ACCEL === 'kvm' ? ('kvm' as const) : ('tcg' as const)),
});

/** The key of the saved lab a `lab up` of these artefacts would restore (saved.ts). */
async function restoreKey(artifacts: LabArtifacts, o: { memoryMiB: number; cpus: number; accel: 'tcg' | 'kvm'; qemu: string }): Promise<string> {
  const fileSet = { rootImage: artifacts.rootImage, vmlinuz: artifacts.vmlinuz, initrd: artifacts.initrd, ...Object.fromEntries(Object.values(TLS_FILES).map((f) => [f, path.join(artifacts.tlsDir, f)])) };
  const files = Object.fromEntries(await Promise.all(Object.entries(fileSet).map(async ([k, f]) => [k, await fileSignature(f)] as const)));
  return savedKey({ artifactsKey: artifacts.key, memoryMiB: o.memoryMiB, cpus: o.cpus, accel: o.accel, qemuVersion: await qemuVersion(o.qemu), files });
}

/** Whether `lab up` of the built release (default memory, CPUs, accelerator) would restore a saved lab rather than boot. */
export async function hasSavedLab(opts: { paths?: LabPaths; release?: LabRelease } = {}): Promise<boolean> {
  const paths = opts.paths ?? labPaths();
  const artifacts = await readArtifacts(opts.release, paths);
  const qemu = await which('qemu-system-x86_64');
  if (!artifacts || !qemu) return false;
  return !!(await findSaved(paths, await restoreKey(artifacts, { ...vmDefaults(), qemu })));
}

/**
 * Boots the lab (building it first when needed) and waits until its dockerd answers over
 * mutual TLS with ip_vs loaded and the node image in place. A second call reports the running lab.
 */
export async function labUp(opts: UpOptions = {}): Promise<LabStatus> {
  const paths = opts.paths ?? labPaths();
  const log = opts.log ?? defaultLog;
  let current = await labStatus({ paths, probeDocker: false });
  const decision = decideUp({ running: current.running ? current.release : undefined, wanted: opts.release, restart: opts.restart });
  if (decision.action === 'refuse') throw otherReleaseRunning(decision, current.pid, opts.command);
  if (decision.action === 'restart') {
    log(`stopping the ${decision.running} lab (pid ${current.pid}) to boot ${decision.release} (--restart)`);
    await labDown({ paths, log });
    current = await labStatus({ paths, probeDocker: false });
  }
  if (current.running) {
    const st = await readState(paths);
    if (st && decideRunning(st, pidAlive) === 'restart') {
      log(`the ${current.release} lab (pid ${current.pid}) was left half-started: the process that was booting it (pid ${st.bootedBy ?? '?'}) is gone. Stopping it and starting again`);
      await labDown({ paths, log });
      current = await labStatus({ paths, probeDocker: false });
    }
  }
  if (current.running) {
    log(`${current.release} lab already running (pid ${current.pid}, ${current.endpoint})`);
    // another process may still be booting it: its Docker API answers before the node image is in
    // (a restored lab's console starts with the saved boot's ready line: its state says when it is)
    const phase = async () => {
      const st = await readState(paths);
      if (st && decideRunning(st, pidAlive) === 'restart') throw Object.assign(new Error(`the process booting it (pid ${st.bootedBy ?? '?'}) died before it was ready`), { fatal: true });
      if (st?.ready === false) return 'booting';
      return parseConsole(await readFile(paths.console, 'utf8').catch(() => '')).phase;
    };
    if ((await phase()) !== 'ready') {
      log('the lab is still booting (another process started it): waiting until it reports ready');
      await waitFor(
        'the lab that another process is booting to report ready on its console',
        async () => {
          const p = await phase();
          if (p === 'failed') throw Object.assign(new Error('its boot failed: see `lvs-harness lab status` and the console log'), { fatal: true });
          if (!(await labStatus({ paths, probeDocker: false })).running) throw Object.assign(new Error('the VM went away while booting'), { fatal: true });
          return p === 'ready';
        },
        { timeoutMs: opts.timeoutMs ?? 600_000, intervalMs: 500 },
      );
    }
    return labStatus({ paths });
  }
  await clearStale(paths, log);

  const qemu = await which('qemu-system-x86_64');
  if (!qemu)
    throw new HarnessError('ERR_LVS_NO_QEMU', 'qemu-system-x86_64 is not installed; the lab needs it to boot its VM', {
      hint: 'apt-get install -y --no-install-recommends qemu-system-x86   (or `lvs-harness doctor --fix` as root)',
    });
  const isRoot = !process.getuid || process.getuid() === 0;
  const release = decision.release;
  const artifacts = isRoot ? (await buildLab({ paths, log, release })).artifacts : await readArtifacts(release, paths);
  if (!artifacts)
    throw new HarnessError('ERR_LVS_LAB_NOT_BUILT', `the ${release} lab has not been built`, { hint: `run \`lvs-harness lab build --release ${release}\` as root first` });

  const port = opts.port ?? Number(process.env.LVS_HARNESS_LAB_PORT ?? DEFAULT_PORT);
  if (!(await portFree(port)))
    throw new HarnessError('ERR_LVS_PORT_IN_USE', `port 127.0.0.1:${port} is already in use, so the lab's Docker API cannot listen there`, {
      hint: `pick another port: lvs-harness lab up --port ${port + 1}   (or stop what listens on ${port}: ss -ltnp 'sport = :${port}')`,
    });

  const { memoryMiB, cpus, accel } = vmDefaults(opts);
  // a saved lab (harness/lab/saved.ts) needs qemu-img for its disk overlays
  const qemuImg = await which('qemu-img');
  if (!qemuImg) log('qemu-img is not installed (package qemu-utils): the lab boots cold every time instead of being restored');
  const key = await restoreKey(artifacts, { memoryMiB, cpus, accel, qemu });
  const cold = opts.cold || process.env.LVS_HARNESS_LAB_COLD === '1';
  const saved = qemuImg && !cold ? await findSaved(paths, key) : undefined;
  const start = (restore: SavedLab | undefined) => startVm({ paths, log, qemu, qemuImg, artifacts, memoryMiB, cpus, accel, port, timeoutMs: opts.timeoutMs ?? 600_000, restore, saveAs: qemuImg && !cold ? key : undefined });
  if (saved) {
    try {
      return await start(saved);
    } catch (e) {
      log(`the saved lab could not be restored (${(e as Error).message.split('\n')[0]}): it is deleted, and the lab boots cold`);
      await forgetSaved(paths, key);
    }
  }
  return bootCold(() => start(undefined), log, release);
}

/** Cold boots a kernel panicking in its own init may take (see bootPanic): the first, and two more. */
export const BOOT_ATTEMPTS = 3;

/**
 * A cold boot, booted again when its kernel panicked the transient way (an int3 Oops: qemu's
 * multi-threaded TCG ran a stale copy of code the kernel was patching during init, seen once in
 * CI's trixie boot at 2.2 s), at most BOOT_ATTEMPTS in all and each retry said; any other
 * failure is thrown at once. Not a retry of a verdict: nothing of the harness or the user's has
 * run in the VM yet.
 */
export async function bootCold<T>(boot: () => Promise<T>, log: Logger, release: string, attempts = BOOT_ATTEMPTS): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await boot();
    } catch (e) {
      const panic = e instanceof HarnessError ? (e.details?.panic as BootPanic | undefined) : undefined;
      if (!panic?.transient || i >= attempts) throw e;
      log(`the ${release} lab's kernel panicked in its own init (${panic.oops}: a stale breakpoint of its code patching under qemu's multi-threaded TCG, not the image's fault); booting again (attempt ${i + 1} of ${attempts})`);
    }
  }
}

interface StartVm {
  paths: LabPaths;
  log: Logger;
  qemu: string;
  qemuImg: string | undefined;
  artifacts: LabArtifacts;
  memoryMiB: number;
  cpus: number;
  accel: 'tcg' | 'kvm';
  port: number;
  timeoutMs: number;
  /** start from this saved lab instead of booting */
  restore?: SavedLab;
  /** after a cold boot, save the ready lab under this key */
  saveAs?: string;
}

async function startVm(o: StartVm): Promise<LabStatus> {
  const { paths, log, artifacts, memoryMiB, cpus, accel, port } = o;
  await mkdir(paths.run, { recursive: true });
  const overlay = o.qemuImg ? path.join(paths.run, 'root.qcow2') : undefined;
  if (overlay) await createOverlay(o.qemuImg!, overlay, o.restore ? o.restore.disk : artifacts.rootImage, o.restore ? 'qcow2' : 'raw');
  // a restored lab's console starts as the saved boot's ended (its kernel, ip_vs and ready lines)
  await writeFile(paths.console, o.restore ? await readText(o.restore.console) : '');
  // a new VM: the previous one's lockup (watchdog.ts) is history
  await rm(lockupFile(paths), { force: true });
  forgetLockup();
  const qemuLog = path.join(paths.run, 'qemu.log');
  const fd = openSync(qemuLog, 'w');
  const files: QemuRunFiles = overlay ? { overlay, qmp: monitorSocket(paths), clock: clockSocket(paths), ...(o.restore ? { incoming: o.restore.state } : {}) } : {};
  const args = qemuArgs(artifacts, { memoryMiB, cpus, port, accel, consolePath: paths.console, ...files });
  const child = spawn(o.qemu, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = sig ? `killed by ${sig}` : `exited with ${code}`));
  child.unref();
  const pid = child.pid!;
  const state: LabState = {
    pid,
    release: artifacts.release ?? DEFAULT_RELEASE,
    port,
    startedAt: new Date().toISOString(),
    key: artifacts.key,
    memoryMiB,
    cpus,
    accel,
    kernel: artifacts.kernelVersion,
    nodeImageTag: artifacts.nodeImageTag,
    tlsDir: artifacts.tlsDir,
    rootImage: overlay ?? artifacts.rootImage,
    bootedBy: process.pid,
    ready: false,
  };
  await writeFile(paths.state, JSON.stringify(state, null, 2));
  log(`${state.release} lab ${o.restore ? 'restoring the saved lab' : 'booting'}: pid ${pid}, ${cpus} CPU, ${memoryMiB} MiB, ${accel}, Docker API on 127.0.0.1:${port}`);
  // Ctrl-C or a crash while booting must not leave a half-started VM behind
  const unregister = onCleanup('lab boot', async () => {
    await stopVm(paths, state, log);
  });

  const t0 = Date.now();
  const alive = () => {
    if (exited) throw Object.assign(new Error(`the VM process ${exited}`), { fatal: true });
  };
  try {
    const docker = dockerFromEndpoint(endpointOf(state));
    if (o.restore) {
      // the saved state loads, the guest runs on, takes the host's time and says so with ip_vs
      const q = await Qmp.connect(monitorSocket(paths), 30_000);
      try {
        await waitFor(
          'the saved state to load into the VM',
          async () => {
            alive();
            const status = ((await q.execute('query-status')) as { status?: string }).status;
            // the state was saved from a stopped VM, so a loaded one waits stopped too: go on
            if (status === 'paused' || status === 'postmigrate') await q.execute('cont');
            return status === 'running';
          },
          { timeoutMs: 120_000, intervalMs: 100 },
        );
      } finally {
        q.close();
      }
      const closeClock = await sendClock(paths);
      try {
        const clock = await waitFor(
          "the restored VM to set its clock (a 'lab: clock set' line on its console)",
          async () => {
            alive();
            return parseClockLine(await readText(paths.console));
          },
          { timeoutMs: 30_000, intervalMs: 50 },
        );
        if (!clock.ipvs) throw new HarnessError('ERR_LVS_NO_IPVS', 'the restored lab has no ip_vs loaded');
        if (Math.abs(clock.epoch * 1000 - Date.now()) > 5_000) throw new HarnessError('ERR_LVS_LAB_SAVED', `the restored lab's clock is ${((clock.epoch * 1000 - Date.now()) / 1000).toFixed(1)} s off the host's`);
      } finally {
        closeClock();
      }
      await waitFor('the lab Docker API to answer over TLS', async () => (alive(), docker.ping().then(() => true)), { timeoutMs: 60_000, intervalMs: 200 });
      log(`lab restored in ${((Date.now() - t0) / 1000).toFixed(1)} s: kernel ${artifacts.kernelVersion}, ip_vs loaded, ${state.nodeImageTag} (saved ${path.basename(o.restore.dir)}; \`lab up --cold\` boots instead)`);
    } else {
      let seen = 0;
      const c = await waitFor(
        'the lab VM to report ready on its console',
        async () => {
          alive();
          const text = await readFile(paths.console, 'utf8').catch(() => '');
          const cs = parseConsole(text);
          for (const s of cs.steps.slice(seen)) log(`  vm: ${s}`);
          seen = cs.steps.length;
          if (cs.phase === 'failed') throw Object.assign(new Error(cs.error ?? 'boot failed'), { fatal: true });
          return cs.phase === 'ready' ? cs : undefined;
        },
        { timeoutMs: o.timeoutMs, intervalMs: 250 },
      );
      if (!c.ipvs) throw new HarnessError('ERR_LVS_NO_IPVS', `the lab kernel ${c.kernel} booted without ip_vs`);
      await waitFor('the lab Docker API to answer over TLS', () => docker.ping().then(() => true), { timeoutMs: 60_000, intervalMs: 500 });
      log(`lab ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: kernel ${c.kernel}, ip_vs loaded, ${state.nodeImageTag}`);
      if (o.saveAs && overlay) {
        // once per lab build: every later `lab up` restores this instead of booting
        try {
          const r = await saveLab(paths, o.saveAs, overlay, { release: state.release, kernel: c.kernel, nodeImageTag: state.nodeImageTag, memoryMiB, cpus, accel });
          log(`lab saved for a quick start next time in ${r.seconds.toFixed(1)} s (${Math.round(r.bytes / 2 ** 20)} MiB)`);
        } catch (e) {
          log(`the booted lab could not be saved (${(e as Error).message}); it runs on, and the next up boots cold again`);
        }
        await waitFor('the lab Docker API to answer after the save', () => docker.ping().then(() => true), { timeoutMs: 60_000, intervalMs: 200 });
      }
    }
  } catch (e) {
    const consoleText = await readFile(paths.console, 'utf8').catch(() => '');
    const qemuText = await readFile(qemuLog, 'utf8').catch(() => '');
    await stopVm(paths, state, log);
    unregister();
    const why = e instanceof HarnessError ? e.message : e instanceof Error ? e.message : String(e);
    // a booting kernel that panicked says so, whichever was noticed first (the console's line or the VM's exit)
    const panic = o.restore ? undefined : bootPanic(consoleText);
    const said = panic && !why.includes(panic.line) ? `; its kernel panicked while booting (${[panic.oops, panic.line].filter(Boolean).join('; ')})` : '';
    throw new HarnessError('ERR_LVS_LAB_BOOT', `the lab did not come up: ${why}${said}`, {
      hint: `nothing is left running. Last console lines:\n${tail(consoleText, 15)}${qemuText.trim() ? `\nqemu said:\n${tail(qemuText, 5)}` : ''}`,
      cause: e,
      ...(panic ? { details: { panic } } : {}),
    });
  }
  await writeFile(paths.state, JSON.stringify({ ...state, ready: true }, null, 2));
  unregister();
  return labStatus({ paths });
}

/**
 * Stops the VM: SIGTERM, then SIGKILL after a deadline; removes its state. Idempotent. With a
 * release named, a running lab of another release is left alone (and named in `otherRelease`).
 */
export async function labDown(opts: { paths?: LabPaths; log?: Logger; release?: LabRelease } = {}): Promise<{ stopped: number[]; otherRelease?: LabRelease }> {
  const paths = opts.paths ?? labPaths();
  const log = opts.log ?? defaultLog;
  const st = await readState(paths);
  if (st && (await isOurQemu(st.pid, st.rootImage)) && decideDown({ running: stateRelease(st), wanted: opts.release }) === 'other-release')
    return { stopped: [], otherRelease: stateRelease(st) };
  const stopped: number[] = [];
  if (st) stopped.push(...(await stopVm(paths, st, log)));
  // any VM of this lab home that lost its state file (a crashed harness) goes too
  for (const pid of await findOurQemus(paths)) {
    await killAndWait(pid, log);
    stopped.push(pid);
  }
  await clearStale(paths, log);
  return { stopped: [...new Set(stopped)] };
}

async function stopVm(paths: LabPaths, st: LabState, log: Logger): Promise<number[]> {
  const stopped: number[] = [];
  if (await isOurQemu(st.pid, st.rootImage)) {
    await killAndWait(st.pid, log);
    stopped.push(st.pid);
  }
  await clearStale(paths, log);
  return stopped;
}

async function killAndWait(pid: number, log: Logger) {
  // a zombie (a VM this process or its parent started, killed, not yet reaped) is not alive
  const alive = () => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 50 && alive(); i++) await sleep(100);
  if (alive()) {
    log(`VM pid ${pid} ignored SIGTERM for 5 s; sending SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (let i = 0; i < 50 && alive(); i++) await sleep(100);
  }
  // a zombie child of this process still shows in /proc until reaped; it is not running
}

/** Removes the state of a lab that is not running; keeps the last console log for diagnosis. */
async function clearStale(paths: LabPaths, _log: Logger) {
  const st = await readState(paths);
  if (st && (await isOurQemu(st.pid, st.rootImage))) return;
  await rename(paths.console, paths.lastConsole).catch(() => {});
  await rm(paths.run, { recursive: true, force: true });
}
