/**
 * The IPVS table as data, rendered to what `ipvsadm -R` reads and parsed back from what
 * `ipvsadm -S` prints. Comparing the two is how the builder proves the kernel holds exactly
 * the model.
 */
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
    if (s.schedFlags) a.push('-b', s.schedFlags);
    if (s.persistence) {
      a.push('-p', String(s.persistence.timeout));
      if (s.persistence.netmask && s.persistence.netmask !== defaultNetmask(s)) a.push('-M', s.persistence.netmask);
    }
    lines.push(a.join(' '));
    for (const r of s.realServers) {
      const b = ['-a', ...svc, '-r', hostPort(r.address, r.port), METHOD_FLAG[r.method], '-w', String(r.weight)];
      if (r.upperThreshold) b.push('-x', String(r.upperThreshold));
      if (r.lowerThreshold) b.push('-y', String(r.lowerThreshold));
      if (r.tunType && r.tunType !== 'ipip') b.push('--tun-type', r.tunType);
      lines.push(b.join(' '));
    }
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

export class RulesParseError extends Error {
  constructor(
    readonly line: number,
    readonly text: string,
    why: string,
  ) {
    super(`line ${line}: ${why}: ${text}`);
  }
}

function splitHostPort(v: string): { address: string; port: number | string } {
  const m = v.match(/^\[([^\]]+)\]:(\S+)$/) ?? v.match(/^([^:]+):(\S+)$/);
  if (!m) throw new Error(`"${v}" is not address:port`);
  const port = /^\d+$/.test(m[2]!) ? Number(m[2]) : m[2]!;
  return { address: m[1]!, port };
}

/** Parses `ipvsadm -S` / `-S -n` output (or a restore file) into services with their real servers. */
export function parseSave(text: string): VirtualServiceRule[] {
  const services: VirtualServiceRule[] = [];
  const byKey = new Map<string, VirtualServiceRule>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const tok = line.split(/\s+/);
    const cmd = tok[0];
    if (cmd !== '-A' && cmd !== '-a') throw new RulesParseError(i + 1, line, 'expected -A or -a');
    let svc: Partial<VirtualServiceRule> = {};
    const rs: Partial<RealServerRule> = {};
    const s: Partial<VirtualServiceRule> = {};
    for (let j = 1; j < tok.length; j++) {
      const t = tok[j]!;
      const next = () => {
        const v = tok[++j];
        if (v === undefined) throw new RulesParseError(i + 1, line, `${t} needs a value`);
        return v;
      };
      try {
        switch (t) {
          case '-t':
          case '--tcp-service':
            svc = { protocol: 'tcp', ...splitHostPort(next()) };
            break;
          case '-u':
          case '--udp-service':
            svc = { protocol: 'udp', ...splitHostPort(next()) };
            break;
          case '--sctp-service':
            svc = { protocol: 'sctp', ...splitHostPort(next()) };
            break;
          case '-f':
          case '--fwmark-service':
            svc = { fwmark: Number(next()) };
            break;
          case '-6':
          case '--ipv6':
            svc.ipv6 = true;
            break;
          case '-s':
          case '--scheduler':
            s.scheduler = next();
            break;
          case '-b':
          case '--sched-flags':
            s.schedFlags = next();
            break;
          case '-p':
          case '--persistent': {
            // the timeout is optional for ipvsadm (default 300)
            const v = tok[j + 1];
            s.persistence = { timeout: v !== undefined && /^\d+$/.test(v) ? Number(tok[++j]) : 300 };
            break;
          }
          case '-M':
          case '--netmask':
            s.persistence = { ...(s.persistence ?? { timeout: 300 }), netmask: next() };
            break;
          case '-r':
          case '--real-server':
            Object.assign(rs, splitHostPort(next()));
            break;
          case '-m':
          case '--masquerading':
            rs.method = 'masq';
            break;
          case '-g':
          case '--gatewaying':
            rs.method = 'droute';
            break;
          case '-i':
          case '--ipip':
            rs.method = 'tunnel';
            break;
          case '-w':
          case '--weight':
            rs.weight = Number(next());
            break;
          case '-x':
          case '--u-threshold':
            rs.upperThreshold = Number(next());
            break;
          case '-y':
          case '--l-threshold':
            rs.lowerThreshold = Number(next());
            break;
          case '--tun-type': {
            const v = next();
            if (v !== 'ipip' && v !== 'gue' && v !== 'gre') throw new Error(`unknown tunnel type ${v}`);
            rs.tunType = v;
            break;
          }
          default:
            throw new RulesParseError(i + 1, line, `unknown option ${t}`);
        }
      } catch (e) {
        if (e instanceof RulesParseError) throw e;
        throw new RulesParseError(i + 1, line, (e as Error).message);
      }
    }
    if (svc.fwmark === undefined && svc.address === undefined) throw new RulesParseError(i + 1, line, 'no service (-t, -u, -f)');
    const key = serviceKey(svc as VirtualServiceRule);
    if (cmd === '-A') {
      const full: VirtualServiceRule = { ...(svc as VirtualServiceRule), scheduler: s.scheduler ?? 'wlc', realServers: [] };
      if (s.persistence) full.persistence = s.persistence;
      if (s.schedFlags) full.schedFlags = s.schedFlags;
      services.push(full);
      byKey.set(key, full);
    } else {
      const parent = byKey.get(key);
      if (!parent) throw new RulesParseError(i + 1, line, 'real server of a service not defined above');
      if (rs.address === undefined) throw new RulesParseError(i + 1, line, 'no real server (-r)');
      const r: RealServerRule = { address: rs.address, port: rs.port ?? 0, method: rs.method ?? 'droute', weight: rs.weight ?? 1 };
      if (rs.upperThreshold) r.upperThreshold = rs.upperThreshold;
      if (rs.lowerThreshold) r.lowerThreshold = rs.lowerThreshold;
      if (rs.tunType && rs.tunType !== 'ipip') r.tunType = rs.tunType;
      parent.realServers.push(r);
    }
  });
  return services;
}

/** Brings a rule set to one spelling, so model and kernel compare equal when they mean the same. */
export function normalize(services: readonly VirtualServiceRule[]): VirtualServiceRule[] {
  return services
    .map((s) => {
      const n: VirtualServiceRule = { ...s, realServers: [] };
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
