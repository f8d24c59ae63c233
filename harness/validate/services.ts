import { isIPv4 } from 'node:net';
import type { Loc } from '../keepalived/conf/ast.js';
import type { TVirtualServer } from '../keepalived/conf/typed.js';
import { SCHEDULERS, type Method, type VirtualServiceRule } from '../ipvs/rules.js';
import type { TopologyFile } from '../topology/schema.js';
import { healthCheckOf } from './health.js';
import type { Notes } from './notes.js';
import type { RulesSource } from './sources.js';
import type { Translation } from './translation.js';

/**
 * The virtual services of the files in the schema's terms, with the real servers they name.
 * keepalived's own defaults apply where the file is silent (NAT, TCP, weight 1), and a value
 * keepalived would not take as written is taken as keepalived takes it (`lb_kind dr` is NAT).
 */
export type ServiceFile = TopologyFile['services'][number];
export type RealServerFile = TopologyFile['real_servers'][number];

export class RealServers {
  readonly nodes: RealServerFile[] = [];
  private readonly byLab = new Map<string, string>();
  constructor(private readonly t: Translation) {}
  /** the lab node for their real server address */
  nameOf(their: string): string {
    const lab = this.t.addresses.get(their)!;
    let name = this.byLab.get(lab);
    if (!name) {
      name = `rs${this.nodes.length + 1}`;
      this.byLab.set(lab, name);
      this.nodes.push({ name, networks: { [this.t.networkOf(lab)!]: lab } });
    }
    return name;
  }
}

const KIND: Record<string, Method> = { NAT: 'masq', DR: 'droute', TUN: 'tunnel' };
const isScheduler = (s: string): s is (typeof SCHEDULERS)[number] => (SCHEDULERS as readonly string[]).includes(s);

function methodOf(at: { value: string; text: string } & Loc, notes: Notes): Method {
  const m = KIND[at.value];
  if (m) return m;
  notes.warn(at, `lb_kind ${at.text} is not NAT, DR or TUN as keepalived spells them: keepalived forwards by NAT, and so does the lab`);
  return 'masq';
}

const protoOf = (s: string | undefined) => (s === undefined ? 'tcp' : s === 'TCP' ? 'tcp' : s === 'UDP' ? 'udp' : undefined);

export function servicesOfConf(v: TVirtualServer, withChecks: boolean, t: Translation, rs: RealServers, notes: Notes): ServiceFile[] {
  if (v.kind === 'fwmark') {
    notes.notExercised(v, `virtual_server fwmark ${v.fwmark}: the ports the mark stands for are set by the operator's iptables rules, which the files do not give`);
    return [];
  }
  if (v.kind === 'group') {
    notes.notExercised(v, `virtual_server group ${v.group}: the lab plans services by address and port; write each as its own virtual_server to exercise it`);
    return [];
  }
  if (!v.address || !isIPv4(v.address)) {
    notes.notExercised(v, `virtual_server ${v.text}: the lab plans IPv4 services of keepalived pairs only`);
    return [];
  }
  const protocol = protoOf(v.protocol?.value);
  if (!protocol) {
    notes.notExercised(v.protocol ?? v, `protocol ${v.protocol?.text}: the lab sends TCP and UDP`);
    return [];
  }
  const algo = v.lbAlgo?.value ?? 'wlc';
  if (!isScheduler(algo)) {
    notes.error(v.lbAlgo ?? v, `lb_algo ${v.lbAlgo?.text}: not an IPVS scheduler (${SCHEDULERS.join(', ')})`);
    return [];
  }
  if (!v.lbAlgo) notes.warn(v, `virtual_server ${v.text} has no lb_algo: IPVS schedules it with wlc, and so does the lab`);
  if (!v.realServers.length) {
    notes.notExercised(v, `virtual_server ${v.text} has no real_server: nothing to send traffic to`);
    return [];
  }
  if (v.sorryServer) notes.notExercised(v.sorryServer, 'sorry_server: the lab does not build it; with every real server down its traffic goes nowhere');
  const serviceMethod = v.lbKind ? methodOf(v.lbKind, notes) : 'masq';
  const realServers: ServiceFile['real_servers'] = [];
  for (const r of v.realServers) {
    if (!isIPv4(r.address)) {
      notes.notExercised(r, `real_server ${r.text}: not an IPv4 address the lab can place`);
      continue;
    }
    const method = r.lvsMethod ? methodOf(r.lvsMethod, notes) : serviceMethod;
    const weight = r.weight && Number.isInteger(r.weight.value) ? Math.min(65535, Math.max(0, r.weight.value)) : 1;
    realServers.push({ name: rs.nameOf(r.address), method, weight, ...(r.port !== undefined && r.port !== v.port ? { port: r.port } : {}) });
  }
  if (!realServers.length) return [];
  const timeout = v.persistenceTimeout && Number.isFinite(v.persistenceTimeout.value) && v.persistenceTimeout.value >= 1 ? Math.round(v.persistenceTimeout.value) : undefined;
  const netmask = v.persistenceGranularity && isIPv4(v.persistenceGranularity.value) ? v.persistenceGranularity.value : undefined;
  const health = withChecks ? healthCheckOf(v, notes) : undefined;
  if (!withChecks && v.realServers.some((r) => r.checkers.length))
    notes.notExercised(v, `the health checks of ${v.text}: keepalived runs them, but the lab judges health checks of a keepalived pair only (give --peer)`);
  return [
    {
      vip: t.addresses.get(v.address)!,
      ...(v.port !== undefined ? { port: v.port } : {}),
      protocol,
      scheduler: algo,
      ...(timeout !== undefined ? { persistence: { timeout, ...(netmask ? { netmask } : {}) } } : {}),
      ...(health ? { health_check: health } : {}),
      real_servers: realServers,
    },
  ];
}

