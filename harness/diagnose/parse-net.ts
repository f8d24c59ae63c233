/**
 * Line parsers for what iproute2 and sysctl print (Debian 12: iproute2 6.1, procps 4). Each entry
 * keeps its line, so that a cause quotes the operator's own output, not a paraphrase. Lines that
 * do not parse are skipped, never thrown on: evidence is read after something already went wrong.
 */

export interface Sysctl {
  key: string;
  value: string;
  line: string;
}

export interface Addr {
  dev: string;
  family: 4 | 6;
  address: string;
  prefix: number;
  line: string;
}

export interface Link {
  dev: string;
  flags: string[];
  mtu?: number;
  state?: string;
  /** link/ether, link/ipip, link/loopback */
  kind?: string;
  mac?: string;
  line: string;
}

export interface Route {
  /** `default` or a prefix */
  dst: string;
  via?: string;
  dev?: string;
  family: 4 | 6;
  line: string;
}

export interface Neigh {
  address: string;
  dev?: string;
  lladdr?: string;
  state?: string;
  line: string;
}

/** `sysctl -a`: "net.ipv4.ip_forward = 1" */
export function parseSysctls(lines: readonly string[]): Map<string, Sysctl> {
  const out = new Map<string, Sysctl>();
  for (const line of lines) {
    const m = line.match(/^\s*([\w./-]+)\s*=\s*(.*?)\s*$/);
    if (m) out.set(m[1]!, { key: m[1]!, value: m[2]!, line });
  }
  return out;
}

/** `ip -o addr show`: "5: eth0    inet 10.89.30.11/24 brd … scope global eth0\       valid_lft …" */
export function parseAddrs(lines: readonly string[]): Addr[] {
  const out: Addr[] = [];
  for (const line of lines) {
    const m = line.match(/^\d+:\s+([^\s@]+)(?:@\S+)?\s+(inet6?)\s+([0-9a-fA-F.:]+)\/(\d+)/);
    if (m) out.push({ dev: m[1]!, family: m[2] === 'inet6' ? 6 : 4, address: m[3]!.toLowerCase(), prefix: Number(m[4]), line });
  }
  return out;
}

/** `ip -o link show`: "12: eth0@if13: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 … state UP … \    link/ether 02:42:… brd …" */
export function parseLinks(lines: readonly string[]): Link[] {
  const out: Link[] = [];
  for (const line of lines) {
    const m = line.match(/^\d+:\s+([^\s:@]+)(?:@[^\s:]+)?:\s+<([^>]*)>/);
    if (!m) continue;
    const mtu = line.match(/\bmtu (\d+)/)?.[1];
    const state = line.match(/\bstate (\S+)/)?.[1];
    const ll = line.match(/link\/(\S+)(?: ([0-9a-fA-F:.]+))?/);
    out.push({
      dev: m[1]!,
      flags: m[2]!.split(',').filter(Boolean),
      ...(mtu ? { mtu: Number(mtu) } : {}),
      ...(state ? { state } : {}),
      ...(ll ? { kind: ll[1]! } : {}),
      ...(ll?.[2] && ll[1] === 'ether' ? { mac: ll[2].toLowerCase() } : {}),
      line,
    });
  }
  return out;
}

/** `ip route show` / `ip -6 route show`: "default via 10.89.20.2 dev eth0", "10.89.20.0/24 dev eth0 proto kernel …" */
export function parseRoutes(lines: readonly string[], family: 4 | 6): Route[] {
  const out: Route[] = [];
  for (const line of lines) {
    const w = line.trim().split(/\s+/);
    // route types (unreachable, blackhole, local) come before the destination
    const dst = ['unicast', 'local', 'broadcast', 'unreachable', 'blackhole', 'prohibit', 'throw'].includes(w[0] ?? '') ? w[1] : w[0];
    if (!dst || dst.startsWith('#')) continue;
    const at = (k: string) => (w.indexOf(k) >= 0 ? w[w.indexOf(k) + 1] : undefined);
    const via = at('via');
    const dev = at('dev');
    out.push({ dst, ...(via ? { via: via.toLowerCase() } : {}), ...(dev ? { dev } : {}), family, line });
  }
  return out;
}

/** `ip neigh show`: "10.89.30.100 dev eth0 lladdr 02:42:0a:59:1e:02 REACHABLE", "10.89.30.12 dev eth0 FAILED" */
export function parseNeigh(lines: readonly string[]): Neigh[] {
  const out: Neigh[] = [];
  for (const line of lines) {
    const w = line.trim().split(/\s+/);
    if (!w[0] || !/^[0-9a-fA-F.:]+$/.test(w[0])) continue;
    const at = (k: string) => (w.indexOf(k) >= 0 ? w[w.indexOf(k) + 1] : undefined);
    const dev = at('dev');
    const lladdr = at('lladdr');
    const last = w[w.length - 1]!;
    out.push({ address: w[0].toLowerCase(), ...(dev ? { dev } : {}), ...(lladdr ? { lladdr: lladdr.toLowerCase() } : {}), ...(/^[A-Z_]+$/.test(last) ? { state: last } : {}), line });
  }
  return out;
}
