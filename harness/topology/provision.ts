/**
 * Provisioning: what creates the nodes of a topology, Docker only (issue 14). The topology's
 * networks and containers, labelled so that a later run finds them (reuse of a running
 * topology built from the same plan, teardown, reaping what crashed runs left). A node comes
 * out of here as a DockerNode; everything after (configure.ts, verify.ts) runs over the Node
 * interface and would configure an SSH host the same way.
 */
import { hostname } from 'node:os';
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';
import { DockerNode } from '../runtime/docker-node.js';
import type { Node } from '../runtime/node.js';
import { HARNESS_LABEL } from '../runtime/node-image.js';
import type { Runtime } from '../runtime/select.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { sleep } from '../util/wait.js';
import type { Plan, PlannedNode } from './planner.js';

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

/** Removes containers and networks by label. Idempotent; returns how many things it removed. */
export async function teardown(docker: Docker, by: { topology?: string; all?: boolean }, log: Logger = defaultLog): Promise<number> {
  const label = by.all ? [`${L.base}=true`] : [`${L.topology}=${by.topology}`];
  const containers = await docker.listContainers({ all: true, filters: { label } });
  const networks = await docker.listNetworks({ filters: { label } });
  // Removed until gone, each retried: under emulation the engine can still hold a container's
  // endpoint on a network for a moment after the container went, and a network left behind
  // blocks every later build of the topology (its name is taken). What stays is said, not swallowed.
  const deadline = Date.now() + 60_000;
  const names = containers.map((c) => c.Names[0]?.replace(/^\//, '') ?? c.Id);
  let left: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const cs = attempt ? await docker.listContainers({ all: true, filters: { label } }) : containers;
    const errors: string[] = [];
    await Promise.all(cs.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch((e: Error) => void (/no such container/i.test(e.message) || errors.push(`container ${c.Names[0]?.replace(/^\//, '') ?? c.Id}: ${e.message}`)))));
    const ns = attempt ? await docker.listNetworks({ filters: { label } }) : networks;
    for (const n of ns) {
      await docker
        .getNetwork(n.Id)
        .remove()
        .catch(async (e: Error) => {
          if (/not found|no such network/i.test(e.message)) return;
          // "has active endpoints" after its containers are gone: the engine kept a stale endpoint
          // (seen when several topologies are removed at once). It is let go by force-disconnecting
          // it by the container's name, which the engine still knows though the container is gone.
          if (/active endpoints/i.test(e.message)) await releaseStaleEndpoints(docker, n.Id, names);
          errors.push(`network ${n.Name}: ${e.message}`);
        });
    }
    left = errors;
    if (!errors.length || Date.now() > deadline) break;
    await sleep(Math.min(2_000, 250 * 2 ** attempt));
  }
  if (left.length) throw new HarnessError('ERR_LVS_TEARDOWN', `could not remove everything of ${by.topology ?? 'the topologies'}:\n  ${left.join('\n  ')}`, { hint: 'remove them by hand with docker rm -f / docker network rm, then run again' });
  if (containers.length || networks.length) log(`removed ${containers.length} containers and ${networks.length} networks${by.topology ? ` of ${by.topology}` : ''}`);
  return containers.length + networks.length;
}

/**
 * Force-disconnects what a network still lists as attached (and the removed containers by name,
 * which a stale endpoint may still carry without being listed), so that the network can go.
 */
async function releaseStaleEndpoints(docker: Docker, networkId: string, removed: string[]): Promise<void> {
  const net = docker.getNetwork(networkId);
  const info = (await net.inspect().catch(() => undefined)) as { Containers?: Record<string, { Name?: string }> } | undefined;
  const attached = Object.entries(info?.Containers ?? {}).map(([id, c]) => c.Name ?? id);
  for (const who of new Set([...attached, ...removed])) await net.disconnect({ Container: who, Force: true }).catch(() => {});
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

/**
 * The running nodes of the topology when they can be reused (built from the same plan, every
 * one running, `reuse` not false), after reaping what crashed runs left. Otherwise undefined,
 * with what stood in the way removed: a topology of another plan or incomplete, and networks
 * left without their containers (a teardown cut short), whose names would block the build.
 */
export async function reusableNodes(docker: Docker, plan: Plan, o: { reuse?: boolean; log: Logger }): Promise<Map<string, Node> | undefined> {
  const { log } = o;
  await reap(docker, log);
  const existing = await docker.listContainers({ all: true, filters: { label: [`${L.topology}=${plan.topology}`] } });
  // networks of the topology without its containers (a teardown cut short): removed, or their names block the build
  if (!existing.length && (await docker.listNetworks({ filters: { label: [`${L.topology}=${plan.topology}`] } })).length) await teardown(docker, { topology: plan.topology }, log);
  if (existing.length) {
    const same = existing.length === plan.nodes.length && existing.every((c) => c.Labels[L.plan] === planLabel(plan) && c.State === 'running');
    if (same && o.reuse !== false) {
      log(`reusing the running topology ${plan.topology} (plan ${plan.hash})`);
      return new Map(existing.map((c) => [c.Labels[L.node]!, dockerNode(docker, c.Labels[L.node]!, docker.getContainer(c.Id), plan)]));
    }
    log(`replacing the running topology ${plan.topology} (its plan differs or it is incomplete)`);
    await teardown(docker, { topology: plan.topology }, log);
  }
  return undefined;
}

/** The labels of everything the build creates (`extra`: a container's node and role). */
export type Labeller = (extra?: Record<string, string>) => Record<string, string>;

export const topologyLabels =
  (plan: Plan, keep: boolean | undefined): Labeller =>
  (extra = {}) => ({
    [L.base]: 'true',
    [L.topology]: plan.topology,
    [L.plan]: planLabel(plan),
    [L.owner]: owner(),
    [L.keep]: keep ? 'true' : 'false',
    ...extra,
  });

/** One bridge network per planned network, without masquerading; a subnet another network holds is ERR_LVS_SUBNET_IN_USE. */
export async function createNetworks(docker: Docker, plan: Plan, labels: Labeller): Promise<void> {
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
        if (!/overlap/i.test(e.message)) throw e;
        const holders = (await docker.listNetworks()).filter((x) => x.IPAM?.Config?.some((c) => c.Subnet === n.subnet)).map((x) => x.Name);
        throw new HarnessError('ERR_LVS_SUBNET_IN_USE', `network ${n.name} of ${plan.topology}: subnet ${n.subnet} is already used by ${holders.join(', ') || 'another network of this engine'}`, {
          hint: `remove that topology (lvs-harness down --all) or give ${plan.topology} another subnet`,
        });
      }),
  ));
}

/** One started container per planned node, on its networks with its planned addresses, as a DockerNode. */
export async function createNodes(rt: Runtime, plan: Plan, labels: Labeller): Promise<Map<string, Node>> {
  const docker = rt.docker;
  const netId = new Map(plan.networks.map((n) => [n.name, n.dockerName]));
  const containers = new Map<string, Node>();
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
      containers.set(n.name, dockerNode(docker, n.name, c, plan));
    }),
  );
  return containers;
}

/** A node's container as a Node: its shell, its lifecycle, and the engine to attach it to networks. */
const dockerNode = (docker: Docker, name: string, c: Docker.Container, plan: Plan): Node =>
  new DockerNode(name, c, { containerName: plan.nodes.find((n) => n.name === name)?.container, docker });

const ipam = (i: PlannedNode['interfaces'][number]) => ({ IPv4Address: i.address, ...(i.address6 ? { IPv6Address: i.address6 } : {}) });
