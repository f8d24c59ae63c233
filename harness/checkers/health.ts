import type { FaultEvent, OpEvent } from '../history/history.js';
import type { TableService } from '../ipvs/table.js';
import type { HealthBound } from '../keepalived/bound.js';
import { medianSpacing } from './failover.js';
import type { CheckResult } from './types.js';

/** One poll of a virtual service's real servers on the active director. */
export interface TableSample {
  t: number;
  servers: { address: string; port?: number; weight: number }[];
}

/** A poll from a parsed `ipvsadm -Ln` service. */
export const tableSample = (t: number, svc: Pick<TableService, 'realServers'>): TableSample => ({
  t,
  servers: svc.realServers.map((r) => ({ address: r.address, port: r.port, weight: r.weight ?? 0 })),
});

/** rs is "address" or "address:port" ("[v6]:port" for IPv6). */
function matches(s: TableSample['servers'][number], rs: string): boolean {
  const m = rs.match(/^\[([^\]]+)\]:(\d+)$/) ?? rs.match(/^([^:]+):(\d+)$/);
  return m ? s.address === m[1] && s.port === Number(m[2]) : s.address === rs;
}

/** The server's state in a poll: in service (weight > 0), quiesced (listed with weight 0, inhibit_on_failure) or removed. */
function state(x: TableSample, rs: string): 'in' | 'weight 0' | 'removed' {
  const e = x.servers.find((s) => matches(s, rs));
  return !e ? 'removed' : e.weight > 0 ? 'in' : 'weight 0';
}

const s = (ms: number) => `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')} s`;

/**
 * After a real server stops answering, keepalived's health checker takes it out of IPVS (removes
 * it, or sets weight 0 with inhibit_on_failure) within the checker's worst case. Measured from the
 * fault to the first poll without it in service; with healT, it must stay out until the heal.
 */
export function removalTime(
  tableSamples: readonly TableSample[],
  fault: Pick<FaultEvent, 't'> & Partial<FaultEvent>,
  rs: string,
  bound: HealthBound,
  opts: { expect?: 'removed' | 'weight 0'; healT?: number; toleranceMs?: number } = {},
): CheckResult {
  const toleranceMs = opts.toleranceMs ?? bound.toleranceMs;
  const limit = bound.boundMs + toleranceMs;
  const sorted = [...tableSamples].sort((a, b) => a.t - b.t);
  const before = sorted.filter((x) => x.t < fault.t);
  const after = sorted.filter((x) => x.t >= fault.t && (opts.healT === undefined || x.t < opts.healT));
  const lastBefore = before[before.length - 1];
  const firstOut = after.find((x) => state(x, rs) !== 'in');
  const how = firstOut ? state(firstOut, rs) : undefined;
  const back = firstOut ? after.find((x) => x.t > firstOut.t && state(x, rs) === 'in') : undefined;
  const measuredMs = firstOut ? firstOut.t - fault.t : undefined;
  const resolutionMs = medianSpacing(sorted.map((x) => x.t)) ?? 0;
  const lastT = after.length ? after[after.length - 1]!.t : undefined;

  let valid: CheckResult['valid'];
  let detail: string;
  if (!lastBefore || state(lastBefore, rs) !== 'in') {
    valid = 'unknown';
    detail = lastBefore ? `${rs} was not in service (${state(lastBefore, rs)}) before the fault` : 'no table poll before the fault';
  } else if (measuredMs === undefined) {
    const polledMs = lastT === undefined ? 0 : lastT - fault.t;
    valid = polledMs >= limit ? false : 'unknown';
    detail =
      valid === false
        ? `${rs} was still in service ${s(polledMs)} after the fault, past the ${s(limit)} allowed (${bound.formula})`
        : `polling stopped ${s(polledMs)} after the fault, before the ${s(limit)} allowed, with ${rs} still in service`;
  } else if (measuredMs > limit) {
    valid = false;
    detail = `${rs} left service (${how}) ${s(measuredMs)} after the fault, over ${s(bound.boundMs)} + tolerance ${s(toleranceMs)} (${bound.formula})`;
  } else if (opts.expect && how !== opts.expect) {
    valid = false;
    detail = `${rs} was ${how === 'removed' ? 'removed from IPVS' : 'kept with weight 0'}, but ${opts.expect === 'removed' ? 'without inhibit_on_failure keepalived removes it' : 'with inhibit_on_failure keepalived keeps it with weight 0'}`;
  } else if (back) {
    valid = false;
    detail = `${rs} was put back in service ${s(back.t - fault.t)} after the fault while it was still failing`;
  } else {
    valid = true;
    detail = `${rs} left service (${how}) ${s(measuredMs)} after the fault, within ${s(bound.boundMs)} + ${s(toleranceMs)}; polls every ${s(resolutionMs)}`;
  }
  return {
    name: `keepalived takes ${rs} out of service after it fails`,
    valid,
    observed: { measuredMs: measuredMs ?? null, boundMs: bound.boundMs, toleranceMs, resolutionMs, how: how ?? null, polls: after.length, putBackAtMs: back ? back.t - fault.t : null },
    expected: { measuredMs: `≤ ${limit}`, how: opts.expect ?? 'removed or weight 0', formula: bound.formula },
    rule: `a real server that stops answering leaves IPVS (removed, or weight 0 with inhibit_on_failure) within the health checker's worst case: ${bound.formula}, plus ${toleranceMs} ms tolerance`,
    detail,
  };
}

