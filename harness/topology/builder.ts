import { hostname } from 'node:os';
import type Docker from 'dockerode';
import { HarnessError, isHarnessError } from '../errors.js';
import { DEFAULT_BODY_SIZES, HEALTH_FLAG, NGINX_CONF, UDP_ECHO, bodyFilesScript, renderNginxConf, udpEchoSource } from '../images/rs-app.js';
import { diffRules, parseSave, renderRestore } from '../ipvs/rules.js';
import { mergeTable, parseList, parseStats, type TableService } from '../ipvs/table.js';
import { execIn, type ExecResult } from '../runtime/exec.js';
import { NodeShell } from '../runtime/node-shell.js';
import { HARNESS_LABEL } from '../runtime/node-image.js';
import type { Runtime } from '../runtime/select.js';
import { onCleanup } from '../util/cleanup.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { sleep, waitFor } from '../util/wait.js';
import { KEEPALIVED_TEST_EXIT, keepalivedTestArgv, parseKeepalivedTestOutput, renderKeepalivedConf } from '../keepalived/render.js';
import type { HealthCheck, KeepalivedConfig } from '../keepalived/model.js';
import { checkTiming, failoverBound, healthRemovalBound } from '../keepalived/bound.js';
import { HAPROXY_CFG, HAPROXY_LOG, haproxyRemovalBoundMs, haproxyStatArgv, parseHaproxyStat, renderHaproxyConf } from '../haproxy/config.js';
import { DAEMON_WAIT_S, NODE_SCRIPT_EXIT, nodeScript, readNodeScriptFailure, type NodeScriptSpec } from './node-script.js';
import { KEEPALIVED_CONF, KEEPALIVED_LOG, MISC_CHECK, VRRP_LOG, VRRP_NOTIFY, type Plan, type PlannedNode } from './planner.js';

export const L = {
  base: HARNESS_LABEL,
  topology: `${HARNESS_LABEL}.topology`,
  plan: `${HARNESS_LABEL}.plan`,
  node: `${HARNESS_LABEL}.node`,
  role: `${HARNESS_LABEL}.role`,
  owner: `${HARNESS_LABEL}.owner`,
  keep: `${HARNESS_LABEL}.keep`,
} as const;

const owner = () => `${hostname()}:${process.pid}`;

/** Bumped when the builder makes containers differently (e.g. with an init), so running ones from before are replaced, not reused. */
const BUILDER_REVISION = 3;
const planLabel = (plan: Plan) => `${plan.hash}.${BUILDER_REVISION}`;

/** A cause of a failed verification, as a build error states it (diagnose/types.ts Cause is one). */
export interface BuildCause {
  sentence: string;
  evidence: readonly { node: string; command: string; lines: readonly string[]; note?: string }[];
  fix: string;
}

/**
 * Why a verification failed, from the nodes' evidence read before the failed build is torn down.
 * The cause rules sit above the topology they read (diagnose/), so the builder's caller passes
 * them in (suite/evidence.ts buildExplainer); without them a build error names no cause.
 */
export interface BuildExplainer {
  /** why director d's IPVS table read back is not the model's */
  ipvsMismatch(st: StartedTopology, d: PlannedNode): Promise<BuildCause[]>;
  /** why a VRRP instance is held by more than one director */
  splitBrain(st: StartedTopology, instance: string): Promise<BuildCause[]>;
}

/** A topology whose containers run and whose IPVS tables match the plan. */
export class StartedTopology {
  constructor(
    readonly plan: Plan,
    readonly docker: Docker,
    readonly containers: Map<string, Docker.Container>,
    readonly reused: boolean,
    readonly timings: Record<string, number>,
    /** what explains a failed verification (waitForVrrp's split brain too) */
    readonly explain?: BuildExplainer,
  ) {}

