import type { OpEvent } from '../history/history.js';
import { ipToInt, intToIp } from '../topology/net.js';
import { answered } from './distribution.js';
import type { CheckResult } from './types.js';

/**
 * Persistence (-p timeout, -M netmask): within the timeout a client (or a client network)
 * sticks to one real server; different clients spread; after the timeout, once its
 * connections are gone, a client may move.
 */

export function clientKey(src: string, netmask?: string): string {
  if (!netmask || netmask === '255.255.255.255') return src;
  return `${intToIp((ipToInt(src) & ipToInt(netmask)) >>> 0)}/${netmask}`;
}

/**
 * Sticky within the timeout: each client key keeps one server, confirmed by at least `minConsecutive`
 * answers. `servers`: how many the service has; `spread: false` leaves out the spread over them
 * (a few client networks may legitimately share one).
 */
export function sticky(ops: readonly OpEvent[], o: { netmask?: string; minConsecutive?: number; servers: number; spread?: boolean }): CheckResult {
  const min = o.minConsecutive ?? 15;
  const seq = answered(ops);
  const byKey = new Map<string, string[]>();
  for (const op of seq) {
    const k = clientKey(op.src, o.netmask);
    byKey.set(k, [...(byKey.get(k) ?? []), op.server!]);
  }
  const per = [...byKey.entries()].map(([k, servers]) => {
    let run = 0;
    while (run < servers.length && servers[run] === servers[0]) run++;
    return { client: k, server: servers[0]!, consecutive: run, total: servers.length, moved: run < servers.length ? servers[run] : undefined };
  });
  const moved = per.filter((p) => p.moved);
  const short = per.filter((p) => !p.moved && p.consecutive < min);
  const used = new Set(per.map((p) => p.server));
  const spreadNeeded = o.spread !== false && per.length >= o.servers && o.servers > 1;
  const spreadOk = !spreadNeeded || used.size > 1;
  // with one server nobody can move: stickiness holds whatever the director does
  const valid = !per.length || o.servers < 2 ? 'unknown' : moved.length ? false : short.length ? 'unknown' : spreadOk;
  return {
    name: `persistence keeps each client${o.netmask && o.netmask !== '255.255.255.255' ? ' network' : ''} on one real server`,
    valid,
    observed: { clients: per, serversUsed: [...used] },
    expected: { consecutivePerClient: `≥ ${min}, all on one server`, serversUsed: spreadNeeded ? '> 1' : 'any' },
    rule: `within the persistence timeout every connection of a client${o.netmask ? ` (grouped by ${o.netmask})` : ''} reaches the server its first one reached; ${min} consecutive answers per client confirm it; different clients spread`,
    detail: !per.length
      ? 'no answered connections'
      : o.servers < 2
        ? `${o.servers} real server: a client cannot move, so persistence cannot be told from its absence; needs ≥ 2`
        : moved.length
          ? moved.map((m) => `${m.client} moved from ${m.server} to ${m.moved} after ${m.consecutive} answers`).join('; ')
          : short.length
            ? `too few answers to confirm: ${short.map((s) => `${s.client} ${s.consecutive}`).join(', ')}`
            : !spreadOk
              ? `all ${per.length} clients landed on ${[...used][0]}: persistence does not spread clients`
              : `${per.length} clients, each on one server for ${Math.min(...per.map((p) => p.consecutive))}+ answers, over ${used.size} servers`,
  };
}

/** Without persistence the same client is spread (the broken-setup detector for "persistence off"). */
export function expiry(before: readonly OpEvent[], after: readonly OpEvent[], netmask?: string): CheckResult {
  const first = (ops: readonly OpEvent[]) => {
    const m = new Map<string, Set<string>>();
    for (const o of answered(ops)) {
      const k = clientKey(o.src, netmask);
      m.set(k, (m.get(k) ?? new Set()).add(o.server!));
    }
    return m;
  };
  const a = first(before);
  const b = first(after);
  const movedClients = [...b.entries()].filter(([k, s]) => a.has(k) && [...s].some((x) => !a.get(k)!.has(x))).map(([k]) => k);
  // only a client seen on both sides of the timeout can show whether it moved
  const common = [...b.keys()].filter((k) => a.has(k));
  const valid = !common.length ? 'unknown' : movedClients.length > 0;
  return {
    name: 'persistence expires after the timeout',
    valid,
    observed: { before: Object.fromEntries([...a].map(([k, s]) => [k, [...s]])), after: Object.fromEntries([...b].map(([k, s]) => [k, [...s]])) },
    expected: 'after the timeout with no connections left, clients are scheduled afresh (some move)',
    rule: 'once the persistence template has expired, a client may reach another server',
    detail: valid === 'unknown' ? (!a.size || !b.size ? 'not enough answers before and after' : 'no client was answered both before and after the timeout') : valid ? `${movedClients.length} clients reached another server after expiry` : 'no client moved after the timeout: the template did not expire',
  };
}
