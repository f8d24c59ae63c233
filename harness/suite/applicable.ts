export type { LeftOut } from '../report/results.js';
import { clientOn, type Plan, type PlannedService, type PlannedVrrp } from '../topology/planner.js';

/**
 * What each suite needs of a topology, read off its plan (pure): the suites pick what they
 * judge with these, and `run --suite all` leaves out a suite that could only end in "needs …"
 * on this topology, saying why.
 */

/** The TCP service schedulers, persistence and drain judge: behind IPVS, two or more real servers, a client on its network. */
export function tcpService(plan: Plan): { svc: PlannedService; client: string } | undefined {
  const svc = plan.services.find((s) => s.protocol === 'tcp' && !s.fwmark && s.mode !== 'proxy' && s.realServers.length >= 2);
  const client = svc && clientOn(plan, svc);
  return svc && client ? { svc, client } : undefined;
}

/** The services the protocols suite judges: UDP, a firewall mark over two ports, an IPv6 VIP (each with two real servers and a client). */
export function protocolServices(plan: Plan): { udp?: PlannedService; fwm?: PlannedService; v6?: PlannedService } {
  const eligible = (s: PlannedService) => s.realServers.length >= 2 && s.mode !== 'proxy' && !!clientOn(plan, s);
  const udp = plan.services.find((s) => s.protocol === 'udp' && eligible(s));
  const fwm = plan.services.find((s) => !!s.fwmark && s.fwmark.ports.length >= 2 && eligible(s));
  const v6 = plan.services.find((s) => s.family === 6 && s.protocol === 'tcp' && !s.fwmark && eligible(s));
  return { ...(udp ? { udp } : {}), ...(fwm ? { fwm } : {}), ...(v6 ? { v6 } : {}) };
}

/** A TCP fwmark service over two or more destination addresses, with two or more real servers and a client: where dh, lblc and lblcr are judged. */
export function multiDestinationService(plan: Plan): PlannedService | undefined {
  return plan.services.find((s) => s.protocol === 'tcp' && s.fwmark && s.vips.length >= 2 && s.mode !== 'proxy' && s.realServers.length >= 2 && clientOn(plan, s));
}

/** The schedulers that choose by destination address: on one destination they cannot be told from any other. */
export const DESTINATION_SCHEDULERS = ['dh', 'lblc', 'lblcr'] as const;

/**
 * Tests of a suite that applies which could still only end "unknown" on this topology, and why
 * (undefined when every test can judge something). `run --suite all` leaves them out; a suite
 * named on its own runs them, and they say why they cannot judge.
 */
export function testsNotApplicable(suite: string, plan: Plan): { tests: string[]; why: string } | undefined {
  if (suite === 'schedulers' && tcpService(plan) && !multiDestinationService(plan))
    return {
      tests: [...DESTINATION_SCHEDULERS],
      why: 'every service has one destination address, and dh, lblc and lblcr choose by destination: with one, any scheduler that keeps it on one server looks like them (a TCP firewall-mark service over several addresses, extra_vips, lets them be judged)',
    };
  return undefined;
}

export interface HaPair {
  vrrp: PlannedVrrp;
  svc: PlannedService;
  client: string;
  /** the director that should take over from the MASTER: the next priority down */
  backup: string;
}

/**
 * Every VRRP instance with a TCP service on its VIPs and a client on the service's network
 * (active-active has two, each MASTER on another director). `ipvsOnly` leaves out HAProxy services.
 */
export function haPairsOf(plan: Plan, o: { ipvsOnly?: boolean } = {}): HaPair[] {
  const out: HaPair[] = [];
  for (const vrrp of plan.vrrp ?? []) {
    const svc = plan.services.find((s) => s.protocol === 'tcp' && !s.fwmark && (!o.ipvsOnly || s.mode !== 'proxy') && vrrp.vips.some((v) => v.address === s.vip));
    const client = svc && clientOn(plan, svc);
    const backup = Object.entries(vrrp.priorities)
      .filter(([n]) => n !== vrrp.master)
      .sort((a, b) => b[1] - a[1])[0]?.[0];
    if (svc && client && backup) out.push({ vrrp, svc, client, backup });
  }
  return out;
}

const NO_TCP = 'the topology has no TCP service behind IPVS with two or more real servers and a client on its network';
const NO_PAIR = 'the topology has no keepalived pair holding the VIP of a TCP service with a client on its network';
const NO_IPVS_PAIR = 'the topology has no keepalived pair holding the VIP of an IPVS TCP service (HAProxy services have no IPVS table to judge) with a client on its network';

/** Why `suite` cannot judge anything on this topology, or undefined when it can (a suite it does not know: undefined). */
export function whyNotApplicable(suite: string, plan: Plan): string | undefined {
  switch (suite) {
    case 'modes':
      return plan.services.length ? undefined : 'the topology has no service';
    case 'schedulers':
    case 'persistence':
    case 'drain':
      return tcpService(plan) ? undefined : NO_TCP;
    case 'protocols':
      return Object.keys(protocolServices(plan)).length ? undefined : 'the topology has no UDP service, no firewall-mark service over two ports and no IPv6 VIP with two or more real servers and a client';
    case 'failover':
    case 'splitbrain':
      return haPairsOf(plan).length ? undefined : NO_PAIR;
    case 'health':
      return haPairsOf(plan, { ipvsOnly: true }).length ? undefined : NO_IPVS_PAIR;
    case 'sync':
      if (!haPairsOf(plan, { ipvsOnly: true }).length) return NO_IPVS_PAIR;
      return plan.syncDaemon ? undefined : "the topology's keepalived.sync_daemon is not true (no lvs_sync_daemon runs)";
    default:
      return undefined;
  }
}
