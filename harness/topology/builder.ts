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
import { createNetworks, createNodes, reusableNodes, teardown, topologyLabels } from './provision.js';
import { verifyHaproxy, verifyIpvs, waitForVrrp, type BuildExplainer } from './verify.js';

export { L, reap, teardown } from './provision.js';
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
  ) {}

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

  async setHealth(name: string, healthy: boolean): Promise<void> {
    await this.exec(name, healthy ? ['rm', '-f', HEALTH_FLAG] : ['touch', HEALTH_FLAG]);
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
    await configureNode(h, n);
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
    await this.closeNodes();
    return teardown(this.docker, { topology: this.plan.topology }, log);
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
  const reusable = await reusableNodes(docker, plan, { reuse: opts.reuse, log });
  if (reusable) {
    const st = new StartedTopology(plan, docker, reusable, true, timings, opts.explain);
    await verifyIpvs(st, log);
    await verifyHaproxy(st, log);
    return st;
  }

  const labels = topologyLabels(plan, opts.keep);
  const unregister = opts.keep ? () => {} : onCleanup(`topology ${plan.topology}`, () => teardown(docker, { topology: plan.topology }, log).then(() => {}));
  try {
    await createNetworks(docker, plan, labels);
    timings.networks = Date.now() - t0;
    const nodes = await createNodes(rt, plan, labels);
    timings.containers = Date.now() - t0;
    const st = new StartedTopology(plan, docker, nodes, false, timings, opts.explain);
    await Promise.all(plan.nodes.map((n) => configureNode(st.host(n.name), n)));
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

/** Interface names by address, as the node sees them (Docker names them in attach order). */
export const devicesByAddress = (st: StartedTopology, node: string): Promise<Map<string, string>> => devicesOf(st.host(node));