/** After the fault ends, keepalived puts the server back (weight > 0) within the checker's worst case for recovery. */
export function reinsertion(
  tableSamples: readonly TableSample[],
  heal: Pick<FaultEvent, 't'> & Partial<FaultEvent>,
  rs: string,
  bound: HealthBound,
  opts: { weight?: number; toleranceMs?: number } = {},
): CheckResult {
  const toleranceMs = opts.toleranceMs ?? bound.toleranceMs;
  const limit = bound.boundMs + toleranceMs;
  const sorted = [...tableSamples].sort((a, b) => a.t - b.t);
  const before = sorted.filter((x) => x.t < heal.t);
  const after = sorted.filter((x) => x.t >= heal.t);
  const lastBefore = before[before.length - 1];
  const firstIn = after.find((x) => state(x, rs) === 'in');
  const weight = firstIn?.servers.find((x) => matches(x, rs))?.weight;
  const measuredMs = firstIn ? firstIn.t - heal.t : undefined;
  const resolutionMs = medianSpacing(sorted.map((x) => x.t)) ?? 0;
  const polledMs = after.length ? after[after.length - 1]!.t - heal.t : 0;

  let valid: CheckResult['valid'];
  let detail: string;
  if (!lastBefore || state(lastBefore, rs) === 'in') {
    valid = 'unknown';
    detail = lastBefore ? `${rs} was still in service when the fault ended: nothing to put back` : 'no table poll before the heal';
  } else if (measuredMs === undefined) {
    valid = polledMs >= limit ? false : 'unknown';
    detail =
      valid === false
        ? `${rs} was still out of service ${s(polledMs)} after the heal, past the ${s(limit)} allowed (${bound.formula})`
        : `polling stopped ${s(polledMs)} after the heal, before the ${s(limit)} allowed`;
  } else if (measuredMs > limit) {
    valid = false;
    detail = `${rs} came back ${s(measuredMs)} after the heal, over ${s(bound.boundMs)} + tolerance ${s(toleranceMs)} (${bound.formula})`;
  } else if (opts.weight !== undefined && weight !== opts.weight) {
    valid = false;
    detail = `${rs} came back with weight ${weight}, not its configured ${opts.weight}`;
  } else {
    valid = true;
    detail = `${rs} back in service (weight ${weight}) ${s(measuredMs)} after the heal, within ${s(bound.boundMs)} + ${s(toleranceMs)}; polls every ${s(resolutionMs)}`;
  }
  return {
    name: `keepalived puts ${rs} back after it recovers`,
    valid,
    observed: { measuredMs: measuredMs ?? null, boundMs: bound.boundMs, toleranceMs, resolutionMs, weight: weight ?? null, polls: after.length },
    expected: { measuredMs: `≤ ${limit}`, ...(opts.weight !== undefined ? { weight: opts.weight } : {}), formula: bound.formula },
    rule: `a real server that answers again is back in IPVS with its weight within the checker's recovery worst case: ${bound.formula}, plus ${toleranceMs} ms tolerance`,
    detail,
  };
}

/** When a real server left service after a fault: the last poll with it in service, the first without, and how it left. */
export interface RemovalInstant {
  rs: string;
  lastInT: number;
  firstOutT: number;
  how: 'removed' | 'weight 0';
}