  node(name: string): PlannedNode {
    const n = this.plan.nodes.find((x) => x.name === name);
    if (!n) throw new HarnessError('ERR_LVS_NO_NODE', `topology ${this.plan.topology} has no node "${name}" (${this.plan.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  nodes(role: PlannedNode['role']): PlannedNode[] {
    return this.plan.nodes.filter((n) => n.role === role);
  }

  container(name: string): Docker.Container {
    this.node(name);
    return this.containers.get(name)!;
  }

  /**
   * Runs argv in a node: over the node's shell (one process per node, see runtime/node-shell.ts),
   * or by docker exec while the node has none (stopped, paused, or LVSH_NODE_SHELL=0).
   */
  async exec(name: string, argv: readonly string[], opts?: Parameters<typeof execIn>[2]): Promise<ExecResult> {
    const shell = process.env.LVSH_NODE_SHELL === '0' || this.suspended.has(name) ? undefined : await this.shellOf(name);
    return shell?.alive ? shell.run(argv, opts) : execIn(this.container(name), argv, opts);
  }

  private readonly shells = new Map<string, Promise<NodeShell | undefined>>();
  private readonly shellRetryAt = new Map<string, number>();

  private shellOf(name: string): Promise<NodeShell | undefined> {
    const cur = this.shells.get(name);
    if (!cur) return this.openShell(name, undefined);
    return cur.then((sh) => (sh?.alive ? sh : this.shells.get(name) === cur ? this.openShell(name, cur) : this.shellOf(name)));
  }

  private openShell(name: string, replacing: Promise<NodeShell | undefined> | undefined): Promise<NodeShell | undefined> {
    if (this.shells.get(name) !== replacing) return this.shellOf(name);
    // a node that could not open one (stopped, paused) is asked again at most once a second
    if ((this.shellRetryAt.get(name) ?? 0) > Date.now()) return Promise.resolve(undefined);
    const p = NodeShell.open(this.container(name)).then((sh) => {
      if (!sh) this.shellRetryAt.set(name, Date.now() + 1_000);
      return sh;
    });
    this.shells.set(name, p);
    return p;
  }

  private readonly suspended = new Set<string>();

  /**
   * Before a node is frozen (docker pause): no new command goes to its shell, and the ones in
   * flight are waited for (at most `timeoutMs`), so that the freeze never catches the shell
   * starting a process (the cgroup v1 freezer and a process caught between fork and exec can
   * wait on each other for ever). The shell itself stays, frozen with the node; until
   * resumeShell, commands go by docker exec and fail as Docker says ("is paused").
   */
  async suspendShell(name: string, timeoutMs = 5_000): Promise<void> {
    this.suspended.add(name);
    const p = this.shells.get(name);
    const sh = p && (await Promise.race([p, sleep(timeoutMs).then(() => undefined)]));
    const until = Date.now() + timeoutMs;
    while (sh?.alive && sh.busy > 0 && Date.now() < until) await sleep(20);
  }

  /** After the node is thawed: its shell takes commands again. */
  resumeShell(name: string): void {
    this.suspended.delete(name);
  }

  /** Starts opening a node's shell now, so that the next command finds it open. */
  warmShell(name: string): void {
    if (process.env.LVSH_NODE_SHELL !== '0') void this.shellOf(name);
  }

  /**
   * Closes a node's shell before its container is stopped, killed or restarted (a pause suspends
   * it instead): until a new one opens, commands go by docker exec and fail as docker says ("is not running").
   */
  dropShell(name: string): Promise<void> {
    const p = this.shells.get(name);
    this.shells.delete(name);
    this.shellRetryAt.delete(name);
    return p ? p.then((sh) => sh?.close()) : Promise.resolve();
  }

  /** Ends every node's shell and waits until each has exited (at most 2 s). */
  async closeShells(): Promise<void> {
    await Promise.all([...this.shells.keys()].map((name) => this.dropShell(name)));
  }

  /** The director's IPVS table with its counters (`-Ln` merged with `-Ln --stats --exact`). */
  async ipvs(name: string): Promise<TableService[]> {
    // one exec for both listings
    const SEP = '--lvsh-stats--';
    const out = (await this.exec(name, ['sh', '-c', `ipvsadm -Ln && echo ${SEP} && ipvsadm -Ln --stats --exact`])).stdout;
    const at = out.indexOf(`${SEP}\n`);
    return mergeTable(parseList(out.slice(0, at)), parseStats(out.slice(at + SEP.length + 1)));
  }

  async setHealth(name: string, healthy: boolean): Promise<void> {
    await this.exec(name, healthy ? ['rm', '-f', HEALTH_FLAG] : ['touch', HEALTH_FLAG]);
  }

  /**
   * Brings a node back to its planned state after a fault: starts (or unpauses) its container
   * and re-applies what the builder configured (addresses, routes, iptables, the app,
   * keepalived). Safe to call on a node that is already fine.
   */
  async restoreNode(name: string): Promise<void> {
    const n = this.node(name);
    const c = this.container(name);
    const state = (await c.inspect()).State;
    if (!state.Running) void this.dropShell(name);
    if (state.Paused) await c.unpause();
    else if (!state.Running) await c.start();
    this.resumeShell(name);
    await configureNode(this, n);
  }

  /**
   * Which directors hold each address now (the VRRP MASTER holds its VIPs), one `ip addr` per
   * director. A killed or frozen director holds nothing a client can reach; any other failed
   * read makes the whole answer undefined rather than a false "nobody".
   */
  async holdersOf(addresses: readonly string[]): Promise<Map<string, string[]> | undefined> {
    const out = new Map(addresses.map((a) => [a, [] as string[]]));
    let unreadable = false;
    await Promise.all(
      this.nodes('director').map(async (d) => {
        try {
          const r = await this.exec(d.name, ['ip', '-o', '-4', 'addr', 'show'], { timeoutMs: 10_000 });
          for (const a of addresses) if (r.stdout.split('\n').some((l) => l.includes(` ${a}/`))) out.get(a)!.push(d.name);
        } catch (e) {
          if (!/is paused|is not running|not running/i.test((e as Error).message)) unreadable = true;
        }
      }),
    );
    if (unreadable) return undefined;
    for (const v of out.values()) v.sort();
    return out;
  }

  async holders(address: string): Promise<string[]> {
    return (await this.holdersOf([address]))?.get(address) ?? [];
  }

  async down(log: Logger = defaultLog): Promise<number> {
    await this.closeShells();
    return teardown(this.docker, { topology: this.plan.topology }, log);
  }
}

/** Removes containers and networks by label. Idempotent; returns how many things it removed. */
/** networks this process already said it had to leave (a run's teardown and its exit cleanup both meet them) */
const warnedStale = new Set<string>();

export async function teardown(docker: Docker, by: { topology?: string; all?: boolean }, log: Logger = defaultLog, o: { deadlineMs?: number } = {}): Promise<number> {
  const label = by.all ? [`${L.base}=true`] : [`${L.topology}=${by.topology}`];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  const networks = await docker.listNetworks({ filters: { label } });
  // Removed until gone, each retried: under emulation the engine can still hold a container's
  // endpoint on a network for a moment after the container went, and a network left behind
  // blocks every later build of the topology (its name is taken). What stays is said, not swallowed.
  const deadline = Date.now() + (o.deadlineMs ?? 60_000);
  const names = containers.map((c) => c.Names[0]?.replace(/^\//, '') ?? c.Id);
  let left: string[] = [];
  // network id → attempts in a row it was refused for "active endpoints" with nothing attached
  const staleFor = new Map<string, number>();
  const stale = new Map<string, string>();
  for (let attempt = 0; ; attempt++) {
    const cs = attempt ? await docker.listContainers({ all: true, filters: { label } }) : containers;
    const errors: string[] = [];
    await Promise.all(cs.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch((e: Error) => void (/no such container/i.test(e.message) || errors.push(`container ${c.Names[0]?.replace(/^\//, '') ?? c.Id}: ${e.message}`)))));
    const ns = (attempt ? await docker.listNetworks({ filters: { label } }) : networks).filter((n) => !stale.has(n.Id));
    for (const n of ns) {
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(async (e: Error) => {
          if (/not found|no such network/i.test(e.message)) return;
          // "has active endpoints" after its containers are gone: the engine kept a stale endpoint
          // (seen when several topologies are removed at once). It is let go by force-disconnecting
          // it by the container's name, which the engine still knows though the container is gone.
          if (/active endpoints/i.test(e.message)) {
            const attached = await releaseStaleEndpoints(docker, n.Id, names);
            // nothing attached, refused three times in a row: dockerd's endpoint count for it is off
            // (moby keeps a count apart from the endpoints; concurrent removals have left it one too
            // high). Nothing of the run is on it; the next build of the topology adopts it (adoptable),
            // and a restart of the engine (lab down / up) drops it
            const times = attached ? 0 : (staleFor.get(n.Id) ?? 0) + 1;
            staleFor.set(n.Id, times);
            if (times >= 3) {
              stale.set(n.Id, n.Name);
              return;
            }
          }
          errors.push(`network ${n.Name}: ${e.message}`);
        });
    }
    left = errors;
    if (!errors.length || Date.now() > deadline) break;
    await sleep(Math.min(2_000, 250 * 2 ** attempt));
  }
  for (const [id, name] of stale) {
    if (warnedStale.has(id)) continue;
    warnedStale.add(id);
    log(`network ${name} left in place: dockerd still counts an endpoint on it though nothing is attached (a Docker engine bug); the next build of ${by.topology ?? 'its topology'} reuses it, and restarting the engine (lvs-harness lab down, then up) removes it`);
  }
  if (left.length) throw new HarnessError('ERR_LVS_TEARDOWN', `could not remove everything of ${by.topology ?? 'the topologies'}:\n  ${left.join('\n  ')}`, { hint: 'remove them by hand with docker rm -f / docker network rm, then run again' });
  const removedNetworks = networks.filter((n) => !stale.has(n.Id)).length;
  if (containers.length || removedNetworks) log(`removed ${containers.length} containers and ${removedNetworks} networks${by.topology ? ` of ${by.topology}` : ''}`);
  return containers.length + removedNetworks;
}

/**
 * Whether an existing network may stand in for a planned one: it carries the topology's label and
 * the planned name and subnets, and nothing is attached to it. Says what it checked, or undefined.
 */
export async function adoptable(docker: Docker, n: Plan['networks'][number], topology: string): Promise<string | undefined> {
  const info = (await docker
    .getNetwork(n.dockerName)
    .inspect()
    .catch(() => undefined)) as { Name?: string; Labels?: Record<string, string>; IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] }; Containers?: Record<string, unknown> } | undefined;
  if (!info || info.Name !== n.dockerName || info.Labels?.[L.topology] !== topology) return undefined;
  const subnets = (info.IPAM?.Config ?? []).map((c) => c.Subnet).sort();
  const want = [n.subnet, ...(n.subnet6 ? [n.subnet6] : [])].sort();
  if (JSON.stringify(subnets) !== JSON.stringify(want)) return undefined;
  if (Object.keys(info.Containers ?? {}).length) return undefined;
  return `subnets ${want.join(', ')}, nothing attached`;
}

/**
 * Force-disconnects what a network still lists as attached (and the removed containers by name,
 * which a stale endpoint may still carry without being listed), so that the network can go.
 */
async function releaseStaleEndpoints(docker: Docker, networkId: string, removed: string[]): Promise<number> {
  const net = docker.getNetwork(networkId);
  const info = (await net.inspect().catch(() => undefined)) as { Containers?: Record<string, { Name?: string }> } | undefined;
  const attached = Object.entries(info?.Containers ?? {}).map(([id, c]) => c.Name ?? id);
  for (const who of new Set([...attached, ...removed])) await net.disconnect({ Container: who, Force: true }).catch(() => {});
  return attached.length;
}

/** Removes what crashed harness runs on this host left behind (their owner process is gone). */
export async function reap(docker: Docker, log: Logger = defaultLog): Promise<number> {
  const host = hostname();
  const dead = (o: string | undefined) => {
    if (!o) return false;
    const [h, pid] = o.split(':');
    if (h !== host || !pid) return false;
    try {
      process.kill(Number(pid), 0);
      return false;
    } catch {
      return true;
    }
  };
  const containers = (await docker.listContainers({ all: true, filters: { label: [`${L.base}=true`, `${L.keep}=false`] } })).filter((c) => dead(c.Labels[L.owner]));
  const topologies = new Set(containers.map((c) => c.Labels[L.topology]!));
  let n = 0;
  for (const t of topologies) n += await teardown(docker, { topology: t }, () => {});
  if (n) log(`reaped ${n} leftovers of crashed runs (${[...topologies].join(', ')})`);
  return n;
}

export interface BuildOptions {
  /** leave it running after this process exits (`lvs-harness up`); otherwise it is removed on exit */
  keep?: boolean;
  log?: Logger;
  /** reuse a running topology built from the same plan (default true) */
  reuse?: boolean;
  /** the causes a failed verification's error names */
  explain?: BuildExplainer;
}

/** Creates (or reuses) the topology's networks and containers and configures them; verifies IPVS. */
export async function buildTopology(rt: Runtime, plan: Plan, opts: BuildOptions = {}): Promise<StartedTopology> {
  const log = opts.log ?? defaultLog;
  const docker = rt.docker;
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  await reap(docker, log);
  const existing = await docker.listContainers({ all: true, filters: { label: [`${L.topology}=${plan.topology}`] } });
  // networks of the topology without its containers (a teardown cut short): removed, or their names block the build
  if (!existing.length && (await docker.listNetworks({ filters: { label: [`${L.topology}=${plan.topology}`] } })).length) await teardown(docker, { topology: plan.topology }, log);
  if (existing.length) {
    const same = existing.length === plan.nodes.length && existing.every((c) => c.Labels[L.plan] === planLabel(plan) && c.State === 'running');
    if (same && opts.reuse !== false) {
      log(`reusing the running topology ${plan.topology} (plan ${plan.hash})`);
      const containers = new Map(existing.map((c) => [c.Labels[L.node]!, docker.getContainer(c.Id)]));
      const st = new StartedTopology(plan, docker, containers, true, timings, opts.explain);
      await verifyIpvs(st, log);
      await verifyHaproxy(st, log);
      return st;
    }
    log(`replacing the running topology ${plan.topology} (its plan differs or it is incomplete)`);
    await teardown(docker, { topology: plan.topology }, log);
  }

  const labels = (extra: Record<string, string> = {}) => ({
    [L.base]: 'true',
    [L.topology]: plan.topology,
    [L.plan]: planLabel(plan),
    [L.owner]: owner(),
    [L.keep]: opts.keep ? 'true' : 'false',
    ...extra,
  });
  const unregister = opts.keep ? () => {} : onCleanup(`topology ${plan.topology}`, () => teardown(docker, { topology: plan.topology }, log).then(() => {}));
  try {
    await Promise.all(plan.networks.map((n) =>
      docker
        .createNetwork({
          Name: n.dockerName,
          Driver: 'bridge',
          CheckDuplicate: true,
          EnableIPv6: !!n.subnet6,
          IPAM: { Driver: 'default', Config: [{ Subnet: n.subnet, Gateway: n.gateway }, ...(n.subnet6 ? [{ Subnet: n.subnet6, Gateway: n.gateway6! }] : [])] },
          // NAT-mode packets bridged to a real server must keep the client's address
          Options: { 'com.docker.network.bridge.enable_ip_masquerade': 'false' },
          Labels: labels(),
        })
        .catch(async (e: Error) => {
          // a network of this topology that a teardown had to leave (dockerd's stale endpoint count):
          // the same name and subnets and nothing attached, so it is taken as it is
          const adopted = await adoptable(docker, n, plan.topology);
          if (adopted) {
            log(`network ${n.dockerName}: reusing the one a teardown left (dockerd would not let it go); ${adopted}`);
            return;
          }
          if (!/overlap/i.test(e.message)) throw e;
          const holders = (await docker.listNetworks()).filter((x) => x.IPAM?.Config?.some((c) => c.Subnet === n.subnet)).map((x) => x.Name);
          throw new HarnessError('ERR_LVS_SUBNET_IN_USE', `network ${n.name} of ${plan.topology}: subnet ${n.subnet} is already used by ${holders.join(', ') || 'another network of this engine'}`, {
            hint: `remove that topology (lvs-harness down --all) or give ${plan.topology} another subnet`,
          });
        }),
    ));
    timings.networks = Date.now() - t0;
    const netId = new Map(plan.networks.map((n) => [n.name, n.dockerName]));
    const containers = new Map<string, Docker.Container>();
    await Promise.all(
      plan.nodes.map(async (n) => {
        const [first, ...rest] = n.interfaces;
        const c = await docker.createContainer({
          name: n.container,
          Hostname: n.name,
          Image: rt.nodeImage,
          Cmd: ['sleep', 'infinity'],
          Labels: labels({ [L.node]: n.name, [L.role]: n.role }),
          // an init as PID 1 reaps what daemons (nginx, keepalived) orphan: a killed app must not linger as a zombie that looks alive
          HostConfig: { CapAdd: n.capAdd, Sysctls: n.sysctls, NetworkMode: netId.get(first!.network), Init: true },
          NetworkingConfig: { EndpointsConfig: { [netId.get(first!.network)!]: { IPAMConfig: ipam(first!) } } },
        });
        for (const i of rest) await docker.getNetwork(netId.get(i.network)!).connect({ Container: c.id, EndpointConfig: { IPAMConfig: ipam(i) } });
        try {
          await c.start();
        } catch (e) {
          throw new HarnessError('ERR_LVS_NODE_START', `node ${n.name} (${n.role}) did not start: ${(e as Error).message}`, {
            hint: Object.keys(n.sysctls).length ? `its sysctls were ${JSON.stringify(n.sysctls)}` : undefined,
          });
        }
        containers.set(n.name, c);
      }),
    );
    timings.containers = Date.now() - t0;
    const st = new StartedTopology(plan, docker, containers, false, timings, opts.explain);
    await Promise.all(plan.nodes.map((n) => configureNode(st, n)));
    timings.configured = Date.now() - t0;
    await verifyIpvs(st, log);
    await verifyHaproxy(st, log);
    if (plan.vrrp) {
      await waitForVrrp(st);
      log(`VRRP settled: ${plan.vrrp.map((v) => `${v.name} MASTER ${v.master}`).join(', ')}`);
    }
    timings.total = Date.now() - t0;
    if (opts.keep) unregister();
    return st;
  } catch (e) {
    // the build's own error is the one to see; what teardown could not remove is said beside it
    await teardown(docker, { topology: plan.topology }, () => {}).catch((t: Error) => log(`after the failed build: ${t.message}`));
    unregister();
    throw e;
  }
}

const ipam = (i: PlannedNode['interfaces'][number]) => ({ IPv4Address: i.address, ...(i.address6 ? { IPv6Address: i.address6 } : {}) });

/** Interface names by address, as the node sees them (Docker names them in attach order). */
export async function devicesByAddress(st: StartedTopology, node: string): Promise<Map<string, string>> {
  const out = (await st.exec(node, ['ip', '-o', '-4', 'addr', 'show'])).stdout;
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const x = line.match(/^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+([\d.]+)\//);
    if (x) m.set(x[2]!, x[1]!);
  }
  return m;
}

async function configureNode(st: StartedTopology, n: PlannedNode): Promise<void> {
  const devs = await devicesByAddress(st, n.name);
  const devOf = (network: string) => {
    const i = n.interfaces.find((x) => x.network === network)!;
    const d = devs.get(i.address);
    if (!d) throw new HarnessError('ERR_LVS_CONFIGURE', `node ${n.name}: no interface holds ${i.address} (network ${network})`);
    return d;
  };
  // idempotent throughout: restoreNode runs it again on a node that may be half configured.
  // One exec for all of it (see node-script.ts): under emulation each exec costs half a second or more
  const spec: NodeScriptSpec = { steps: [], dirs: [], files: [], checks: [], daemons: [] };
  for (const l of n.linksUp) spec.steps.push({ argv: ['ip', 'link', 'set', l, 'up'] });
  for (const a of n.addresses) {
    const dev = 'dev' in a.on ? a.on.dev : devOf(a.on.network);
    // IPv6: skip duplicate address detection, or the address stays tentative (unusable) for a second or more
    spec.steps.push({ argv: ['ip', 'addr', 'replace', `${a.address}/${a.prefix}`, 'dev', dev, ...(a.address.includes(':') ? ['nodad'] : [])] });
  }
  for (const r of n.routes) spec.steps.push({ argv: ['ip', ...(r.family === 6 ? ['-6'] : []), 'route', 'replace', 'default', 'via', r.via] });
  for (const c of n.commands) {
    const a = c.argv.indexOf('-A');
    // an iptables rule that is already there (-C finds it) is not appended twice
    spec.steps.push({ argv: [...c.argv], ...(c.argv[0] === 'iptables' && a > 0 ? { unless: c.argv.map((x, i) => (i === a ? '-C' : x)) } : {}) });
  }
  // HAProxy before keepalived: a vrrp_script that tracks it must find it running
  let haproxyConf = '';
  if (n.haproxy) {
    haproxyConf = renderHaproxyConf(n.haproxy);
    spec.dirs.push('/etc/haproxy', '/run/lvs-harness');
    spec.files.push({ path: HAPROXY_CFG, text: haproxyConf });
    spec.checks.push({ tool: 'haproxy', argv: ['haproxy', '-c', '-f', HAPROXY_CFG] });
    spec.daemons.push({ process: 'haproxy', argv: ['haproxy', '-db', '-f', HAPROXY_CFG], log: HAPROXY_LOG });
  }
  let keepalivedConf = '';
  if (n.keepalived) {
    // the operator's own files (validate), else the model rendered; `@net:<network>` names a device
    const bind = (text: string) => text.replace(/@net:([a-z][a-z0-9-]*)/g, (_, net: string) => devOf(net));
    const files = n.keepalivedFiles?.length ? n.keepalivedFiles.map((f) => ({ path: f.path, text: bind(f.text) })) : [{ path: KEEPALIVED_CONF, text: renderKeepalivedConf(bindInterfaces(n.keepalived, devOf)) }];
    keepalivedConf = files[0]!.text;
    spec.dirs.push('/etc/keepalived', '/opt/lvs-harness', '/run/lvs-harness');
    spec.files.push(...files, { path: VRRP_NOTIFY, text: NOTIFY_SCRIPT, mode: '755' }, { path: MISC_CHECK, text: MISC_CHECK_SCRIPT, mode: '755' });
    spec.checks.push({ tool: 'keepalived', argv: keepalivedTestArgv(files[0]!.path) });
    // /run is no tmpfs in a container: after a kill and a start the old pid files are still there,
    // and keepalived exits as "already running" when a new process happens to have an old pid
    spec.daemons.push({ process: 'keepalived', argv: ['keepalived', '--dont-fork', '--log-console', '--log-detail', '--use-file', files[0]!.path], log: KEEPALIVED_LOG, removeFirst: KEEPALIVED_PID_FILES });
  }
  if (n.app) {
    const rip = n.interfaces[0]!.address;
    const ipv6 = n.interfaces.some((i) => i.address6);
    spec.dirs.push('/etc/lvs-harness', '/opt/lvs-harness', '/run/lvs-harness');
    spec.files.push({ path: NGINX_CONF, text: renderNginxConf({ name: n.name, rip, httpPorts: n.app.httpPorts, ipv6 }) });
    // the bodies bench fetches (/bytes/<N>); other sizes bench writes itself
    spec.steps.push({ argv: ['sh', '-c', bodyFilesScript(DEFAULT_BODY_SIZES)] });
    spec.nginx = { conf: NGINX_CONF, healthUrl: `http://127.0.0.1:${n.app.httpPort}/health` };
    if (n.app.udpPorts.length) {
      spec.files.push({ path: UDP_ECHO, text: udpEchoSource() });
      const local = [...n.interfaces.flatMap((i) => [i.address, ...(i.address6 ? [i.address6] : [])]), ...n.addresses.map((a) => a.address)];
      spec.restart = { argv: ['node', UDP_ECHO, n.name, rip, n.app.udpPorts.join(','), ...local] };
    }
  }
  spec.dirs = [...new Set(spec.dirs)];
  // by docker exec, while the node's shell starts beside it for every later command
  st.warmShell(n.name);
  const r = await execIn(st.container(n.name), ['sh', '-c', nodeScript(spec)], { allowFailure: true, timeoutMs: 180_000 });
  if (r.exitCode === 0) return;
  const f = readNodeScriptFailure(r.stderr);
  const role = n.role === 'director' ? 'director' : 'node';
  if (r.exitCode === NODE_SCRIPT_EXIT.haproxyCheck) {
    const lines = haproxyConf.split('\n');
    // [ALERT] ... : config : parsing [/etc/haproxy/haproxy.cfg:12] : unknown keyword ...
    const said = f.said
      .split('\n')
      .filter((l) => /ALERT|WARNING/.test(l))
      .map((l) => {
        const line = Number(l.match(/haproxy\.cfg:(\d+)\]/)?.[1] ?? 0);
        return `${l.trim()}${line ? `   | ${lines[line - 1]?.trim() ?? ''}` : ''}`;
      });
    throw new HarnessError('ERR_LVS_HAPROXY_CONFIG', `director ${n.name}: haproxy -c rejected ${HAPROXY_CFG} (exit ${f.checkStatus}):\n  ${said.join('\n  ') || f.said.trim()}`, { details: { conf: haproxyConf } });
  }
  if (r.exitCode === NODE_SCRIPT_EXIT.keepalivedCheck) {
    const diags = parseKeepalivedTestOutput(f.said, KEEPALIVED_CONF);
    const lines = keepalivedConf.split('\n');
    throw new HarnessError(
      'ERR_LVS_KEEPALIVED_CONFIG',
      `director ${n.name}: keepalived -t rejected ${KEEPALIVED_CONF} (exit ${f.checkStatus}: ${KEEPALIVED_TEST_EXIT[f.checkStatus!] ?? 'unknown'}):\n  ${diags.map((d) => `${d.file}${d.line ? `:${d.line}` : ''}: ${d.message}${d.line ? `   | ${lines[d.line - 1]?.trim() ?? ''}` : ''}`).join('\n  ') || f.said.trim()}`,
      { details: { conf: keepalivedConf, stderr: f.said } },
    );
  }
  if (r.exitCode === NODE_SCRIPT_EXIT.daemon && f.daemon) {
    const d = spec.daemons.find((x) => x.process === f.daemon);
    const label = f.daemon === 'haproxy' ? 'HAProxy' : f.daemon;
    throw new HarnessError(f.daemon === 'haproxy' ? 'ERR_LVS_HAPROXY_START' : 'ERR_LVS_KEEPALIVED_START', `director ${n.name}: ${label} did not run within ${DAEMON_WAIT_S} s of its start; ${d?.log ?? 'its log'} ends:\n${f.said || '(nothing)'}`);
  }
  if (r.exitCode === NODE_SCRIPT_EXIT.health) throw new HarnessError('ERR_LVS_APP_START', `${role} ${n.name}: ${f.said}`);
  throw new HarnessError('ERR_LVS_EXEC_FAILED', `${role} ${n.name}: configuring it failed (exit ${r.exitCode}): ${(f.said || r.stdout).trim()}`);
}

