import type { OpEvent } from '../history/history.js';
import { chiSquare, round } from '../stats.js';
import type { CheckResult } from './types.js';

/**
 * What each IPVS scheduler promises, checked against the operations of a history. Every
 * verdict states the rule it applied. Inputs are answered operations (each a new connection)
 * in time order, or, for the connection-count schedulers, steps that pair each new connection
 * with the director's connection counts observed just before it. A check whose data could not
 * have shown a violation (one server, one key, every choice allowed) says 'unknown' and why.
 * The destination schedulers (dh, lblc, lblcr) are in destination.ts.
 */
export interface ServerWeight {
  name: string;
  weight: number;
}

/** Answered operations (each a new connection that reached a real server), in time order. */
export const answered = (ops: readonly OpEvent[]) => ops.filter((o) => o.outcome === 'ok' && o.server).sort((a, b) => a.t - b.t);

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/** rr: exact rotation: in every round of N new connections (N live servers) each gets one; max - min ≤ 1 per round. */
export function roundRobin(ops: readonly OpEvent[], servers: readonly ServerWeight[]): CheckResult {
  const live = servers.filter((s) => s.weight > 0).map((s) => s.name);
  const seq = answered(ops).map((o) => o.server!);
  const n = live.length;
  const rounds: { round: number; counts: Record<string, number>; spread: number }[] = [];
  for (let i = 0; n > 0 && i + n <= seq.length; i += n) {
    const counts = Object.fromEntries(live.map((s) => [s, 0]));
    for (const s of seq.slice(i, i + n)) counts[s] = (counts[s] ?? 0) + 1;
    const v = Object.values(counts);
    rounds.push({ round: i / n + 1, counts, spread: Math.max(...v) - Math.min(...v) });
  }
  const worst = rounds.reduce((w, r) => (r.spread > (w?.spread ?? -1) ? r : w), rounds[0]);
  // one live server takes every connection whatever the scheduler: nothing to rotate
  const enough = rounds.length >= 2 && n >= 2;
  const valid = enough ? rounds.every((r) => r.spread <= 1) : 'unknown';
  return {
    name: 'rr rotates over the real servers',
    valid,
    observed: { connections: seq.length, rounds: rounds.length, totals: countBy(seq, (s) => s), worstRound: worst },
    expected: { perRound: Object.fromEntries(live.map((s) => [s, 1])), maxMinusMin: '≤ 1' },
    rule: `round robin: in each round of ${n} new connections every live server gets one (max − min ≤ 1 per round)`,
    detail: n < 2 ? `${n} live server${n === 1 ? '' : 's'}: rr cannot be told from any other scheduler; needs ≥ 2` : !enough ? `only ${rounds.length} full rounds observed; 2 needed` : valid ? `${rounds.length} rounds, each spread ≤ 1` : `round ${worst!.round} had ${JSON.stringify(worst!.counts)}`,
  };
}

/** wrr: shares proportional to weights, each within ±tolerance (absolute share). */
export function weightedShares(ops: readonly OpEvent[], servers: readonly ServerWeight[], scheduler: string, tolerance = 0.05): CheckResult {
  const seq = answered(ops);
  const total = seq.length;
  const sumW = servers.reduce((a, s) => a + s.weight, 0);
  const counts = countBy(seq, (o) => o.server!);
  const rows = servers.map((s) => {
    const expected = sumW ? s.weight / sumW : 0;
    const observed = total ? (counts[s.name] ?? 0) / total : 0;
    return { server: s.name, weight: s.weight, count: counts[s.name] ?? 0, observed: round(observed), expected: round(expected), off: round(Math.abs(observed - expected)) };
  });
  const bad = rows.filter((r) => r.off > tolerance);
  const live = servers.filter((s) => s.weight > 0).length;
  const valid = total < 2 * sumW || live < 2 ? 'unknown' : bad.length === 0;
  return {
    name: `${scheduler} shares follow the weights`,
    valid,
    observed: { connections: total, shares: Object.fromEntries(rows.map((r) => [r.server, r.observed])), counts },
    expected: { shares: Object.fromEntries(rows.map((r) => [r.server, r.expected])), tolerance },
    rule: `each real server's share of new connections is weight / Σweights (${servers.map((s) => `${s.name}:${s.weight}`).join(' ')}) within ±${tolerance * 100} points`,
    detail:
      valid === 'unknown'
        ? live < 2
          ? `${live} server${live === 1 ? '' : 's'} with a weight: every connection goes to it whatever the scheduler; needs ≥ 2`
          : `${total} connections are too few to judge weights summing to ${sumW}`
        : valid
          ? rows.map((r) => `${r.server} ${(r.observed * 100).toFixed(1)}% (expected ${(r.expected * 100).toFixed(1)}%)`).join(', ')
          : bad.map((r) => `${r.server} got ${(r.observed * 100).toFixed(1)}%, expected ${(r.expected * 100).toFixed(1)}%`).join('; '),
  };
}

