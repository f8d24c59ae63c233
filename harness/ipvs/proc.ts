/**
 * The kernel's own listing of the IPVS table, /proc/net/ip_vs: what an in-node watcher can read
 * with no fork (ipvsadm would cost a process per read). Addresses and ports are hex there; this
 * turns them into the keys `ipvsadm -Ln` prints, so both forms compare.
 */
import { isIPv6 } from './rules.js';
import type { TableRealServer, TableService } from './table.js';

const FORWARD: Record<string, TableRealServer['forward']> = { Masq: 'Masq', Route: 'Route', Tunnel: 'Tunnel', Local: 'Local' };

/** 0A590A64 → 10.89.10.100 */
function hex4(h: string): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(h)) return undefined;
  const n = parseInt(h, 16);
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** fd89:0010:0000:0000:0000:0000:0000:0100 → fd89:10::100 (RFC 5952: the longest run of zero groups becomes ::) */
export function compressIPv6(full: string): string {
  const groups = full.split(':').map((g) => parseInt(g, 16).toString(16));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

/** "0A590A64:0050" or "[fd89:…]:0050" → address and port */
function addrPort(v: string): { address: string; port: number } | undefined {
  const m6 = v.match(/^\[([0-9a-fA-F:]+)\]:([0-9A-Fa-f]{4})$/);
  if (m6) return { address: compressIPv6(m6[1]!), port: parseInt(m6[2]!, 16) };
  const m4 = v.match(/^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{4})$/);
  const a = m4 && hex4(m4[1]!);
  return a ? { address: a, port: parseInt(m4![2]!, 16) } : undefined;
}

const key = (a: { address: string; port: number }) => (isIPv6(a.address) ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);

/** Parses /proc/net/ip_vs; lines it does not know are skipped (the header, a truncated read). */
export function parseProcIpVs(lines: readonly string[]): TableService[] {
  const out: TableService[] = [];
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f[0] === '->') {
      const a = addrPort(f[1] ?? '');
      const svc = out[out.length - 1];
      if (!a || !svc) continue;
      svc.realServers.push({ ...a, forward: FORWARD[f[2] ?? ''], weight: Number(f[3]), activeConns: Number(f[4]), inactiveConns: Number(f[5]) });
      continue;
    }
    const proto = f[0];
    if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP' && proto !== 'FWM') continue;
    let svc: TableService | undefined;
    let rest: string[];
    if (proto === 'FWM') {
      if (!/^[0-9A-Fa-f]{1,8}$/.test(f[1] ?? '')) continue;
      svc = { protocol: 'FWM', key: String(parseInt(f[1]!, 16)), scheduler: f[2], realServers: [] };
      rest = f.slice(3);
    } else {
      const a = addrPort(f[1] ?? '');
      if (!a) continue;
      svc = { protocol: proto, key: key(a), scheduler: f[2], realServers: [] };
      rest = f.slice(3);
    }
    const p = rest.indexOf('persistent');
    if (p >= 0) {
      svc.persistent = Number(rest[p + 1]);
      const mask = rest[p + 2];
      if (mask && /^[0-9A-Fa-f]{8}$/.test(mask)) svc.mask = hex4(mask);
    }
    out.push(svc);
  }
  return out;
}