// Fixed scripts, their inputs as arguments. The notify line: lab-clock milliseconds, instance, state, priority.
const NOTIFY_SCRIPT = `#!/bin/sh
# keepalived notify: $1 INSTANCE|GROUP, $2 name, $3 MASTER|BACKUP|FAULT|STOP, $4 priority
echo "$(date +%s%3N) $2 $3 $4" >> ${VRRP_LOG}
`;
const MISC_CHECK_SCRIPT = `#!/bin/sh
# MISC_CHECK: healthy when the real server's HTTP health URL answers 200
exec curl -fs -o /dev/null -m 2 "http://$1:$2$3"
`;

/** keepalived.conf with the node's device names for the `@net:<network>` references of the plan. */
export function bindInterfaces(c: KeepalivedConfig, devOf: (network: string) => string): KeepalivedConfig {
  const dev = (x: string) => (x.startsWith('@net:') ? devOf(x.slice(5)) : x);
  const g = c.globalDefs;
  return {
    ...c,
    ...(g ? { globalDefs: { ...g, ...(g.lvsSyncDaemon ? { lvsSyncDaemon: { ...g.lvsSyncDaemon, interface: dev(g.lvsSyncDaemon.interface) } } : {}) } } : {}),
    vrrpInstances: (c.vrrpInstances ?? []).map((i) => ({ ...i, interface: dev(i.interface), virtualIpaddress: i.virtualIpaddress.map((v) => ({ ...v, ...(v.dev ? { dev: dev(v.dev) } : {}) })) })),
  };
}

