import type { CheckResult } from './types.js';

/** A VRRP state change, as keepalived's notify script reports it. */
export interface StateChange {
  t: number;
  node: string;
  instance: string;
  state: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';
}

const s = (ms: number) => `${(ms / 1000).toFixed(3).replace(/\.?0+$/, '')} s`;

/**
 * A higher-priority node coming back. With preemption it takes MASTER back, not before its
 * preempt_delay and within preempt_delay + boundMs (see keepalived/bound.ts preemptBound: one
 * advert interval to hear the current master, then its master-down interval), plus tolerance.
 * With nopreempt it stays BACKUP for the whole observation window. Times are from returnT, when
 * its keepalived was started again; windowMs is how long after that the states were watched.
 */
export function preemption(
  stateChanges: readonly StateChange[],
  opts: { returningNode: string; returnT: number; preempt: boolean; preemptDelayMs: number; boundMs?: number; toleranceMs: number; windowMs: number; instance?: string },
): CheckResult {
  if (opts.preempt && opts.boundMs === undefined) throw new Error('preemption: boundMs is required when preempt is true (see preemptBound in keepalived/bound.ts)');
  const end = opts.returnT + opts.windowMs;
  const mine = stateChanges
    .filter((c) => c.node === opts.returningNode && (!opts.instance || c.instance === opts.instance) && c.t >= opts.returnT && c.t <= end)
    .sort((a, b) => a.t - b.t);
  const master = mine.find((c) => c.state === 'MASTER');
  const fault = mine.find((c) => c.state === 'FAULT');
  const atMs = master ? master.t - opts.returnT : undefined;
  const earliest = opts.preemptDelayMs;
  const latest = opts.preemptDelayMs + (opts.boundMs ?? 0) + opts.toleranceMs;
  const others = stateChanges.filter((c) => c.node !== opts.returningNode && (!opts.instance || c.instance === opts.instance) && c.t >= opts.returnT && c.t <= end && c.state === 'BACKUP');
  const node = opts.returningNode;

  let valid: CheckResult['valid'];
  let detail: string;
  if (!mine.length) {
    valid = 'unknown';
    detail = `no state reported by ${node} after it returned: did keepalived start, and its notify script run?`;
  } else if (opts.preempt) {
    if (atMs === undefined) {
      valid = opts.windowMs >= latest ? false : 'unknown';
      detail =
        valid === false
          ? `${node} never became MASTER again in ${s(opts.windowMs)} (states: ${mine.map((c) => c.state).join(' → ')}), though it should by ${s(latest)}`
          : `watched ${s(opts.windowMs)}, less than the ${s(latest)} ${node} may take to preempt`;
    } else if (atMs < earliest) {
      valid = false;
      detail = `${node} preempted ${s(atMs)} after returning, before its preempt_delay of ${s(earliest)}`;
    } else if (atMs > latest) {
      valid = false;
      detail = `${node} preempted ${s(atMs)} after returning, later than preempt_delay ${s(earliest)} + bound ${s(opts.boundMs!)} + tolerance ${s(opts.toleranceMs)}`;
    } else {
      valid = true;
      detail = `${node} became MASTER again ${s(atMs)} after returning (allowed ${s(earliest)} to ${s(latest)})${others.length ? `; ${[...new Set(others.map((c) => c.node))].join(', ')} went BACKUP` : ''}`;
    }
  } else if (master) {
    valid = false;
    detail = `${node} took MASTER ${s(atMs!)} after returning, though nopreempt should keep it BACKUP`;
  } else if (fault) {
    valid = false;
    detail = `${node} went to FAULT ${s(fault.t - opts.returnT)} after returning, so nopreempt was not what kept it from MASTER`;
  } else if (opts.boundMs !== undefined && opts.windowMs < latest) {
    // a node that would preempt had not been due to yet: staying BACKUP proves nothing
    valid = 'unknown';
    detail = `watched ${s(opts.windowMs)}, less than the ${s(latest)} a node without nopreempt could take to preempt`;
  } else {
    valid = true;
    detail = `${node} stayed ${mine[mine.length - 1]!.state} for the ${s(opts.windowMs)} watched`;
  }
  return {
    name: opts.preempt ? `${node} preempts when it returns` : `${node} does not preempt when it returns (nopreempt)`,
    valid,
    observed: { masterAtMs: atMs ?? null, states: mine.map((c) => ({ atMs: c.t - opts.returnT, state: c.state, instance: c.instance })), windowMs: opts.windowMs },
    expected: opts.preempt ? { masterAtMs: `${earliest}..${latest}` } : { masterAtMs: null, staysBackupForMs: opts.windowMs },
    rule: opts.preempt
      ? `a returning higher-priority node becomes MASTER again no earlier than preempt_delay (${s(earliest)}) and within preempt_delay + ${s(opts.boundMs ?? 0)} + tolerance ${s(opts.toleranceMs)}`
      : 'with nopreempt, a returning higher-priority node stays BACKUP while the current master is alive',
    detail,
  };
}
