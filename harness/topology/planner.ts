import { createHash } from 'node:crypto';
import type { Method, VirtualServiceRule } from '../ipvs/rules.js';
import { isExpectKey, parseTargetValue, type Expectations } from '../expect/spec.js';
import { canonicalJson } from '../lab/recipe.js';
import { clientNames } from './loader.js';
import { cidr6Contains, cidrContains, gateway6Of, gatewayOf, hostNumberOf6, intToIp, ip6For, ipToInt, isIPv6, parseCidr, parseCidr6 } from './net.js';
import type { HealthCheck, KeepalivedConfig, VirtualServer, VrrpScript } from '../keepalived/model.js';
import type { HaproxyConfig, HaproxyProxy } from '../haproxy/config.js';
import { HAPROXY_BALANCE, type HealthCheckSpec, type KeepalivedSpec, type ServiceSpec, type SshSpec, type Topology } from './schema.js';

/**
 * The planner turns a validated topology into exactly what each container needs, per
 * forwarding mode, as the LVS literature describes it:
 * - masq (NAT): the director forwards (ip_forward=1); real servers route back via its DIP.
 * - full-NAT: masq plus SNAT to the DIP on the director; real servers keep their own route.
 * - droute (DR): VIP on each real server's lo, arp_ignore=1 and arp_announce=2; one segment.
 * - tunnel (TUN): VIP on each real server's tunl0 (ipip), rp_filter 0 on all and tunl0,
 *   and the ARP sysctls too, since the real servers share the clients' segment here.
 * Per-node sysctls from the file are applied last and win: that is how a broken setup is built.
 */
export type Role = 'director' | 'real-server' | 'client';

export interface PlannedAddress {
  address: string;
  prefix: number;
  /** on the interface attached to this network, or on a named device (lo, tunl0) */
  on: { network: string } | { dev: 'lo' | 'tunl0' };
  why: string;
}

/** A real host over SSH (runtime/ssh-node.ts options, paths resolved): no container is made for it. */
export interface PlannedSsh {
  host: string;
  port: number;
  user: string;
  keyFile?: string;
  agent?: string | true;
  hostKey?: string;
  knownHosts?: string;
  /** commands through `sudo -n --`: the file's `sudo`, else whether user is not root */
  sudo: boolean;
  proxyCommand?: string;
}

export interface PlannedNode {
  name: string;
  role: Role;
  /** the container's name; for an SSH host, `ssh user@host:port` (messages only: there is no container) */
  container: string;
  /** a real host over SSH instead of a container */
  ssh?: PlannedSsh;
  /** interfaces in attach order: network name and the address Docker assigns (and its IPv6 one on a dual-stack network) */
  interfaces: { network: string; address: string; prefix: number; address6?: string; prefix6?: number }[];
  addresses: PlannedAddress[];
  routes: { to: 'default'; via: string; why: string; family?: 6 }[];
  sysctls: Record<string, string>;
  capAdd: string[];
  /** devices to bring up (tunl0) */
  linksUp: string[];
  /** extra commands, as argv, run once after addresses and routes (iptables for full-NAT and fwmark) */
  commands: { argv: string[]; why: string }[];
  /** real servers: the app they serve; it listens on every port a service sends them (TCP: HTTP, UDP: echo) */
  app?: { httpPort: number; httpPorts: number[]; udpPorts: number[] };
  /** directors: the IPVS table they must hold */
  ipvs?: VirtualServiceRule[];
  /**
   * directors of a keepalived topology: their keepalived.conf as a model. Interfaces are named
   * by network here (`@net:public`); the builder puts in the device names the node has.
   */
  keepalived?: KeepalivedConfig;
  /**
   * `validate`: the operator's own keepalived.conf (and the files it includes), translated into
   * the lab, run instead of one rendered from `keepalived`; interface names are `@net:<network>`
   * references the builder binds to the node's devices. The model above still says what the run
   * expects (its IPVS table, its VRRP instances).
   */
  keepalivedFiles?: { path: string; text: string }[];
  /** directors of HAProxy services: their haproxy.cfg as a model */
  haproxy?: HaproxyConfig;
}

