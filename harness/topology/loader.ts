import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import { HarnessError } from '../errors.js';
import { ALLOWED } from '../expect/spec.js';
import { formatPath, valueAt } from '../util/object-path.js';
import { SCHEDULERS } from '../ipvs/rules.js';
import { topologySchema, type SshSpec, type Topology } from './schema.js';
import { bigIntToIp6, cidr6Contains, cidrContains, hostNumberOf6, ip6ToBigInt, ipToInt, isIPv6, parseCidr, parseCidr6, cidrOverlap, type Cidr6 } from './net.js';

export interface TopologyIssue {
  path: string;
  message: string;
}

export const errTopology = (file: string, issues: TopologyIssue[]) =>
  new HarnessError('ERR_LVS_TOPOLOGY', issues.map((i) => `${file}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n'), {
    details: { file, issues },
  });

const ENUM_NOUN: Record<string, string> = { scheduler: 'a scheduler', method: 'a forwarding method', protocol: 'a protocol' };
const TYPE_NOUN: Record<string, string> = { array: 'a list', object: 'a mapping', record: 'a mapping', int: 'an integer' };

function describeIssue(raw: unknown, issue: z.core.$ZodIssue): TopologyIssue {
  const p = formatPath(issue.path);
  const found = valueAt(raw, issue.path);
  const shown = found === undefined ? 'nothing' : JSON.stringify(found);
  const last = String(issue.path[issue.path.length - 1] ?? '');
  switch (issue.code) {
    case 'invalid_value': {
      const allowed = (issue.values as unknown[]).map(String);
      return { path: p, message: `${shown} is not ${ENUM_NOUN[last] ?? 'allowed'} (${allowed.join(', ')})` };
    }
    case 'unrecognized_keys':
      return { path: p, message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${p === 'expect' ? ` (allowed: ${ALLOWED})` : ''}` };
    case 'invalid_type':
      if (found === undefined) return { path: p, message: `is required (${issue.expected})` };
      return { path: p, message: `${shown} is not ${TYPE_NOUN[issue.expected] ?? `a ${issue.expected}`}` };
    case 'too_small':
    case 'too_big': {
      const entries = (n: number | bigint) => (Number(n) === 1 ? 'entry' : 'entries');
      const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const bound = `${issue.code === 'too_small' ? 'at least' : 'at most'} ${String(limit)}${issue.origin === 'array' ? ` ${entries(limit)}` : ''}`;
      const count = (found as unknown[] | undefined)?.length ?? 0;
      return { path: p, message: `${issue.origin === 'array' ? `${count} ${entries(count)}` : shown} is out of range (${bound})` };
    }
    case 'invalid_key': {
      // a record key (a sysctl name, a network name): the path ends in the key itself
      const inner = issue.issues[0];
      const want = inner?.code === 'invalid_format' ? inner.message.replace(/^Invalid string: /, '') : 'an allowed key';
      return { path: formatPath(issue.path.slice(0, -1)), message: `${JSON.stringify(last)} is not ${want}` };
    }
    case 'invalid_format':
      return { path: p, message: `${shown} is not ${issue.message.replace(/^Invalid string: /, '')}` };
    default:
      // a refinement whose message names what is allowed ("an IPv4 or IPv6 address ...")
      if (issue.code === 'custom' && found !== undefined && (issue.params as { allowed?: boolean } | undefined)?.allowed) return { path: p, message: `${shown} is not ${issue.message}` };
      return { path: p, message: found === undefined ? issue.message : `${shown}: ${issue.message}` };
  }
}

/** Parses and validates topology YAML; throws one error listing every problem. */
export function parseTopology(text: string, file: string, baseDir?: string): Topology {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const pos = e.linePos?.[0];
    throw errTopology(file, [{ path: pos ? `line ${pos.line}, column ${pos.col}` : '', message: `not valid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` }]);
  }
  const raw = doc.toJS() as unknown;
  const r = topologySchema.safeParse(raw);
  if (!r.success) throw errTopology(file, r.error.issues.map((i) => describeIssue(raw, i)));
  const semantic = checkTopology(r.data);
  if (semantic.length) throw errTopology(file, semantic);
  return resolveSshPaths(r.data, baseDir ?? path.dirname(path.resolve(file)));
}

