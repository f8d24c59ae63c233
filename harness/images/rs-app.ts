import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The real-server app: nginx answers HTTP with the real server's identity in headers and in
 * a one-line body (name, RIP, and the client address and port it saw); /health answers 200
 * or 503 depending on a flag file that can be flipped at runtime; a small Node UDP echo
 * answers with the same identity, bound to each local address so DR/TUN replies leave from the VIP.
 */
export const HEALTH_FLAG = '/run/lvs-harness/unhealthy';
export const NGINX_CONF = '/etc/lvs-harness/nginx.conf';
export const UDP_ECHO = '/opt/lvs-harness/udp-echo.cjs';
/** written by the UDP echo once its sockets are bound ($LVSH_READY); the node script waits for it */
export const UDP_ECHO_READY = '/run/lvs-harness/udp-echo.ready';

/**
 * Bodies of a known size for `lvs-harness bench`: GET /bytes/<N> answers N bytes, a file the
 * builder writes (the default sizes) or bench does (any other --size). Static files, so nginx
 * sends them with sendfile and the size is the only thing that changes between points.
 */
export const BODY_ROOT = '/var/lib/lvs-harness/www';
export const BODY_PREFIX = '/bytes/';
export const DEFAULT_BODY_SIZES = [1024, 262144] as const;
export const bodyUrlPath = (bytes: number) => `${BODY_PREFIX}${bytes}`;

/** Shell text writing each body file unless it is already there at its size (idempotent, one exec). */
export function bodyFilesScript(sizes: readonly number[]): string {
  const dir = `${BODY_ROOT}${BODY_PREFIX}`;
  const one = (n: number) => `[ "$(stat -c %s ${dir}${n} 2>/dev/null)" = ${n} ] || { head -c ${n} /dev/zero | tr '\\0' x > ${dir}${n}.tmp && mv ${dir}${n}.tmp ${dir}${n}; } || exit 1`;
  return [`mkdir -p ${dir} || exit 1`, ...[...new Set(sizes)].filter((n) => Number.isInteger(n) && n >= 0).map(one)].join('\n') + '\n';
}

export function renderNginxConf(o: { name: string; rip: string; httpPorts: readonly number[]; ipv6?: boolean }): string {
  const listen = o.httpPorts.flatMap((p, i) => [`listen ${p}${i === 0 ? ' default_server' : ''};`, ...(o.ipv6 ? [`listen [::]:${p}${i === 0 ? ' default_server' : ''};`] : [])]);
  return `# rendered by lvs-harness for real server ${o.name}
worker_processes 1;
pid /run/lvs-harness/nginx.pid;
error_log /var/log/lvs-harness-nginx.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 1000;
  keepalive_timeout 300s;
  server {
    ${listen.join('\n    ')}
    add_header X-Real-Server "${o.name}" always;
    add_header X-Real-Server-Address "${o.rip}" always;
    location = /health {
      if (-f ${HEALTH_FLAG}) { return 503 "unhealthy ${o.name}\\n"; }
      return 200 "healthy ${o.name}\\n";
    }
    location ${BODY_PREFIX} {
      root ${BODY_ROOT};
    }
    location / {
      return 200 "server=${o.name} rip=${o.rip} client=$remote_addr:$remote_port local=$server_addr:$server_port port=$server_port\\n";
    }
  }
}
`;
}

export const udpEchoSource = (): string => readFileSync(fileURLToPath(new URL('./udp-echo.cjs', import.meta.url)), 'utf8');
