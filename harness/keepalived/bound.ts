/**
 * The time bounds keepalived promises, computed from its configuration, each with its formula in
 * words so a verdict can show where the number came from.
 */
import type { HealthCheck, RealServer, VirtualServer, VrrpInstance } from './model.js';

const ms = (s: number) => Math.round(s * 1_000_000) / 1000;
const fmt = (n: number) => String(Number(n.toFixed(6)));

export interface FailoverBound {
  /** what the client-observed outage is compared against (plus toleranceMs) */
  boundMs: number;
  /** Master_Down_Interval: 3 × advert interval + skew */
  masterDownMs: number;
  skewMs: number;
  toleranceMs: number;
  formula: string;
}

/** Allowance for what the RFC interval leaves out: the GARP reaching clients, IPVS answering, probe and clock resolution. */
export const DEFAULT_FAILOVER_TOLERANCE_MS = 1000;

/**
 * How long a BACKUP waits, after the last advertisement it heard, before it takes over: the
 * Master_Down_Interval = 3 × Advertisement_Interval + Skew_Time, with Skew_Time =
 * (256 − Priority) / 256 s in VRRPv2 (RFC 3768 §6.1) and ((256 − Priority) × Master_Adver_Interval)
 * / 256 in VRRPv3 (RFC 5798 §6.1). keepalived computes exactly this (include/vrrp.h
 * VRRP_MS_DOWN_TIMER, with down_timer_adverts = 3), in µs. Since the master's last advertisement
 * left at most one interval before it died, the takeover comes at most Master_Down_Interval after
 * the fault; that is the bound. advertInt is the master's interval (a VRRPv3 backup adopts it).
 */
export function failoverBound(o: { version: 2 | 3; advertInt: number; backupPriority: number; toleranceMs?: number }): FailoverBound {
  const toleranceMs = o.toleranceMs ?? DEFAULT_FAILOVER_TOLERANCE_MS;
  const p = o.backupPriority;
  // keepalived's µs integer arithmetic, so the numbers match its timers to the microsecond
  const skewUs = o.version === 3 ? Math.floor(((256 - p) * Math.round(o.advertInt * 100) * 625) / 16) : Math.floor(((256 - p) * 1_000_000) / 256);
  const advUs = Math.round(o.advertInt * 1_000_000);
  const skewMs = skewUs / 1000;
  const masterDownMs = (3 * advUs + skewUs) / 1000;
  const skewText =
    o.version === 3
      ? `skew = (256 − ${p}) × ${fmt(o.advertInt)} / 256 = ${fmt(skewMs / 1000)} s (VRRPv3, RFC 5798)`
      : `skew = (256 − ${p}) / 256 = ${fmt(skewMs / 1000)} s (VRRPv2, RFC 3768)`;
  return {
    boundMs: masterDownMs,
    masterDownMs,
    skewMs,
    toleranceMs,
    formula: `master down interval = 3 × advert_int ${fmt(o.advertInt)} s + skew = ${fmt((3 * advUs) / 1_000_000)} s + ${fmt(skewMs / 1000)} s = ${fmt(masterDownMs / 1000)} s; ${skewText}; tolerance ${fmt(toleranceMs / 1000)} s`,
  };
}

/** The failover bound for a pair: the backup that takes over hears the master's advert_int and waits with its own priority. */
export const failoverBoundFor = (backup: Pick<VrrpInstance, 'version' | 'advertInt' | 'priority'>, masterAdvertInt = backup.advertInt ?? 1, toleranceMs?: number) =>
  failoverBound({ version: backup.version ?? 2, advertInt: masterAdvertInt, backupPriority: backup.priority, toleranceMs });

export interface PreemptBound {
  /** after preempt_delay: one advert interval + the master down interval (what checkers/preempt.ts takes as boundMs) */
  boundMs: number;
  /** the returning node may not be MASTER before returnT + earliestMs */
  earliestMs: number;
  /** …and must be MASTER by returnT + latestMs (tolerance included) */
  latestMs: number;
  formula: string;
}

/**
 * When a returning higher-priority node takes MASTER back. In BACKUP it ignores a lower-priority
 * master's adverts (vrrp/vrrp.c vrrp_state_backup) once its preempt_delay, started by the first
 * such advert, has run out; its master-down timer then expires one Master_Down_Interval after the
 * last advert it heeded. So MASTER comes after preempt_delay, and at most preempt_delay + one
 * advert interval (to hear the first advert) + its Master_Down_Interval after it starts.
 */
