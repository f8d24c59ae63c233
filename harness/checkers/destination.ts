import type { OpEvent } from '../history/history.js';
import { ipToInt } from '../topology/net.js';
import { answered, type ServerWeight } from './distribution.js';
import type { CheckResult } from './types.js';

/**
 * The schedulers that choose by the packet's destination address, as a cache cluster uses them
 * (a firewall-mark service over several addresses): dh hashes it, lblc and lblcr remember where
 * each destination went. With one destination every scheduler keeps it "on one server" as long
 * as it sends everything to one server, so these checks need two destinations or more.
 */

/**
 * ip_vs_dh_hashkey for IPv4 as the kernels we run have it: hash_32(ntohl(addr), 8), the top 8
 * bits of addr × GOLDEN_RATIO_32 (0x61C88647). Older kernels took the low 8 bits of
 * addr × 2654435761; the lab showed the grouping of hash_32 on 6.1 (.101 and .102 together).
 */
export const dhBucket = (addr: string): number => Math.imul(ipToInt(addr), 0x61c88647) >>> 24;

const tooFew = (n: number, scheduler: string) =>
  n === 0 ? 'no answered connections' : `${n} destination: ${scheduler} cannot be told from any other scheduler; needs ≥ 2`;

const byDestination = (ops: readonly OpEvent[]) => {
  const m = new Map<string, { servers: Record<string, number>; sources: Set<string> }>();
  for (const o of ops) {
    const e = m.get(o.dst) ?? { servers: {}, sources: new Set<string>() };
    e.servers[o.server!] = (e.servers[o.server!] ?? 0) + 1;
    e.sources.add(o.src);
    m.set(o.dst, e);
  }
  return m;
};

const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([s, n]) => `${s} ×${n}`)
    .join(', ');

/**
 * dh: ip_vs_dh deals its 256 buckets to the service's real servers in turn (bucket b to the
 * (b mod M)-th of the M servers in the kernel's list) and sends a destination to its bucket's
 * server. So, whatever the source, each destination reaches one server; destinations whose buckets
 * differ mod M reach different servers and those whose buckets agree share one. The list's order
 * is the kernel's, so only which destinations go together is judged, not which server they get.
 * `servers` are all the service's real servers (a weight-0 one keeps its buckets: their
 * connections are dropped, not moved).
 */
export function destinationHash(ops: readonly OpEvent[], servers: readonly ServerWeight[]): CheckResult {
  const seq = answered(ops);
  const byDst = byDestination(seq);
  const dsts = [...byDst.keys()].sort((a, b) => (a.includes(':') || b.includes(':') ? a.localeCompare(b) : ipToInt(a) - ipToInt(b)));
  const m = servers.length;
  const home = (d: string) => Object.keys(byDst.get(d)!.servers);
  const split = dsts.filter((d) => home(d).length > 1);
  // the table is predictable for IPv4 (IPv6 folds the address first; not needed here)
  const v4 = dsts.every((d) => !d.includes(':'));
  const slot = (d: string) => dhBucket(d) % m;
  const pairs = dsts.flatMap((a, i) => dsts.slice(i + 1).map((b) => [a, b] as const)).filter(([a, b]) => home(a).length === 1 && home(b).length === 1);
  const together = v4 ? pairs.filter(([a, b]) => slot(a) !== slot(b) && home(a)[0] === home(b)[0]) : [];
  const apart = v4 ? pairs.filter(([a, b]) => slot(a) === slot(b) && home(a)[0] !== home(b)[0]) : [];
  const slots = new Set(dsts.map(slot));
  const multiSource = dsts.filter((d) => byDst.get(d)!.sources.size > 1);
  const valid =
    dsts.length < 2 ? 'unknown' : split.length || together.length || apart.length ? false : !multiSource.length ? 'unknown' : true;
  const groups = [...slots].map((s) => dsts.filter((d) => slot(d) === s));
  const used = [...new Set(dsts.flatMap(home))].sort();
  return {
    name: 'dh maps each destination to one real server, as its hash table says',
    valid,
    observed: {
      destinations: Object.fromEntries(dsts.map((d) => [d, byDst.get(d)!.servers])),
      sourcesPerDestination: Object.fromEntries(dsts.map((d) => [d, byDst.get(d)!.sources.size])),
      serversUsed: used,
      connections: seq.length,
    },
    expected: {
      serversPerDestination: 1,
      ...(v4 && m ? { buckets: Object.fromEntries(dsts.map((d) => [d, dhBucket(d)])), sameServer: groups, serversUsed: slots.size } : {}),
    },
    rule: `dh hashes the destination address into 256 buckets (hash_32(address, 8): the top 8 bits of address × 0x61C88647) dealt to the ${m} real servers in turn: every destination reaches one server whatever the source, and destinations share a server exactly when their buckets agree mod ${m}`,
    detail:
      valid === 'unknown'
        ? dsts.length < 2
          ? tooFew(dsts.length, 'dh')
          : `each destination was reached from one source only, so a source hash would look the same`
        : valid
          ? `${dsts.length} destinations from ${Math.min(...dsts.map((d) => byDst.get(d)!.sources.size))}+ sources each, each always on one server: ${groups.map((g) => `${g.join(' + ')} → ${home(g[0]!)[0]}`).join(', ')}${slots.size === 1 ? ' (the hash puts every one in the same server’s buckets, so spread is not judged)' : ''}`
          : [
              ...split.map((d) => `${d} reached ${counts(byDst.get(d)!.servers)}`),
              ...together.map(([a, b]) => `${a} and ${b} both went to ${home(a)[0]}, though their buckets (${dhBucket(a)}, ${dhBucket(b)}) belong to different servers`),
              ...apart.map(([a, b]) => `${a} went to ${home(a)[0]} and ${b} to ${home(b)[0]}, though their buckets (${dhBucket(a)}, ${dhBucket(b)}) belong to one server`),
            ]
              .slice(0, 4)
              .join('; '),
  };
}