/** The polls around the moment a real server left service after `from` (undefined if it did not, or was not in service at first). */
export function removalInstant(tableSamples: readonly TableSample[], from: number, rs: string): RemovalInstant | undefined {
  const sorted = [...tableSamples].sort((a, b) => a.t - b.t);
  let lastIn: TableSample | undefined = [...sorted].reverse().find((x) => x.t < from);
  if (!lastIn || state(lastIn, rs) !== 'in') return undefined;
  for (const x of sorted.filter((y) => y.t >= from)) {
    const st = state(x, rs);
    if (st === 'in') lastIn = x;
    else return { rs, lastInT: lastIn.t, firstOutT: x.t, how: st };
  }
  return undefined;
}

/**
 * No client operation started in the window failed: taking a server out must not cost clients
 * errors. One exception, the kernel's own: IPVS drops every packet of a connection whose real
 * server was deleted (net.ipv4.vs.expire_nodest_conn 0, the default; 1 drops it too, then expires
 * the entry), so when keepalived removes a failing server (no inhibit_on_failure) a connection to
 * it that is in flight at that moment is cut, however healthy the server. Such a failure, an
 * operation started before the first poll without the server and still running at the last poll
 * with it had it taken as long as the slowest answer in the window or 1 s (the first SYN
 * retransmission), is reported as cut by the removal with that cause, not counted against the
 * drain. With weight 0 (inhibit_on_failure) a connection in flight finishes, so every failure counts.
 */
export function noErrorsWhileDraining(ops: readonly OpEvent[], window: { from: number; to: number }, opts: { name?: string; removal?: RemovalInstant } = {}): CheckResult {
  const inWindow = ops.filter((o) => o.t >= window.from && o.t <= window.to).sort((a, b) => a.t - b.t);
  const failedAll = inWindow.filter((o) => o.outcome !== 'ok');
  const slowest = inWindow.filter((o) => o.outcome === 'ok').reduce<OpEvent | undefined>((m, o) => (m && (m.latencyMs ?? 0) >= (o.latencyMs ?? 0) ? m : o), undefined);
  const rm = opts.removal?.how === 'removed' ? opts.removal : undefined;
  const lookbackMs = Math.max(1000, slowest?.latencyMs ?? 0);
  const cut = rm ? failedAll.filter((o) => o.t <= rm.firstOutT && o.t + lookbackMs >= rm.lastInT) : [];
  const failed = failedAll.filter((o) => !cut.includes(o));
  const byOutcome = Object.fromEntries([...new Set(failed.map((o) => o.outcome))].sort().map((k) => [k, failed.filter((o) => o.outcome === k).length]));
  const valid = inWindow.length === 0 ? 'unknown' : failed.length === 0;
  const first = failed[0];
  const slow = slowest?.latencyMs !== undefined ? `; slowest answer ${s(slowest.latencyMs)}${slowest.server ? ` from ${slowest.server}` : ''}, ${s(slowest.t - window.from)} into the window` : '';
  const cutText = rm && cut.length
    ? `; ${cut.length} cut by the removal of ${rm.rs} (started ${cut.map((o) => s(o.t - window.from)).join(', ')} into the window, the removal between ${s(rm.lastInT - window.from)} and ${s(rm.firstOutT - window.from)}): IPVS drops the packets of a deleted real server's connections, and keepalived deletes a failing server unless inhibit_on_failure keeps it with weight 0, which lets them finish`
    : '';
  return {
    name: opts.name ?? 'no client errors while the server is taken out',
    valid,
    observed: {
      operations: inWindow.length,
      failed: failed.length,
      byOutcome,
      slowestMs: slowest?.latencyMs ?? null,
      firstFailure: first ? { atMs: first.t - window.from, op: first.op, outcome: first.outcome, server: first.server ?? null, error: first.error ?? null } : null,
      ...(opts.removal ? { removal: { how: opts.removal.how, betweenMs: [opts.removal.lastInT - window.from, opts.removal.firstOutT - window.from] }, cutByRemoval: cut.length } : {}),
    },
    expected: { failed: 0 },
    rule: 'every client operation started in the window gets an answer, but for one in flight when keepalived deletes the server (IPVS drops a deleted real server\'s connections; inhibit_on_failure avoids it)',
    detail:
      valid === 'unknown'
        ? 'no client operation in the window'
        : valid
          ? `${inWindow.length} operations, ${inWindow.length - cut.length} answered${cutText}${slow}`
          : `${failed.length} of ${inWindow.length} operations failed (${Object.entries(byOutcome)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')}); first ${s(first!.t - window.from)} into the window${first!.server ? ` (${first!.server})` : ''}${first!.error ? `: ${first!.error}` : ''}${cutText}${slow}`,
  };
}