/** sh, dh, mh: one key, one server; keys spread across servers (chi-square against the weights). */
export function hashing(ops: readonly OpEvent[], servers: readonly ServerWeight[], scheduler: string, key: 'src' | 'dst'): CheckResult {
  const seq = answered(ops);
  const byKey = new Map<string, Set<string>>();
  for (const o of seq) {
    const k = key === 'src' ? o.src : o.dst;
    if (!byKey.has(k)) byKey.set(k, new Set());
    byKey.get(k)!.add(o.server!);
  }
  const split = [...byKey.entries()].filter(([, s]) => s.size > 1).map(([k, s]) => `${k} → ${[...s].join(', ')}`);
  const keysPerServer = Object.fromEntries(servers.map((s) => [s.name, 0]));
  for (const s of byKey.values()) if (s.size === 1) keysPerServer[[...s][0]!] = (keysPerServer[[...s][0]!] ?? 0) + 1;
  const live = servers.filter((s) => s.weight > 0);
  const sumW = live.reduce((a, s) => a + s.weight, 0);
  const chi = chiSquare(live.map((s) => keysPerServer[s.name]!), live.map((s) => s.weight / sumW));
  // enough keys for the spread to mean something: at least 5 expected per server
  const spreadJudged = key === 'src' && byKey.size >= 5 * live.length;
  const spreadOk = !spreadJudged || chi.pValue >= 0.001;
  const what = key === 'src' ? 'source' : 'destination';
  // one key always "stays on one server"; so does everything when only one server can take it
  const tooFew = byKey.size < 2 ? `${byKey.size} ${what}${byKey.size === 1 ? '' : 's'}: ${scheduler} cannot be told from any other scheduler; needs ≥ 2` : live.length < 2 ? `${live.length} live server: every ${what} lands on it whatever the scheduler; needs ≥ 2` : undefined;
  const valid = seq.length === 0 ? 'unknown' : split.length ? false : tooFew ? 'unknown' : spreadOk;
  return {
    name: `${scheduler} maps each ${key === 'src' ? 'source' : 'destination'} to one real server`,
    valid,
    observed: { keys: byKey.size, connections: seq.length, keysPerServer, split, chiSquare: spreadJudged ? { statistic: round(chi.statistic), df: chi.df, pValue: round(chi.pValue, 4) } : 'not judged (too few keys)' },
    expected: { split: [], pValue: spreadJudged ? '≥ 0.001' : 'n/a' },
    rule: `${scheduler} hashes the ${key === 'src' ? 'source' : 'destination'} address: the same key always reaches the same real server${spreadJudged ? ', and keys spread over the servers as the weights say (chi-square p ≥ 0.001)' : ''}`,
    detail:
      valid === 'unknown'
        ? seq.length === 0
          ? 'no answered connections'
          : tooFew
        : split.length
          ? `${split.length} keys reached several servers: ${split.slice(0, 3).join('; ')}`
          : spreadOk
            ? `${byKey.size} keys, each always on one server${spreadJudged ? `; spread p = ${chi.pValue.toFixed(3)}` : ''}`
            : `keys are not spread as the weights say (chi-square ${chi.statistic.toFixed(1)}, p = ${chi.pValue.toExponential(2)}): ${JSON.stringify(keysPerServer)}`,
  };
}

/** One new connection with the director's counts just before it. */
export interface Step {
  chosen: string | undefined;
  outcome: OpEvent['outcome'];
  before: Record<string, { active: number; inactive: number; weight: number }>;
}

type Formula = 'lc' | 'wlc' | 'sed' | 'nq';

/** How many steps the rule could fail: those where it allowed fewer servers than were live. */
function singledOut(steps: readonly Step[], allowedOf: (b: Step['before']) => string[]): number {
  return steps.filter((s) => allowedOf(s.before).length < Object.values(s.before).filter((x) => x.weight > 0).length).length;
}

/** The servers the scheduler's formula allows for the next connection (the kernel picks the first of them in its list). */
export function formulaChoice(f: Formula, before: Step['before']): string[] {
  const live = Object.entries(before).filter(([, s]) => s.weight > 0);
  if (!live.length) return [];
  if (f === 'nq') {
    const idle = live.filter(([, s]) => s.active === 0).map(([n]) => n);
    if (idle.length) return idle;
  }
  const cost = ([, s]: [string, { active: number; inactive: number; weight: number }]) => {
    switch (f) {
      case 'lc':
        return s.active * 256 + s.inactive;
      case 'wlc':
        return (s.active * 256 + s.inactive) / s.weight;
      case 'sed':
      case 'nq':
        return (s.active + 1) / s.weight;
    }
  };
  const min = Math.min(...live.map(cost));
  return live.filter((x) => Math.abs(cost(x) - min) < 1e-9).map(([n]) => n);
}

const FORMULA_TEXT: Record<Formula, string> = {
  lc: 'least connections: the smallest active×256 + inactive',
  wlc: 'weighted least connections: the smallest (active×256 + inactive) / weight',
  sed: 'shortest expected delay: the smallest (active + 1) / weight',
  nq: 'never queue: an idle server if there is one, else the smallest (active + 1) / weight',
};