/** An SSH node's key_file and known_hosts: relative to the topology file's directory; `~/` is the home directory. */
export function resolveSshPaths(t: Topology, baseDir: string): Topology {
  const at = (p: string | undefined) => (p === undefined ? undefined : p === '~' || p.startsWith('~/') ? path.join(homedir(), p.slice(1)) : path.resolve(baseDir, p));
  for (const n of [...t.directors, ...t.real_servers, ...t.clients])
    if (n.ssh) n.ssh = { ...n.ssh, ...(n.ssh.key_file ? { key_file: at(n.ssh.key_file) } : {}), ...(n.ssh.known_hosts ? { known_hosts: at(n.ssh.known_hosts) } : {}) };
  return t;
}

export async function loadTopology(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new HarnessError('ERR_LVS_TOPOLOGY', `${file}: cannot read the topology file (${(e as NodeJS.ErrnoException).code})`, {
      hint: `shipped topologies: ${['nat', 'dr', 'tun', 'fullnat'].map((n) => `topologies/${n}.yaml`).join(', ')}`,
    });
  }
  return parseTopology(text, path.relative(process.cwd(), file) || file, path.dirname(path.resolve(file)));
}

/** Names of the client nodes a client entry expands to (client, or client-1..N with count). */
export const clientNames = (c: { name: string; count: number }) => (c.count === 1 ? [c.name] : Array.from({ length: c.count }, (_, i) => `${c.name}-${i + 1}`));

