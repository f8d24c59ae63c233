/**
 * The wire format between the host-side driver and the load agent in a client node:
 * commands in, events out, one JSON object per line. Shared by both sides.
 */
import type { OpEvent, Outcome } from '../history/history.js';

interface Base {
  id: string;
  tag?: string;
}

export type AgentCommand =
  /**
   * ports: a fwmark service's ports, taken in turn by successive requests (port is then ignored);
   * hosts: its destination addresses (host is then ignored), the next one after each round of the
   * ports, so H × P successive requests reach every destination on every port once
   */
  | (Base & { cmd: 'http'; host: string; port: number; ports?: number[]; hosts?: string[]; path?: string; sources: string[]; perSource?: number; rounds?: number; intervalMs?: number; timeoutMs?: number })
  | (Base & {
      cmd: 'load';
      host: string;
      port: number;
      path?: string;
      connections: number;
      durationS?: number;
      amount?: number;
      rate?: number;
      mode: 'new-connection' | 'keep-alive';
      sources: string[];
      timeoutMs?: number;
    })
  | (Base & { cmd: 'tcp'; host: string; port: number; sources: string[]; count: number; intervalMs?: number; timeoutMs?: number })
  /** newFlow: each datagram from a fresh socket on a new source port (a new IPVS connection); otherwise one socket per source */
  | (Base & { cmd: 'udp'; host: string; port: number; sources: string[]; count: number; newFlow?: boolean; intervalMs?: number; timeoutMs?: number })
  | (Base & { cmd: 'hold'; host: string; port: number; source: string; conn: string; timeoutMs?: number })
  | (Base & { cmd: 'release'; conn: string; timeoutMs?: number })
  | (Base & { cmd: 'clock' })
  /** ends the running command `target` early (an http probe series after the scenario has seen enough); handled at once, not queued */
  | (Base & { cmd: 'cancel'; target: string })
  | (Base & { cmd: 'exit' });

export type AgentEvent =
  | ({ type: 'op' } & Omit<OpEvent, 'type' | 'node'>)
  | { type: 'done'; id: string }
  | { type: 'error'; id: string; message: string }
  | { type: 'summary'; id: string; data: Record<string, unknown> }
  | { type: 'clock'; id: string; now: number }
  | { type: 'ready'; now: number; node: string };

/** Maps a socket error to the outcome a checker reasons about. */
export function encodeError(err: { code?: string; message?: string }): Outcome {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'ETIMEDOUT':
    case 'ESOCKETTIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'timeout';
    default:
      return /timeout/i.test(err.message ?? '') ? 'timeout' : 'error';
  }
}

/** The destination of the n-th request of an http command (counted over all its sources): ports turn fastest, then hosts. */
export function httpTarget(c: { host: string; port: number; hosts?: string[]; ports?: number[] }, n: number): { host: string; port: number } {
  const ports = c.ports?.length ? c.ports : [c.port];
  const hosts = c.hosts?.length ? c.hosts : [c.host];
  return { host: hosts[Math.floor(n / ports.length) % hosts.length]!, port: ports[n % ports.length]! };
}

/** The real-server app's identity line (HTTP body or UDP answer). */
export function identityFromBody(body: string): { server: string; rip: string; client: string; clientPort: number } | undefined {
  const m = body.match(/server=(\S+) rip=(\S+) client=(\S+):(\d+)/);
  return m ? { server: m[1]!, rip: m[2]!, client: m[3]!, clientPort: Number(m[4]) } : undefined;
}

/** Parses one line of agent output; undefined for anything that is not an event. */
export function decodeEvent(line: string): AgentEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const e = JSON.parse(line) as AgentEvent;
    return typeof e === 'object' && e && 'type' in e ? e : undefined;
  } catch {
    return undefined;
  }
}
