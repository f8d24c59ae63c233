/**
 * Info findings: the time bounds keepalived promises for this file (bound.ts computes them, as
 * the run-time checkers do), and what a track weight needs of the peer's priority. They tell the
 * operator what to expect before a run measures it.
 */
import { checkTiming, failoverBound, healthRemovalBound } from '../keepalived/bound.js';
import type { HealthCheck } from '../keepalived/model.js';
import type { At, TChecker, TRealServer, TVirtualServer, TVrrpInstance, TypedConf } from '../keepalived/conf/typed.js';
import { versionOf } from './rules-values.js';
import { finding, type Finding, type Rule } from './types.js';

const val = (...xs: (At<number> | undefined)[]) => xs.find((x) => x && Number.isFinite(x.value))?.value;

/** The checker as bound.ts models it, with the timing keepalived inherits from the real and virtual server. */
function asModel(vs: TVirtualServer, rs: TRealServer, c: TChecker): { delayLoop?: number; check: HealthCheck } | undefined {
  const delayLoop = val(c.delayLoop, rs.delayLoop, vs.delayLoop);
  const timing = { connectTimeout: val(c.connectTimeout, rs.connectTimeout, vs.connectTimeout), retry: val(c.retry, c.nbGetRetry, rs.retry, vs.retry), delayBeforeRetry: val(c.delayBeforeRetry, rs.delayBeforeRetry, vs.delayBeforeRetry) };
  switch (c.type) {
    case 'MISC_CHECK':
      return { delayLoop, check: { type: 'MISC_CHECK', miscPath: c.miscPath?.value ?? '', miscTimeout: c.miscTimeout?.value, retry: timing.retry, delayBeforeRetry: timing.delayBeforeRetry } };
    case 'HTTP_GET':
    case 'SSL_GET': // same checker code (check_http.c), same defaults
      return { delayLoop, check: { type: 'HTTP_GET', url: { path: c.urls[0]?.path?.value ?? '/' }, ...timing } };
    case 'PING_CHECK':
      return { delayLoop, check: { type: 'PING_CHECK', ...timing } };
    case 'FILE_CHECK':
    case 'BFD_CHECK':
      return undefined; // driven by a file or a BFD session, not by polling
    default:
      return { delayLoop, check: { type: 'TCP_CHECK', ...timing } };
  }
}

export const healthBound: Rule = {
  id: 'health-bound',
  severity: 'info',
  scope: 'file',
  summary: 'how long keepalived may take to remove a dead real server, per checker',
  why: 'delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry is the outage a client may see before IPVS stops sending to a dead server',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.virtualServers.flatMap((vs) =>
        vs.realServers.flatMap((rs) =>
          rs.checkers.flatMap((c) => {
            const m = asModel(vs, rs, c);
            if (!m) return [];
            const b = healthRemovalBound(checkTiming({ delayLoop: m.delayLoop }, { check: m.check }));
            // SMTP, DNS and UDP checks time out as a TCP_CHECK does: the formula names the checker they are
            const formula = m.check.type === 'TCP_CHECK' && c.type !== 'TCP_CHECK' ? b.formula.replaceAll('TCP_CHECK', c.type) : b.formula;
            return [finding(healthBound, c, `${c.type} of real_server ${rs.text} (${vs.text}): a dead server leaves IPVS within ${b.boundMs / 1000} s: ${formula}`, 'lower delay_loop, retry or connect_timeout to detect sooner (at the cost of more checks and more false removals)')];
          }),
        ),
      ),
    ),
};

export const takeoverBound: Rule = {
  id: 'takeover-bound',
  severity: 'info',
  scope: 'file',
  summary: 'how long this director waits before taking an instance over from a silent MASTER',
  why: '3 × advert_int + skew (RFC 3768/5798 Master_Down_Interval), computed as keepalived does',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        const priority = i.priority?.value ?? 100;
        const advertInt = i.advertInt && i.advertInt.value > 0 ? i.advertInt.value : 1;
        const version = versionOf(f.typed, i) as 2 | 3;
        if (!(priority >= 1 && priority <= 255)) return [];
        const b = failoverBound({ version, advertInt: version === 2 ? Math.max(1, Math.round(advertInt)) : advertInt, backupPriority: priority });
        return [finding(takeoverBound, i, `vrrp_instance ${i.name}: as BACKUP (priority ${priority}) this director takes over ${b.masterDownMs / 1000} s after the MASTER's last advert: ${b.formula.replace(/; tolerance.*$/, '')}`, 'a shorter advert_int (VRRPv3 allows sub-second) shortens it')];
      }),
    ),
};

/** The weight each track entry moves the priority by (track entry's own, else the vrrp_script's); 0 means FAULT. */
export function trackWeights(t: TypedConf, i: TVrrpInstance): { name: string; weight: number; kind: 'script' | 'interface'; line: number; file: string; reverse: boolean }[] {
  const scripts = new Map(t.vrrpScripts.map((s) => [s.name, s]));
  return [
    ...i.trackScripts.map((s) => ({ name: s.name, weight: s.weight ?? scripts.get(s.name)?.weight?.value ?? 0, kind: 'script' as const, line: s.line, file: s.file, reverse: !!(s.reverse ?? scripts.get(s.name)?.weightReverse) })),
    ...i.trackInterfaces.map((s) => ({ name: s.name, weight: s.weight ?? 0, kind: 'interface' as const, line: s.line, file: s.file, reverse: !!s.reverse })),
  ].filter((w) => Number.isFinite(w.weight));
}

export const trackWeightNeed: Rule = {
  id: 'track-weight-need',
  severity: 'info',
  scope: 'file',
  summary: 'which peer priorities a track weight can hand mastership to (lint the pair with --pair to check it)',
  why: 'a track weight moves mastership only if it carries the priority across the peer\u2019s: with 150 and a weight of 2, only a peer above 148 ever takes over',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        const p = i.priority?.value ?? 100;
        if (i.state?.value !== 'MASTER' && p < 200) return [];
        return trackWeights(f.typed, i)
          .filter((w) => w.weight !== 0)
          .map((w): Finding => {
            const abs = Math.abs(w.weight);
            return finding(
              trackWeightNeed,
              w,
              w.weight < 0
                ? `vrrp_instance ${i.name} (priority ${p}): track_${w.kind} ${w.name} weight ${w.weight}: on failure ${p} − ${abs} = ${p - abs}, so only a peer whose priority is above ${p - abs} takes the VIP over`
                : `vrrp_instance ${i.name} (priority ${p}): track_${w.kind} ${w.name} weight +${abs}: on failure this director stays at ${p} while a peer that tracks it too rises by ${abs}, so only such a peer with a priority above ${p - abs} takes the VIP over`,
              `keep the BACKUP's priority within ${abs - 1} of ${p}, or use a weight larger than the priority gap; \`lvs-harness lint --pair\` checks both files`,
            );
          });
      }),
    ),
};

export const boundRules: readonly Rule[] = [healthBound, takeoverBound, trackWeightNeed];