/** Checks that need the whole topology: names, addresses, and what each forwarding method needs. */
export function checkTopology(t: Topology): TopologyIssue[] {
  const issues: TopologyIssue[] = [];
  const nets = new Map(t.networks.map((n) => [n.name, parseCidr(n.subnet)]));
  const seenNet = new Set<string>();
  t.networks.forEach((n, i) => {
    if (seenNet.has(n.name)) issues.push({ path: `networks[${i}].name`, message: `"${n.name}" is used twice` });
    seenNet.add(n.name);
    const c = parseCidr(n.subnet);
    if (c.network !== ipToInt(n.subnet.split('/')[0]!)) issues.push({ path: `networks[${i}].subnet`, message: `"${n.subnet}" has host bits set (the network is ${c.text})` });
    t.networks.slice(0, i).forEach((m, j) => {
      if (cidrOverlap(c, parseCidr(m.subnet))) issues.push({ path: `networks[${i}].subnet`, message: `"${n.subnet}" overlaps networks[${j}] (${m.subnet})` });
    });
    if (n.subnet6) {
      const c6 = parseCidr6(n.subnet6);
      if (c6.network !== ip6ToBigInt(n.subnet6.split('/')[0]!)) issues.push({ path: `networks[${i}].subnet6`, message: `"${n.subnet6}" has host bits set (the network is ${c6.text})` });
      // every IPv4 host number must fit in the IPv6 host part
      t.networks.slice(0, i).forEach((m, j) => {
        if (m.subnet6 && (cidr6Contains(parseCidr6(m.subnet6), c6.text.split('/')[0]!) || cidr6Contains(c6, parseCidr6(m.subnet6).text.split('/')[0]!)))
          issues.push({ path: `networks[${i}].subnet6`, message: `"${n.subnet6}" overlaps networks[${j}] (${m.subnet6})` });
      });
    }
  });
  const dockerNets = new Map<string, string>();
  t.networks.forEach((n, i) => {
    if (!n.docker_network) return;
    if (dockerNets.has(n.docker_network)) issues.push({ path: `networks[${i}].docker_network`, message: `"${n.docker_network}" is already the Docker network of ${dockerNets.get(n.docker_network)}` });
    dockerNets.set(n.docker_network, `networks[${i}]`);
    if (n.subnet6) issues.push({ path: `networks[${i}].docker_network`, message: 'an existing Docker network is taken as IPv4 here: leave subnet6 out' });
  });
  const nets6 = new Map<string, Cidr6>(t.networks.filter((n) => n.subnet6).map((n) => [n.name, parseCidr6(n.subnet6!)]));

  const names = new Map<string, string>();
  const addresses = new Map<string, string>();
  const claim = (addr: string, where: string) => {
    const prev = addresses.get(addr);
    if (prev) issues.push({ path: where, message: `"${addr}" is already used by ${prev}` });
    else addresses.set(addr, where);
  };
  const nodeNets = new Map<string, Set<string>>();
  // networks a container is on: Docker makes (or the operator's docker_network has) a gateway there;
  // a network of SSH hosts only is the operator's LAN, whose .1 may be a host
  const containerNets = new Set([...t.directors, ...t.real_servers, ...t.clients].filter((n) => !n.ssh).flatMap((n) => Object.keys(n.networks)));
  const dual = new Set(t.networks.filter((n) => n.subnet6).map((n) => n.name));
  const sshHosts = new Map<string, string>();
  const checkNode = (kind: string, list: { name: string; networks: Record<string, string>; count?: number; ssh?: SshSpec }[]) =>
    list.forEach((n, i) => {
      if (n.ssh) {
        const w = `${kind}[${i}].ssh`;
        if (n.count && n.count > 1) issues.push({ path: w, message: `a client with count ${n.count} cannot be an SSH host: one ssh block is one machine (list each host as a client of its own)` });
        const key = `${n.ssh.host.toLowerCase()}:${n.ssh.port}`;
        if (sshHosts.has(key)) issues.push({ path: `${w}.host`, message: `${n.ssh.host} port ${n.ssh.port} is already the host of ${sshHosts.get(key)}: one machine is one node` });
        else sshHosts.set(key, `${kind}[${i}]`);
        for (const [net, addr] of Object.entries(n.networks)) {
          if (addr === 'auto') issues.push({ path: `${kind}[${i}].networks.${net}`, message: `an SSH host keeps its own addresses: give the address it has on ${net} instead of auto` });
          if (dual.has(net)) issues.push({ path: `${kind}[${i}].networks.${net}`, message: `${net} has a subnet6, whose addresses the planner derives for containers; SSH hosts are on IPv4-only networks here` });
        }
      }
      const expanded = n.count ? clientNames({ name: n.name, count: n.count }) : [n.name];
      for (const nm of expanded) {
        if (names.has(nm)) issues.push({ path: `${kind}[${i}].name`, message: `"${nm}" is already the name of ${names.get(nm)}` });
        names.set(nm, `${kind}[${i}]`);
        nodeNets.set(nm, new Set(Object.keys(n.networks)));
      }
      if (!Object.keys(n.networks).length) issues.push({ path: `${kind}[${i}].networks`, message: 'a node needs at least one network' });
      for (const [net, addr] of Object.entries(n.networks)) {
        const c = nets.get(net);
        const where = `${kind}[${i}].networks.${net}`;
        if (!c) {
          issues.push({ path: where, message: `"${net}" is not a network of this topology (${[...nets.keys()].join(', ')})` });
          continue;
        }
        if (addr === 'auto') continue;
        if (n.count && n.count > 1) issues.push({ path: where, message: `a fixed address cannot be shared by ${n.count} clients; use auto` });
        const a = ipToInt(addr);
        if (!cidrContains(c, a)) issues.push({ path: where, message: `"${addr}" is outside ${c.text}` });
        else if (a === c.network || a === c.broadcast) issues.push({ path: where, message: `"${addr}" is the network or broadcast address of ${c.text}` });
        else if (a === c.network + 1 && containerNets.has(net)) issues.push({ path: where, message: `"${addr}" is the gateway of ${c.text} (the engine's bridge)` });
        claim(addr, where);
        addresses.set(`v4host:${net}:${a - c.network}`, where);
      }
    });
  checkNode('directors', t.directors);
  checkNode('real_servers', t.real_servers);
  checkNode('clients', t.clients);

  const directorNets = new Set(t.directors.flatMap((d) => Object.keys(d.networks)));
  const rsByName = new Map(t.real_servers.map((r) => [r.name, r]));
  const vipSeen = new Map<string, string>();
  t.services.forEach((s, i) => {
    const where = `services[${i}]`;
    let vipNetName: string;
    if (isIPv6(s.vip)) {
      const found = [...nets6.entries()].find(([, c]) => cidr6Contains(c, s.vip));
      if (!found) {
        issues.push({ path: `${where}.vip`, message: `"${s.vip}" is outside every IPv6 subnet (${[...nets6.values()].map((c) => c.text).join(', ') || 'no network has a subnet6'}); an IPv6 VIP needs a dual-stack network` });
        return;
      }
      vipNetName = found[0];
      const off = ip6ToBigInt(s.vip) - found[1].network;
      if (off === 0n || off === 1n) issues.push({ path: `${where}.vip`, message: `"${s.vip}" is the network or gateway address of ${found[1].text}` });
      const host = hostNumberOf6(found[1], s.vip);
      if (host !== undefined && addresses.has(`v4host:${vipNetName}:${host}`))
        issues.push({ path: `${where}.vip`, message: `"${s.vip}" is the IPv6 address of ${addresses.get(`v4host:${vipNetName}:${host}`)} (a node's IPv6 address is the prefix plus its IPv4 host number)` });
      for (const [bad, why] of [
        [s.balancer === 'haproxy', 'HAProxy services are IPv4 only here'],
        [s.fullnat, 'full-NAT services are IPv4 only'],
        [s.fwmark, 'firewall-mark services are IPv4 only (the director marks with iptables)'],
        [s.persistence?.netmask, 'persistence.netmask is an IPv4 netmask; IPv6 services persist per client address'],
      ] as const)
        if (bad) issues.push({ path: where, message: `${why}; ${s.vip} is IPv6` });
      s.real_servers.forEach((r, j) => {
        // the network the planner reaches it on (see planner.ts) must be dual-stack
        const rs = rsByName.get(r.name);
        const shared = rs ? Object.keys(rs.networks).filter((n) => directorNets.has(n)) : [];
        const via = r.method === 'masq' ? (shared.find((n) => n !== vipNetName) ?? shared[0]) : shared.includes(vipNetName) ? vipNetName : shared[0];
        if (via && !nets6.has(via))
          issues.push({ path: `${where}.real_servers[${j}].name`, message: `${r.name} is reached on ${via}, which has no subnet6, so it has no IPv6 address for the IPv6 VIP ${s.vip}` });
        if (r.method === 'tunnel') issues.push({ path: `${where}.real_servers[${j}].method`, message: `tunnel to an IPv6 VIP needs ip6ip6, which the planner does not build; use masq or droute` });
      });
    } else {
      const vipNet = [...nets.entries()].find(([, c]) => cidrContains(c, ipToInt(s.vip)));
      if (!vipNet) {
        issues.push({ path: `${where}.vip`, message: `"${s.vip}" is outside every subnet (${t.networks.map((n) => n.subnet).join(', ')}); clients reach the VIP on a shared network` });
        return;
      }
      const [name, vc] = vipNet;
      vipNetName = name;
      if (ipToInt(s.vip) === vc.network + 1 || ipToInt(s.vip) === vc.network || ipToInt(s.vip) === vc.broadcast)
        issues.push({ path: `${where}.vip`, message: `"${s.vip}" is the network, gateway or broadcast address of ${vc.text}` });
    }
    if (!directorNets.has(vipNetName)) issues.push({ path: `${where}.vip`, message: `"${s.vip}" is on network ${vipNetName}, where no director is` });
    // LVS lets a lone director balance on its own address (seed 003: ipvsadm -A -t <its public address>:80);
    // a keepalived pair's VIPs must float, so there it stays refused
    const ownAddress = !t.keepalived?.vrrp.length && t.directors.length === 1 && addresses.get(s.vip)?.startsWith('directors[0].networks.');
    if (addresses.has(s.vip) && !ownAddress) issues.push({ path: `${where}.vip`, message: `"${s.vip}" is already the address of ${addresses.get(s.vip)}${t.keepalived ? ' (a keepalived pair moves its VIPs between directors: a VIP cannot be a node address)' : ''}` });
    issues.push(...checkExtraVips(s, where, vipNetName, nets.get(vipNetName), addresses));
    const key = `${isIPv6(s.vip) ? bigIntToIp6(ip6ToBigInt(s.vip)) : s.vip}:${s.protocol}:${s.port ?? `fwm${s.fwmark?.mark}`}`;
    if (vipSeen.has(key)) issues.push({ path: where, message: `the same virtual service as ${vipSeen.get(key)}` });
    vipSeen.set(key, where);
    if (!t.clients.some((c) => vipNetName in c.networks)) issues.push({ path: `${where}.vip`, message: `no client is on ${vipNetName}, the VIP's network` });

    s.real_servers.forEach((r, j) => {
      const rw = `${where}.real_servers[${j}]`;
      const rs = rsByName.get(r.name);
      if (!rs) {
        issues.push({ path: `${rw}.name`, message: `"${r.name}" is not a real server of this topology (${[...rsByName.keys()].join(', ')})` });
        return;
      }
      const shared = Object.keys(rs.networks).filter((n) => directorNets.has(n));
      if (!shared.length) {
        issues.push({ path: `${rw}.name`, message: `${r.name} shares no network with a director, so no forwarding method reaches it` });
        return;
      }
      if (r.method === 'droute' && !(vipNetName in rs.networks))
        issues.push({ path: `${rw}.method`, message: `droute needs ${r.name} on the director's segment that holds the VIP (${vipNetName}); it is on ${Object.keys(rs.networks).join(', ')}` });
      if (r.method === 'masq' && !shared.some((n) => n !== vipNetName))
        issues.push({ path: `${rw}.method`, message: `masq needs ${r.name} on a director network other than the clients' (${vipNetName}), so its replies return through the director` });
      if (r.method === 'masq' && !s.fullnat && vipNetName in rs.networks)
        issues.push({ path: `${rw}.method`, message: `masq needs ${r.name} off the clients' network ${vipNetName}: it would answer them directly, bypassing the director` });
    });
  });
  issues.push(...checkKeepalived(t, nets));
  return issues;
}

