import type { ArpObservation, CounterDelta, ProbeAnswer } from '../checkers/modes.js';
import type { Counters, TableService } from '../ipvs/table.js';
import type { OpEvent } from '../history/history.js';
import type { Probe } from '../diagnose/types.js';
import { tableService } from '../ipvs/edit.js';
import { identityFromBody } from '../load/protocol.js';
import { clientOn, type Plan, type PlannedService } from '../topology/planner.js';
import { devicesByAddress, type StartedTopology } from '../topology/builder.js';
import { sleep } from '../util/wait.js';

/**
 * Gathers what the modes checkers judge: answers seen by a client, the director's IPVS
 * counters, tunl0 counters on real servers, and who answers ARP for the VIP.
 */

// Fixed scripts; every input arrives as a positional argument, never spliced into the text.
// The HTTP probe takes pairs of arguments: a source address and the host:port it probes
// (the harness lays out which source goes to which destination, see probeTargets).
export const HTTP_PROBE = `'use strict';
const http = require('node:http');
const args = process.argv.slice(1);
// one new connection per probe (no keep-alive, Connection: close), bound to its source address;
// failures are told with curl's exit statuses (7 refused, 28 timed out, 56 reset, 52 empty reply)
const probe = (src, target) => new Promise((resolve) => {
  const m = target.match(/^\\[?([^\\]]+?)\\]?:(\\d+)$/);
  const t = Date.now();
  let done = false;
  const end = (rc, out, code) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    clearTimeout(connectTimer);
    req.destroy();
    process.stdout.write('src=' + src + ' dst=' + target + ' rc=' + rc + ' t=' + t + ' ' + out.replace(/\\n/g, '') + ' code=' + code + ' time=' + (Date.now() - t) + 'e-3\\n');
    resolve();
  };
  const req = http.request({ host: m[1], port: Number(m[2]), path: '/', localAddress: src, agent: false, headers: { Connection: 'close' } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => (body += d));
    res.on('end', () => end(0, body, res.statusCode));
    res.on('error', () => end(56, body, res.statusCode));
  });
  let connected = false;
  req.on('socket', (sock) => sock.on('connect', () => (connected = true)));
  // curl's --connect-timeout 2 and -m 3. A timer decides only after the I/O already waiting has
  // been read (setImmediate runs after the loop's poll phase): when the emulated CPU stalls this
  // process, the timer and the answer are both due when it runs again, and timers come first
  const timer = setTimeout(() => setImmediate(() => end(28, '', 0)), 3000);
  const connectTimer = setTimeout(() => setImmediate(() => connected || end(28, '', 0)), 2000);
  req.on('error', (e) => end(e.code === 'ECONNREFUSED' || e.code === 'ENETUNREACH' || e.code === 'EHOSTUNREACH' ? 7 : e.code === 'ECONNRESET' ? (connected ? 56 : 7) : e.code === 'EADDRNOTAVAIL' ? 45 : 1, '', 0));
  req.end();
});
(async () => {
  for (let i = 0; i + 1 < args.length; i += 2) await probe(args[i], args[i + 1]);
})();`;

// One datagram per probe from a fresh socket (a new flow each time); the echo names the real server.
export const UDP_PROBE = `'use strict';
const dgram = require('node:dgram');
const [vip, port, n, fam, ...sources] = process.argv.slice(1);
// one datagram per flow from its own socket (a new source port: a new IPVS connection), the
// first answer ends the probe at once; no answer within 2 s is a timeout (curl's 28)
const probe = (src, i) => new Promise((resolve) => {
  const sock = dgram.createSocket(fam === '6' ? 'udp6' : 'udp4');
  const t = Date.now();
  let done = false;
  const end = (rc, out) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    try { sock.close(); } catch {}
    const ms = Date.now() - t;
    process.stdout.write('src=' + src + ' rc=' + rc + ' t=' + t + ' ' + out.replace(/\\n/g, '') + ' code=' + (rc === 0 ? 200 : 0) + ' time=' + ms + 'e-3\\n');
    resolve();
  };
  // decided after the I/O already waiting is read (see the HTTP probe): a stall of this process
  // must not turn an answer that came in time into a timeout
  const timer = setTimeout(() => setImmediate(() => end(28, '')), 2000);
  sock.on('error', () => end(7, ''));
  sock.on('message', (msg) => end(msg.toString().startsWith('server=') ? 0 : 28, msg.toString()));
  sock.bind(0, src, () => sock.send('probe ' + i, Number(port), vip, (e) => e && end(7, '')));
});
(async () => {
  for (const src of sources) for (let i = 0; i < Number(n); i++) await probe(src, i);
})();`;

