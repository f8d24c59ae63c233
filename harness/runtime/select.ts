import { access, readFile } from 'node:fs/promises';
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';
import { readArtifacts } from '../lab/build.js';
import { labPaths } from '../lab/paths.js';
import type { LabRelease } from '../lab/recipe.js';
import { watchLab } from '../lab/watchdog.js';
import { decideUp, endpointOf, labDown, labStatus, labUp, otherReleaseRunning, readState, stateRelease, type UpOptions } from '../lab/vm.js';
import type { LabRequest } from './release.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { describeEndpoint, dockerFromEndpoint, parseDockerHost, type Endpoint } from '../util/docker.js';
import { ensureNodeImage, runOnce } from './node-image.js';

/** What the local Docker engine can do, as probed (see probeLocalEngine). */
export interface LocalProbe {
  /** an engine answered on the local socket */
  engine: boolean;
  socketPath?: string;
  /** a NET_ADMIN container could run `ipvsadm -Ln`; undefined when that was not tried */
  ipvs?: boolean;
  detail: string;
}

export type RuntimeChoice =
  | { kind: 'explicit'; endpoint: Endpoint; source: '--docker-host' | 'DOCKER_HOST'; reason: string }
  | { kind: 'local'; endpoint: Endpoint; reason: string }
  | { kind: 'lab'; reason: string };

/**
 * Where to run, in order: an explicit --docker-host or DOCKER_HOST; else, with a lab release
 * asked (--release), the lab; else the local engine if it can run IPVS; else the embedded lab.
 * (A release beside an explicit engine is refused before this, by labRequest.)
 */
export function chooseRuntime(input: { flag?: string; env: NodeJS.ProcessEnv; local: LocalProbe; release?: LabRelease }): RuntimeChoice {
  if (input.flag) return { kind: 'explicit', endpoint: parseDockerHost(input.flag, input.env), source: '--docker-host', reason: `--docker-host ${input.flag}` };
  if (input.env.DOCKER_HOST)
    return { kind: 'explicit', endpoint: parseDockerHost(input.env.DOCKER_HOST, input.env), source: 'DOCKER_HOST', reason: `DOCKER_HOST=${input.env.DOCKER_HOST}` };
  if (input.release) return { kind: 'lab', reason: `--release ${input.release} chooses the lab` };
  if (input.local.engine && input.local.ipvs && input.local.socketPath)
    return { kind: 'local', endpoint: { kind: 'socket', socketPath: input.local.socketPath }, reason: `the local engine runs IPVS (${input.local.detail})` };
  return { kind: 'lab', reason: input.local.engine ? `the local engine cannot run IPVS (${input.local.detail})` : `no local Docker engine (${input.local.detail})` };
}

/** Facts about the host kernel that decide quickly whether a local engine could run IPVS. */
export async function hostKernelIpvs(): Promise<{ ipvs: 'loaded' | 'loadable' | 'absent'; detail: string }> {
  const exists = (p: string) => access(p).then(() => true, () => false);
  if ((await exists('/proc/net/ip_vs')) || (await exists('/sys/module/ip_vs'))) return { ipvs: 'loaded', detail: 'ip_vs is loaded in the host kernel' };
  const modulesOn = await exists('/proc/modules');
  let release = '';
  try {
    release = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
  } catch {
    /* unusual */
  }
  if (modulesOn && release && (await exists(`/lib/modules/${release}/kernel/net/netfilter/ipvs`)))
    return { ipvs: 'loadable', detail: `ip_vs is a module of ${release} (modprobe ip_vs loads it)` };
  return { ipvs: 'absent', detail: `the host kernel ${release} has no ip_vs${modulesOn ? '' : ' and cannot load modules'}` };
}

export async function probeLocalEngine(log: Logger = defaultLog): Promise<LocalProbe> {
  const socketPath = '/var/run/docker.sock';
  try {
    await access(socketPath);
  } catch {
    return { engine: false, detail: `nothing at ${socketPath}` };
  }
  const docker = dockerFromEndpoint({ kind: 'socket', socketPath });
  try {
    await docker.ping();
  } catch (e) {
    return { engine: false, socketPath, detail: `${socketPath} does not answer: ${(e as Error).message}` };
  }
  const k = await hostKernelIpvs();
  if (k.ipvs === 'absent') return { engine: true, socketPath, ipvs: false, detail: k.detail };
  // the real probe: a NET_ADMIN container from the node image runs ipvsadm -Ln
  const artifacts = await readArtifacts();
  if (!artifacts) return { engine: true, socketPath, ipvs: false, detail: `${k.detail}, but the node image is not built yet to probe with` };
  try {
    await ensureNodeImage(docker, artifacts.nodeImageTag, artifacts.nodeRootfsTar, log);
    const r = await runOnce(docker, artifacts.nodeImageTag, ['ipvsadm', '-Ln'], { capAdd: ['NET_ADMIN'] });
    return r.exitCode === 0
      ? { engine: true, socketPath, ipvs: true, detail: 'a NET_ADMIN container ran ipvsadm -Ln' }
      : { engine: true, socketPath, ipvs: false, detail: `ipvsadm -Ln in a NET_ADMIN container failed: ${r.output.trim()}` };
  } catch (e) {
    return { engine: true, socketPath, ipvs: false, detail: `probe failed: ${(e as Error).message}` };
  }
}