/**
 * A firewall-mark service's further destinations: clients reach them where they reach the VIP
 * (the director marks and the real servers hold them as they do the VIP), so each is a free
 * host address of the VIP's network, given once.
 */
function checkExtraVips(s: Topology['services'][number], where: string, vipNet: string, c: ReturnType<typeof parseCidr> | undefined, addresses: Map<string, string>): TopologyIssue[] {
  const issues: TopologyIssue[] = [];
  (s.extra_vips ?? []).forEach((x, j) => {
    const w = `${where}.extra_vips[${j}]`;
    const a = ipToInt(x);
    if (!c || !cidrContains(c, a)) issues.push({ path: w, message: `"${x}" is not on ${vipNet}${c ? ` (${c.text})` : ''}, the network of the VIP ${s.vip}: every destination of a service is reached where its VIP is` });
    else if (a === c.network || a === c.network + 1 || a === c.broadcast) issues.push({ path: w, message: `"${x}" is the network, gateway or broadcast address of ${c.text}` });
    else if (addresses.has(x)) issues.push({ path: w, message: `"${x}" is already the address of ${addresses.get(x)}` });
    if (x === s.vip || s.extra_vips!.indexOf(x) < j) issues.push({ path: w, message: `"${x}" is already a destination of this service` });
  });
  return issues;
}