export function servicesOfRules(r: RulesSource, t: Translation, rs: RealServers, notes: Notes): ServiceFile[] {
  const out: ServiceFile[] = [];
  for (const s of r.rules.services) {
    const at = s.loc ?? { file: r.file, line: 0 };
    const where = s.fwmark !== undefined ? `fwmark ${s.fwmark}` : `${s.protocol} ${s.address}:${s.port}`;
    if (s.hostName || s.realServers.some((x) => x.hostName)) {
      notes.error(at, `${where} names a host, not an address: save the rules with ipvsadm -S -n so they can be placed in the lab`);
      continue;
    }
    if (s.fwmark !== undefined || !s.address || !isIPv4(s.address) || typeof s.port !== 'number') {
      notes.notExercised(at, `${where}: the lab plans IPv4 services on an address and a numeric port from rules (a mark's ports are set by iptables, which the rules do not give)`);
      continue;
    }
    const protocol = s.protocol === 'tcp' || s.protocol === 'udp' ? s.protocol : undefined;
    if (!protocol || !isScheduler(s.scheduler)) {
      notes.notExercised(at, `${where}: the lab plans TCP and UDP services with an IPVS scheduler (${s.scheduler})`);
      continue;
    }
    if (!s.realServers.length) {
      notes.notExercised(at, `${where} has no real server: nothing to send traffic to`);
      continue;
    }
    out.push(serviceOfRule(s, s.address, s.port, protocol, s.scheduler, t, rs, notes));
  }
  return out;
}

function serviceOfRule(s: VirtualServiceRule, address: string, port: number, protocol: 'tcp' | 'udp', scheduler: (typeof SCHEDULERS)[number], t: Translation, rs: RealServers, notes: Notes): ServiceFile {
  if (s.schedFlags || s.pe || s.onePacket) notes.notExercised(s.loc, `${protocol} ${address}:${port}: scheduler flags, persistence engine and one-packet scheduling are programmed but not judged`);
  return {
    vip: t.addresses.get(address)!,
    port,
    protocol,
    scheduler,
    ...(s.persistence ? { persistence: { timeout: s.persistence.timeout, ...(s.persistence.netmask && isIPv4(s.persistence.netmask) ? { netmask: s.persistence.netmask } : {}) } } : {}),
    real_servers: s.realServers.map((r) => ({
      name: rs.nameOf(r.address),
      method: r.method,
      weight: r.weight,
      ...(typeof r.port === 'number' && r.port !== 0 && r.port !== port ? { port: r.port } : {}),
    })),
  };
}
