import YAML from 'yaml';
import type { TopologyFile } from '../topology/schema.js';
import { errDerive, Notes, type DeriveNote } from './notes.js';
import { RealServers, servicesOfConf, servicesOfRules, type ServiceFile } from './services.js';
import { collectSightings } from './sightings.js';
import type { KeepalivedSource, RulesSource } from './sources.js';
import { TranslationBuilder, type Translation } from './translation.js';
import { deriveVrrp } from './vrrp.js';

/**
 * A lab topology, in the project's own schema, from an operator's files: one director per
 * keepalived.conf (or one for an ipvsadm-only director), the real servers and services the
 * files name, the VRRP instances of a pair, and a client on the VIPs' networks; with the
 * translation of their addresses and interfaces into the lab. The topology then goes through
 * the loader and planner like any other (plan.ts), so validate has the plan seam every command
 * has.
 */
export interface DeriveInput {
  keepalived: KeepalivedSource[];
  rules?: RulesSource;
  /** the topology's name (containers are lvsh-<name>-<node>) */
  name?: string;
}

export interface Derived {
  topology: TopologyFile;
  yaml: string;
  translation: Translation;
  /** lab director name → the keepalived.conf it runs (none for an ipvsadm-only director) */
  directors: { name: string; file?: string }[];
  /** warnings (adaptations the lab makes) and what runs but is not judged, each at its line */
  notes: DeriveNote[];
}

/** problems of the grammar layer that leave validate not knowing what keepalived runs */
const FATAL = new Set(['include-missing', 'include-loop', 'include-depth', 'binary-input', 'too-large']);
const STAND_IN_PORT = 80;