/** keepalived's pid files (Debian's build: the parent, the VRRP and checker children, BFD). */
const KEEPALIVED_PID_FILES = ['/run/keepalived.pid', '/run/vrrp.pid', '/run/checkers.pid', '/run/bfd.pid'];

/** HAProxy directors: every backend server UP by HAProxy's own checks (its stats socket), on every director. */
async function verifyHaproxy(st: StartedTopology, log: Logger): Promise<void> {
  await Promise.all(st.nodes('director').map((d) => verifyDirectorHaproxy(st, d, log)));
}

async function verifyDirectorHaproxy(st: StartedTopology, d: PlannedNode, log: Logger): Promise<void> {
  if (!d.haproxy) return;
  const want = d.haproxy.proxies.flatMap((p) => p.servers.map((x) => `${p.name}/${x.name}`));
  // HAProxy starts its servers UP and marks them DOWN after `fall` failed checks: hold through that window
  const windowMs = Math.max(...d.haproxy.proxies.map(haproxyRemovalBoundMs));
  let upSince: number | undefined;
  await waitFor(
    `HAProxy on ${d.name} to report every server UP for ${windowMs} ms`,
    async () => {
      const r = await st.exec(d.name, haproxyStatArgv, { allowFailure: true });
      const status = new Map((r.exitCode === 0 ? parseHaproxyStat(r.stdout) : []).map((x) => [`${x.proxy}/${x.server}`, x.status]));
      const down = want.filter((w) => status.get(w) !== 'UP');
      if (down.length) {
        upSince = undefined;
        throw new Error(`not UP: ${down.map((w) => `${w} (${status.get(w) ?? 'not listed'})`).join(', ')}`);
      }
      upSince ??= Date.now();
      return Date.now() - upSince >= windowMs;
    },
    { timeoutMs: 30_000 + windowMs, intervalMs: 500 },
  );
  log(`${d.name}: HAProxy checks every server UP (${want.length} servers)`);
}

