/**
 * A topology built and running: the orchestration of provisioning (provision.ts, Docker only),
 * configuration (configure.ts, over Node.exec) and verification (verify.ts), and the
 * StartedTopology the rest of the harness acts on. What other layers import from the three
 * parts is re-exported here.
 */
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';
import { HEALTH_FLAG } from '../images/rs-app.js';
import { mergeTable, parseList, parseStats, type TableService } from '../ipvs/table.js';
import type { ExecOptions, ExecResult, Node } from '../runtime/node.js';
import type { Runtime } from '../runtime/select.js';
import { onCleanup } from '../util/cleanup.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { configureNode, devicesOf } from './configure.js';
import type { Plan, PlannedNode } from './planner.js';
import type { HostUndoContext } from './host-undo.js';
import { connectSshNodes, hostTopologies, openHostJournal, undoHosts } from './hosts.js';
import { createNetworks, createNodes, reusableNodes, teardown, topologyLabels } from './provision.js';
import type { UndoJournal } from '../runtime/undo.js';
import { verifyHaproxy, verifyIpvs, waitForVrrp, type BuildExplainer } from './verify.js';

export { adoptable, L, reap, teardown } from './provision.js';
export { bindInterfaces, configureNode } from './configure.js';
export { keepalivedSettleMs, waitForVrrp, type BuildCause, type BuildExplainer } from './verify.js';

/**
 * A topology whose nodes run and whose IPVS tables match the plan. Its nodes are `Node`s
 * (runtime/node.ts): DockerNodes for containers; everything above runtime/ reaches them through
 * that interface (exec, spawn, files, and the lifecycle a node may or may not have).
 */
export class StartedTopology {
  constructor(
    readonly plan: Plan,
    /** the engine the topology was provisioned on: teardown by labels */
    readonly docker: Docker,
    /** every planned node by name */
    readonly hosts: ReadonlyMap<string, Node>,
    readonly reused: boolean,
    readonly timings: Record<string, number>,
    /** what explains a failed verification (waitForVrrp's split brain too) */
    readonly explain?: BuildExplainer,
    /** the undo journal of the SSH hosts (hosts.ts), when the topology has any */
    readonly journal?: UndoJournal,
  ) {}

  /** How configure treats the node: an SSH host is snapshotted and its changes journalled. */
  private configureOptions(name: string): { host?: HostUndoContext } {
    return this.node(name).ssh && this.journal ? { host: { journal: this.journal, topology: this.plan.topology } } : {};
  }

  /** Configures the node to its plan (configure.ts), a host with its undo (host-undo.ts). */
  configure(name: string): Promise<void> {
    return configureNode(this.host(name), this.node(name), this.configureOptions(name));
  }