/** A VRRP instance as the checks need it: who should be MASTER, and the numbers its failover bound follows. */
export interface PlannedVrrp {
  name: string;
  network: string;
  virtualRouterId: number;
  advertInt: number;
  version: 2 | 3;
  priorities: Record<string, number>;
  /** the director with the highest priority */
  master: string;
  vips: { address: string; network: string }[];
  nopreempt: boolean;
  preemptDelay?: number;
  /** a vrrp_script tracking a process: after `fall` failed runs `interval` s apart the priority moves by `weight` */
  track?: { process: string; interval: number; fall: number; rise: number; weight: number; timeout: number };
}

export interface PlannedService {
  name: string;
  vip: string;
  /** every destination address clients use: the VIP, then a firewall-mark service's extra_vips */
  vips: string[];
  family: 4 | 6;
  vipNetwork: string;
  protocol: 'tcp' | 'udp';
  port?: number;
  fwmark?: { mark: number; ports: number[] };
  scheduler: string;
  /** how it is balanced: an IPVS forwarding mode, or `proxy` (HAProxy on the directors connects to the real servers) */
  mode: 'nat' | 'fullnat' | 'dr' | 'tun' | 'mixed' | 'proxy';
  persistence?: { timeout: number; netmask?: string };
  realServers: { name: string; rip: string; port: number; method: Method | 'proxy'; weight: number; network: string }[];
  /** each director's address on each network, for checks (the DIP real servers see in full-NAT) */
  directorAddresses: Record<string, Record<string, string>>;
}

export interface Plan {
  topology: string;
  /** changes whenever anything that is built changes: a running topology with the same hash is reused */
  hash: string;
  /**
   * dockerName: the Docker network the container nodes join; `docker`: it exists already
   * (`external`, the file's docker_network), or no container is on the network (`none`: SSH
   * hosts only, no Docker network at all); absent, the harness creates it
   */
  networks: { name: string; subnet: string; gateway: string; subnet6?: string; gateway6?: string; dockerName: string; docker?: 'external' | 'none' }[];
  nodes: PlannedNode[];
  services: PlannedService[];
  /** keepalived topologies: the VRRP instances and whether connections are synchronised */
  vrrp?: PlannedVrrp[];
  syncDaemon?: boolean;
  /** the operator's targets (the topology's `expect:`, then `run --expect`); outside the hash: they change no node */
  expect?: Expectations;
}

/** Paths of the harness's own files in a director (written by the builder). */
export const KEEPALIVED_CONF = '/etc/keepalived/keepalived.conf';
export const VRRP_NOTIFY = '/opt/lvs-harness/vrrp-notify';
export const VRRP_LOG = '/run/lvs-harness/vrrp.log';
/** keepalived's console output, each line stamped with the lab clock ($EPOCHREALTIME) */
export const KEEPALIVED_LOG = '/var/log/keepalived.log';
export const MISC_CHECK = '/opt/lvs-harness/misc-check';
export const netRef = (network: string) => `@net:${network}`;

function keepalivedCheck(h: HealthCheckSpec | undefined, rip: string, port: number): HealthCheck {
  const c = h ?? { type: 'tcp' as const, delay_loop: 2, connect_timeout: 1, retry: 1, delay_before_retry: 1, path: '/health', status_code: 200, inhibit_on_failure: false };
  const timing = { connectTimeout: c.connect_timeout, retry: c.retry, delayBeforeRetry: c.delay_before_retry };
  switch (c.type) {
    case 'tcp':
      return { type: 'TCP_CHECK', connectPort: c.port ?? port, ...timing };
    case 'http':
      return { type: 'HTTP_GET', url: { path: c.path, statusCode: c.status_code }, connectPort: c.port ?? port, ...timing };
    case 'ping':
      return { type: 'PING_CHECK', ...timing };
    case 'misc':
      return { type: 'MISC_CHECK', miscPath: [MISC_CHECK, rip, String(c.port ?? port), c.path], miscTimeout: Math.max(1, Math.ceil(c.connect_timeout)), retry: c.retry, delayBeforeRetry: c.delay_before_retry };
  }
}