export interface Runtime {
  kind: RuntimeChoice['kind'];
  endpoint: Endpoint;
  docker: Docker;
  reason: string;
  nodeImage: string;
  /** the lab's Debian release (from its state file); absent on an engine that is not the lab */
  release?: LabRelease;
}

/** What results.json keeps of a runtime (its `runtime` section). */
export function runtimeRecord(rt: Pick<Runtime, 'kind' | 'reason' | 'nodeImage' | 'release'>): { kind: string; reason: string; nodeImage: string; release?: string } {
  return { kind: rt.kind, reason: rt.reason, nodeImage: rt.nodeImage, ...(rt.release ? { release: rt.release } : {}) };
}

/**
 * A command's `--release` against the lab that runs, before anything is built or recorded: a lab
 * of another release running, without `--restart`, is the refusal `lab up` gives
 * (ERR_LVS_LAB_OTHER_RELEASE, naming both and `--restart`). labUp decides again when called.
 */
export async function checkLabRelease(lab: LabRequest | undefined, status: () => Promise<{ running: boolean; release?: LabRelease; pid: number | null }> = () => labStatus({ probeDocker: false })): Promise<void> {
  if (!lab?.release) return;
  const st = await status();
  const d = decideUp({ running: st.running ? st.release : undefined, wanted: lab.release, restart: lab.restart });
  if (d.action === 'refuse') throw otherReleaseRunning(d, st.pid, lab.command);
}

/** Resolves where to run and makes it ready: the lab is started when chosen; the node image is ensured. */
export async function resolveRuntime(opts: { dockerHost?: string; env?: NodeJS.ProcessEnv; log?: Logger; lab?: UpOptions; startLab?: boolean } = {}): Promise<Runtime> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? defaultLog;
  // a release asked means the lab: no local engine is probed
  const needProbe = !opts.dockerHost && !env.DOCKER_HOST && !opts.lab?.release;
  const local: LocalProbe = needProbe ? await probeLocalEngine(log) : { engine: false, detail: 'not probed' };
  const choice = chooseRuntime({ flag: opts.dockerHost, env, local, ...(opts.lab?.release ? { release: opts.lab.release } : {}) });
  log(`runtime: ${choice.kind} — ${choice.reason}`);
  if (choice.kind === 'lab') {
    if (opts.startLab === false && !(await readState()))
      throw new HarnessError('ERR_LVS_LAB_DOWN', 'the lab is not running', { hint: 'start it with `lvs-harness lab up` (or `lvs-harness up <topology>`)' });
    await labUp({ ...opts.lab, log });
    // a kernel that locks up under the run stops the VM, so that calls fail now with that cause
    watchLab({ log, stop: () => labDown({ log: () => {} }) });
    const st = await readState();
    if (!st) throw new HarnessError('ERR_LVS_LAB_STATE', `the lab started but left no state in ${labPaths().state}`);
    const endpoint = endpointOf(st);
    return { kind: 'lab', endpoint, docker: dockerFromEndpoint(endpoint), reason: choice.reason, nodeImage: st.nodeImageTag, release: stateRelease(st) };
  }
  const docker = dockerFromEndpoint(choice.endpoint);
  try {
    await docker.ping();
  } catch (e) {
    throw new HarnessError('ERR_LVS_DOCKER_UNREACHABLE', `the Docker engine at ${describeEndpoint(choice.endpoint)} (${choice.reason}) does not answer: ${(e as Error).message}`, {
      hint: 'check the address and credentials, or unset DOCKER_HOST to use the embedded lab',
    });
  }
  const artifacts = await readArtifacts(opts.lab?.release);
  if (!artifacts) throw new HarnessError('ERR_LVS_LAB_NOT_BUILT', 'the node image has not been built', { hint: `run \`lvs-harness lab build${opts.lab?.release ? ` --release ${opts.lab.release}` : ''}\` as root` });
  await ensureNodeImage(docker, artifacts.nodeImageTag, artifacts.nodeRootfsTar, log);
  return { kind: choice.kind, endpoint: choice.endpoint, docker, reason: choice.reason, nodeImage: artifacts.nodeImageTag };
}
