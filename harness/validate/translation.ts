import { intToIp, ipToInt, parseCidr } from '../topology/net.js';
import type { Loc } from '../keepalived/conf/ast.js';

/**
 * The operator's networks mapped onto lab subnets. Their addresses are grouped into subnets (the
 * prefix the files give, else the /24), subnets one director interface carries become one lab
 * network (one device cannot sit on two lab networks), and each lab network gets its own /24
 * above the shipped topologies' 10.89.10-160. Host numbers are kept where the lab allows them
 * (not .0, .1 (the engine's bridge) or .255, and not taken twice), so 192.168.1.141 reads as
 * 10.89.200.141 in every table and log.
 */
export type AddressRole = 'vip' | 'director' | 'real-server' | 'other';

export interface Sighting {
  address: string;
  /** a prefix the file gives for the address's network (a VIP's /26) */
  prefix?: number;
  /** the director interface the address lives on (its VIP's dev, the instance interface, a unicast address) */
  iface?: { director: string; name: string };
  /** the director whose own address this is */
  owner?: string;
  role: AddressRole;
  at: Loc;
}

export interface LabNetwork {
  name: string;
  subnet: string;
  /** the operator's subnets it stands for (none for an interface the files give no address on) */
  theirs: string[];
}

export interface Translation {
  networks: LabNetwork[];
  /** their address → lab address, for every address of their files (outside ones too) */
  addresses: Map<string, string>;
  /** their addresses on no network the lab builds (an smtp_server): mapped into TEST-NET-1, which nothing answers */
  outside: Set<string>;
  /** per director: their interface name → lab network */
  interfaces: Map<string, Map<string, string>>;
  /** lab address → lab network */
  networkOf(labAddress: string): string | undefined;
}

export const LAB_BASE = '10.89.200.0';
const OUTSIDE_BASES = ['192.0.2.0', '198.51.100.0', '203.0.113.0'];

const subnetText = (network: number, prefix: number) => `${intToIp(network)}/${prefix}`;
const mask = (prefix: number) => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
const NAME = /^[a-z][a-z0-9-]{0,30}$/;

class UnionFind {
  private parent = new Map<string, string>();
  add(k: string): void {
    if (!this.parent.has(k)) this.parent.set(k, k);
  }
  find(k: string): string {
    this.add(k);
    let r = k;
    while (this.parent.get(r) !== r) r = this.parent.get(r)!;
    this.parent.set(k, r);
    return r;
  }
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent.set(rb, ra);
  }
  keys(): string[] {
    return [...this.parent.keys()];
  }
}

/** A lab-safe network name from an interface name (bond0.100 → bond0-100). */
function netName(iface: string | undefined, taken: Set<string>, k: number): string {
  let base = iface
    ?.toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 24);
  if (!base || !NAME.test(base)) base = `net${k + 1}`;
  let n = base;
  for (let i = 2; taken.has(n); i++) n = `${base}-${i}`;
  taken.add(n);
  return n;
}

export class TranslationBuilder {
  private subnets: { network: number; prefix: number }[] = [];
  private readonly uf = new UnionFind();
  readonly sightings: Sighting[] = [];
  private readonly ifaces: { director: string; name: string }[] = [];
  private built?: { networks: (LabNetwork & { key: string; used: Set<number>; base: number })[]; t: Translation };

  see(s: Sighting): void {
    this.sightings.push(s);
  }
  /** an interface the files name (instance interface, track_interface, lvs_sync_daemon), with or without an address */
  iface(director: string, name: string): void {
    if (!this.ifaces.some((i) => i.director === director && i.name === name)) this.ifaces.push({ director, name });
  }

  private subnetOf(address: string): string {
    const a = ipToInt(address);
    const given = this.subnets.find((s) => ((a & mask(s.prefix)) >>> 0) === s.network);
    return given ? subnetText(given.network, given.prefix) : subnetText((a & mask(24)) >>> 0, 24);
  }