/** The first client node on a service's VIP network: the one that can reach the VIP. */
export const clientOn = (p: Pick<Plan, 'nodes'>, svc: Pick<PlannedService, 'vipNetwork'>): string | undefined =>
  p.nodes.find((n) => n.role === 'client' && n.interfaces.some((i) => i.network === svc.vipNetwork))?.name;

export const CONTAINER_PREFIX = 'lvsh';
export const networkDockerName = (topology: string, net: string) => `${CONTAINER_PREFIX}-${topology}-${net}`;
export const containerName = (topology: string, node: string) => `${CONTAINER_PREFIX}-${topology}-${node}`;

const ARP_SYSCTLS = {
  'net.ipv4.conf.all.arp_ignore': '1',
  'net.ipv4.conf.all.arp_announce': '2',
  'net.ipv4.conf.lo.arp_ignore': '1',
  'net.ipv4.conf.lo.arp_announce': '2',
};

export function modeOf(s: ServiceSpec): PlannedService['mode'] {
  if (s.balancer === 'haproxy') return 'proxy';
  const methods = new Set(s.real_servers.map((r) => r.method));
  if (methods.size > 1) return 'mixed';
  const m = [...methods][0];
  return m === 'masq' ? (s.fullnat ? 'fullnat' : 'nat') : m === 'droute' ? 'dr' : 'tun';
}