/**
 * lblc, lblcr: a destination seen for the first time goes to the least-loaded server (as wlc:
 * (active × 256 + inactive) / weight), and later connections to it stay there while that server is
 * not overloaded (active > weight with a server at under half its weight). Held connections (op
 * `hold`, one per new destination, kept open while the next is opened) make the first choices
 * visible: each holds one active connection, so the first min(destinations, servers) of them land
 * on distinct servers. New connections afterwards (released holds, one at a time) must find each
 * destination on the server of its first.
 */
export function destinationLocality(ops: readonly OpEvent[], scheduler: string, servers: number): CheckResult {
  const seq = answered(ops).filter((o) => o.op !== 'release');
  const byDst = byDestination(seq);
  const dsts = [...byDst.keys()];
  const home = (d: string) => Object.keys(byDst.get(d)!.servers);
  const split = dsts.filter((d) => home(d).length > 1);
  const firstHolds: OpEvent[] = [];
  for (const h of seq.filter((o) => o.op === 'hold')) if (!firstHolds.some((x) => x.dst === h.dst)) firstHolds.push(h);
  const k = Math.min(firstHolds.length, servers);
  const judgedHolds = firstHolds.slice(0, k);
  const crowded = judgedHolds.filter((h, i) => judgedHolds.slice(0, i).some((x) => x.server === h.server));
  const used = [...new Set(seq.map((o) => o.server!))].sort();
  const spreadJudged = k >= 2;
  const valid = dsts.length < 2 ? 'unknown' : split.length || crowded.length ? false : !spreadJudged && used.length < 2 ? 'unknown' : true;
  return {
    name: `${scheduler} keeps each destination on one server and sends new ones to the least loaded`,
    valid,
    observed: {
      destinations: Object.fromEntries(dsts.map((d) => [d, byDst.get(d)!.servers])),
      firstHeld: judgedHolds.map((h) => ({ destination: h.dst, server: h.server })),
      serversUsed: used,
      connections: seq.length,
    },
    expected: { serversPerDestination: 1, firstHeldOnDistinctServers: spreadJudged ? k : 'not judged (fewer than 2 held destinations)' },
    rule: `${scheduler}: a new destination goes to the least-loaded server ((active × 256 + inactive) / weight), so with a connection held to each, the first ${k || 'min(destinations, servers)'} new destinations land on different servers; later connections to a destination reach the server it went to while that server is not overloaded`,
    detail:
      valid === 'unknown'
        ? dsts.length < 2
          ? tooFew(dsts.length, scheduler)
          : `all ${dsts.length} destinations on ${used[0]} and no held connections to show where a new destination should go: a scheduler that sends everything to one server would look the same`
        : valid
          ? `${dsts.length} destinations, each on one server over ${seq.length} connections (${dsts.map((d) => `${d} → ${home(d)[0]}`).join(', ')})${spreadJudged ? `; the first ${k} held on ${k} different servers` : ''}`
          : [
              ...split.map((d) => `${d} spread over ${counts(byDst.get(d)!.servers)}`),
              ...crowded.map((h) => `new destination ${h.dst} went to ${h.server}, which already held a connection to ${judgedHolds.find((x) => x.server === h.server)!.dst} while another server held none`),
            ]
              .slice(0, 4)
              .join('; '),
  };
}
