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