/** A health check as a person names it: TCP_CHECK on port 8099, HTTP_GET /health for 200 on port 80. */
function describeCheck(c: HealthCheck): string {
  const port = 'connectPort' in c && c.connectPort ? ` on port ${c.connectPort}` : '';
  if (c.type === 'HTTP_GET') return `HTTP_GET ${c.url.path} for ${c.url.statusCode ?? 200}${port}`;
  if (c.type === 'MISC_CHECK') return `MISC_CHECK ${Array.isArray(c.miscPath) ? c.miscPath.join(' ') : c.miscPath}`;
  return `${c.type}${port}`;
}

/** The longest time keepalived's health checks may take to remove a failing real server (their removal bound). */
export function keepalivedSettleMs(c: KeepalivedConfig): number {
  const bounds = (c.virtualServers ?? []).flatMap((vs) => vs.realServers.map((rs) => healthRemovalBound(checkTiming(vs, rs)).boundMs));
  return Math.max(0, ...bounds);
}

/**
 * keepalived topologies: every VIP on exactly one director, the planned MASTER. Two holders that
 * stay two for three master-down intervals (at least 10 s) are split brain, not settling: each
 * director is MASTER and ignores the other (mismatched auth, a cut VRRP path), so the wait
 * stops there instead of running out its deadline.
 */
