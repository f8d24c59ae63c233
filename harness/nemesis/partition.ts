import { randomBytes } from 'node:crypto';
import type { StartedTopology } from '../topology/builder.js';
import type { Plan, PlannedNode } from '../topology/planner.js';
import { activeFault, execStamped, injecting, nemesisError, resolveTargets } from './common.js';
import type { Nemesis } from './types.js';

/**
 * A network partition between two nodes `a/b`: each drops every packet from and to the other's
 * own addresses, with iptables (ip6tables for IPv6) rules inserted first in INPUT (`-s`) and
 * OUTPUT (`-d`) of the filter table. Between two directors this is split brain: VRRP adverts
 * (protocol 112 to 224.0.0.18, or unicast to a peer) leave from the sender's interface address,
 * so dropping by source address on INPUT stops them and each director becomes MASTER.
 *
 * "Own addresses" are the node's interface addresses and its extra addresses on a network
 * (a client's source addresses), never a VIP (of a service or of a VRRP instance): a VIP is
 * shared (by a director pair, or by DR/TUN real servers on lo/tunl0), so dropping it would cut
 * everyone's service, not this pair's. Forwarded service traffic is therefore untouched where
 * its addresses do not name the pair: a DR director's packets to a real server carry the
 * client's source, so partition director/rs1 cuts their own traffic (health checks) only.
 *
 * Rules go in with one `iptables-restore --noflush` per node and family (a partition of a
 * client with 16 source addresses is 32 rules), each carrying a comment unique to this fault;
 * heal deletes the rules with that comment, which are exactly the ones it inserted.
 */
export interface PartitionRule {
  node: string;
  family: 4 | 6;
  chain: 'INPUT' | 'OUTPUT';
  /** -s / -d and the other node's address */
  match: ['-s' | '-d', string];
}

/** The node's own addresses: interfaces and extra addresses on a network, VIPs excluded. */
export function ownAddresses(n: PlannedNode, vips: ReadonlySet<string>): string[] {
  const all = [...n.interfaces.flatMap((i) => [i.address, ...(i.address6 ? [i.address6] : [])]), ...n.addresses.filter((a) => 'network' in a.on).map((a) => a.address)];
  return [...new Set(all)].filter((a) => !vips.has(a));
}

export const planVips = (plan: Plan): Set<string> => new Set([...plan.services.flatMap((s) => s.vips ?? [s.vip]), ...(plan.vrrp ?? []).flatMap((v) => v.vips.map((x) => x.address))]);

export function partitionRules(plan: Plan, a: PlannedNode, b: PlannedNode): PartitionRule[] {
  const vips = planVips(plan);
  const one = (self: PlannedNode, other: PlannedNode): PartitionRule[] =>
    ownAddresses(other, vips).flatMap((addr) => {
      const family = addr.includes(':') ? 6 : 4;
      return [
        { node: self.name, family, chain: 'INPUT', match: ['-s', addr] },
        { node: self.name, family, chain: 'OUTPUT', match: ['-d', addr] },
      ] satisfies PartitionRule[];
    });
  return [...one(a, b), ...one(b, a)];
}

export const partitionComment = (a: string, b: string, id: string) => `lvs-harness partition ${a}/${b} ${id}`;

/** The `iptables-restore --noflush` input that inserts the rules (each first in its chain). */
export function insertRestore(rules: readonly PartitionRule[], comment: string): string {
  return ['*filter', ...rules.map((r) => `-I ${r.chain} ${r.match.join(' ')} -m comment --comment "${comment}" -j DROP`), 'COMMIT', ''].join('\n');
}

/** The input that deletes the rules `iptables -S` lists with this comment (ours, exactly as the kernel holds them). */
export function deleteRestore(listed: string, comment: string): string | undefined {
  const ours = listed.split('\n').filter((l) => /^-A (INPUT|OUTPUT) /.test(l) && l.includes(` --comment "${comment}" `));
  return ours.length ? ['*filter', ...ours.map((l) => l.replace(/^-A /, '-D ')), 'COMMIT', ''].join('\n') : undefined;
}

export const restoreArgv = (family: 4 | 6) => [family === 6 ? 'ip6tables-restore' : 'iptables-restore', '-w', '10', '--noflush'];
const listArgv = (family: 4 | 6) => [family === 6 ? 'ip6tables' : 'iptables', '-w', '10', '-S'];

const groups = (rules: readonly PartitionRule[]) => {
  const m = new Map<string, { node: string; family: 4 | 6; rules: PartitionRule[] }>();
  for (const r of rules) {
    const k = `${r.node}/${r.family}`;
    if (!m.has(k)) m.set(k, { node: r.node, family: r.family, rules: [] });
    m.get(k)!.rules.push(r);
  }
  return [...m.values()];
};

const countOurs = async (st: StartedTopology, node: string, family: 4 | 6, comment: string) =>
  (await st.exec(node, listArgv(family))).stdout.split('\n').filter((l) => l.includes(` --comment "${comment}" `)).length;

export const partition: Nemesis = {
  name: 'partition',
  summary: 'a/b: each node drops all traffic from and to the other\'s own addresses (iptables INPUT -s / OUTPUT -d; VRRP included); heal: delete those rules',
  targets: 'node-pair',
  async inject(env, target) {
    const { st } = env;
    const [a, b] = resolveTargets(st.plan, 'partition', 'node-pair', target) as [PlannedNode, PlannedNode];
    const rules = partitionRules(st.plan, a, b);
    const comment = partitionComment(a.name, b.name, randomBytes(4).toString('hex'));
    const heal = async () => {
      for (const g of groups(rules)) {
        const del = deleteRestore((await st.exec(g.node, listArgv(g.family))).stdout, comment);
        if (del) await st.exec(g.node, restoreArgv(g.family), { input: del });
        const left = await countOurs(st, g.node, g.family, comment);
        if (left) throw nemesisError('partition', target, `${left} rules commented "${comment}" are still in ${g.node}'s filter table after deleting them`);
      }
    };
    const startedAt = await injecting(heal, async () => {
      // stamped in the node that drops first
      let at: number | undefined;
      for (const g of groups(rules)) {
        const t = await execStamped(env, g.node, restoreArgv(g.family), { input: insertRestore(g.rules, comment) });
        at ??= t;
        const n = await countOurs(st, g.node, g.family, comment);
        if (n !== g.rules.length) throw nemesisError('partition', target, `${g.node} holds ${n} of the ${g.rules.length} IPv${g.family} rules just inserted`);
      }
      return at ?? env.now();
    });
    const drops = (self: string) =>
      rules
        .filter((r) => r.node === self && r.chain === 'INPUT')
        .map((r) => r.match[1])
        .join(' ');
    return activeFault({
      name: 'partition',
      target,
      startedAt,
      detail: `iptables-restore --noflush: -I INPUT -s <addr> / -I OUTPUT -d <addr> -j DROP, comment "${comment}"; ${a.name} drops ${drops(a.name)}; ${b.name} drops ${drops(b.name)} (${rules.length} rules)`,
      healDetail: `the ${rules.length} rules commented "${comment}" deleted`,
      heal,
    });
  },
};