export function plan(t: Topology): Plan {
  const subnets = new Map(t.networks.map((n) => [n.name, parseCidr(n.subnet)]));
  // addresses: explicit ones first, then auto in file order from .2 upward, skipping VIPs
  const used = new Map<string, Set<number>>();
  for (const n of t.networks) used.set(n.name, new Set());
  const subnets6 = new Map(t.networks.filter((n) => n.subnet6).map((n) => [n.name, parseCidr6(n.subnet6!)]));
  // an IPv6 VIP takes the host number it spells (fd89:10::100 is 100, as 10.89.10.100) away from auto addresses too
  const vips = new Set(
    t.services.flatMap((s) => {
      if (!isIPv6(s.vip)) return [s.vip, ...(s.extra_vips ?? [])].map(ipToInt);
      const [net, c6] = [...subnets6.entries()].find(([, c]) => cidr6Contains(c, s.vip))!;
      return [subnets.get(net)!.network + (hostNumberOf6(c6, s.vip) ?? 0)];
    }),
  );
  // addresses VRRP moves between directors are not for nodes either
  for (const v of t.keepalived?.vrrp ?? []) for (const x of v.vips) vips.add(ipToInt(x.address));
  const v6of = (net: string, ipv4: string) => (subnets6.has(net) ? ip6For(subnets6.get(net)!, subnets.get(net)!, ipv4) : undefined);
  const attachAll = [...t.directors, ...t.real_servers, ...t.clients.flatMap((c) => clientNames(c).map(() => c))];
  for (const n of attachAll) for (const [net, a] of Object.entries(n.networks)) if (a !== 'auto') used.get(net)!.add(ipToInt(a));
  const next = (net: string) => {
    const c = subnets.get(net)!;
    const u = used.get(net)!;
    for (let a = c.network + 2; a < c.broadcast; a++) {
      if (!u.has(a) && !vips.has(a)) {
        u.add(a);
        return intToIp(a);
      }
    }
    throw new Error(`network ${net} (${c.text}) has no free address left`);
  };
  const ifaces = (networks: Record<string, string>) =>
    Object.entries(networks).map(([network, a]) => {
      const address = a === 'auto' ? next(network) : a;
      const address6 = v6of(network, address);
      return { network, address, prefix: subnets.get(network)!.prefix, ...(address6 ? { address6, prefix6: subnets6.get(network)!.prefix } : {}) };
    });

  const nodes: PlannedNode[] = [];
  const blank = (name: string, role: Role, networks: Record<string, string>, ssh?: SshSpec): PlannedNode => ({
    name,
    role,
    container: ssh ? `ssh ${ssh.user}@${ssh.host}:${ssh.port}` : containerName(t.name, name),
    ...(ssh ? { ssh: plannedSsh(ssh) } : {}),
    interfaces: ifaces(networks),
    addresses: [],
    routes: [],
    sysctls: {},
    capAdd: ['NET_ADMIN', 'NET_RAW'],
    linksUp: [],
    commands: [],
  });
  const directors = t.directors.map((d) => blank(d.name, 'director', d.networks, d.ssh));
  const realServers = t.real_servers.map((r) => ({
    ...blank(r.name, 'real-server', r.networks, r.ssh),
    app: { httpPort: r.app.http_port, httpPorts: [r.app.http_port], udpPorts: r.app.udp_port ? [r.app.udp_port] : [] },
  }));
  const clients = t.clients.flatMap((c) =>
    clientNames(c).map((nm) => {
      const n = blank(nm, 'client', c.networks, c.ssh);
      const first = n.interfaces[0]!;
      for (let i = 1; i < c.source_addresses; i++) {
        const address = next(first.network);
        n.addresses.push({ address, prefix: first.prefix, on: { network: first.network }, why: `source address ${i + 1} of ${c.source_addresses}` });
        const address6 = v6of(first.network, address);
        if (address6) n.addresses.push({ address: address6, prefix: first.prefix6!, on: { network: first.network }, why: `IPv6 source address ${i + 1} of ${c.source_addresses}` });
      }
      return n;
    }),
  );
  nodes.push(...directors, ...realServers, ...clients);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const addrOn = (n: PlannedNode, net: string) => n.interfaces.find((i) => i.network === net)?.address;
  const addr6On = (n: PlannedNode, net: string) => n.interfaces.find((i) => i.network === net)?.address6;

  const directorAddresses: Record<string, Record<string, string>> = {};
  for (const d of directors) directorAddresses[d.name] = Object.fromEntries(d.interfaces.map((i) => [i.network, i.address]));

  // each service with its real servers resolved to the network the director reaches them on
  type ResolvedRs = PlannedService['realServers'][number] & { u?: number; l?: number };
  const resolved = t.services.map((s, idx) => {
    const v6 = isIPv6(s.vip);
    const vipNetwork = v6 ? [...subnets6.entries()].find(([, c]) => cidr6Contains(c, s.vip))![0] : t.networks.find((n) => cidrContains(subnets.get(n.name)!, ipToInt(s.vip)))!.name;
    const rss: ResolvedRs[] = s.real_servers.map((r) => {
      const rs = byName.get(r.name)!;
      const method = r.method ?? 'proxy';
      // droute/tunnel: the VIP's segment when shared; masq: another shared network (replies return via the director);
      // proxy: HAProxy connects from the director, on whichever network they share (the first)
      const shared = rs.interfaces.map((i) => i.network).filter((n) => directors.some((d) => addrOn(d, n)));
      const network = method === 'masq' ? (shared.find((n) => n !== vipNetwork) ?? shared[0]!) : method === 'proxy' ? shared[0]! : shared.includes(vipNetwork) ? vipNetwork : shared[0]!;
      const rip = v6 ? addr6On(rs, network) : addrOn(rs, network);
      if (!rip) throw new Error(`${r.name} has no IPv6 address on ${network} for the IPv6 VIP ${s.vip}: give ${network} a subnet6`);
      return { name: r.name, rip, port: r.port ?? s.port ?? 0, method, weight: r.weight, network, u: r.u_threshold, l: r.l_threshold };
    });
    const svc: PlannedService = {
      name: s.name ?? `svc${idx}`,
      vip: s.vip,
      vips: [s.vip, ...(s.extra_vips ?? [])],
      family: v6 ? 6 : 4,
      vipNetwork,
      protocol: s.protocol,
      port: s.port,
      fwmark: s.fwmark,
      scheduler: s.scheduler,
      mode: modeOf(s),
      persistence: s.persistence,
      realServers: rss.map(({ u: _u, l: _l, ...r }) => r),
      directorAddresses,
    };
    return { s, svc, rss };
  });
  const services = resolved.map((x) => x.svc);

  for (const { s, svc, rss } of resolved) {
    if (svc.mode === 'proxy') {
      planHaproxy(s, svc, rss, directors, addrOn, byName);
      continue;
    }
    for (const d of directors) {
      if (!addrOn(d, svc.vipNetwork)) continue;
      for (const vip of svc.vips)
        // a single director may balance on its own address (the loader allows it): nothing to add then
        if (!d.addresses.some((a) => a.address === vip) && !d.interfaces.some((i) => i.address === vip || i.address6 === vip))
          d.addresses.push({ address: vip, prefix: svc.family === 6 ? 128 : 32, on: { network: svc.vipNetwork }, why: `VIP of ${svc.name}` });
      const rule: VirtualServiceRule = {
        ...(s.fwmark ? { fwmark: s.fwmark.mark } : { protocol: s.protocol, address: s.vip, port: s.port! }),
        scheduler: s.scheduler,
        ...(s.persistence ? { persistence: { timeout: s.persistence.timeout, ...(s.persistence.netmask ? { netmask: s.persistence.netmask } : {}) } } : {}),
        realServers: rss.map((r) => ({
          address: r.rip,
          port: s.fwmark ? 0 : r.port,
          method: r.method as Method,
          weight: r.weight,
          ...(r.u ? { upperThreshold: r.u } : {}),
          ...(r.l ? { lowerThreshold: r.l } : {}),
        })),
      };
      (d.ipvs ??= []).push(rule);
      // one rule per address and port (not -d a,b,c): each can be listed, and deleted, on its own
      if (s.fwmark)
        for (const vip of svc.vips)
          for (const p of s.fwmark.ports)
            d.commands.push({
              argv: ['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-d', `${vip}/32`, '-p', s.protocol, '--dport', String(p), '-j', 'MARK', '--set-mark', String(s.fwmark.mark)],
              why: `mark ${s.protocol}/${p} to ${vip === s.vip ? 'the VIP' : `the destination ${vip}`} for fwmark service ${s.fwmark.mark}`,
            });
      if (rss.some((r) => r.method === 'masq')) d.sysctls[svc.family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'] = '1';
      if (svc.mode === 'fullnat') {
        d.sysctls['net.ipv4.vs.conntrack'] = '1';
        // a fwmark connection's virtual address is the destination the client used: one rule per destination
        for (const net of new Set(rss.map((r) => r.network)))
          for (const vip of svc.vips)
            d.commands.push({
              argv: ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'ipvs', '--vaddr', `${vip}/32`, ...(s.port ? ['--vport', String(s.port)] : []), '-j', 'SNAT', '--to-source', addrOn(d, net)!],
              why: `full-NAT: real servers on ${net} see the DIP ${addrOn(d, net)} as the client`,
            });
      }
    }
    for (const r of rss) {
      const rs = byName.get(r.name)!;
      const app = rs.app!;
      for (const p of s.fwmark ? s.fwmark.ports : [r.port]) {
        const ports = s.protocol === 'udp' ? app.udpPorts : app.httpPorts;
        if (!ports.includes(p)) ports.push(p);
      }
      if (r.method === 'masq' && svc.mode !== 'fullnat') {
        const d = directors.find((x) => addrOn(x, r.network))!;
        const via = svc.family === 6 ? addr6On(d, r.network)! : addrOn(d, r.network)!;
        if (!rs.routes.some((x) => x.via === via))
          rs.routes.push({ to: 'default', via, why: `NAT: replies return through the director's DIP ${via}`, ...(svc.family === 6 ? { family: 6 as const } : {}) });
      }
      for (const vip of svc.vips) {
        if (r.method === 'droute' && !rs.addresses.some((a) => a.address === vip)) {
          rs.addresses.push({ address: vip, prefix: svc.family === 6 ? 128 : 32, on: { dev: 'lo' }, why: `DR: accept packets for the VIP ${vip}` });
          // IPv6 has no ARP: neighbour discovery answers only for addresses on the asking interface
          if (svc.family === 4) Object.assign(rs.sysctls, ARP_SYSCTLS);
        }
        if (r.method === 'tunnel' && !rs.addresses.some((a) => a.address === vip)) {
          rs.addresses.push({ address: vip, prefix: 32, on: { dev: 'tunl0' }, why: `TUN: decapsulated packets for the VIP ${vip}` });
          if (!rs.linksUp.includes('tunl0')) rs.linksUp.push('tunl0');
          Object.assign(rs.sysctls, ARP_SYSCTLS, {
            'net.ipv4.conf.all.rp_filter': '0',
            'net.ipv4.conf.default.rp_filter': '0',
            'net.ipv4.conf.tunl0.rp_filter': '0',
          });
        }
      }
    }
  }

  let vrrp: PlannedVrrp[] | undefined;
  if (t.keepalived) {
    const k = t.keepalived;
    vrrp = k.vrrp.map((v) => {
      const master = Object.entries(v.priorities).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]![0];
      return {
        name: v.name,
        network: v.network,
        virtualRouterId: v.virtual_router_id,
        advertInt: v.advert_int,
        version: v.version,
        priorities: v.priorities,
        master,
        vips: v.vips,
        nopreempt: v.nopreempt,
        preemptDelay: v.preempt_delay,
        ...(v.track_process ? { track: { ...v.track_process, timeout: TRACK_SCRIPT_TIMEOUT } } : {}),
      };
    });
    const floating = new Map(k.vrrp.flatMap((v) => v.vips.map((x) => [x.network, x.address] as const)));
    // HAProxy services are HAProxy's: keepalived only moves their VIPs
    const ipvsResolved = resolved.filter((x) => x.svc.mode !== 'proxy');
    const virtualServers: VirtualServer[] = ipvsResolved.map(({ s, rss }) => {
      const kind = rss[0]!.method === 'masq' ? 'NAT' : rss[0]!.method === 'droute' ? 'DR' : 'TUN';
      const common = {
        delayLoop: s.health_check?.delay_loop ?? 2,
        lbAlgo: s.scheduler,
        lbKind: kind,
        ...(s.persistence ? { persistenceTimeout: s.persistence.timeout } : {}),
        realServers: rss.map((r) => ({
          address: r.rip,
          ...(s.fwmark ? {} : { port: r.port }),
          weight: r.weight,
          ...(s.health_check?.inhibit_on_failure ? { inhibitOnFailure: true } : {}),
          check: keepalivedCheck(s.health_check, r.rip, s.fwmark ? s.fwmark.ports[0]! : r.port),
        })),
      } as const;
      return s.fwmark ? { ...common, fwmark: s.fwmark.mark } : { ...common, vip: s.vip, port: s.port!, protocol: s.protocol === 'udp' ? ('UDP' as const) : ('TCP' as const) };
    });
    for (const d of directors) {
      // VRRP, not the builder, puts the VIPs on the MASTER
      // (without VRRP, keepalived on a lone director: its VIPs are its own, put there as without keepalived)
      if (k.vrrp.length) d.addresses = d.addresses.filter((a) => !k.vrrp.some((v) => v.vips.some((x) => x.address === a.address)) && !services.some((s) => s.vips.includes(a.address)));
      const override = t.directors.find((x) => x.name === d.name)?.keepalived;
      const mine = k.vrrp.filter((v) => d.name in v.priorities);
      const servers = virtualServers.filter((_, i) => addrOn(d, ipvsResolved[i]!.svc.vipNetwork));
      // one vrrp_script per tracked process, shared by the instances that track it
      const scripts = [...new Map(mine.flatMap((v) => (v.track_process ? [[v.track_process.process, trackScript(v.track_process)] as const] : []))).values()];
      d.keepalived = {
        globalDefs: {
          routerId: d.name,
          scriptUser: { user: 'root' },
          enableScriptSecurity: true,
          // a new MASTER announces itself at once and once more a second later
          garp: { masterDelay: 1, masterRepeat: 3, interval: 0.001 },
          ...(k.sync_daemon && mine[0] ? { lvsSyncDaemon: { interface: netRef(mine[0].network), instance: mine[0].name } } : {}),
        },
        vrrpInstances: mine.map((v) => {
          const peers = Object.keys(v.priorities).filter((n) => n !== d.name).map((n) => addrOn(byName.get(n)!, v.network)!);
          const pass = override?.auth_pass ?? v.auth_pass;
          return {
            name: v.name,
            // with nopreempt or preempt_delay keepalived wants every instance to start as BACKUP; the priorities still elect the master
            state: v.nopreempt || v.preempt_delay !== undefined || vrrp!.find((x) => x.name === v.name)!.master !== d.name ? ('BACKUP' as const) : ('MASTER' as const),
            interface: netRef(v.network),
            virtualRouterId: v.virtual_router_id,
            priority: v.priorities[d.name]!,
            advertInt: v.advert_int,
            version: v.version,
            ...(pass && v.version === 2 ? { authentication: { type: 'PASS' as const, pass } } : {}),
            virtualIpaddress: v.vips.map((x) => ({ address: x.address, prefix: 32, dev: netRef(x.network) })),
            ...(v.nopreempt ? { nopreempt: true } : {}),
            ...(v.preempt_delay !== undefined ? { preemptDelay: v.preempt_delay } : {}),
            ...(v.unicast ? { unicastSrcIp: addrOn(d, v.network)!, unicastPeers: peers } : {}),
            ...(v.track_process ? { trackScripts: [{ name: trackScriptName(v.track_process.process) }] } : {}),
            notify: { all: [VRRP_NOTIFY] },
          };
        }),
        ...(servers.length ? { virtualServers: servers } : {}),
        ...(scripts.length ? { vrrpScripts: scripts } : {}),
      };
    }
    // NAT real servers route back through the floating gateway address, which follows the MASTER
    for (const rs of realServers)
      for (const r of rs.routes) {
        const net = rs.interfaces.find((i) => directors.some((d) => addrOn(d, i.network) === r.via))?.network;
        const gw = net && floating.get(net);
        if (gw) {
          r.via = gw;
          r.why = `NAT behind a keepalived pair: replies return through the floating gateway ${gw}, held by the MASTER`;
        }
      }
  }

  // overrides from the file win
  const overrides = new Map<string, Record<string, string>>();
  for (const d of t.directors) if (d.sysctls) overrides.set(d.name, d.sysctls);
  for (const r of t.real_servers) if (r.sysctls) overrides.set(r.name, r.sysctls);
  for (const c of t.clients) if (c.sysctls) for (const nm of clientNames(c)) overrides.set(nm, c.sysctls);
  for (const n of nodes) {
    // a container on a dual-stack network needs IPv6 on (images may start with it off)
    if (n.interfaces.some((i) => i.address6)) n.sysctls['net.ipv6.conf.all.disable_ipv6'] = '0';
    Object.assign(n.sysctls, overrides.get(n.name) ?? {});
  }

  const networks = t.networks.map((n) => ({
    name: n.name,
    subnet: parseCidr(n.subnet).text,
    gateway: gatewayOf(subnets.get(n.name)!),
    ...(subnets6.has(n.name) ? { subnet6: subnets6.get(n.name)!.text, gateway6: gateway6Of(subnets6.get(n.name)!) } : {}),
    dockerName: n.docker_network ?? networkDockerName(t.name, n.name),
    // only when it is not one the harness creates: the plans (and hashes) of container topologies stay as they were
    ...(!nodes.some((x) => !x.ssh && x.interfaces.some((i) => i.network === n.name)) ? { docker: 'none' as const } : n.docker_network ? { docker: 'external' as const } : {}),
  }));
  const body = { networks, nodes, services, ...(vrrp ? { vrrp, syncDaemon: t.keepalived!.sync_daemon } : {}) };
  const hash = createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 12);
  const expect = expectationsOf(t);
  return { topology: t.name, hash, ...body, ...(expect ? { expect } : {}) };
}