export function preemptBound(o: { version: 2 | 3; advertInt: number; priority: number; preemptDelay: number; toleranceMs?: number }): PreemptBound {
  const down = failoverBound({ version: o.version, advertInt: o.advertInt, backupPriority: o.priority, toleranceMs: o.toleranceMs });
  const delayMs = ms(o.preemptDelay);
  const advMs = ms(o.advertInt);
  const latestMs = delayMs + advMs + down.masterDownMs + down.toleranceMs;
  return {
    boundMs: advMs + down.masterDownMs,
    earliestMs: delayMs,
    latestMs,
    formula: `MASTER no earlier than preempt_delay ${fmt(o.preemptDelay)} s, and within preempt_delay + advert_int ${fmt(o.advertInt)} s + master down interval ${fmt(down.masterDownMs / 1000)} s + tolerance ${fmt(down.toleranceMs / 1000)} s = ${fmt(latestMs / 1000)} s`,
  };
}

export type CheckerType = HealthCheck['type'];

export interface HealthTiming {
  checker?: CheckerType;
  /** seconds */
  delayLoop: number;
  retry: number;
  delayBeforeRetry: number;
  /** per attempt: connect_timeout, or misc_timeout for MISC_CHECK */
  connectTimeout: number;
}

export interface HealthBound {
  boundMs: number;
  toleranceMs: number;
  formula: string;
}

/** Allowance for keepalived's netlink call to IPVS, scheduling and the table sampling. */
export const DEFAULT_HEALTH_TOLERANCE_MS = 1000;

/**
 * The timing keepalived 2.2.7 applies to one real server's checker, with its defaults
 * (keepalived.conf(5), check/check_api.c, check_http.c, check_misc.c): delay_loop 60 s,
 * connect_timeout 5 s, retry 1 (MISC_CHECK 0), delay_before_retry 1 s (HTTP_GET 3 s); a
 * MISC_CHECK attempt runs until misc_timeout, or delay_loop without one.
 */
export function checkTiming(vs: Pick<VirtualServer, 'delayLoop'>, rs: Pick<RealServer, 'check'>): HealthTiming {
  const c = rs.check;
  const delayLoop = vs.delayLoop ?? 60;
  if (c.type === 'MISC_CHECK') return { checker: c.type, delayLoop, retry: c.retry ?? 0, delayBeforeRetry: c.delayBeforeRetry ?? 1, connectTimeout: c.miscTimeout ?? delayLoop };
  return { checker: c.type, delayLoop, retry: c.retry ?? 1, delayBeforeRetry: c.delayBeforeRetry ?? (c.type === 'HTTP_GET' ? 3 : 1), connectTimeout: c.connectTimeout ?? 5 };
}

/**
 * Worst case from a real server going silent to keepalived taking it out of IPVS (removing it, or
 * weight 0 with inhibit_on_failure), read from keepalived 2.2.7's checkers:
 *   - TCP_CHECK, PING_CHECK, HTTP_GET (check_tcp.c tcp_epilog, check_ping.c icmp_epilog,
 *     check_http.c epilog): the next attempt is scheduled when one ends, delay_loop after a success
 *     and delay_before_retry after a failure; a failure with retry_it ≥ retry (HTTP: retry_it >
 *     retry after the increment) marks the checker down. So retry + 1 failed attempts, each
 *     ending by connect_timeout (a silent server fails in one phase: the connect, or the
 *     response read, each armed with connect_timeout), separated by retry × delay_before_retry.
 *     The server can die just after a successful check ended, so the first failing attempt starts
 *     up to delay_loop later:
 *       bound = delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry
 *   - MISC_CHECK (check_misc.c): runs are scheduled from the previous run's start (last_ran +
 *     delay_before_retry after a failure, + delay_loop after a success) and a run is killed at
 *     misc_timeout, so a retry starts max(delay_before_retry, misc_timeout) after the one before:
 *       bound = delay_loop + retry × max(delay_before_retry, misc_timeout) + misc_timeout
 *     (assuming, as keepalived.conf(5) asks, that the script exits on SIGTERM; one that ignores it
 *     is SIGKILLed 2 s later).
 */
export function healthRemovalBound(t: HealthTiming & { toleranceMs?: number }): HealthBound {
  const toleranceMs = t.toleranceMs ?? DEFAULT_HEALTH_TOLERANCE_MS;
  if (t.checker === 'MISC_CHECK') {
    const gap = Math.max(t.delayBeforeRetry, t.connectTimeout);
    const boundMs = ms(t.delayLoop + t.retry * gap + t.connectTimeout);
    return {
      boundMs,
      toleranceMs,
      formula: `delay_loop ${fmt(t.delayLoop)} s + retry ${t.retry} × max(delay_before_retry ${fmt(t.delayBeforeRetry)} s, misc_timeout ${fmt(t.connectTimeout)} s) + misc_timeout ${fmt(t.connectTimeout)} s = ${fmt(boundMs / 1000)} s (MISC_CHECK)`,
    };
  }
  const boundMs = ms(t.delayLoop + (t.retry + 1) * t.connectTimeout + t.retry * t.delayBeforeRetry);
  return {
    boundMs,
    toleranceMs,
    formula: `delay_loop ${fmt(t.delayLoop)} s + (retry ${t.retry} + 1) × connect_timeout ${fmt(t.connectTimeout)} s + retry ${t.retry} × delay_before_retry ${fmt(t.delayBeforeRetry)} s = ${fmt(boundMs / 1000)} s${t.checker ? ` (${t.checker})` : ''}`,
  };
}

