/** IPv4 arithmetic for subnets and address assignment. */
export interface Cidr {
  network: number;
  prefix: number;
  broadcast: number;
  text: string;
}

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`"${ip}" is not an IPv4 address`);
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export const intToIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export function parseCidr(s: string): Cidr {
  const [ip, len] = s.split('/');
  const prefix = Number(len);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(ip!) & mask) >>> 0;
  const broadcast = (network | (~mask >>> 0)) >>> 0;
  return { network, prefix, broadcast, text: `${intToIp(network)}/${prefix}` };
}

export const cidrContains = (c: Cidr, ip: number) => ip >= c.network && ip <= c.broadcast;
export const cidrOverlap = (a: Cidr, b: Cidr) => a.network <= b.broadcast && b.network <= a.broadcast;
export const gatewayOf = (c: Cidr) => intToIp(c.network + 1);

/**
 * IPv6, for dual-stack networks: a node's IPv6 address on a network is the network's IPv6
 * prefix followed by the decimal host number of its IPv4 address written as hex groups, so
 * 10.89.20.11 on fd89:20::/64 is fd89:20::11 and the two addresses of a node read alike
 * (host 12345 of a /16 would be ::1:2345). No second assignment is needed.
 */
export interface Cidr6 {
  network: bigint;
  prefix: number;
  text: string;
}

export function ip6ToBigInt(ip: string): bigint {
  if (!isIPv6(ip)) throw new Error(`"${ip}" is not an IPv6 address`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** The canonical (RFC 5952) text: lower case, the longest run of zero groups as "::". */
export function bigIntToIp6(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Hex groups only (no embedded IPv4, no zone): eight groups, or fewer with one "::". */
export function isIPv6(s: string): boolean {
  const parts = s.split('::');
  if (parts.length > 2) return false;
  const groups = parts.map((p) => (p === '' ? [] : p.split(':')));
  if (!groups.every((g) => g.every((x) => /^[0-9a-fA-F]{1,4}$/.test(x)))) return false;
  const n = groups.reduce((a, g) => a + g.length, 0);
  return parts.length === 2 ? n <= 7 : n === 8;
}

export function parseCidr6(s: string): Cidr6 {
  const [ip, len] = s.split('/');
  const prefix = Number(len);
  const mask = ((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix);
  const network = ip6ToBigInt(ip!) & mask;
  return { network, prefix, text: `${bigIntToIp6(network)}/${prefix}` };
}

export const cidr6Contains = (c: Cidr6, ip: string) => (ip6ToBigInt(ip) >> BigInt(128 - c.prefix)) === c.network >> BigInt(128 - c.prefix);

/** The IPv6 address a node gets on a dual-stack network: the prefix plus its IPv4 host number, in decimal digits. */
export function ip6For(c6: Cidr6, c4: Cidr, ipv4: string): string {
  const digits = String(ipToInt(ipv4) - c4.network);
  let host = 0n;
  for (let end = digits.length, k = 0n; end > 0; end -= 4, k++) host += BigInt(parseInt(digits.slice(Math.max(0, end - 4), end), 16)) << (16n * k);
  return bigIntToIp6(c6.network + host);
}

/** The IPv4 host number an IPv6 address on the network spells (fd89:20::11 → 11), if its groups are decimal digits. */
export function hostNumberOf6(c6: Cidr6, ip: string): number | undefined {
  if (!cidr6Contains(c6, ip)) return undefined;
  let off = ip6ToBigInt(ip) - c6.network;
  const groups: string[] = [];
  for (; off > 0n; off >>= 16n) groups.unshift((off & 0xffffn).toString(16));
  if (!groups.every((g) => /^\d+$/.test(g))) return undefined;
  return Number(groups.map((g, i) => (i === 0 ? g : g.padStart(4, '0'))).join('') || '0');
}

export const gateway6Of = (c: Cidr6) => bigIntToIp6(c.network + 1n);