const plannedSsh = (s: SshSpec): PlannedSsh => ({
  host: s.host,
  port: s.port,
  user: s.user,
  ...(s.key_file ? { keyFile: s.key_file } : {}),
  ...(s.agent !== undefined ? { agent: s.agent } : {}),
  ...(s.host_key ? { hostKey: s.host_key } : {}),
  ...(s.known_hosts ? { knownHosts: s.known_hosts } : {}),
  sudo: s.sudo ?? s.user !== 'root',
  ...(s.proxy_command ? { proxyCommand: s.proxy_command } : {}),
});

/** The `expect:` section as targets; the schema has already refused values that do not parse. */
function expectationsOf(t: Topology): Expectations | undefined {
  const out: Expectations = {};
  for (const [k, text] of Object.entries(t.expect ?? {})) {
    const v = text === undefined || !isExpectKey(k) ? undefined : parseTargetValue(k, text);
    if (typeof v === 'number') out[k as keyof Expectations] = { value: v, source: `expect.${k}: ${text} in topology ${t.name}` };
  }
  return Object.keys(out).length ? out : undefined;
}

export const trackScriptName = (process: string) => `chk_${process}`;
/**
 * Seconds a tracking script may run before it counts as failed. pgrep takes milliseconds, but
 * under emulation, while a node is being restored, one overran 1 s (a CI run: keepalived logged
 * "already running, expect idle - skipping run", then "timed_out", and the MASTER dropped to its
 * tracked priority with HAProxy alive). keepalived skips a run while the last one still runs, so
 * only a run past this counts; the bound (trackScriptBound) includes it.
 */