export async function waitForVrrp(st: StartedTopology, timeoutMs = 60_000): Promise<void> {
  // every VIP of every instance, read in one round of `ip addr` on the directors per poll
  const targets = (st.plan.vrrp ?? []).flatMap((v) => {
    const lowest = Math.min(...Object.values(v.priorities));
    const splitMs = Math.max(10_000, 3 * failoverBound({ version: v.version, advertInt: v.advertInt, backupPriority: lowest }).masterDownMs);
    return v.vips.map((x) => ({ v, address: x.address, splitMs, what: `${x.address} (${v.name}) to be held by ${v.master} alone`, last: [] as string[], bothSince: undefined as number | undefined }));
  });
  if (!targets.length) return;
  let split: (typeof targets)[number] | undefined;
  await waitFor(
    targets.length === 1 ? targets[0]!.what : targets.map((t) => t.what).join(', '),
    async () => {
      const held = await st.holdersOf(targets.map((t) => t.address));
      if (!held) throw new Error('a director could not be read');
      const waiting: string[] = [];
      for (const t of targets) {
        t.last = held.get(t.address) ?? [];
        if (t.last.length === 1 && t.last[0] === t.v.master) {
          t.bothSince = undefined;
          continue;
        }
        if (t.last.length > 1) {
          t.bothSince ??= Date.now();
          if (Date.now() - t.bothSince >= t.splitMs) {
            split = t;
            return true;
          }
        } else t.bothSince = undefined;
        waiting.push(`${t.address} held by ${t.last.join(', ') || 'no director'}`);
      }
      if (!waiting.length) return true;
      // the timeout message shows the last thing a probe threw
      throw new Error(waiting.join('; '));
    },
    { timeoutMs, intervalMs: 300 },
  );
  if (split) {
    const { v, what, last, bothSince, splitMs } = split;
    const heldFor = ((Date.now() - bothSince!) / 1000).toFixed(1);
    // why, read from the directors while both still hold it (the cause rule the checks use)
    const causes = await splitBrainCauses(st, v.name).catch(() => []);
    throw new HarnessError(
      'ERR_LVS_SPLIT_BRAIN',
      `split brain: waited for ${what}, but it was held by ${last.join(', ')} for ${heldFor} s, more than three master-down intervals (${(splitMs / 1000).toFixed(1)} s): each is MASTER and ignores the other${formatCauses(causes)}`,
      {
        hint: causes.length ? undefined : 'the directors do not accept each other\'s adverts: compare auth_pass, virtual_router_id and version, and check that VRRP (protocol 112) passes between them',
        details: { causes },
      },
    );
  }
}

