import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';
import { formatTable, mergeTable, parseList, parseStats } from '../ipvs/table.js';
import { REPO_ROOT } from '../lab/paths.js';
import { DockerNode } from '../runtime/docker-node.js';
import type { Node } from '../runtime/node.js';
import { L, type StartedTopology } from './builder.js';
import { loadTopology } from './loader.js';

const TOPOLOGIES_DIR = path.join(REPO_ROOT, 'topologies');

// the README's order: by forwarding mode, each mode's keepalived pair after the single directors
const MODE_ORDER = ['nat', 'dr', 'tun', 'fullnat'];

/** The shipped topologies' names (topologies/*.yaml): nat dr tun fullnat, their -ha pairs, then the rest by name. */
export function shippedTopologies(): string[] {
  const names = readdirSync(TOPOLOGIES_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length));
  const rank = (n: string) => {
    const single = MODE_ORDER.indexOf(n);
    const pair = MODE_ORDER.indexOf(n.replace(/-ha$/, ''));
    return single >= 0 ? single : n.endsWith('-ha') && pair >= 0 ? MODE_ORDER.length + pair : 2 * MODE_ORDER.length;
  };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** A topology argument: a file path, or the name of a shipped topology (nat → topologies/nat.yaml). */
export function topologyFile(arg: string): string {
  if (existsSync(arg)) return arg;
  const shipped = path.join(TOPOLOGIES_DIR, `${arg}.yaml`);
  if (/^[a-z][a-z0-9-]*$/.test(arg) && existsSync(shipped)) return shipped;
  throw new HarnessError('ERR_LVS_TOPOLOGY', `${arg}: no such topology file`, { hint: `give a path to a YAML file, or a shipped name: ${shippedTopologies().join(', ')}` });
}

/** The name a topology runs under: from the file when it is one, else the argument itself. */
export async function topologyName(arg: string): Promise<string> {
  if (existsSync(arg) || existsSync(path.join(REPO_ROOT, 'topologies', `${arg}.yaml`))) return (await loadTopology(topologyFile(arg))).name;
  return arg;
}

export function nodeTable(st: StartedTopology): string {
  const rows = [['node', 'role', 'container', 'addresses', 'also']];
  for (const n of st.plan.nodes) {
    rows.push([
      n.name,
      n.role,
      n.container,
      n.interfaces.map((i) => `${i.network} ${i.address}/${i.prefix}${i.address6 ? ` ${i.address6}/${i.prefix6}` : ''}`).join(', '),
      [
        ...n.addresses.map((a) => `${a.address}/${a.prefix} on ${'dev' in a.on ? a.on.dev : a.on.network}`),
        ...n.routes.map((r) => `default via ${r.via}`),
        ...(n.ipvs ? [`${n.ipvs.length} virtual service(s)`] : []),
      ].join(', '),
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n');
}

/**
 * Finds the running container of a node, by labels; asks for --topology when the name is
 * ambiguous. As a Node whose commands go by docker exec (a one-off command needs no node shell).
 */
export async function findNode(docker: Docker, node: string, topology?: string): Promise<Node> {
  const label = [`${L.node}=${node}`, ...(topology ? [`${L.topology}=${topology}`] : [])];
  const found = await docker.listContainers({ filters: { label } });
  if (!found.length) {
    const all = await docker.listContainers({ filters: { label: [`${L.base}=true`] } });
    const nodes = [...new Set(all.map((c) => `${c.Labels[L.topology]}/${c.Labels[L.node]}`))].sort();
    throw new HarnessError('ERR_LVS_NO_NODE', `no running node "${node}"${topology ? ` in topology ${topology}` : ''}`, {
      hint: nodes.length ? `running nodes: ${nodes.join(', ')}` : 'nothing is running: lvs-harness up <topology>',
    });
  }
  if (found.length > 1)
    throw new HarnessError('ERR_LVS_USAGE', `node "${node}" runs in several topologies (${found.map((c) => c.Labels[L.topology]).join(', ')})`, { hint: 'say which with --topology NAME' });
  const c = found[0]!;
  return new DockerNode(node, docker.getContainer(c.Id), { containerName: c.Names[0]?.replace(/^\//, ''), docker, shell: false });
}

/** A node's IPVS table with its counters, read with ipvsadm on the node (a container or an SSH host). */
export async function ipvsTable(n: Node) {
  const [list, stats] = await Promise.all([n.exec(['ipvsadm', '-Ln']), n.exec(['ipvsadm', '-Ln', '--stats', '--exact'])]);
  return mergeTable(parseList(list.stdout), parseStats(stats.stdout));
}

export { formatTable };
