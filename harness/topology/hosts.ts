/**
 * The SSH side of provisioning (issue 14): a topology's real hosts as SshNodes, connected and
 * checked before anything is changed anywhere, and the undo journal of what the harness changes
 * on them (host-undo.ts writes it).
 *
 * The journal is kept per topology under `.cache/hosts/<topology>/` in the checkout
 * (LVS_HARNESS_HOST_STATE moves it), beside `nodes.json`, how to reach each host: so after a
 * killed run, `lvs-harness down <topology>` (or the next build of the topology) reconnects and
 * undoes what is left, without the topology file.
 */
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { REPO_ROOT } from '../lab/paths.js';
import type { Node } from '../runtime/node.js';
import { SshNode, type SshNodeOptions } from '../runtime/ssh-node.js';
import { formatUndoReport, UndoJournal, type UndoReport } from '../runtime/undo.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import type { Plan, PlannedNode } from './planner.js';

/** Where the host state of topologies lives (`LVS_HARNESS_HOST_STATE`, else .cache/hosts in the checkout). */
export const hostStateRoot = (env: NodeJS.ProcessEnv = process.env): string => (env.LVS_HARNESS_HOST_STATE ? path.resolve(env.LVS_HARNESS_HOST_STATE) : path.join(REPO_ROOT, '.cache', 'hosts'));
export const hostStateDir = (topology: string, env: NodeJS.ProcessEnv = process.env) => path.join(hostStateRoot(env), topology);
export const hostJournalFile = (topology: string, env: NodeJS.ProcessEnv = process.env) => path.join(hostStateDir(topology, env), 'undo.json');
const nodesFile = (topology: string) => path.join(hostStateDir(topology), 'nodes.json');

/** A planned SSH host as SshNode options. */
export function sshNodeOptions(n: PlannedNode): SshNodeOptions {
  const s = n.ssh;
  if (!s) throw new Error(`${n.name} is not an SSH node`);
  // the plan's fields are SshNode's own (planner.ts plannedSsh made them so, absent ones left out)
  return { name: n.name, ...s };
}

/** The tools the node script and the checks need on a host of this plan (`command -v` finds each). */
export function hostTools(n: PlannedNode): string[] {
  const t = ['sh', 'bash', 'ip', 'base64', 'pgrep', 'pkill', 'setsid', 'sysctl', 'iptables-save', 'iptables-restore'];
  if (n.role === 'director') t.push('ipvsadm');
  if (n.keepalived) t.push('keepalived', 'curl');
  if (n.haproxy) t.push('haproxy', 'socat');
  if (n.app) t.push('nginx', 'curl', ...(n.app.udpPorts.length ? ['node'] : []));
  // the load agent (load/driver.ts) is a Node bundle
  if (n.role === 'client') t.push('node');
  return [...new Set(t)];
}

/** The check each host passes before anything is changed: commands run as root, and every tool is there. */
export const hostCheckArgv = (tools: readonly string[]): string[] => [
  'sh',
  '-c',
  'u=$(id -u); [ "$u" = 0 ] || { echo "commands run as uid $u, not root" >&2; exit 3; }; m=; for t in "$@"; do command -v "$t" >/dev/null 2>&1 || m="$m $t"; done; [ -z "$m" ] || { echo "missing:$m" >&2; exit 4; }',
  'sh',
  ...tools,
];

/** Live SshNodes of the topologies this process built: a teardown by name undoes over them and closes them. */
const live = new Map<string, Map<string, Node>>();

/**
 * Connects to every SSH host of the plan at once and checks it (root through sudo, the tools);
 * on any failure every connection is closed and the first failure thrown (a host key, auth or
 * connection error names the host), the others logged. Nothing has been changed by then.
 */
export async function connectSshNodes(plan: Plan, log: Logger = defaultLog, make: (o: SshNodeOptions) => Node = (o) => new SshNode(o)): Promise<Map<string, Node>> {
  const planned = plan.nodes.filter((n) => n.ssh);
  const nodes = new Map(planned.map((n) => [n.name, make(sshNodeOptions(n))]));
  const results = await Promise.allSettled(
    planned.map(async (n) => {
      const node = nodes.get(n.name)!;
      const r = await node.exec(hostCheckArgv(hostTools(n)), { allowFailure: true, timeoutMs: 30_000 });
      if (/sudo: (a password is required|a terminal is required)/.test(r.stderr))
        throw new HarnessError('ERR_LVS_SSH_AUTH', `${n.role} ${n.name} (${n.ssh!.user}@${n.ssh!.host}): sudo wants a password: ${r.stderr.trim()}`, { hint: `let ${n.ssh!.user} run commands through sudo without a password (NOPASSWD in sudoers), or connect as root` });
      if (r.exitCode === 3)
        throw new HarnessError('ERR_LVS_SSH_AUTH', `${n.role} ${n.name} (${n.ssh!.user}@${n.ssh!.host}): ${r.stderr.trim()}`, { hint: n.ssh!.sudo ? `let ${n.ssh!.user} run sudo without a password` : `connect as root, or set sudo: true in its ssh block` });
      if (r.exitCode === 4) throw new HarnessError('ERR_LVS_MISSING_TOOL', `${n.role} ${n.name} (${n.ssh!.user}@${n.ssh!.host}): ${r.stderr.trim()}`, { hint: 'install them on the host (Debian: apt-get install ipvsadm keepalived haproxy nginx-light curl socat iproute2 iptables nodejs)' });
      if (r.exitCode !== 0) throw new HarnessError('ERR_LVS_EXEC_FAILED', `${n.role} ${n.name}: checking the host failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim()}`);
    }),
  );
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length) {
    await Promise.all([...nodes.values()].map((n) => n.close().catch(() => {})));
    for (const e of failed.slice(1)) log(`also: ${e.message}`);
    throw failed[0];
  }
  if (planned.length) log(`SSH hosts connected and checked: ${planned.map((n) => `${n.name} (${n.ssh!.user}@${n.ssh!.host})`).join(', ')}`);
  return nodes;
}