/** Causes as a build error's message lists them: the sentence, the evidence quoted, the fix. */
const formatCauses = (causes: readonly BuildCause[]): string =>
  causes.map((c) => `\n  cause: ${c.sentence}\n  evidence: ${c.evidence.map((q) => `${q.node} \`${q.command}\`: ${q.note ?? q.lines.join(' | ')}`).join('; ')}\n  fix: ${c.fix}`).join('');

/** Why a director's table is not the model's, from its evidence. */
async function ipvsMismatchCauses(st: StartedTopology, d: PlannedNode): Promise<BuildCause[]> {
  return st.explain ? st.explain.ipvsMismatch(st, d) : [];
}

/** The split-brain cause of one VRRP instance, from every director's evidence (its config, its log, DROP rules, links). */
async function splitBrainCauses(st: StartedTopology, instance: string): Promise<BuildCause[]> {
  return st.explain ? st.explain.splitBrain(st, instance) : [];
}

/** Programs each director from its restore file and proves the kernel holds exactly the model. */
async function verifyIpvs(st: StartedTopology, log: Logger): Promise<void> {
  // every director at once: keepalived's settle window on one runs while the other settles
  try {
    await Promise.all(st.nodes('director').map((d) => verifyDirectorIpvs(st, d, log)));
  } catch (e) {
    // a split brain disturbs the tables too (both directors hold the real servers' gateway, so
    // the replies to one's health checks reach the other, and its checks fail): when a VIP has
    // two holders, the split brain is the error to see, with its cause, and the table beside it
    if (!isHarnessError(e) || e.code !== 'ERR_LVS_IPVS_MISMATCH' || !st.plan.vrrp?.length) throw e;
    const split = await anyVipHeldTwice(st).catch(() => false);
    if (!split) throw e;
    log(`the IPVS table differs while a VIP has two holders: waiting to see whether it is a split brain`);
    try {
      await waitForVrrp(st);
    } catch (v) {
      if (isHarnessError(v) && v.code === 'ERR_LVS_SPLIT_BRAIN') {
        const [head = '', ...diffs] = e.message.split('\n');
        v.message += `\n  and, during it, ${head.replace(/^director /, '').replace(/:$/, '')}: ${diffs.slice(0, 2).map((l) => l.trim()).join('; ')}`;
      }
      throw v;
    }
    throw e;
  }
}

/** whether some VIP of a VRRP instance is held by more than one director right now */
async function anyVipHeldTwice(st: StartedTopology): Promise<boolean> {
  for (const v of st.plan.vrrp ?? []) for (const x of v.vips) if ((await st.holders(x.address)).length > 1) return true;
  return false;
}

async function verifyDirectorIpvs(st: StartedTopology, d: PlannedNode, log: Logger): Promise<void> {
  if (!d.ipvs) return;
  const restore = renderRestore(d.ipvs);
  const read = async () => parseSave((await st.exec(d.name, ['ipvsadm', '-S', '-n'])).stdout);
  let saved = await read();
  if (d.keepalived) {
    // keepalived programs the table; wait for it rather than write it
    await waitFor(`keepalived to program IPVS on ${d.name}`, async () => !diffRules(d.ipvs!, (saved = await read())).length, { timeoutMs: 30_000, intervalMs: 500 }).catch(() => undefined);
    // keepalived adds every real server before its first health checks: the table only counts once
    // it has held through a whole check cycle (the removal bound), so a failing check shows here
    const until = Date.now() + keepalivedSettleMs(d.keepalived);
    while (!diffRules(d.ipvs, saved).length && Date.now() < until) {
      await sleep(500);
      saved = await read();
    }
  } else if (diffRules(d.ipvs, saved).length) {
    await st.exec(d.name, ['ipvsadm', '-C']);
    await st.exec(d.name, ['ipvsadm', '-R'], { input: restore });
    saved = await read();
  }
  if (d.keepalived && diffRules(d.ipvs, saved).length) {
    // a check that fails on one server fails on the others within one removal bound: what the
    // table holds then is what keepalived decided (every server gone, or only some)
    const until = Date.now() + keepalivedSettleMs(d.keepalived);
    const empty = (rules: typeof saved) => d.ipvs!.every((svc) => !rules.find((r) => r.protocol === svc.protocol && r.address === svc.address && r.port === svc.port && r.fwmark === svc.fwmark)?.realServers.some((rs) => (rs.weight ?? 1) > 0));
    while (!empty(saved) && Date.now() < until) {
      await sleep(500);
      saved = await read();
    }
  }
  const diffs = diffRules(d.ipvs, saved);
  if (diffs.length) {
    // keepalived leaves out real servers its health checks fail: its log says which and why
    // what keepalived checked and what it said about it (the failures, not the VRRP chatter)
    const kLog = d.keepalived ? (await st.exec(d.name, ['sh', '-c', `grep -iE "fail|remov|timeout|refused" ${KEEPALIVED_LOG} | tail -n 8`], { allowFailure: true })).stdout.trim() : '';
    const checks = d.keepalived ? [...new Set((d.keepalived.virtualServers ?? []).flatMap((vs) => vs.realServers.map((r) => describeCheck(r.check))))].join('; ') : '';
    // why, from the director's evidence, by the rules the checks use (keepalived removed every
    // real server; a DR/TUN real server planned on another port, which the kernel does not keep)
    const causes = await ipvsMismatchCauses(st, d).catch(() => [] as BuildCause[]);
    throw new HarnessError(
      'ERR_LVS_IPVS_MISMATCH',
      `director ${d.name}: the kernel's IPVS table differs from the model${d.keepalived ? ' (keepalived programs it and removes real servers whose health check fails)' : ''}:\n  ${diffs.join('\n  ')}${formatCauses(causes)}`,
      {
        details: { expected: restore, actual: (await st.exec(d.name, ['ipvsadm', '-S', '-n'])).stdout, causes },
        hint: d.keepalived ? `keepalived's health checks: ${checks}; its log on ${d.name}:\n${kLog}` : `expected (ipvsadm -R):\n${restore}`,
      },
    );
  }
  log(`${d.name}: IPVS programmed and read back (${d.ipvs.length} service${d.ipvs.length > 1 ? 's' : ''}, ${d.ipvs.reduce((a, s) => a + s.realServers.length, 0)} real servers)`);
}
