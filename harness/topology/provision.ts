/**
 * Provisioning: what creates the container nodes of a topology (issue 14). The topology's
 * networks and containers, labelled so that a later run finds them (reuse of a running
 * topology built from the same plan, teardown, reaping what crashed runs left). A node comes
 * out of here as a DockerNode; everything after (configure.ts, verify.ts) runs over the Node
 * interface and configures an SSH host (hosts.ts) the same way. An operator's Docker network
 * (docker_network) is joined as it is, never created nor removed.
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

/** networks this process already said it had to leave (a run's teardown and its exit cleanup both meet them) */
const warnedStale = new Set<string>();

/** Removes containers and networks by label. Idempotent; returns how many things it removed. */
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
    const same = existing.length === plan.nodes.filter((n) => !n.ssh).length && existing.every((c) => c.Labels[L.plan] === planLabel(plan) && c.State === 'running');
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

/**
 * The networks of the plan that are the operator's (`docker_network`): each must exist with the
 * planned subnet; they are used as they are, never created nor removed.
 */
export async function checkExternalNetworks(docker: Docker, plan: Plan): Promise<void> {
  for (const n of plan.networks.filter((x) => x.docker === 'external')) {
    const info = (await docker
      .getNetwork(n.dockerName)
      .inspect()
      .catch(() => undefined)) as { Name?: string; IPAM?: { Config?: { Subnet?: string }[] } } | undefined;
    if (!info)
      throw new HarnessError('ERR_LVS_DOCKER_NETWORK', `network ${n.name} of ${plan.topology}: the Docker network "${n.dockerName}" (docker_network) does not exist`, {
        hint: `the harness never creates an operator's network: create it (e.g. docker network create -d macvlan --subnet ${n.subnet} -o parent=<host interface> ${n.dockerName}), or leave docker_network out to have one made`,
      });
    const subnets = (info.IPAM?.Config ?? []).map((c) => c.Subnet);
    if (!subnets.includes(n.subnet))
      throw new HarnessError('ERR_LVS_DOCKER_NETWORK', `network ${n.name} of ${plan.topology}: the Docker network "${n.dockerName}" has subnet ${subnets.join(', ') || 'none'}, not ${n.subnet}`, {
        hint: `give the network the subnet of ${n.dockerName} in the topology, or another docker_network`,
      });
  }
}

/**
 * One bridge network per planned network the harness makes (not the operator's docker_network,
 * nor one only SSH hosts are on), without masquerading; a subnet another network holds is ERR_LVS_SUBNET_IN_USE.
 */
export async function createNetworks(docker: Docker, plan: Plan, labels: Labeller, log: Logger = defaultLog): Promise<void> {
  await checkExternalNetworks(docker, plan);
  await Promise.all(plan.networks.filter((n) => n.docker === undefined).map((n) =>
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
}

/** One started container per planned node (not an SSH host), on its networks with its planned addresses, as a DockerNode. */
export async function createNodes(rt: Runtime, plan: Plan, labels: Labeller): Promise<Map<string, Node>> {
  const docker = rt.docker;
  const netId = new Map(plan.networks.map((n) => [n.name, n.dockerName]));
  const containers = new Map<string, Node>();
  await Promise.all(
    plan.nodes.filter((n) => !n.ssh).map(async (n) => {
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