export function parseProbeOutput(text: string): ProbeAnswer[] {
  const out: ProbeAnswer[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^src=(\S+)(?: dst=(\S+))? rc=(\d+)(?: t=(\d+))?\s?(.*)$/);
    if (!m) continue;
    const rc = Number(m[3]);
    const rest = m[5]!;
    const status = Number(rest.match(/code=(\d+)/)?.[1] ?? 0);
    // curl's time_total in seconds; the UDP probe's own as "<ms>e-3"
    const took = rest.match(/time=([\d.]+(?:e-3)?)\s*$/)?.[1];
    const id = identityFromBody(rest);
    out.push({
      source: m[1]!,
      ...(m[2] ? { target: m[2] } : {}),
      rc,
      ok: rc === 0 && status === 200,
      status,
      server: id?.server,
      rip: id?.rip,
      seenClient: id?.client,
      ...(m[4] ? { t: Number(m[4]) } : {}),
      ...(took !== undefined ? { latencyMs: Math.round(Number(took) * 1000 * 10) / 10 } : {}),
    });
  }
  return out;
}

/** Source addresses of a client node, of one address family: its interface address on the network, then the extra ones. */
export function clientSources(st: StartedTopology, client: string, network: string, family: 4 | 6 = 4): string[] {
  const n = st.node(client);
  const fam = (a: string) => (a.includes(':') ? 6 : 4) === family;
  return [
    ...n.interfaces.filter((i) => i.network === network).map((i) => (family === 6 ? i.address6 : i.address)),
    ...n.addresses.filter((a) => 'network' in a.on && a.on.network === network).map((a) => a.address),
  ].filter((a): a is string => !!a && fam(a));
}

/** The ports a client reaches a service on: its port, or a fwmark service's marked ports. */
export const servicePorts = (svc: Pick<PlannedService, 'port' | 'fwmark'>): number[] => (svc.fwmark ? svc.fwmark.ports : [svc.port!]);

type ServiceAddressing = Pick<PlannedService, 'vip' | 'vips' | 'family' | 'port' | 'fwmark'>;

/** Every host:port a client reaches the service on: each destination address on each port. */
export const serviceTargets = (svc: ServiceAddressing): string[] =>
  (svc.vips ?? [svc.vip]).flatMap((a) => servicePorts(svc).map((p) => `${svc.family === 6 ? `[${a}]` : a}:${p}`));

/**
 * Where each HTTP probe goes: `perSource` probes from every source, taking the service's
 * destinations (every address on every port) in turn across sources, so that a dozen probes
 * reach each destination of a fwmark service over four addresses and two ports at least once.
 */
export function probeTargets(svc: ServiceAddressing, sources: readonly string[], perSource: number): [source: string, target: string][] {
  const targets = serviceTargets(svc);
  return sources.flatMap((src, i) => Array.from({ length: perSource }, (_, k) => [src, targets[(i * perSource + k) % targets.length]!] as [string, string]));
}

/** New connections (HTTP) or new flows (UDP) from every source address, answered with the real server's identity. */
export async function probeService(st: StartedTopology, client: string, svc: PlannedService, perSource: number): Promise<ProbeAnswer[]> {
  const sources = clientSources(st, client, svc.vipNetwork, svc.family);
  const argv =
    svc.protocol === 'udp'
      ? ['node', '-e', UDP_PROBE, '--', svc.vip, String(svc.port), String(perSource), svc.family === 6 ? '6' : '4', ...sources]
      : ['node', '-e', HTTP_PROBE, '--', ...probeTargets(svc, sources, perSource).flat()];
  const r = await st.exec(client, argv, { allowFailure: true, timeoutMs: 30_000 + sources.length * perSource * 5_000 });
  return parseProbeOutput(r.stdout);
}

/** curl's exit status as the history's outcome (7 refused, 56 reset, 28 timed out). */
const outcomeOf = (a: ProbeAnswer): OpEvent['outcome'] => (a.ok ? 'ok' : a.rc === 7 ? 'refused' : a.rc === 56 || a.rc === 52 ? 'reset' : a.rc === 28 ? 'timeout' : 'error');

