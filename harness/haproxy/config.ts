/**
 * HAProxy on a director (seed article 002's "haproxy + keepalived" pair): a layer-7 proxy
 * bound to the VIP, which keepalived moves. With `net.ipv4.ip_nonlocal_bind=1` the BACKUP's
 * HAProxy is bound and ready before the VIP arrives, so a takeover needs nothing but VRRP.
 * The config is a typed model rendered deterministically; `haproxy -c` checks it in the node.
 */
export const HAPROXY_CFG = '/etc/haproxy/haproxy.cfg';
export const HAPROXY_SOCK = '/run/lvs-harness/haproxy.sock';
export const HAPROXY_LOG = '/var/log/haproxy.log';

export interface HaproxyServer {
  name: string;
  address: string;
  port: number;
  weight: number;
}

export interface HaproxyProxy {
  /** frontend and backend share the service's name */
  name: string;
  bind: { address: string; port: number };
  balance: 'roundrobin' | 'leastconn' | 'source';
  /** health checks: a TCP connect, or an HTTP GET that expects a status */
  check: { type: 'tcp' } | { type: 'http'; path: string; status: number; port?: number };
  /** seconds between checks, failures to mark a server DOWN, successes to mark it UP again */
  inter: number;
  fall: number;
  rise: number;
  /** seconds a check may take */
  timeout: number;
  servers: HaproxyServer[];
}

export interface HaproxyConfig {
  proxies: HaproxyProxy[];
}

const secs = (s: number) => (Number.isInteger(s) ? `${s}s` : `${Math.round(s * 1000)}ms`);

export function renderHaproxyConf(c: HaproxyConfig): string {
  const out = [
    '# rendered by lvs-harness: do not edit',
    'global',
    // within the container's open-file limit (4096): HAProxy wants about two descriptors per connection
    '    maxconn 1024',
    `    stats socket ${HAPROXY_SOCK} mode 600 level admin`,
    '',
    'defaults',
    '    mode http',
    '    option forwardfor',
    '    timeout connect 2s',
    '    timeout client 30s',
    '    timeout server 30s',
  ];
  for (const p of c.proxies) {
    out.push('', `frontend ${p.name}`, `    bind ${p.bind.address}:${p.bind.port}`, `    default_backend ${p.name}`);
    out.push('', `backend ${p.name}`, `    balance ${p.balance}`);
    if (p.check.type === 'http') out.push(`    option httpchk GET ${p.check.path}`, `    http-check expect status ${p.check.status}`);
    out.push(`    timeout check ${secs(p.timeout)}`);
    const port = p.check.type === 'http' && p.check.port ? ` port ${p.check.port}` : '';
    out.push(`    default-server check inter ${secs(p.inter)} fall ${p.fall} rise ${p.rise}${port}`);
    for (const s of p.servers) out.push(`    server ${s.name} ${s.address}:${s.port} weight ${s.weight}`);
  }
  return `${out.join('\n')}\n`;
}

/** The longest a dead server stays in rotation: `fall` checks `inter` apart, the last one timing out. */
export const haproxyRemovalBoundMs = (p: Pick<HaproxyProxy, 'inter' | 'fall' | 'timeout'>) => Math.round((p.fall * p.inter + p.timeout) * 1000);

export interface HaproxyServerState {
  proxy: string;
  server: string;
  /** UP, DOWN, MAINT, "UP 1/2" (going down), "DOWN 1/2" (coming up), no check */
  status: string;
}

/** The servers of `show stat` (CSV, first line `# pxname,svname,...`); frontends and backends themselves left out. */
export function parseHaproxyStat(csv: string): HaproxyServerState[] {
  const lines = csv.split('\n').filter((l) => l.trim());
  const head = lines[0]?.replace(/^#\s*/, '').split(',') ?? [];
  const [px, sv, st] = ['pxname', 'svname', 'status'].map((k) => head.indexOf(k));
  if (px! < 0 || sv! < 0 || st! < 0) throw new Error(`not HAProxy "show stat" output (no pxname, svname and status columns): ${lines[0] ?? '(empty)'}`);
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((f) => f[sv!] !== 'FRONTEND' && f[sv!] !== 'BACKEND')
    .map((f) => ({ proxy: f[px!]!, server: f[sv!]!, status: f[st!]! }));
}

export const haproxyStatArgv = ['sh', '-c', `echo "show stat" | socat -t 2 stdio UNIX-CONNECT:${HAPROXY_SOCK}`];
