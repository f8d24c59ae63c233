import { readFileSync } from 'node:fs';
import Docker from 'dockerode';

/** Where a Docker engine listens: a unix socket, or TCP with optional mutual TLS. */
export type Endpoint =
  | { kind: 'socket'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls?: { caPath: string; certPath: string; keyPath: string } };

export function dockerFromEndpoint(ep: Endpoint): Docker {
  if (ep.kind === 'socket') return new Docker({ socketPath: ep.socketPath });
  if (!ep.tls) return new Docker({ host: ep.host, port: ep.port, protocol: 'http' });
  return new Docker({
    host: ep.host,
    port: ep.port,
    protocol: 'https',
    ca: readFileSync(ep.tls.caPath),
    cert: readFileSync(ep.tls.certPath),
    key: readFileSync(ep.tls.keyPath),
  });
}

export function describeEndpoint(ep: Endpoint): string {
  return ep.kind === 'socket' ? `unix://${ep.socketPath}` : `tcp://${ep.host}:${ep.port}${ep.tls ? ' (mutual TLS)' : ''}`;
}

/**
 * Parses DOCKER_HOST-style values (unix:///path, tcp://host:port) plus the docker CLI's
 * DOCKER_TLS_VERIFY / DOCKER_CERT_PATH conventions.
 */
export function parseDockerHost(value: string, env: NodeJS.ProcessEnv = {}): Endpoint {
  const v = value.trim();
  if (v.startsWith('unix://')) return { kind: 'socket', socketPath: v.slice('unix://'.length) };
  if (v.startsWith('/')) return { kind: 'socket', socketPath: v };
  const m = v.match(/^(?:tcp|https?):\/\/\[?([^\]/]+?)\]?:(\d+)\/?$/);
  if (!m) throw new Error(`"${value}" is not a Docker endpoint (expected unix:///path or tcp://host:port)`);
  const ep: Endpoint = { kind: 'tcp', host: m[1]!, port: Number(m[2]) };
  const verify = env.DOCKER_TLS_VERIFY && env.DOCKER_TLS_VERIFY !== '0';
  if (verify || v.startsWith('https://')) {
    const dir = env.DOCKER_CERT_PATH ?? `${env.HOME ?? ''}/.docker`;
    ep.tls = { caPath: `${dir}/ca.pem`, certPath: `${dir}/cert.pem`, keyPath: `${dir}/key.pem` };
  }
  return ep;
}
