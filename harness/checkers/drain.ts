import type { OpEvent } from '../history/history.js';
import type { CheckResult } from './types.js';

/** Operations that opened a new connection after the edit (held connections are judged apart). */
const newConnectionsAfter = (ops: readonly OpEvent[], editAt: number) => ops.filter((x) => x.op !== 'hold' && x.op !== 'release' && x.t > editAt);

/**
 * Draining a real server (weight 0): from the moment of the edit it gets no new connection,
 * while the connections it already had run to completion without error.
 */
export function drainWeightZero(ops: readonly OpEvent[], o: { server: string; editAt: number; heldConns: readonly string[] }): CheckResult {
  const after = newConnectionsAfter(ops, o.editAt);
  const newAfter = after.filter((x) => x.outcome === 'ok' && x.server === o.server);
  const failedAfter = ops.filter((x) => x.op !== 'release' && x.t > o.editAt && x.outcome !== 'ok');
  const releases = ops.filter((x) => x.op === 'release' && x.conn && o.heldConns.includes(x.conn));
  const broken = releases.filter((x) => x.outcome !== 'ok');
  const missing = o.heldConns.filter((c) => !releases.some((r) => r.conn === c));
  const answeredAfter = after.filter((x) => x.outcome === 'ok').length;
  const valid = answeredAfter === 0 || !o.heldConns.length ? 'unknown' : newAfter.length === 0 && failedAfter.length === 0 && broken.length === 0 && missing.length === 0;
  return {
    name: `weight 0 drains ${o.server}`,
    valid,
    observed: { newConnectionsToDrained: newAfter.length, failuresAfterEdit: failedAfter.length, heldConnections: o.heldConns.length, heldBroken: broken.length, answeredAfter },
    expected: { newConnectionsToDrained: 0, failuresAfterEdit: 0, heldBroken: 0 },
    rule: 'after its weight is set to 0 a real server receives no new connections, and its established connections complete without error',
    detail:
      valid === 'unknown'
        ? 'not enough traffic after the edit, or no connection held across it'
        : valid
          ? `${answeredAfter} new connections after the edit, none to ${o.server}; ${o.heldConns.length} held connections completed`
          : [
              newAfter.length ? `${newAfter.length} new connections still reached ${o.server}` : '',
              failedAfter.length ? `${failedAfter.length} requests failed after the edit` : '',
              broken.length ? `${broken.length} held connections broke` : '',
              missing.length ? `${missing.length} held connections were never released` : '',
            ]
              .filter(Boolean)
              .join('; '),
  };
}

/**
 * Upper/lower connection thresholds, as the kernel applies them: a server is marked overloaded
 * once its active + inactive connections reach the upper threshold (-x), and stays so until they
 * drop below the lower threshold (-y), or below 3/4 of the upper one when no lower is set; an
 * overloaded server gets no new connection. The state is followed through the counts observed
 * before each new connection.
 */
export function thresholds(
  steps: readonly { chosen?: string; outcome: OpEvent['outcome']; before: Record<string, { active: number; inactive?: number; upper: number; lower: number; weight: number }> }[],
  server: string,
): CheckResult {
  let overloaded = false;
  let judged = 0;
  const violations: number[] = [];
  steps.forEach((s, i) => {
    const b = s.before[server];
    if (!b) return;
    const total = b.active + (b.inactive ?? 0);
    if (!overloaded && b.upper > 0 && total >= b.upper) overloaded = true;
    else if (overloaded && (b.lower > 0 ? total < b.lower : total * 4 < b.upper * 3)) overloaded = false;
    if (!overloaded || s.outcome !== 'ok') return;
    judged++;
    if (s.chosen === server) violations.push(i + 1);
  });
  const valid = judged === 0 ? 'unknown' : violations.length === 0;
  return {
    name: `upper threshold stops new connections to ${server}`,
    valid,
    observed: { connectionsWhileOverloaded: judged, sentToOverloadedServer: violations.length, steps: steps.map((s) => ({ chosen: s.chosen, total: (s.before[server]?.active ?? 0) + (s.before[server]?.inactive ?? 0) })) },
    expected: { sentToOverloadedServer: 0 },
    rule: 'a real server whose active + inactive connections reached its upper threshold (-x) gets no new connection until they drop below the lower threshold (-y, or 3/4 of -x without one)',
    detail: valid === 'unknown' ? `${server} never reached its upper threshold` : valid ? `${judged} new connections while ${server} was overloaded, none sent to it` : `${violations.length} connections sent to ${server} while overloaded (first: connection ${violations[0]})`,
  };
}

/**
 * Removing a real server (ipvsadm -d) is not graceful: new connections avoid it, and with
 * net.ipv4.vs.expire_nodest_conn=0 (the default) packets of its established connections are
 * silently dropped, so those connections stall. Connections to the other servers are unaffected.
 */
export function removal(ops: readonly OpEvent[], o: { server: string; editAt: number; heldConns: readonly string[]; otherHeld: readonly string[] }): CheckResult {
  const after = newConnectionsAfter(ops, o.editAt);
  const newAfter = after.filter((x) => x.outcome === 'ok' && x.server === o.server);
  const answeredAfter = after.filter((x) => x.outcome === 'ok').length;
  const failedAfter = after.filter((x) => x.outcome !== 'ok');
  const rel = (ids: readonly string[]) => ops.filter((x) => x.op === 'release' && x.conn && ids.includes(x.conn));
  const removedSurvived = rel(o.heldConns).filter((x) => x.outcome === 'ok');
  const othersBroken = rel(o.otherHeld).filter((x) => x.outcome !== 'ok');
  const valid = answeredAfter === 0 || !o.heldConns.length ? 'unknown' : newAfter.length === 0 && failedAfter.length === 0 && removedSurvived.length === 0 && othersBroken.length === 0;
  return {
    name: `removing ${o.server} with ipvsadm -d`,
    valid,
    observed: { newConnectionsToRemoved: newAfter.length, failuresAfterEdit: failedAfter.length, removedHeld: o.heldConns.length, removedHeldStillAnswered: removedSurvived.length, otherHeld: o.otherHeld.length, otherHeldBroken: othersBroken.length, answeredAfter },
    expected: { newConnectionsToRemoved: 0, failuresAfterEdit: 0, removedHeldStillAnswered: 0, otherHeldBroken: 0 },
    rule: 'after ipvsadm -d no new connection reaches the server; with expire_nodest_conn=0 its established connections are silently dropped; the other servers\' connections are unaffected',
    detail:
      valid === 'unknown'
        ? 'not enough traffic after the removal, or no connection held across it'
        : valid
          ? `${answeredAfter} new connections after the removal, none to ${o.server}; its ${o.heldConns.length} held connection(s) stalled as documented; ${o.otherHeld.length} others completed`
          : [
              newAfter.length ? `${newAfter.length} new connections still reached ${o.server}` : '',
              failedAfter.length ? `${failedAfter.length} requests failed after the removal` : '',
              removedSurvived.length ? `${removedSurvived.length} connections to the removed server were still answered` : '',
              othersBroken.length ? `${othersBroken.length} connections to other servers broke` : '',
            ]
              .filter(Boolean)
              .join('; '),
  };
}
