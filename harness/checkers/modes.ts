import type { Probe } from '../diagnose/types.js';
import type { Counters } from '../ipvs/table.js';
import type { CheckResult } from './types.js';

/**
 * Checks of each forwarding mode's signature, measured, not assumed. Inputs are observations
 * gathered by harness/observe/modes.ts.
 */
export interface ProbeAnswer {
  /** the client source address the request was sent from */
  source: string;
  /** host:port the request went to (a fwmark service has several) */
  target?: string;
  ok: boolean;
  /** curl's exit code (28 timeout, 7 refused, 56 reset) */
  rc: number;
  status?: number;
  server?: string;
  rip?: string;
  /** the client address the real server saw */
  seenClient?: string;
  /** when the probe started, on the client node's clock (ms), and how long it took */
  t?: number;
  latencyMs?: number;
}

const tally = (answers: readonly ProbeAnswer[]) => {
  const byServer: Record<string, number> = {};
  for (const a of answers) if (a.ok && a.server) byServer[a.server] = (byServer[a.server] ?? 0) + 1;
  return byServer;
};

const curlError = (rc: number) => ({ 6: 'no such host', 7: 'connection refused', 28: 'timeout', 52: 'empty reply', 56: 'connection reset' })[rc] ?? `curl exit ${rc}`;

/**
 * `destinations` (host:port) are the service's addresses and ports when it has several (a fwmark
 * service): each must be answered too, and one never probed leaves the verdict unknown.
 */
export function everyRealServerAnswers(answers: readonly ProbeAnswer[], servers: readonly string[], vip: string, destinations: readonly string[] = []): CheckResult {
  const byServer = tally(answers);
  const failed = answers.filter((a) => !a.ok);
  const silent = servers.filter((s) => !byServer[s]);
  const reasons = [...new Set(failed.map((f) => curlError(f.rc)))];
  const untried = destinations.filter((d) => !answers.some((a) => a.target === d));
  const deadDest = destinations.filter((d) => answers.some((a) => a.target === d) && !answers.some((a) => a.target === d && a.ok));
  const failing = answers.length === 0 || silent.length > 0 || failed.length > 0;
  const valid = failing ? false : untried.length ? 'unknown' : true;
  return {
    name: 'every real server answers through the VIP',
    valid,
    observed: { requests: answers.length, answeredBy: byServer, failures: failed.length, failureKinds: reasons, ...(destinations.length ? { destinationsUntried: untried, destinationsUnanswered: deadDest } : {}) },
    expected: { answeredBy: servers, failures: 0, ...(destinations.length ? { destinations } : {}) },
    rule: `new connections to ${destinations.length > 1 ? `every destination (${destinations.join(', ')})` : vip}, one per request, reach every real server and none fails`,
    detail:
      valid === true
        ? `${answers.length} requests${destinations.length > 1 ? ` to ${destinations.length} destinations` : ''} answered by ${servers.join(', ')}`
        : valid === 'unknown'
          ? `no request was sent to ${untried.join(', ')}, so whether ${untried.length > 1 ? 'they answer' : 'it answers'} is not known`
          : [
              failed.length ? `${failed.length} of ${answers.length} requests failed (${reasons.join(', ')})` : '',
              deadDest.length ? `no answer through ${deadDest.join(', ')}` : '',
              silent.length ? `no answer from ${silent.join(', ')}${Object.keys(byServer).length ? ` (answers came from ${Object.entries(byServer).map(([k, v]) => `${k} ×${v}`).join(', ')})` : ''}` : '',
              !answers.length ? 'no request was made' : '',
            ]
              .filter(Boolean)
              .join('; '),
  };
}

export function realServersSeeClient(answers: readonly ProbeAnswer[]): CheckResult {
  const ok = answers.filter((a) => a.ok);
  const wrong = ok.filter((a) => a.seenClient !== a.source);
  const valid = ok.length > 0 && wrong.length === 0;
  return {
    name: 'real servers see the client address',
    valid: ok.length ? valid : 'unknown',
    observed: { answers: ok.length, seen: [...new Set(ok.map((a) => a.seenClient))], mismatched: wrong.length },
    expected: { seen: [...new Set(ok.map((a) => a.source))] },
    rule: 'in NAT the director rewrites only the destination: the real server sees the client source address',
    detail: !ok.length ? 'no answers to judge' : valid ? `all ${ok.length} answers saw their client address` : `${wrong.length} answers saw ${[...new Set(wrong.map((w) => w.seenClient))].join(', ')} instead of the client address`,
  };
}

export function realServersSeeDip(answers: readonly ProbeAnswer[], dips: readonly string[], rule = "in full-NAT the director also rewrites the source to its DIP on the real servers' side"): CheckResult {
  const ok = answers.filter((a) => a.ok);
  const wrong = ok.filter((a) => !dips.includes(a.seenClient ?? ''));
  const valid = ok.length > 0 && wrong.length === 0;
  return {
    name: 'real servers see the director address (DIP)',
    valid: ok.length ? valid : 'unknown',
    observed: { answers: ok.length, seen: [...new Set(ok.map((a) => a.seenClient))] },
    expected: { seen: dips },
    rule,
    detail: !ok.length ? 'no answers to judge' : valid ? `all ${ok.length} answers saw ${dips.join(' or ')}` : `${wrong.length} answers saw ${[...new Set(wrong.map((w) => w.seenClient))].join(', ')}`,
  };
}