export function leastConnections(steps: readonly Step[], f: Formula): CheckResult {
  const judged = steps.filter((s) => s.outcome === 'ok' && s.chosen);
  const wrong = judged
    .map((s, i) => ({ step: i + 1, chosen: s.chosen!, allowed: formulaChoice(f, s.before), before: s.before }))
    .filter((x) => !x.allowed.includes(x.chosen));
  const telling = singledOut(judged, (b) => formulaChoice(f, b));
  const valid = judged.length < 3 || (!wrong.length && !telling) ? 'unknown' : wrong.length === 0;
  return {
    name: `${f} sends each new connection where its formula says`,
    valid,
    observed: { connections: judged.length, choices: judged.map((s) => s.chosen), wrong: wrong.slice(0, 5) },
    expected: { everyChoiceIn: 'the formula’s argmin over the counts observed just before' },
    rule: `${FORMULA_TEXT[f]}, computed from the director's ActiveConn/InActConn read before each new connection`,
    detail:
      valid === 'unknown'
        ? judged.length < 3
          ? `only ${judged.length} connections were opened`
          : `the counts never ruled a server out: every one of the ${judged.length} choices would have been allowed to any scheduler`
        : valid
          ? `${judged.length} connections, each on a server the formula allows (${telling} of them where it ruled a server out)`
          : wrong
              .slice(0, 3)
              .map((w) => `connection ${w.step} went to ${w.chosen}, the formula allows ${w.allowed.join(' or ')} (counts ${JSON.stringify(Object.fromEntries(Object.entries(w.before).map(([n, c]) => [n, `${c.active}/${c.inactive}`])))})`)
              .join('; '),
  };
}

/** fo: every new connection goes to the available server with the highest weight. */
export function failover(ops: readonly OpEvent[], servers: readonly ServerWeight[]): CheckResult {
  const seq = answered(ops);
  const live = servers.filter((s) => s.weight > 0);
  const top = Math.max(...live.map((s) => s.weight));
  const allowed = live.filter((s) => s.weight === top).map((s) => s.name);
  const counts = countBy(seq, (o) => o.server!);
  const stray = Object.keys(counts).filter((s) => !allowed.includes(s));
  // when every live server shares the top weight, any scheduler sends only to them
  const valid = seq.length === 0 || (!stray.length && allowed.length === live.length) ? 'unknown' : stray.length === 0;
  return {
    name: 'fo sends everything to the highest-weight server',
    valid,
    observed: { counts },
    expected: { onlyTo: allowed },
    rule: 'weighted failover: all new connections go to the available server with the highest weight',
    detail:
      valid === 'unknown'
        ? seq.length === 0
          ? 'no answered connections'
          : `every live server (${allowed.join(', ')}) has the highest weight: fo cannot be told from any other scheduler; needs distinct weights`
        : valid
          ? `${seq.length} connections, all to ${allowed.join(', ')}`
          : `connections reached ${stray.join(', ')} although ${allowed.join(', ')} had the highest weight`,
  };
}

/**
 * ovf: the highest-weight server until its active connections exceed its weight, then the next.
 * The kernel (ip_vs_ovf.c) skips a server only when activeconns > weight, so a server of weight
 * w takes w + 1 connections before the next one is used.
 */
export function overflow(steps: readonly Step[]): CheckResult {
  const judged = steps.filter((s) => s.outcome === 'ok' && s.chosen);
  const allowedOf = (b: Step['before']) => {
    const open = Object.entries(b).filter(([, s]) => s.weight > 0 && s.active <= s.weight);
    if (!open.length) return [];
    const top = Math.max(...open.map(([, s]) => s.weight));
    return open.filter(([, s]) => s.weight === top).map(([n]) => n);
  };
  const wrong = judged.map((s, i) => ({ step: i + 1, chosen: s.chosen!, allowed: allowedOf(s.before) })).filter((x) => !x.allowed.includes(x.chosen));
  const telling = singledOut(judged, allowedOf);
  const valid = judged.length < 3 || (!wrong.length && !telling) ? 'unknown' : wrong.length === 0;
  return {
    name: 'ovf overflows in weight order',
    valid,
    observed: { choices: judged.map((s) => s.chosen), wrong: wrong.slice(0, 5) },
    expected: { rule: 'highest weight among servers with active ≤ weight' },
    rule: 'weighted overflow: the highest-weight server takes new connections until its active connections exceed its weight (ip_vs_ovf skips it when active > weight), then the next',
    detail:
      valid === 'unknown'
        ? judged.length < 3
          ? `only ${judged.length} connections`
          : `the weights and counts never ruled a server out: every one of the ${judged.length} choices would have been allowed to any scheduler`
        : valid
          ? `${judged.length} connections in weight order`
          : wrong
              .slice(0, 3)
              .map((w) => `connection ${w.step} went to ${w.chosen}, allowed ${w.allowed.join(' or ') || 'none'}`)
              .join('; '),
  };
}
