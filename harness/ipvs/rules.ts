/**
 * The IPVS table as data, rendered to what `ipvsadm -R` reads and parsed back from what
 * `ipvsadm -S` prints. Comparing the two is how the builder proves the kernel holds exactly
 * the model.
 */
import { readRules } from './parse-rules.js';
import type { RuleLoc } from './rules-error.js';

export { RulesParseError, type RuleLoc } from './rules-error.js';
export { parseRules, parseRulesFile, type ParsedRules, type ParseRulesOptions } from './parse-rules.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type Method = 'masq' | 'droute' | 'tunnel';

export const SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

export interface RealServerRule {
  /** IPv4, IPv6 (no brackets) or, as -S prints without -n, a host name */
  address: string;
  /** number, or a service name such as "http" as -S prints without -n; 0 for fwmark services */
  port: number | string;
  method: Method;
  weight: number;
  upperThreshold?: number;
  lowerThreshold?: number;
  /** tunnel encapsulation; ipvsadm -S prints --tun-type ipip for every tunnel server */
  tunType?: 'ipip' | 'gue' | 'gre';
  /** GUE's UDP port (--tun-port) */
  tunPort?: number;
  /** GUE/GRE checksums; absent is --tun-nocsum, the default */
  tunCsum?: 'csum' | 'remcsum';
  /** the address is a host name as written (-S without -n): it cannot be checked without resolving it */
  hostName?: true;
  /** where a parsed rule came from; normalize and diffRules ignore it */
  loc?: RuleLoc;
  /** the port written for a -g/-i server when ipvsadm replaced it with the service's (lint reports it); normalize ignores it */
  writtenPort?: number | string;
}

export interface VirtualServiceRule {
  /** tcp/udp/sctp with address and port, or a firewall mark */
  protocol?: Protocol;
  address?: string;
  port?: number | string;
  fwmark?: number;
  /** fwmark services: the address family, from -6 */
  ipv6?: boolean;
  scheduler: string;
  persistence?: { timeout: number; netmask?: string };
  schedFlags?: string;
  /** persistence engine (--pe sip) */
  pe?: string;
  /** one-packet scheduling (-o, UDP) */
  onePacket?: true;
  /** the address is a host name as written (-S without -n): it cannot be checked without resolving it */
  hostName?: true;
  /** where a parsed rule came from; normalize and diffRules ignore it */
  loc?: RuleLoc;
  realServers: RealServerRule[];
}

const PROTO_FLAG: Record<Protocol, string> = { tcp: '-t', udp: '-u', sctp: '--sctp-service' };
const METHOD_FLAG: Record<Method, string> = { masq: '-m', droute: '-g', tunnel: '-i' };

export const isIPv6 = (a: string) => a.includes(':');
/** address:port as ipvsadm writes it, IPv6 in brackets */
export const hostPort = (addr: string, port: number | string) => (isIPv6(addr) ? `[${addr}]:${port}` : `${addr}:${port}`);

export function serviceKey(s: Pick<VirtualServiceRule, 'protocol' | 'address' | 'port' | 'fwmark' | 'ipv6'>): string {
  return s.fwmark !== undefined ? `fwm:${s.fwmark}${s.ipv6 ? ':v6' : ''}` : `${s.protocol}:${hostPort(s.address!, s.port!)}`;
}

function serviceArgs(s: VirtualServiceRule): string[] {
  // -6 belongs to the service: ipvsadm -S prints `-f N -6` on the -A and on every -a line,
  // and ipvsadm -R finds no IPv6 fwmark service for an -a line without it
  if (s.fwmark !== undefined) return ['-f', String(s.fwmark), ...(s.ipv6 ? ['-6'] : [])];
  return [PROTO_FLAG[s.protocol ?? 'tcp'], hostPort(s.address!, s.port!)];
}

/** The canonical netmask text ipvsadm prints (IPv4 dotted, IPv6 prefix length). */
function defaultNetmask(s: VirtualServiceRule): string {
  const v6 = s.ipv6 || (s.address !== undefined && isIPv6(s.address));
  return v6 ? '128' : '255.255.255.255';
}