/** What a keepalived pair needs: directors on the instance's network, every VIP held by an instance, a floating gateway for NAT. */
function checkKeepalived(t: Topology, nets: Map<string, ReturnType<typeof parseCidr>>): TopologyIssue[] {
  const issues: TopologyIssue[] = [];
  const k = t.keepalived;
  if (!k) {
    t.services.forEach((s, i) => {
      if (s.health_check && s.balancer === 'ipvs') issues.push({ path: `services[${i}].health_check`, message: 'health checks of an IPVS service are keepalived\'s: add a keepalived section' });
    });
    return issues;
  }
  const directors = new Map(t.directors.map((d) => [d.name, d]));
  // no VRRP: keepalived on one director programs IPVS and checks the real servers; its VIPs stay put
  const lone = !k.vrrp.length;
  if (lone && t.directors.length !== 1) issues.push({ path: 'keepalived.vrrp', message: `empty, so nothing moves the VIPs, but there are ${t.directors.length} directors: keepalived without VRRP runs on one director (list the instances of a pair)` });
  const vrids = new Map<string, string>();
  const held = new Set<string>();
  k.vrrp.forEach((v, i) => {
    const w = `keepalived.vrrp[${i}]`;
    if (!nets.has(v.network)) issues.push({ path: `${w}.network`, message: `"${v.network}" is not a network of this topology (${[...nets.keys()].join(', ')})` });
    const names = Object.keys(v.priorities);
    if (names.length < 2) issues.push({ path: `${w}.priorities`, message: `${names.length} director(s): a VRRP pair needs at least two` });
    for (const n of names) {
      const d = directors.get(n);
      if (!d) issues.push({ path: `${w}.priorities.${n}`, message: `"${n}" is not a director (${[...directors.keys()].join(', ')})` });
      else if (!(v.network in d.networks)) issues.push({ path: `${w}.priorities.${n}`, message: `${n} is not on ${v.network}, where this instance sends its adverts` });
    }
    const prios = Object.values(v.priorities);
    if (new Set(prios).size !== prios.length) issues.push({ path: `${w}.priorities`, message: 'two directors share a priority: the MASTER would be decided by address, not by the file' });
    if (v.version === 2 && !Number.isInteger(v.advert_int)) issues.push({ path: `${w}.advert_int`, message: `${v.advert_int} is not whole seconds, which VRRPv2 needs (use version: 3 for sub-second adverts)` });
    if (v.version === 3 && v.auth_pass) issues.push({ path: `${w}.auth_pass`, message: 'VRRPv3 has no authentication (RFC 5798)' });
    if (v.version === 3 && (Math.abs(v.advert_int * 100 - Math.round(v.advert_int * 100)) > 1e-9 || v.advert_int >= 40.96))
      issues.push({ path: `${w}.advert_int`, message: `${v.advert_int} is not a multiple of 0.01 s below 40.96 s, which VRRPv3 needs (centiseconds in 12 bits)` });
    if (v.nopreempt && v.preempt_delay !== undefined) issues.push({ path: `${w}.preempt_delay`, message: 'nopreempt and preempt_delay exclude each other' });
    if (k.vrrp.findIndex((x) => x.name === v.name) < i) issues.push({ path: `${w}.name`, message: `"${v.name}" is already the name of another instance` });
    const key = `${v.network}/${v.virtual_router_id}`;
    if (vrids.has(key)) issues.push({ path: `${w}.virtual_router_id`, message: `${v.virtual_router_id} is already used on ${v.network} by ${vrids.get(key)}` });
    vrids.set(key, w);
    v.vips.forEach((x, j) => {
      const c = nets.get(x.network);
      if (!c) issues.push({ path: `${w}.vips[${j}].network`, message: `"${x.network}" is not a network of this topology` });
      else if (!cidrContains(c, ipToInt(x.address))) issues.push({ path: `${w}.vips[${j}].address`, message: `"${x.address}" is outside ${x.network} (${c.text})` });
      else if ([c.network, c.network + 1, c.broadcast].includes(ipToInt(x.address))) issues.push({ path: `${w}.vips[${j}].address`, message: `"${x.address}" is the network, gateway or broadcast address of ${c.text}` });
      else {
        const owner = [...t.directors, ...t.real_servers, ...t.clients].find((n) => Object.values(n.networks).includes(x.address));
        if (owner) issues.push({ path: `${w}.vips[${j}].address`, message: `"${x.address}" is already the address of ${owner.name}` });
      }
      for (const n of names) if (directors.get(n) && !(x.network in directors.get(n)!.networks)) issues.push({ path: `${w}.vips[${j}]`, message: `${n} is not on ${x.network}, so it cannot hold ${x.address}` });
      held.add(x.address);
    });
    if (v.track_process && !t.services.some((s) => s.balancer === v.track_process!.process && v.vips.some((x) => x.address === s.vip)))
      issues.push({ path: `${w}.track_process`, message: `tracks ${v.track_process.process}, but no service on this instance's VIPs (${v.vips.map((x) => x.address).join(', ')}) has balancer: ${v.track_process.process}` });
  });
  t.services.forEach((s, i) => {
    const w = `services[${i}]`;
    if (isIPv6(s.vip)) issues.push({ path: `${w}.vip`, message: `"${s.vip}": keepalived topologies hold IPv4 VIPs only here` });
    else if (!lone && !held.has(s.vip)) issues.push({ path: `${w}.vip`, message: `"${s.vip}" is held by no VRRP instance (list it in keepalived.vrrp[].vips)` });
    (s.extra_vips ?? []).forEach((x, j) => {
      if (!lone && !held.has(x)) issues.push({ path: `${w}.extra_vips[${j}]`, message: `"${x}" is held by no VRRP instance (list it in keepalived.vrrp[].vips)` });
    });
    if (new Set(s.real_servers.map((r) => r.method)).size > 1) issues.push({ path: `${w}.real_servers`, message: 'a keepalived virtual_server has one lvs_method: use one forwarding method per service' });
    s.real_servers.forEach((r, j) => {
      if (r.u_threshold !== undefined || r.l_threshold !== undefined) issues.push({ path: `${w}.real_servers[${j}]`, message: 'thresholds are not rendered into keepalived.conf; set them with ipvsadm in a suite' });
      const rs = t.real_servers.find((x) => x.name === r.name);
      if (r.method === 'masq' && !s.fullnat && rs && !lone) {
        const nets2 = Object.keys(rs.networks).filter((n) => k.vrrp.some((v) => v.vips.some((x) => x.network === n)));
        if (!nets2.length)
          issues.push({ path: `${w}.real_servers[${j}].method`, message: `NAT behind keepalived needs a floating gateway on ${Object.keys(rs.networks).join(' or ')} in keepalived.vrrp[].vips: ${r.name} routes its replies through whichever director is MASTER` });
      }
    });
  });
  return issues;
}

export { SCHEDULERS };
