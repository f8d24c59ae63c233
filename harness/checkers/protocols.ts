import type { OpEvent } from '../history/history.js';
import { answered, roundRobin, type ServerWeight } from './distribution.js';
import type { CheckResult } from './types.js';

/**
 * Properties of services that are not one TCP port: UDP, whose "connection" is a flow (client
 * address and port) that IPVS keeps in its table until the UDP timeout; and firewall-mark
 * services, where several ports are one virtual service.
 */

/** UDP: every datagram of one flow reaches the real server its first datagram reached; flows spread. */
export function flowAffinity(ops: readonly OpEvent[], o: { minPerFlow: number; servers: number }): CheckResult {
  const flows = new Map<string, string[]>();
  for (const op of answered(ops)) {
    const k = `${op.src}:${op.srcPort ?? '?'}`;
    flows.set(k, [...(flows.get(k) ?? []), op.server!]);
  }
  const per = [...flows.entries()].map(([flow, servers]) => ({ flow, server: servers[0]!, datagrams: servers.length, servers: [...new Set(servers)] }));
  const split = per.filter((p) => p.servers.length > 1);
  const short = per.filter((p) => p.datagrams < o.minPerFlow);
  const used = new Set(per.map((p) => p.server));
  const spreadNeeded = o.servers > 1 && per.length >= o.servers;
  // with one server no flow can be split, whatever the director does
  const valid = !per.length || o.servers < 2 ? 'unknown' : split.length ? false : short.length ? 'unknown' : !spreadNeeded || used.size > 1;
  const failed = ops.filter((x) => x.outcome !== 'ok').length;
  return {
    name: 'each UDP flow stays on one real server',
    valid,
    observed: { flows: per.map(({ servers: _s, ...p }) => p), serversUsed: [...used], unanswered: failed },
    expected: { perFlow: `≥ ${o.minPerFlow} datagrams, all on one server`, serversUsed: spreadNeeded ? '> 1' : 'any' },
    rule: 'IPVS keeps a UDP flow (client address and port) as one connection entry until the UDP timeout, so its datagrams reach one real server; different flows are scheduled apart',
    detail: !per.length
      ? `no datagram was answered (${failed} unanswered)`
      : o.servers < 2
        ? `${o.servers} real server: a flow cannot be split, so affinity cannot be told from its absence; needs ≥ 2`
        : split.length
        ? split.map((s) => `flow ${s.flow} reached ${s.servers.join(' and ')}`).join('; ')
        : short.length
          ? `too few answers to confirm: ${short.map((s) => `${s.flow} ${s.datagrams}`).join(', ')}`
          : valid === false
            ? `all ${per.length} flows landed on ${[...used][0]}`
            : `${per.length} flows, each on one server for ${Math.min(...per.map((p) => p.datagrams))}+ datagrams, over ${used.size} servers`,
  };
}

/**
 * A persistent firewall-mark service: every port of the mark is one service, so a client's
 * connections to all of its ports reach one real server (what `-f` with `-p` is for: HTTP and
 * HTTPS of one session on one server). A client that did not use every port cannot confirm it.
 */
export function portsShareServer(ops: readonly OpEvent[], o: { ports: readonly number[]; minPerClient: number }): CheckResult {
  const byClient = new Map<string, { servers: Set<string>; ports: Set<number>; n: number; byPort: Record<number, string[]> }>();
  for (const op of answered(ops)) {
    const c = byClient.get(op.src) ?? { servers: new Set(), ports: new Set(), n: 0, byPort: {} };
    c.servers.add(op.server!);
    c.ports.add(op.dstPort);
    c.n++;
    (c.byPort[op.dstPort] ??= []).includes(op.server!) || c.byPort[op.dstPort]!.push(op.server!);
    byClient.set(op.src, c);
  }
  const per = [...byClient.entries()].map(([client, c]) => ({ client, servers: [...c.servers], ports: [...c.ports].sort((a, b) => a - b), answers: c.n, byPort: c.byPort }));
  const split = per.filter((p) => p.servers.length > 1);
  const partial = per.filter((p) => o.ports.some((x) => !p.ports.includes(x)) || p.answers < o.minPerClient);
  // answers from one server only could not have split a client, whatever persistence did
  const used = [...new Set(per.flatMap((p) => p.servers))].sort();
  const valid = !per.length ? 'unknown' : split.length ? false : partial.length || used.length < 2 ? 'unknown' : true;
  return {
    name: `ports ${o.ports.join(' and ')} of a client reach one real server`,
    valid,
    observed: { clients: per },
    expected: { perClient: `one server for every port (${o.ports.join(', ')}), ≥ ${o.minPerClient} answers` },
    rule: 'a firewall mark makes its ports one virtual service; with persistence a client is bound to one real server whichever of the ports it connects to',
    detail: !per.length
      ? 'no answered connections'
      : split.length
        ? split.map((s) => `${s.client} reached ${Object.entries(s.byPort).map(([p, sv]) => `${sv.join('/')} on ${p}`).join(', ')}`).join('; ')
        : partial.length
          ? `cannot confirm: ${partial.map((p) => `${p.client} used ports ${p.ports.join(',')} with ${p.answers} answers`).join('; ')}`
          : used.length < 2
            ? `every answer came from ${used[0]}: with one server no client could reach two, so this shows nothing about persistence`
            : `${per.length} clients, each on one server across ports ${o.ports.join(' and ')}, over ${used.length} servers`,
  };
}

/**
 * A firewall-mark service without persistence: its ports are one service with one scheduler, so
 * rr rotates over the connections to all of them together; a port whose packets are not marked
 * gets no answer through the service, which fails the check.
 */
export function fwmarkRotation(ops: readonly OpEvent[], servers: readonly ServerWeight[], ports: readonly number[]): CheckResult {
  const r = roundRobin(ops, servers);
  const byPort = Object.fromEntries(ports.map((p) => [p, ops.filter((o) => o.dstPort === p && o.outcome === 'ok').length]));
  const failedByPort = Object.fromEntries(ports.map((p) => [p, ops.filter((o) => o.dstPort === p && o.outcome !== 'ok').length]));
  const missing = ports.filter((p) => !byPort[p]);
  const untried = ports.filter((p) => !ops.some((o) => o.dstPort === p));
  return {
    ...r,
    name: `rr rotates over connections to ports ${ports.join(' and ')} together`,
    // a port nobody connected to says nothing about marking
    valid: untried.length ? 'unknown' : missing.length ? false : r.valid,
    observed: { ...(r.observed as object), answeredByPort: byPort, failedByPort },
    rule: `${r.rule}; the ports of a firewall mark share that one rotation`,
    detail: untried.length ? `no connection was tried on port ${untried.join(', ')}` : missing.length ? `no answer on port ${missing.join(', ')} (${missing.map((p) => `${failedByPort[p]} failed`).join(', ')}): its packets are not marked into the service` : r.detail,
  };
}