/** The probes of a service as the history's client operations (those whose start time the probe reported). */
export function probeOps(answers: readonly ProbeAnswer[], client: string, svc: Pick<PlannedService, 'vip' | 'port' | 'protocol' | 'fwmark'>): OpEvent[] {
  return answers
    .filter((a) => a.t !== undefined)
    .map((a) => {
      const target = a.target?.match(/^\[?([^\]]+?)\]?:(\d+)$/);
      return {
        type: 'op' as const,
        t: a.t!,
        latencyMs: a.latencyMs ?? 0,
        node: client,
        op: svc.protocol === 'udp' ? ('udp' as const) : ('http' as const),
        src: a.source,
        dst: target?.[1] ?? svc.vip,
        dstPort: Number(target?.[2] ?? svc.port ?? svc.fwmark?.ports[0] ?? 0),
        outcome: outcomeOf(a),
        ...(a.status ? { status: a.status } : {}),
        ...(a.server ? { server: a.server } : {}),
        ...(a.rip ? { rip: a.rip } : {}),
        ...(a.seenClient ? { seen: a.seenClient } : {}),
        ...(a.ok ? {} : { error: `${svc.protocol === 'udp' ? 'socat' : 'curl'} exit ${a.rc}` }),
        tag: 'modes',
      };
    });
}

/**
 * One request with a large body (zeros) to the service, from the client: what the tun-mtu cause
 * rule reads when it fails. curl's status and time, or its exit status (28: no answer in time).
 */
export async function largeBodyProbe(st: StartedTopology, client: string, svc: PlannedService, bytes: number): Promise<Probe> {
  const host = svc.family === 6 ? `[${svc.vip}]` : svc.vip;
  const r = await st.exec(client, ['sh', '-c', 'head -c "$1" /dev/zero | curl -g -s -m 10 -o /dev/null -w "%{http_code} %{time_total}" --data-binary @- "$2"', 'probe', String(bytes), `http://${host}:${svc.port}/`], { allowFailure: true, timeoutMs: 40_000 });
  const [code, secs] = r.stdout.trim().split(' ');
  const ok = r.exitCode === 0 && code === '200';
  const outcome = r.exitCode === 0 ? `HTTP ${code} in ${Math.round(Number(secs) * 1000)} ms` : r.exitCode === 28 ? 'no answer within 10 s (curl timed out)' : `curl exit ${r.exitCode}${code && code !== '000' ? `, HTTP ${code}` : ''}`;
  return { kind: 'large-body', service: svc.name, bytes, ok, outcome };
}

const ZERO: Counters = { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 };

export function serviceCounters(table: TableService[], svc: PlannedService): Counters {
  return tableService(table, svc)?.stats ?? ZERO;
}

export const counterDelta = (a: Counters, b: Counters): CounterDelta => ({
  conns: b.conns - a.conns,
  inPkts: b.inPkts - a.inPkts,
  outPkts: b.outPkts - a.outPkts,
  inBytes: b.inBytes - a.inBytes,
  outBytes: b.outBytes - a.outBytes,
});

/** the IPVS estimator's period: the kernel folds its per-CPU counters into what ipvsadm reads this often */
export const ESTIMATOR_PERIOD_MS = 2_000;

/**
 * The service's counters with all the traffic before this call in them. The kernel (6.1) folds
 * its per-CPU counters into what ipvsadm reads every 2 s (the estimator), so a read can lag the
 * traffic. The counters are complete once a fold has happened after the traffic: the first read
 * that differs from the one at the call is such a fold; no difference for one estimator period
 * means the read at the call was already complete. At least `minConns` connections are waited
 * for (deadline 20 s). With `quiet`, the first read (before any traffic) is returned as is.
 */
export async function settledCounters(st: StartedTopology, director: string, svc: PlannedService, minConns: number, opts: { quiet?: boolean } = {}): Promise<Counters> {
  const start = Date.now();
  const first = serviceCounters(await st.ipvs(director), svc);
  if (opts.quiet) return first;
  for (let cur = first; ; cur = serviceCounters(await st.ipvs(director), svc)) {
    const waited = Date.now() - start;
    const folded = JSON.stringify(cur) !== JSON.stringify(first) || waited > ESTIMATOR_PERIOD_MS + 100;
    if ((folded && cur.conns >= minConns) || waited > 20_000) return cur;
    await sleep(300);
  }
}

export function parseNetDev(text: string, dev: string): { rxPackets: number; txPackets: number } | undefined {
  for (const line of text.split('\n')) {
    const m = line.match(/^\s*([^:\s]+):\s*(.*)$/);
    if (!m || m[1] !== dev) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    return { rxPackets: f[1]!, txPackets: f[9]! };
  }
  return undefined;
}

export async function tunnelRx(st: StartedTopology, names: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    names.map(async (n) => {
      out[n] = parseNetDev((await st.exec(n, ['cat', '/proc/net/dev'])).stdout, 'tunl0')?.rxPackets ?? 0;
    }),
  );
  return out;
}

/** The interface a node has on a network, by its planned address. */
export async function deviceOn(st: StartedTopology, node: string, network: string): Promise<string> {
  const addr = st.node(node).interfaces.find((i) => i.network === network)?.address;
  const dev = addr && (await devicesByAddress(st, node)).get(addr);
  if (!dev) throw new Error(`${node} has no interface on ${network}`);
  return dev;
}