/**
 * The undo journal of the topology's hosts, with how to reach them written beside it; the live
 * nodes are remembered for a teardown by the topology's name in this process.
 */
export async function openHostJournal(plan: Plan, nodes: ReadonlyMap<string, Node>): Promise<UndoJournal> {
  const dir = hostStateDir(plan.topology);
  await mkdir(dir, { recursive: true });
  const reach = Object.fromEntries(plan.nodes.filter((n) => n.ssh).map((n) => [n.name, sshNodeOptions(n)]));
  const tmp = `${nodesFile(plan.topology)}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify({ version: 1, topology: plan.topology, nodes: reach }, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, nodesFile(plan.topology));
  live.set(plan.topology, new Map(nodes));
  return UndoJournal.open(hostJournalFile(plan.topology));
}

/** How to reach each SSH host of a topology built here (its nodes.json); empty when there is none or it is unreadable. */
export async function hostNodeOptions(topology: string): Promise<Record<string, SshNodeOptions>> {
  try {
    const data = JSON.parse(await readFile(nodesFile(topology), 'utf8')) as { nodes?: unknown };
    const nodes = data?.nodes;
    if (!nodes || typeof nodes !== 'object' || Array.isArray(nodes)) return {};
    return Object.fromEntries(Object.entries(nodes as Record<string, SshNodeOptions>).filter(([, o]) => o && typeof o === 'object' && typeof o.host === 'string'));
  } catch {
    return {};
  }
}

async function readNodes(topology: string): Promise<Map<string, Node>> {
  return new Map(Object.entries(await hostNodeOptions(topology)).map(([name, o]) => [name, new SshNode({ ...o, name })]));
}

/**
 * The SSH host named `node` in the topologies built here (`lvs-harness exec` and `ipvs` on a real
 * host), as a new SshNode; undefined when no topology has an SSH node of that name. The caller
 * closes it.
 */
export async function findHostNode(node: string, topology?: string, make: (o: SshNodeOptions) => Node = (o) => new SshNode(o)): Promise<Node | undefined> {
  const found: { topology: string; options: SshNodeOptions }[] = [];
  for (const t of topology ? [topology] : await hostTopologies()) {
    const o = (await hostNodeOptions(t))[node];
    if (o) found.push({ topology: t, options: o });
  }
  if (!found.length) return undefined;
  if (found.length > 1)
    throw new HarnessError('ERR_LVS_USAGE', `node "${node}" is a host of several topologies (${found.map((f) => f.topology).join(', ')})`, { hint: 'say which with --topology NAME' });
  return make({ ...found[0]!.options, name: node });
}

/** Topologies with host state left (an undo journal, or the nodes file of one). */
export async function hostTopologies(): Promise<string[]> {
  return (await readdir(hostStateRoot()).catch(() => [] as string[])).sort();
}

/**
 * Undoes what the topology's journal holds on its hosts, the last change first, over the live
 * nodes of this process or new connections (nodes.json); closes them. Nothing to do without a
 * journal. Throws ERR_LVS_UNDO listing what could not be undone, each with the command to run by
 * hand (the journal keeps those entries: a later `down` tries them again).
 */
export async function undoHosts(topology: string, log: Logger = defaultLog, given?: ReadonlyMap<string, Node>): Promise<UndoReport | undefined> {
  const file = hostJournalFile(topology);
  const journal = await UndoJournal.open(file);
  const nodes = given ?? live.get(topology) ?? (await readNodes(topology));
  let report: UndoReport | undefined;
  try {
    if (journal.entries.length) {
      const hosts = [...new Set(journal.entries.map((e) => e.node ?? '?'))];
      log(`undoing ${journal.entries.length} change${journal.entries.length === 1 ? '' : 's'} on ${hosts.join(', ')} (${topology})`);
      report = await journal.undoAll([...nodes.values()]);
    }
  } finally {
    await Promise.all([...nodes.values()].map((n) => n.close().catch(() => {})));
    live.delete(topology);
  }
  if (report && (report.failed.length || report.skipped.length))
    throw new HarnessError('ERR_LVS_UNDO', `${topology}: ${formatUndoReport(report, file)}`, {
      hint: `the journal keeps them: fix what stopped them (the host unreachable?) and run \`lvs-harness down ${topology}\` again, or run the commands above by hand and remove ${path.dirname(file)}`,
      details: { file, failed: report.failed.length, skipped: report.skipped.length },
    });
  // all undone: the state of the topology's hosts goes
  await rm(hostStateDir(topology), { recursive: true, force: true });
  if (report?.undone.length) log(`undid ${report.undone.length} change${report.undone.length === 1 ? '' : 's'} on the hosts of ${topology}`);
  return report;
}
