import type { OpEvent } from '../history/history.js';
import type { CheckResult } from './types.js';

/**
 * Connection synchronisation across a director failover. A connection is held open (hold op)
 * before the failover and used once more after it (release op: one more request on the same
 * socket). With lvs_sync_daemon the backup director learned the connection from the master's
 * sync messages and forwards it to the same real server, so the release is answered by that
 * server; without it the new master has no entry, does not schedule a non-SYN packet, and the
 * connection breaks (reset or timeout). Only connections held before and released after the
 * failover are judged.
 */
export function connectionSurvives(
  holdOps: readonly OpEvent[],
  releaseOps: readonly OpEvent[],
  failoverT: number,
  opts: { expect?: 'survive' | 'break'; name?: string } = {},
): CheckResult {
  const expect = opts.expect ?? 'survive';
  const holds = new Map(holdOps.filter((o) => o.op === 'hold' && o.conn && o.outcome === 'ok' && o.t < failoverT).map((o) => [o.conn!, o]));
  const rows = releaseOps
    .filter((r) => r.op === 'release' && r.conn && holds.has(r.conn) && r.t > failoverT)
    .map((r) => {
      const h = holds.get(r.conn!)!;
      // an answer that does not name its server cannot show it was the same one
      const unconfirmed = r.outcome === 'ok' && (!h.server || !r.server);
      const survived = r.outcome === 'ok' && !unconfirmed && h.server === r.server;
      return {
        conn: r.conn!,
        heldOn: h.server ?? null,
        releasedOn: r.server ?? null,
        outcome: r.outcome,
        survived,
        unconfirmed,
        why: survived
          ? 'answered by the same real server'
          : unconfirmed
            ? 'answered, without naming the real server'
            : r.outcome !== 'ok'
              ? `${r.outcome}${r.error ? `: ${r.error}` : ''}`
              : `answered by ${r.server}, not ${h.server}`,
      };
    });
  const survived = rows.filter((r) => r.survived);
  const broke = rows.filter((r) => !r.survived && !r.unconfirmed);
  const unconfirmed = rows.filter((r) => r.unconfirmed);
  const notReleased = [...holds.keys()].filter((c) => !releaseOps.some((r) => r.op === 'release' && r.conn === c && r.t > failoverT));
  // an answer is no break, whoever gave it; it is a survival only from the same server
  const wrong = expect === 'survive' ? broke : [...survived, ...unconfirmed];
  const valid = rows.length === 0 ? 'unknown' : wrong.length ? false : unconfirmed.length ? 'unknown' : true;
  return {
    name: opts.name ?? (expect === 'survive' ? 'held connections survive the director failover' : 'held connections break on the director failover without sync'),
    valid,
    observed: { judged: rows.length, survived: survived.length, broke: broke.length, unconfirmed: unconfirmed.length, notReleasedAfterFailover: notReleased, connections: rows },
    expected: expect === 'survive' ? { broke: 0 } : { survived: 0 },
    rule:
      expect === 'survive'
        ? 'with lvs_sync_daemon, a TCP connection opened before the failover is carried on by the new master director to the same real server'
        : 'without connection synchronisation, the new master director has no entry for a connection opened before the failover, so the connection breaks',
    detail:
      valid === 'unknown'
        ? rows.length
          ? `${unconfirmed.length} of ${rows.length} held connections were answered without naming the real server, so whether they reached the same one is not known`
          : `no connection was held before the failover and released after it${notReleased.length ? ` (${notReleased.length} held but never released after it)` : ''}`
        : valid
          ? expect === 'survive'
            ? `${survived.length} held connections answered after the failover, each by its own real server`
            : `${broke.length} held connections broke after the failover (${[...new Set(broke.map((r) => r.outcome))].join(', ')})`
          : expect === 'survive'
            ? `${broke.length} of ${rows.length} held connections broke: ${broke
                .slice(0, 3)
                .map((r) => `${r.conn} (${r.why})`)
                .join('; ')}`
            : `${wrong.length} of ${rows.length} held connections were answered though nothing synchronised them: is a sync daemon running, or did the failover happen at all?`,
  };
}