/**
 * Worst case from a down real server answering again to keepalived putting it back. While down,
 * a checker keeps trying with gaps of delay_before_retry or delay_loop; an attempt in flight when
 * the server came back can still fail, at most connect_timeout later; the next attempt is then at
 * most max(delay_loop, delay_before_retry) away, and its success marks the server up.
 * HTTP_GET (check_http.c epilog) waits max(delay_before_retry, delay_loop) after each failure of a
 * known-down server, and after the failed URL answers again it checks every URL once more,
 * delay_loop apart, before the server is up: one URL adds one delay_loop (none with fast_recovery).
 * MISC_CHECK schedules from the run's start, so the next run starts max(gap, misc_timeout) after
 * the failed one, and the successful run itself may take up to misc_timeout.
 */
export function healthReinsertionBound(t: HealthTiming & { toleranceMs?: number; urls?: number; fastRecovery?: boolean }): HealthBound {
  const toleranceMs = t.toleranceMs ?? DEFAULT_HEALTH_TOLERANCE_MS;
  const gap = Math.max(t.delayLoop, t.delayBeforeRetry);
  if (t.checker === 'MISC_CHECK') {
    const boundMs = ms(Math.max(gap, t.connectTimeout) + t.connectTimeout);
    return {
      boundMs,
      toleranceMs,
      formula: `max(delay_loop ${fmt(t.delayLoop)} s, delay_before_retry ${fmt(t.delayBeforeRetry)} s, misc_timeout ${fmt(t.connectTimeout)} s) + misc_timeout ${fmt(t.connectTimeout)} s = ${fmt(boundMs / 1000)} s (MISC_CHECK)`,
    };
  }
  if (t.checker === 'HTTP_GET') {
    const urls = t.fastRecovery ? 0 : (t.urls ?? 1);
    const boundMs = ms(t.connectTimeout + gap + urls * t.delayLoop);
    return {
      boundMs,
      toleranceMs,
      formula: `connect_timeout ${fmt(t.connectTimeout)} s + max(delay_loop ${fmt(t.delayLoop)} s, delay_before_retry ${fmt(t.delayBeforeRetry)} s) + ${urls} URL recheck(s) × delay_loop = ${fmt(boundMs / 1000)} s (HTTP_GET)`,
    };
  }
  const boundMs = ms(t.connectTimeout + gap);
  return {
    boundMs,
    toleranceMs,
    formula: `connect_timeout ${fmt(t.connectTimeout)} s + max(delay_loop ${fmt(t.delayLoop)} s, delay_before_retry ${fmt(t.delayBeforeRetry)} s) = ${fmt(boundMs / 1000)} s${t.checker ? ` (${t.checker})` : ''}`,
  };
}

/**
 * When a vrrp_script tracking a process (HAProxy) fails on the MASTER. keepalived starts it
 * every `interval` s on a fixed period (vrrp_script_thread registers the next run before it
 * starts this one) and a run may last up to its timeout (the interval when none is set), so the
 * `fall`-th failing run has ended at most fall × interval + timeout after the fault. The
 * priority then drops by the script's weight; the BACKUP, which outranks it now, ignores its
 * lower-priority adverts (vrrp_state_backup, with preemption) and takes over when its master-down
 * timer, started by the last advert it heeded, expires. So the takeover comes at most
 * fall × interval + timeout + the Master_Down_Interval after the fault. A weight too small to
 * drop the MASTER below the BACKUP means no takeover at all, which the checker reports.
 */
export function trackScriptBound(o: { version: 2 | 3; advertInt: number; backupPriority: number; interval: number; fall: number; timeout?: number; toleranceMs?: number }): FailoverBound {
  const down = failoverBound(o);
  const timeout = o.timeout ?? o.interval;
  const detectMs = (o.fall * o.interval + timeout) * 1000;
  return {
    ...down,
    boundMs: detectMs + down.masterDownMs,
    formula: `vrrp_script fall ${o.fall} × interval ${fmt(o.interval)} s + timeout ${fmt(timeout)} s = ${fmt(detectMs / 1000)} s to notice, then the ${down.formula}; bound ${fmt((detectMs + down.masterDownMs) / 1000)} s`,
  };
}