  build(): Translation {
    if (this.built) return this.built.t;
    // given prefixes, widest first; a subnet inside a wider one is that one
    const given = this.sightings
      .filter((s) => s.prefix !== undefined && s.prefix >= 8 && s.prefix <= 29)
      .map((s) => ({ network: (ipToInt(s.address) & mask(s.prefix!)) >>> 0, prefix: s.prefix! }))
      .sort((a, b) => a.prefix - b.prefix);
    for (const g of given) if (!this.subnets.some((s) => ((g.network & mask(s.prefix)) >>> 0) === s.network)) this.subnets.push(g);

    const placed = this.sightings.filter((s) => s.role !== 'other');
    const ifKey = (i: { director: string; name: string }) => `if:${i.director}:${i.name}`;
    for (const s of placed) {
      const sub = `net:${this.subnetOf(s.address)}`;
      this.uf.add(sub);
      if (s.iface) this.uf.union(sub, ifKey(s.iface));
    }
    for (const i of this.ifaces) this.uf.add(ifKey(i));
    // an interface with no address anywhere: the same name on the other director is the same wire
    const lone = this.ifaces.filter((i) => !this.uf.keys().some((k) => k.startsWith('net:') && this.uf.find(k) === this.uf.find(ifKey(i))));
    for (const i of lone) for (const j of lone) if (i.name === j.name) this.uf.union(ifKey(i), ifKey(j));

    // components in the order the files first name them, VIP networks first
    const order: string[] = [];
    const push = (k: string) => {
      const r = this.uf.find(k);
      if (!order.includes(r)) order.push(r);
    };
    for (const s of placed.filter((x) => x.role === 'vip')) push(`net:${this.subnetOf(s.address)}`);
    for (const s of placed) push(`net:${this.subnetOf(s.address)}`);
    for (const i of this.ifaces) push(ifKey(i));

    const taken = new Set<string>();
    const keys = this.uf.keys();
    const networks = order.map((root, k) => {
      const members = keys.filter((x) => this.uf.find(x) === root);
      const names = members.filter((m) => m.startsWith('if:')).map((m) => m.split(':').slice(2).join(':'));
      const common = names.sort((a, b) => names.filter((n) => n === b).length - names.filter((n) => n === a).length)[0];
      const base = ipToInt(LAB_BASE) + k * 256;
      return { key: root, name: netName(common, taken, k), subnet: subnetText(base, 24), theirs: members.filter((m) => m.startsWith('net:')).map((m) => m.slice(4)), used: new Set<number>(), base };
    });
    const netByKey = new Map(networks.map((n) => [n.key, n]));

    const addresses = new Map<string, string>();
    const labNet = new Map<string, string>();
    const deferred: { s: Sighting; n: (typeof networks)[number] }[] = [];
    const rank: Record<AddressRole, number> = { vip: 0, director: 1, 'real-server': 2, other: 3 };
    const inLab = this.sightings
      .flatMap((s) => {
        const key = `net:${this.subnetOf(s.address)}`;
        const n = keys.includes(key) ? netByKey.get(this.uf.find(key)) : undefined;
        return n ? [{ s, n }] : [];
      })
      .sort((a, b) => rank[a.s.role] - rank[b.s.role]);
    for (const { s, n } of inLab) {
      if (addresses.has(s.address)) continue;
      const host = ipToInt(s.address) & 255;
      if (host >= 2 && host <= 254 && !n.used.has(host)) {
        n.used.add(host);
        const lab = intToIp(n.base + host);
        addresses.set(s.address, lab);
        labNet.set(lab, n.name);
      } else deferred.push({ s, n });
    }
    for (const { s, n } of deferred) {
      if (addresses.has(s.address)) continue;
      const lab = this.take(n);
      addresses.set(s.address, lab);
      labNet.set(lab, n.name);
    }

    // the rest (an smtp_server on another network) goes where nothing answers
    const outside = new Set<string>();
    const outsideUsed = new Set<number>();
    for (const s of this.sightings) {
      if (addresses.has(s.address)) continue;
      const host = ipToInt(s.address) & 255;
      let slot = host >= 1 && host <= 254 && !outsideUsed.has(host) ? host : -1;
      for (let i = 1; slot < 0 && i < 254 * OUTSIDE_BASES.length; i++) if (!outsideUsed.has(i) && i % 256 !== 0 && i % 256 !== 255) slot = i;
      outsideUsed.add(slot);
      addresses.set(s.address, intToIp(ipToInt(OUTSIDE_BASES[Math.floor(slot / 256)]!) + (slot % 256)));
      outside.add(s.address);
    }

    const interfaces = new Map<string, Map<string, string>>();
    for (const i of this.ifaces) {
      const n = netByKey.get(this.uf.find(ifKey(i)));
      if (!n) continue;
      if (!interfaces.has(i.director)) interfaces.set(i.director, new Map());
      interfaces.get(i.director)!.set(i.name, n.name);
    }
    const byName = new Map(networks.map((n) => [n.name, n]));
    const t: Translation = {
      networks: networks.map(({ name, subnet, theirs }) => ({ name, subnet, theirs })),
      addresses,
      outside,
      interfaces,
      networkOf: (lab) => labNet.get(lab) ?? [...byName.values()].find((n) => cidrHas(n.subnet, lab))?.name,
    };
    this.built = { networks, t };
    return t;
  }

  private take(n: { used: Set<number>; base: number; name: string }): string {
    for (let h = 2; h <= 254; h++)
      if (!n.used.has(h)) {
        n.used.add(h);
        return intToIp(n.base + h);
      }
    throw new Error(`lab network ${n.name} is full`);
  }

  /** A free lab address on a lab network, for nodes the files do not give an address (a director without unicast, a client). */
  allocate(network: string): string {
    const t = this.build();
    const n = this.built!.networks.find((x) => x.name === network);
    if (!n) throw new Error(`no lab network ${network}`);
    void t;
    return this.take(n);
  }
}

function cidrHas(subnet: string, address: string): boolean {
  const c = parseCidr(subnet);
  const a = ipToInt(address);
  return a >= c.network && a <= c.broadcast;
}