const TRACK_SCRIPT_TIMEOUT = 3;

/** The vrrp_script watching a process: the seed's check_haproxy.sh counts haproxy processes; pgrep's exit status says the same. */
const trackScript = (tp: NonNullable<KeepalivedSpec['vrrp'][number]['track_process']>): VrrpScript => ({
  name: trackScriptName(tp.process),
  script: ['/usr/bin/pgrep', '-x', tp.process],
  interval: tp.interval,
  timeout: TRACK_SCRIPT_TIMEOUT,
  fall: tp.fall,
  rise: tp.rise,
  weight: tp.weight,
});

/** A service HAProxy balances: a frontend on the VIP and a backend of its real servers on every director of the VIP's network. */
function planHaproxy(
  s: ServiceSpec,
  svc: PlannedService,
  rss: PlannedService['realServers'],
  directors: PlannedNode[],
  addrOn: (n: PlannedNode, net: string) => string | undefined,
  byName: Map<string, PlannedNode>,
) {
  const h = s.health_check;
  const proxy: HaproxyProxy = {
    name: svc.name,
    bind: { address: svc.vip, port: s.port! },
    balance: (HAPROXY_BALANCE as Record<string, HaproxyProxy['balance']>)[s.scheduler]!,
    check: h?.type === 'http' ? { type: 'http', path: h.path, status: h.status_code, ...(h.port ? { port: h.port } : {}) } : { type: 'tcp' },
    inter: h?.delay_loop ?? 2,
    fall: (h?.retry ?? 1) + 1,
    rise: 1,
    timeout: h?.connect_timeout ?? 1,
    servers: rss.map((r) => ({ name: r.name, address: r.rip, port: r.port, weight: r.weight })),
  };
  for (const d of directors) {
    if (!addrOn(d, svc.vipNetwork)) continue;
    (d.haproxy ??= { proxies: [] }).proxies.push(proxy);
    // HAProxy binds the VIP before (or without) holding it: the BACKUP's is ready for a takeover
    d.sysctls['net.ipv4.ip_nonlocal_bind'] = '1';
    if (!d.addresses.some((a) => a.address === svc.vip)) d.addresses.push({ address: svc.vip, prefix: 32, on: { network: svc.vipNetwork }, why: `VIP of ${svc.name} (HAProxy)` });
  }
  for (const r of rss) {
    const app = byName.get(r.name)!.app!;
    if (!app.httpPorts.includes(r.port)) app.httpPorts.push(r.port);
  }
}
