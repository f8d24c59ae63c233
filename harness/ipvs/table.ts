/**
 * Parsers of the listing forms of ipvsadm: `-Ln` (schedulers, forwarding, weights, connection
 * counts) and `-Ln --stats --exact` (packet and byte counters). The kernel folds per-CPU
 * counters into these on its 2 s estimator tick, so read them after 2 s of quiet.
 */
export interface TableRealServer {
  address: string;
  port: number;
  forward?: 'Masq' | 'Route' | 'Tunnel' | 'Local';
  weight?: number;
  activeConns?: number;
  inactiveConns?: number;
  stats?: Counters;
}

export interface Counters {
  conns: number;
  inPkts: number;
  outPkts: number;
  inBytes: number;
  outBytes: number;
}

export interface TableService {
  protocol: 'TCP' | 'UDP' | 'SCTP' | 'FWM';
  /** address:port as printed ([v6]:port), or the mark for FWM ("8 IPv6" for an IPv6 mark) */
  key: string;
  scheduler?: string;
  persistent?: number;
  mask?: string;
  stats?: Counters;
  realServers: TableRealServer[];
}

// an IPv6 fwmark service prints as "FWM  8 IPv6 rr": the family belongs to the key, not the scheduler
const svcLine = /^(TCP|UDP|SCTP|FWM)\s+(\S+(?: IPv6)?)\s*(.*)$/;
const rsLine = /^\s+->\s+(\S+)\s*(.*)$/;

function splitAddr(v: string): { address: string; port: number } {
  const m = v.match(/^\[([^\]]+)\]:(\d+)$/) ?? v.match(/^([^:]+):(\d+)$/);
  return m ? { address: m[1]!, port: Number(m[2]) } : { address: v, port: 0 };
}

const counters = (f: string[]): Counters | undefined =>
  f.length >= 5 && f.slice(0, 5).every((x) => /^\d+$/.test(x))
    ? { conns: Number(f[0]), inPkts: Number(f[1]), outPkts: Number(f[2]), inBytes: Number(f[3]), outBytes: Number(f[4]) }
    : undefined;

/** `ipvsadm -Ln` */
export function parseList(text: string): TableService[] {
  const out: TableService[] = [];
  for (const line of text.split('\n')) {
    const s = line.match(svcLine);
    if (s) {
      const rest = s[3]!.split(/\s+/).filter(Boolean);
      const svc: TableService = { protocol: s[1] as TableService['protocol'], key: s[2]!, scheduler: rest[0], realServers: [] };
      const p = rest.indexOf('persistent');
      if (p >= 0) svc.persistent = Number(rest[p + 1]);
      const m = rest.indexOf('mask');
      if (m >= 0) svc.mask = rest[m + 1];
      out.push(svc);
      continue;
    }
    const r = line.match(rsLine);
    if (r && out.length && r[1] !== 'RemoteAddress:Port') {
      const f = r[2]!.split(/\s+/).filter(Boolean);
      out[out.length - 1]!.realServers.push({
        ...splitAddr(r[1]!),
        forward: f[0] as TableRealServer['forward'],
        weight: Number(f[1]),
        activeConns: Number(f[2]),
        inactiveConns: Number(f[3]),
      });
    }
  }
  return out;
}

/** `ipvsadm -Ln --stats --exact` */
export function parseStats(text: string): TableService[] {
  const out: TableService[] = [];
  for (const line of text.split('\n')) {
    const s = line.match(svcLine);
    if (s) {
      out.push({ protocol: s[1] as TableService['protocol'], key: s[2]!, stats: counters(s[3]!.split(/\s+/).filter(Boolean)), realServers: [] });
      continue;
    }
    const r = line.match(rsLine);
    if (r && out.length && r[1] !== 'RemoteAddress:Port') {
      out[out.length - 1]!.realServers.push({ ...splitAddr(r[1]!), stats: counters(r[2]!.split(/\s+/).filter(Boolean)) });
    }
  }
  return out;
}

/** The listing with the counters folded in, matched by service and real server. */
export function mergeTable(list: TableService[], stats: TableService[]): TableService[] {
  return list.map((s) => {
    const st = stats.find((x) => x.protocol === s.protocol && x.key === s.key);
    return {
      ...s,
      stats: st?.stats,
      realServers: s.realServers.map((r) => ({ ...r, stats: st?.realServers.find((x) => x.address === r.address && x.port === r.port)?.stats })),
    };
  });
}

export function formatTable(t: TableService[]): string {
  const rows: string[][] = [['service / real server', 'sched/fwd', 'weight', 'active', 'inact', 'conns', 'inPkts', 'outPkts', 'inBytes', 'outBytes']];
  for (const s of t) {
    const st = s.stats;
    rows.push([
      `${s.protocol} ${s.key}`,
      `${s.scheduler ?? ''}${s.persistent ? ` persistent ${s.persistent}` : ''}${s.mask ? ` mask ${s.mask}` : ''}`,
      '',
      '',
      '',
      String(st?.conns ?? ''),
      String(st?.inPkts ?? ''),
      String(st?.outPkts ?? ''),
      String(st?.inBytes ?? ''),
      String(st?.outBytes ?? ''),
    ]);
    for (const r of s.realServers) {
      const x = r.stats;
      const addr = r.address.includes(':') ? `[${r.address}]:${r.port}` : `${r.address}:${r.port}`;
      rows.push([`  -> ${addr}`, r.forward ?? '', String(r.weight ?? ''), String(r.activeConns ?? ''), String(r.inactiveConns ?? ''), String(x?.conns ?? ''), String(x?.inPkts ?? ''), String(x?.outPkts ?? ''), String(x?.inBytes ?? ''), String(x?.outBytes ?? '')]);
    }
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 || i === 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd()).join('\n');
}

/** One entry of `ipvsadm -Lnc`: a connection, or a persistence template (client port 0). */
export interface ConnEntry {
  protocol: string;
  expiresS: number;
  state: string;
  source: string;
  virtual: string;
  destination: string;
  /** a persistence template: what binds a client to a real server for the timeout */
  template: boolean;
}

/** Parses `ipvsadm -Lnc` ("pro expire state source virtual destination", expire as mm:ss). */
export function parseConnections(text: string): ConnEntry[] {
  const out: ConnEntry[] = [];
  for (const line of text.split('\n')) {
    const m = line.trim().match(/^(TCP|UDP|SCTP|IP)\s+(\d+):(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$/);
    if (!m) continue;
    out.push({ protocol: m[1]!, expiresS: Number(m[2]) * 60 + Number(m[3]), state: m[4]!, source: m[5]!, virtual: m[6]!, destination: m[7]!, template: /:0$/.test(m[5]!) });
  }
  return out;
}

/** `ipvsadm -L --timeout`: "Timeout (tcp tcpfin udp): 900 120 300". */
export function parseTimeouts(text: string): { tcp: number; tcpfin: number; udp: number } | undefined {
  const m = text.match(/Timeout \(tcp tcpfin udp\):\s+(\d+)\s+(\d+)\s+(\d+)/);
  return m ? { tcp: Number(m[1]), tcpfin: Number(m[2]), udp: Number(m[3]) } : undefined;
}