export async function macOn(st: StartedTopology, node: string, network: string): Promise<string> {
  const dev = await deviceOn(st, node, network);
  return (await st.exec(node, ['cat', `/sys/class/net/${dev}/address`])).stdout.trim();
}

/** Parses Thomas Habets' arping: "42 bytes from 02:42:0a:59:1e:02 (10.89.30.100): index=0 …". */
export function parseArping(text: string): string[] {
  return [...text.matchAll(/bytes from ([0-9a-f]{2}(?::[0-9a-f]{2}){5})/gi)].map((m) => m[1]!.toLowerCase());
}

export async function observeArp(st: StartedTopology, client: string, svc: PlannedService): Promise<ArpObservation> {
  const dev = await deviceOn(st, client, svc.vipNetwork);
  // several requests, so a real server that answers only sometimes (a race with the director) still shows
  const r = await st.exec(client, ['arping', '-c', '4', '-w', '6', '-I', dev, svc.vip], { allowFailure: true, timeoutMs: 20_000 });
  const directorMacs: Record<string, string> = {};
  for (const d of st.nodes('director')) if (d.interfaces.some((i) => i.network === svc.vipNetwork)) directorMacs[d.name] = await macOn(st, d.name, svc.vipNetwork);
  const realServerMacs: Record<string, string> = {};
  for (const rs of svc.realServers) if (st.node(rs.name).interfaces.some((i) => i.network === svc.vipNetwork)) realServerMacs[rs.name] = await macOn(st, rs.name, svc.vipNetwork);
  return { vip: svc.vip, replies: parseArping(r.stdout), directorMacs, realServerMacs };
}

export interface ModesObservation {
  answers: ProbeAnswer[];
  /** host:port of every destination probed, when the service has several (a fwmark service) */
  destinations: string[];
  director: string;
  counters: CounterDelta;
  tunnelRx?: Record<string, number>;
  arp?: ArpObservation;
}

/**
 * The director whose IPVS carries a service: on a keepalived pair the planned MASTER of the VRRP
 * instance holding the VIP (in active-active each director is MASTER of its own VIP), else the
 * director on the VIP's network.
 */
export function servingDirector(plan: Pick<Plan, 'vrrp'>, svc: Pick<PlannedService, 'vip' | 'vips' | 'directorAddresses' | 'vipNetwork'>): string {
  const vips = svc.vips?.length ? svc.vips : [svc.vip];
  const inst = plan.vrrp?.find((v) => v.vips.some((x) => vips.includes(x.address)));
  if (inst && svc.directorAddresses[inst.master]) return inst.master;
  return Object.keys(svc.directorAddresses).find((d) => svc.directorAddresses[d]![svc.vipNetwork])!;
}

export async function observeService(st: StartedTopology, svc: PlannedService, opts: { perSource?: number } = {}): Promise<ModesObservation> {
  const director = servingDirector(st.plan, svc);
  const client = clientOn(st.plan, svc)!;
  const rsNames = svc.realServers.map((r) => r.name);
  const tun = svc.realServers.some((r) => r.method === 'tunnel');
  // about a dozen new connections in all, at least one from every source address and to every destination
  const nSources = clientSources(st, client, svc.vipNetwork, svc.family).length;
  const all = svc.protocol === 'udp' ? [] : serviceTargets(svc);
  const destinations = all.length > 1 ? all : [];
  const perSource = opts.perSource ?? Math.max(1, Math.ceil(12 / nSources), Math.ceil(all.length / nSources));
  // an HAProxy service has no IPVS counters: HAProxy opens its own connections to the real servers
  if (svc.mode === 'proxy') return { answers: await probeService(st, client, svc, perSource), destinations, director, counters: { ...ZERO } };
  const before = await settledCounters(st, director, svc, 0, { quiet: true });
  const rxBefore = tun ? await tunnelRx(st, rsNames) : undefined;
  const answers = await probeService(st, client, svc, perSource);
  const after = await settledCounters(st, director, svc, before.conns + answers.filter((a) => a.ok).length);
  const obs: ModesObservation = { answers, destinations, director, counters: counterDelta(before, after) };
  if (tun && rxBefore) {
    const rxAfter = await tunnelRx(st, rsNames);
    obs.tunnelRx = Object.fromEntries(rsNames.map((n) => [n, rxAfter[n]! - rxBefore[n]!]));
  }
  // ARP is IPv4's; an IPv6 VIP is found by neighbour discovery, which answers only on the VIP's own interface
  if (svc.family === 4 && svc.realServers.some((r) => r.method !== 'masq' && r.network === svc.vipNetwork)) obs.arp = await observeArp(st, client, svc);
  return obs;
}