export function derive(input: DeriveInput): Derived {
  const notes = new Notes();
  const confs = input.keepalived;
  if (confs.length > 2) notes.error({ file: confs[2]!.file, line: 0 }, 'validate takes one keepalived.conf, or two with --peer');
  if (!confs.length && !input.rules) notes.error(undefined, 'nothing to validate: give --keepalived FILE, or --ipvsadm RULES for a single director');
  const pair = confs.slice(0, 2);
  const directors = pair.length ? pair.map((_, i) => `director${i + 1}`) : ['director1'];
  for (const c of pair)
    for (const p of c.parsed.problems) {
      if (FATAL.has(p.code)) notes.error(p, p.message);
      else notes.warn(p, `${p.message} (lint reports it; the lab runs the file as keepalived reads it)`);
    }

  const b = new TranslationBuilder();
  collectSightings(directors, pair, input.rules, b, notes);
  const t = b.build();
  const rs = new RealServers(t);

  const vrrp = deriveVrrp(directors, pair.map((c) => c.typed), t, notes);
  // one keepalived.conf with virtual servers: keepalived runs alone on the director, programs IPVS
  // and runs the file's health checks (its VRRP instances, with no peer, fail nothing over)
  const lone = pair.length === 1 && pair[0]!.typed.virtualServers.length > 0 && vrrp.keepalived === undefined;
  const withChecks = vrrp.keepalived !== undefined || lone;
  const services: ServiceFile[] = [];
  const seen = new Set<string>();
  const add = (list: ServiceFile[]) => {
    for (const s of list) {
      const key = `${s.vip}:${s.protocol}:${s.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      services.push(s);
    }
  };
  // the peer's copy of a service is the same service (lint's pair-services names differences)
  const keyOf = (v: { address?: string; port?: number; protocol?: { value: string } }) => `${v.address && t.addresses.get(v.address)}:${(v.protocol?.value ?? 'TCP').toLowerCase()}:${v.port}`;
  for (const c of pair) for (const v of c.typed.virtualServers) if (!seen.has(keyOf(v))) add(servicesOfConf(v, withChecks, t, rs, notes));
  if (input.rules) add(servicesOfRules(input.rules, t, rs, notes));
  const named: ServiceFile[] = services.map((s, i) => ({ name: `s${i + 1}-${s.protocol ?? 'tcp'}${s.port ?? ''}`, ...s }));

  const vrrpVips = vrrp.keepalived?.vrrp.flatMap((v) => v.vips) ?? [];
  if (!services.length) {
    named.push(...standIn(vrrpVips, b, rs, notes, pair[0]?.file ?? input.rules?.file));
  }

  const serviceNets = new Set(named.map((s) => t.networkOf(s.vip)!).filter(Boolean));
  const vipNets = new Set([...serviceNets, ...vrrpVips.map((v) => v.network)]);
  const rsNets = new Set(rs.nodes.flatMap((n) => Object.keys(n.networks)));
  const owned = (d: string) => b.sightings.filter((s) => s.owner === d).map((s) => t.addresses.get(s.address)!);
  const directorNodes = directors.map((name, k) => {
    const nets = new Set([...(t.interfaces.get(name)?.values() ?? []), ...vipNets, ...rsNets]);
    const networks: Record<string, string> = {};
    for (const n of nets) networks[n] = owned(name).find((a) => t.networkOf(a) === n) ?? b.allocate(n);
    return { name, networks, ...(k === 1 && vrrp.peerAuthPass ? { keepalived: { auth_pass: vrrp.peerAuthPass } } : {}) };
  });

  const errors = notes.of('error');
  if (errors.length) throw errDerive(errors);

  const topology: TopologyFile = {
    name: input.name ?? 'validate',
    description: `derived from ${[...pair.map((c) => c.file), ...(input.rules ? [input.rules.file] : [])].join(', ')}`,
    networks: t.networks.map((n) => ({ name: n.name, subnet: n.subnet })),
    directors: directorNodes,
    real_servers: rs.nodes,
    // on the services' networks only: a client beside NAT real servers would bypass the director
    clients: [{ name: 'client', networks: Object.fromEntries([...serviceNets].map((n) => [n, 'auto'])), source_addresses: 4 }],
    services: named,
    ...(vrrp.keepalived ? { keepalived: vrrp.keepalived } : lone ? { keepalived: { vrrp: [], sync_daemon: false } } : {}),
  };
  return {
    topology,
    yaml: YAML.stringify(topology),
    translation: t,
    directors: directors.map((name, k) => ({ name, ...(pair[k] ? { file: pair[k]!.file } : {}) })),
    notes: notes.all.filter((n) => n.severity !== 'error'),
  };
}

/**
 * Files that move VIPs but name no real server (seed 002's VI_141/VI_142: nginx on the directors
 * serves the VIPs): the lab stands HAProxy on the directors in for the operator's own proxy, on
 * port 80 of each VIP, in front of two lab real servers, so that failover has traffic to carry.
 */
function standIn(vips: { address: string; network: string }[], b: TranslationBuilder, rs: RealServers, notes: Notes, file: string | undefined): ServiceFile[] {
  const at = { file: file ?? '<derived>', line: 0 };
  if (!vips.length) {
    notes.error(at, 'no real server anywhere: no virtual_server names one, no --ipvsadm rules were given, and no VRRP instance pairs up to carry a stand-in service');
    return [];
  }
  const net = vips[0]!.network;
  const names = [0, 1].map(() => {
    const name = `rs${rs.nodes.length + 1}`;
    rs.nodes.push({ name, networks: { [net]: b.allocate(net) } });
    return name;
  });
  const addresses = [...new Set(vips.map((v) => v.address))];
  notes.warn(at, `no virtual_server and no --ipvsadm rules: nothing names a real server. The lab stands HAProxy on the directors in for the service on ${addresses.map((a) => `${a}:${STAND_IN_PORT}`).join(', ')} (round robin over two lab real servers), so failover carries traffic`);
  return addresses.map((vip, i) => ({ name: `standin${i + 1}`, vip, port: STAND_IN_PORT, balancer: 'haproxy', scheduler: 'rr', real_servers: names.map((name) => ({ name })) }));
}