/** Lines for `ipvsadm -R`, in the order -S prints them. */
export function renderRestore(services: readonly VirtualServiceRule[]): string {
  const lines: string[] = [];
  for (const s of services) {
    const svc = serviceArgs(s);
    const a = ['-A', ...svc, '-s', s.scheduler];
    if (s.persistence) {
      a.push('-p', String(s.persistence.timeout));
      if (s.persistence.netmask && s.persistence.netmask !== defaultNetmask(s)) a.push('-M', s.persistence.netmask);
    }
    if (s.pe) a.push('--pe', s.pe);
    if (s.onePacket) a.push('-o');
    if (s.schedFlags) a.push('-b', s.schedFlags);
    lines.push(a.join(' '));
    for (const r of s.realServers) {
      const b = ['-a', ...svc, '-r', hostPort(r.address, r.port), METHOD_FLAG[r.method], '-w', String(r.weight)];
      if (r.upperThreshold) b.push('-x', String(r.upperThreshold));
      if (r.lowerThreshold) b.push('-y', String(r.lowerThreshold));
      if (r.tunType && r.tunType !== 'ipip') b.push('--tun-type', r.tunType);
      if (r.method === 'tunnel' && r.tunPort) b.push('--tun-port', String(r.tunPort));
      if (r.method === 'tunnel' && r.tunCsum) b.push(`--tun-${r.tunCsum}`);
      lines.push(b.join(' '));
    }
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/**
 * Parses `ipvsadm -S` / `-S -n` output (or a restore file) into services with their real
 * servers, names (`localhost.localdomain:http`) kept as printed. The builder reads the
 * kernel's table with it; parseRules reads an operator's file (and scripts) with the same reader.
 */
export function parseSave(text: string): VirtualServiceRule[] {
  return readRules(text, { names: 'keep', form: 'save', annotate: false }).services;
}

/** Brings a rule set to one spelling, so model and kernel compare equal when they mean the same. */
export function normalize(services: readonly VirtualServiceRule[]): VirtualServiceRule[] {
  return services
    .map((s) => {
      const n: VirtualServiceRule = { ...s, realServers: [] };
      delete n.loc;
      delete n.hostName;
      if (!n.pe) delete n.pe;
      if (!n.onePacket) delete n.onePacket;
      if (n.fwmark !== undefined) {
        delete n.protocol;
        delete n.address;
        delete n.port;
        if (!n.ipv6) delete n.ipv6;
      } else delete n.ipv6;
      if (n.persistence) {
        const nm = n.persistence.netmask;
        n.persistence = { timeout: n.persistence.timeout, ...(nm && nm !== defaultNetmask(s) ? { netmask: nm } : {}) };
      }
      if (!n.schedFlags) delete n.schedFlags;
      n.realServers = s.realServers
        .map((r) => {
          const x: RealServerRule = { address: r.address, port: s.fwmark !== undefined ? 0 : r.port, method: r.method, weight: r.weight };
          if (r.upperThreshold) x.upperThreshold = r.upperThreshold;
          if (r.lowerThreshold) x.lowerThreshold = r.lowerThreshold;
          if (r.method === 'tunnel' && r.tunType && r.tunType !== 'ipip') x.tunType = r.tunType;
          if (r.method === 'tunnel' && r.tunPort) x.tunPort = r.tunPort;
          if (r.method === 'tunnel' && r.tunCsum) x.tunCsum = r.tunCsum;
          return x;
        })
        .sort((a, b) => hostPort(a.address, a.port).localeCompare(hostPort(b.address, b.port)));
      return n;
    })
    .sort((a, b) => serviceKey(a).localeCompare(serviceKey(b)));
}

/** Differences between the model and what the kernel holds, one sentence each; empty when equal. */
export function diffRules(expected: readonly VirtualServiceRule[], actual: readonly VirtualServiceRule[]): string[] {
  const diffs: string[] = [];
  const e = new Map(normalize(expected).map((s) => [serviceKey(s), s]));
  const a = new Map(normalize(actual).map((s) => [serviceKey(s), s]));
  for (const [k, s] of e) {
    const got = a.get(k);
    if (!got) {
      diffs.push(`service ${k} is missing from the kernel`);
      continue;
    }
    const { realServers: er, ...eh } = s;
    const { realServers: ar, ...ah } = got;
    if (JSON.stringify(eh) !== JSON.stringify(ah)) diffs.push(`service ${k}: expected ${JSON.stringify(eh)}, kernel has ${JSON.stringify(ah)}`);
    const em = new Map(er.map((r) => [hostPort(r.address, r.port), r]));
    const am = new Map(ar.map((r) => [hostPort(r.address, r.port), r]));
    for (const [rk, r] of em) {
      const g = am.get(rk);
      if (!g) diffs.push(`service ${k}: real server ${rk} is missing from the kernel`);
      else if (JSON.stringify(r) !== JSON.stringify(g)) diffs.push(`service ${k}: real server ${rk}: expected ${JSON.stringify(r)}, kernel has ${JSON.stringify(g)}`);
    }
    for (const rk of am.keys()) if (!em.has(rk)) diffs.push(`service ${k}: the kernel has an unexpected real server ${rk}`);
  }
  for (const k of a.keys()) if (!e.has(k)) diffs.push(`the kernel has an unexpected service ${k}`);
  return diffs;
}
