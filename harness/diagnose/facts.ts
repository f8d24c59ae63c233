/**
 * Lookups the rules share: a node's sysctl as the kernel applies it, the device holding an
 * address, quotes of evidence lines. Small and total: a missing item gives undefined, not a throw.
 */
import type { Plan, PlannedNode, PlannedService } from '../topology/planner.js';
import type { EvidenceItem, NodeEvidence } from './evidence.js';
import type { ItemKey } from './script.js';
import type { Quote } from './types.js';

export const num = (v: string | undefined): number | undefined => (v !== undefined && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : undefined);

/** sysctl names use `/` for a dot in a device name (eth0.100 is eth0/100) */
export const confKey = (dev: string, name: string) => `net.ipv4.conf.${dev.replace(/\./g, '/')}.${name}`;

/**
 * arp_ignore, arp_announce and rp_filter: the kernel applies the larger of `all` and the device's
 * own value (IN_DEV_ARP_IGNORE / IN_DEV_ARP_ANNOUNCE / IN_DEV_RPFILTER take the max), so both count.
 */
export function effective(ev: NodeEvidence | undefined, dev: string | undefined, name: 'arp_ignore' | 'arp_announce' | 'rp_filter'): { value: number; lines: string[] } | undefined {
  if (!ev) return undefined;
  const all = ev.sysctls.get(confKey('all', name));
  const own = dev ? ev.sysctls.get(confKey(dev, name)) : undefined;
  const vals = [all, own].filter((x) => x && num(x.value) !== undefined);
  if (!vals.length) return undefined;
  return { value: Math.max(...vals.map((x) => num(x!.value)!)), lines: vals.map((x) => x!.line) };
}

export const sysctlOf = (ev: NodeEvidence | undefined, key: string) => ev?.sysctls.get(key);

/** The device holding `address` on the node, from `ip -o addr`. */
export const devOf = (ev: NodeEvidence | undefined, address: string | undefined) => (address ? ev?.addrs.find((a) => a.address === address.toLowerCase()) : undefined);

export const linkOf = (ev: NodeEvidence | undefined, dev: string | undefined) => (dev ? ev?.links.find((l) => l.dev === dev) : undefined);

export const item = (ev: NodeEvidence | undefined, key: ItemKey): EvidenceItem | undefined => ev?.items[key];

/** A quote of some lines of a node's item; the item's command even when it is absent. */
export function quote(ev: NodeEvidence | undefined, node: string, key: ItemKey, lines: readonly string[], note?: string): Quote {
  const it = ev?.items[key];
  return { node, command: it?.command ?? key, lines: [...lines], ...(note ? { note } : {}) };
}

export const nodesOf = (p: Plan, role: PlannedNode['role']) => p.nodes.filter((n) => n.role === role);

export const addrOn = (n: PlannedNode | undefined, network: string) => n?.interfaces.find((i) => i.network === network)?.address;

/** Directors that carry a service: those on its VIP's network. */
export const directorsOf = (p: Plan, svc: PlannedService) => nodesOf(p, 'director').filter((d) => addrOn(d, svc.vipNetwork));

export const endpoint = (address: string, port: number | string) => (address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`);

/** The ipvsadm -Ln key of a service: "VIP:port", or the mark for a firewall-mark service. */
export const tableKeyOf = (svc: PlannedService) => (svc.fwmark ? String(svc.fwmark.mark) : endpoint(svc.vip, svc.port ?? 0));

/** The lines of a director's `ipvsadm -Ln` for one service: its line and its real servers' lines. */
export function tableLines(ev: NodeEvidence | undefined, svc: PlannedService): string[] {
  const lines = ev?.items.ipvs?.lines ?? [];
  const key = tableKeyOf(svc);
  const head = (l: string) => /^(TCP|UDP|SCTP|FWM)\s/.test(l);
  const i = lines.findIndex((l) => head(l) && (svc.fwmark ? new RegExp(`^FWM\\s+${key}(\\s|$)`).test(l) : l.split(/\s+/)[1] === key && l.startsWith(svc.protocol.toUpperCase())));
  if (i < 0) return [];
  const out = [lines[i]!];
  for (const l of lines.slice(i + 1)) {
    if (head(l)) break;
    if (/^\s+->/.test(l)) out.push(l);
  }
  return out;
}

export const listNames = (xs: readonly string[]) => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
