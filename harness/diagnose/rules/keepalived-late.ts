/**
 * keepalived itself ran late: its scheduler logs "A thread timer expired 7.316621 seconds ago" when
 * it wakes long after a timer was due (keepalived's scheduler.c warns past a second). Every bound
 * the suites compute from keepalived's timers (advert_int, delay_loop, connect_timeout,
 * delay_before_retry) assumes it runs on time, so a late keepalived misses them by about as much:
 * the cause is the director's CPU (starved, throttled, or an emulated machine doing other work),
 * not the configuration.
 */
import { nodesOf, quote } from '../facts.js';
import type { Cause, CauseRule } from '../types.js';

const LATE = /\bthread timer expired (\d+(?:\.\d+)?) seconds ago/;
/** under this, a late wake-up cannot explain a missed bound (the checks allow a second's tolerance) */
const LATE_ENOUGH_S = 1;
/** the lab clock's stamp the harness puts before each log line (seconds since the epoch) */
const STAMP = /^(\d{9,11}(?:\.\d+)?)\s/;
/** how long after a thaw keepalived may still be catching up on the timers the freeze held back */
const THAW_MS = 5_000;

/**
 * A line keepalived logged on waking from a freeze of its node (a `pause` fault): the timer was
 * due while the node was frozen, and it was logged when (or just after) the node thawed. That is
 * the fault itself, not a starved CPU.
 */
export function lateByFreeze(line: string, frozen: readonly { from: number; to?: number }[]): boolean {
  const stamp = line.match(STAMP)?.[1];
  const late = line.match(LATE)?.[1];
  if (!stamp || !late) return false;
  const at = Number(stamp) * 1000;
  const due = at - Number(late) * 1000;
  return frozen.some((w) => due >= w.from - 1_000 && (w.to === undefined || (due <= w.to && at <= w.to + THAW_MS)));
}

export const keepalivedLateRule: CauseRule = {
  id: 'keepalived-late',
  summary: 'keepalived ran late: its timers fired seconds after they were due',
  reads: 'the "A thread timer expired N seconds ago" lines of /var/log/keepalived.log on each director',
  fix: 'give the director CPU: in the lab, run nothing heavy beside it (the VM shares the host\'s cores); on a real director, look at load, CPU steal and cgroup CPU limits',
  find(ctx) {
    if (!ctx.plan.vrrp) return [];
    const out: Cause[] = [];
    for (const d of nodesOf(ctx.plan, 'director')) {
      const ev = ctx.evidence[d.name];
      const frozen = ctx.frozen?.[d.name] ?? [];
      const lines = (ev?.items['keepalived-log']?.lines ?? []).filter((l) => Number(l.match(LATE)?.[1] ?? 0) >= LATE_ENOUGH_S && !lateByFreeze(l, frozen));
      if (!lines.length) continue;
      const worst = Math.max(...lines.map((l) => Number(l.match(LATE)![1])));
      out.push({
        id: 'keepalived-late',
        sentence: `keepalived on ${d.name} ran up to ${worst.toFixed(1)} s late (${lines.length} time${lines.length === 1 ? '' : 's'} its timers fired more than ${LATE_ENOUGH_S} s after they were due): the director was starved of CPU, so what keepalived does on its timers (adverts, health checks, their retries) came that much later than its configuration allows`,
        evidence: [quote(ev, d.name, 'keepalived-log', lines.slice(-6))],
        fix: keepalivedLateRule.fix,
      });
    }
    return out;
  },
};