export interface CounterDelta extends Counters {}

/** `connections`: answered ones. With none there were no replies to carry, and a stray packet out (a reset) would pass. */
export function directorCarriesReplies(delta: CounterDelta, connections: number): CheckResult {
  const need = Math.max(1, connections);
  const valid = connections === 0 ? 'unknown' : delta.inPkts > 0 && delta.outPkts >= need;
  return {
    name: 'the director carries the replies',
    valid,
    observed: delta,
    expected: { inPkts: '> 0', outPkts: `>= ${need} (one per connection at least)` },
    rule: 'in NAT and full-NAT replies return through the director, so IPVS counts outgoing packets',
    detail:
      valid === 'unknown'
        ? 'no connection was answered, so there were no replies for the director to carry'
        : valid
          ? `${delta.outPkts} reply packets through the director for ${delta.conns} connections`
          : `the director counted ${delta.outPkts} reply packets for ${connections} connections`,
  };
}

/**
 * `connections`: answered ones. Without an answer there was no reply to bypass the director: its
 * outgoing counters stay 0 whether or not replies would go through it (requests that all time out).
 */
export function repliesBypassDirector(delta: CounterDelta, connections: number): CheckResult {
  const valid = delta.inPkts > 0 && delta.outPkts === 0;
  const judged = delta.inPkts > 0 && connections > 0;
  return {
    name: 'replies bypass the director',
    valid: judged || delta.outPkts > 0 ? valid : 'unknown',
    observed: { ...delta, answered: connections },
    expected: { inPkts: '> 0', outPkts: 0, answered: '> 0' },
    rule: 'in DR and TUN real servers answer the client directly: the director\'s outgoing counters stay 0',
    detail:
      delta.outPkts > 0
        ? `${delta.outPkts} reply packets went through the director`
        : delta.inPkts === 0
          ? 'the director saw no incoming packets, so nothing can be said'
          : !connections
            ? `no connection was answered (${delta.inPkts} packets in), so no reply could show which way it went`
            : `${delta.inPkts} packets in, 0 out for ${connections} answered connections`,
  };
}

export function realServersReceiveIpip(rxDelta: Readonly<Record<string, number>>, servers: readonly string[]): CheckResult {
  const missing = servers.filter((s) => !(rxDelta[s]! > 0));
  const valid = servers.length > 0 && missing.length === 0;
  return {
    name: 'real servers receive IP-in-IP',
    valid,
    observed: { tunl0RxPackets: rxDelta },
    expected: { tunl0RxPackets: Object.fromEntries(servers.map((s) => [s, '> 0'])) },
    rule: 'in TUN the director encapsulates each request to the RIP; the real server receives it on tunl0',
    detail: valid ? `tunl0 received packets on ${servers.join(', ')}` : `no IP-in-IP arrived on ${missing.join(', ')}`,
  };
}

export interface ArpObservation {
  vip: string;
  /** MAC addresses that answered the client's ARP requests for the VIP */
  replies: string[];
  directorMacs: Record<string, string>;
  realServerMacs: Record<string, string>;
}

export function onlyDirectorAnswersArp(o: ArpObservation): CheckResult {
  const macs = [...new Set(o.replies.map((m) => m.toLowerCase()))];
  const owner = (mac: string) =>
    Object.entries(o.directorMacs).find(([, m]) => m.toLowerCase() === mac)?.[0] ??
    Object.entries(o.realServerMacs).find(([, m]) => m.toLowerCase() === mac)?.[0] ??
    'unknown host';
  const intruders = macs.filter((m) => !Object.values(o.directorMacs).some((d) => d.toLowerCase() === m));
  const valid = macs.length > 0 && intruders.length === 0;
  return {
    name: 'only the director answers ARP for the VIP',
    valid,
    observed: { answeredBy: macs.map((m) => `${owner(m)} ${m}`) },
    expected: { answeredBy: Object.entries(o.directorMacs).map(([n, m]) => `${n} ${m}`) },
    rule: 'real servers hold the VIP too; with arp_ignore=1 and arp_announce=2 they must never answer ARP for it',
    detail: !macs.length
      ? `nobody answered ARP for ${o.vip}`
      : valid
        ? `ARP for ${o.vip} answered by the director only`
        : `ARP for ${o.vip} answered by ${intruders.map((m) => `${owner(m)} (${m})`).join(', ')}: clients may send to a real server directly, bypassing the director`,
  };
}

/**
 * TUN: a request larger than one packet comes through. IP-in-IP adds 20 bytes to every packet the
 * director tunnels, so a full-size packet from the client no longer fits the path to the real
 * server; the director answers "fragmentation needed" and the client must send smaller ones (path
 * MTU discovery). When that answer is lost or ignored, small requests pass and large ones hang.
 */
export function largeBodyPasses(p: Probe): CheckResult {
  return {
    name: 'a large request body comes through the tunnel',
    valid: p.ok,
    observed: { bytes: p.bytes, outcome: p.outcome },
    expected: { status: 200 },
    rule: `a ${p.bytes}-byte request body (many full-size packets, each 20 bytes larger once tunnelled) is answered through the VIP`,
    detail: p.ok ? `${p.bytes} bytes sent, answered: ${p.outcome}` : `${p.bytes} bytes sent, not answered: ${p.outcome}`,
  };
}