  node(name: string): PlannedNode {
    const n = this.plan.nodes.find((x) => x.name === name);
    if (!n) throw new HarnessError('ERR_LVS_NO_NODE', `topology ${this.plan.topology} has no node "${name}" (${this.plan.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  nodes(role: PlannedNode['role']): PlannedNode[] {
    return this.plan.nodes.filter((n) => n.role === role);
  }

  /** The node itself (a DockerNode for a container), to run commands in and act on. */
  host(name: string): Node {
    this.node(name);
    return this.hosts.get(name)!;
  }

  /**
   * Runs argv in a node. A DockerNode runs it over the node's shell (one process per node, see
   * runtime/node-shell.ts), or by docker exec while the node has none (stopped, paused, or LVSH_NODE_SHELL=0).
   */
  exec(name: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.host(name).exec(argv, opts);
  }

  /** Ends every node's connection (a DockerNode's shell) and waits until each has gone (at most 2 s). */
  async closeNodes(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((n) => n.close()));
  }

  /** The director's IPVS table with its counters (`-Ln` merged with `-Ln --stats --exact`). */
  async ipvs(name: string): Promise<TableService[]> {
    // one exec for both listings
    const SEP = '--lvsh-stats--';
    const out = (await this.exec(name, ['sh', '-c', `ipvsadm -Ln && echo ${SEP} && ipvsadm -Ln --stats --exact`])).stdout;
    const at = out.indexOf(`${SEP}\n`);
    return mergeTable(parseList(out.slice(0, at)), parseStats(out.slice(at + SEP.length + 1)));
  }

  /**
   * Makes the app's /health answer 503 (or 200 again). Returns when the flag changed by the
   * node's own clock (ms since the epoch), read in the same command, or undefined if it said
   * nothing readable: an exec under emulation can start seconds after it was issued.
   */
  async setHealth(name: string, healthy: boolean): Promise<number | undefined> {
    const r = await this.exec(name, ['sh', '-c', `${healthy ? 'rm -f' : 'touch'} ${HEALTH_FLAG} && date +%s%N`]);
    return nodeClockMs(r.stdout);
  }

  /**
   * Brings a node back to its planned state after a fault: starts (or unpauses) it, when its
   * lifecycle can, and re-applies what the builder configured (addresses, routes, iptables, the app,
   * keepalived). Safe to call on a node that is already fine.
   */
  async restoreNode(name: string): Promise<void> {
    const n = this.node(name);
    const h = this.host(name);
    // a container is started or thawed first; a node without that capability (a host) is only configured
    if (h.capabilities.start && h.lifecycle) await h.lifecycle.ensureRunning();
    await configureNode(h, n, this.configureOptions(name));
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

  /** Undoes what the harness changed on the SSH hosts (over their open connections), closes every node, removes the containers and networks. */
  async down(log: Logger = defaultLog): Promise<number> {
    const ssh = new Map([...this.hosts].filter(([name]) => this.node(name).ssh));
    const undone = ssh.size ? undoHosts(this.plan.topology, log, ssh).catch((e: Error) => e) : undefined;
    const failed = await undone;
    await this.closeNodes();
    const n = await teardown(this.docker, { topology: this.plan.topology }, log);
    if (failed instanceof Error) throw failed;
    return n;
  }
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

/**
 * Creates (or reuses) the topology's nodes (provision.ts: Docker networks and containers),
 * configures each over Node.exec (configure.ts) and verifies the whole (verify.ts).
 */
export async function buildTopology(rt: Runtime, plan: Plan, opts: BuildOptions = {}): Promise<StartedTopology> {
  const log = opts.log ?? defaultLog;
  const docker = rt.docker;
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const sshPlanned = plan.nodes.filter((n) => n.ssh);
  // a killed run's changes on the hosts first (as reap does for containers): its journal says what they are
  if (sshPlanned.length) await undoHosts(plan.topology, log);
  // SSH hosts are never reused: whether one still holds the plan is not known (anyone may have
  // changed it since), and its snapshot is taken before the first change of a run
  if (sshPlanned.length && opts.reuse !== false) log(`not reusing a running ${plan.topology}: it has SSH hosts (${sshPlanned.map((n) => n.name).join(', ')}), configured afresh each run`);
  // every node a host: nothing of Docker's to reuse, reap or make
  const containers = sshPlanned.length < plan.nodes.length;
  const reusable = containers ? await reusableNodes(docker, plan, { reuse: sshPlanned.length ? false : opts.reuse, log }) : undefined;
  if (reusable) {
    const st = new StartedTopology(plan, docker, reusable, true, timings, opts.explain);
    await verifyIpvs(st, log);
    await verifyHaproxy(st, log);
    return st;
  }

  // every host connected and checked before anything is made or changed: a host key or an
  // authentication failure fails the build here, with nothing to undo
  const ssh = await connectSshNodes(plan, log);
  const journal = sshPlanned.length ? await openHostJournal(plan, ssh) : undefined;
  if (sshPlanned.length) timings.ssh = Date.now() - t0;
  const labels = topologyLabels(plan, opts.keep);
  const unregister = opts.keep ? () => {} : onCleanup(`topology ${plan.topology}`, () => teardownTopology(docker, plan.topology, log).then(() => {}));
  try {
    if (containers) await createNetworks(docker, plan, labels, log);
    timings.networks = Date.now() - t0;
    const nodes = containers ? await createNodes(rt, plan, labels) : new Map<string, Node>();
    timings.containers = Date.now() - t0;
    const st = new StartedTopology(plan, docker, new Map([...nodes, ...ssh]), false, timings, opts.explain, journal);
    await Promise.all(plan.nodes.map((n) => st.configure(n.name)));
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
    // the build's own error is the one to see; what teardown could not remove (or undo) is said beside it
    await teardownTopology(docker, plan.topology, () => {}).catch((t: Error) => log(`after the failed build: ${t.message}`));
    unregister();
    throw e;
  }
}

/**
 * A topology taken down by its name: what the harness changed on its SSH hosts undone (its
 * journal: over this process's connections, or new ones after a crash), then its containers
 * and networks removed (`all`: every topology's). Both are tried; a failed undo is thrown after
 * the containers are gone, listing what to run by hand.
 */
export async function teardownTopology(docker: Docker | undefined, topology: string | undefined, log: Logger = defaultLog): Promise<number> {
  const names = topology ? [topology] : await hostTopologies();
  const failures: Error[] = [];
  for (const t of names) await undoHosts(t, log).catch((e: Error) => failures.push(e));
  const n = docker ? await teardown(docker, topology ? { topology } : { all: true }, log) : 0;
  if (failures.length === 1) throw failures[0];
  if (failures.length) throw new HarnessError('ERR_LVS_UNDO', failures.map((e) => e.message).join('\n'));
  return n;
}

/** Interface names by address, as the node sees them (Docker names them in attach order). */
export const devicesByAddress = (st: StartedTopology, node: string): Promise<Map<string, string>> => devicesOf(st.host(node));

/** `date +%s%N` as ms since the epoch, or undefined for anything else (a busybox date prints a literal N). */
export function nodeClockMs(stdout: string): number | undefined {
  const ns = stdout.trim();
  return /^\d{16,20}$/.test(ns) ? Number(BigInt(ns) / 1_000_000n) : undefined;
}
