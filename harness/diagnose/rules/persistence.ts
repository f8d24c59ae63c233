/**
 * Persistence templates (`ipvsadm -Lnc` entries with client port 0) bind a client to a real server
 * for the persistence timeout. One that still points at a server the table no longer lists, whose
 * node is down, or that is quiesced (weight 0, and expire_quiescent_template off), keeps sending
 * that client to a server that cannot answer: the kube-keepalived-vip class of failure.
 */
import { directorsOf, endpoint, quote, sysctlOf, tableKeyOf, tableLines } from '../facts.js';
import type { Cause, CauseRule, Quote } from '../types.js';
import type { PlannedService } from '../../topology/planner.js';

/** the virtual address of a firewall-mark service's template: the mark written as an IPv4 address, port 0 */
const fwmarkVirtual = (mark: number) => `${[24, 16, 8, 0].map((s) => (mark >>> s) & 255).join('.')}:0`;
const hostOf = (ep: string) => (ep.startsWith('[') ? ep.slice(1, ep.indexOf(']')) : ep.slice(0, ep.lastIndexOf(':'))).toLowerCase();

const virtualOf = (svc: PlannedService) => (svc.fwmark ? [fwmarkVirtual(svc.fwmark.mark)] : svc.vips.map((v) => endpoint(v, svc.port ?? 0)));

export const staleTemplateRule: CauseRule = {
  id: 'stale-template',
  summary: 'a persistence template still pointing at a real server that is gone',
  reads: "the director's `ipvsadm -Lnc` templates against its `ipvsadm -Ln`, the real servers' reachability and app process, net.ipv4.vs.expire_quiescent_template",
  fix: 'remove dead servers from the table (a health check), net.ipv4.vs.expire_quiescent_template=1 and expire_nodest_conn=1',
  find(ctx) {
    const out: Cause[] = [];
    for (const svc of ctx.services) {
      const virtuals = new Set(virtualOf(svc).map((v) => v.toLowerCase()));
      for (const d of directorsOf(ctx.plan, svc)) {
        const ev = ctx.evidence[d.name];
        const table = ev?.ipvs.find((s) => s.key === tableKeyOf(svc) && (svc.fwmark ? s.protocol === 'FWM' : s.protocol === svc.protocol.toUpperCase()));
        if (!ev || !table) continue;
        const templates = ev.conns.filter((c) => c.template && virtuals.has(c.virtual.toLowerCase()));
        const byDest = new Map<string, typeof templates>();
        for (const t of templates) byDest.set(hostOf(t.destination), [...(byDest.get(hostOf(t.destination)) ?? []), t]);
        const quiescentExpires = sysctlOf(ev, 'net.ipv4.vs.expire_quiescent_template');
        for (const [rip, ts] of byDest) {
          const rs = svc.realServers.find((r) => r.rip.toLowerCase() === rip);
          const name = rs?.name ?? rip;
          const listed = table.realServers.find((r) => r.address.toLowerCase() === rip);
          const rev = rs ? ctx.evidence[rs.name] : undefined;
          const appGone = rev?.items['app-proc']?.exitCode === 1;
          const why = !listed
            ? `which the IPVS table of ${svc.name} no longer lists`
            : rev?.error && !rev.items.addr
              ? `whose node does not answer (${rev.error})`
              : appGone
                ? 'whose app is not running'
                : listed.weight === 0 && quiescentExpires?.value.trim() === '0'
                  ? 'which is quiesced (weight 0) while net.ipv4.vs.expire_quiescent_template = 0 keeps its templates'
                  : undefined;
          if (!why) continue;
          const evidence: Quote[] = [
            quote(ev, d.name, 'ipvs-conns', ts.slice(0, 5).map((t) => t.line), ts.length > 5 ? `${ts.length} templates, 5 shown` : undefined),
            quote(ev, d.name, 'ipvs', tableLines(ev, svc), listed ? undefined : `${rip} is not among the real servers`),
          ];
          if (appGone) evidence.push(quote(rev, name, 'app-proc', rev!.items['app-proc']!.lines, 'no nginx process'));
          if (rev?.error && !rev.items.addr) evidence.push({ node: name, command: 'evidence script', lines: [], note: rev.error });
          if (why.includes('quiesced') && quiescentExpires) evidence.push(quote(ev, d.name, 'sysctl', [quiescentExpires.line]));
          const longest = Math.max(...ts.map((t) => t.expiresS));
          out.push({
            id: 'stale-template',
            sentence: `${ts.length} persistence template${ts.length > 1 ? 's' : ''} on ${d.name} still bind${ts.length > 1 ? '' : 's'} clients of ${svc.name} to ${name} (${rip}), ${why}: those clients keep being sent there for up to ${longest} s more`,
            evidence,
            fix: `take ${name} out of the table when it fails (a keepalived health check, or ipvsadm -d), set net.ipv4.vs.expire_quiescent_template=1 and net.ipv4.vs.expire_nodest_conn=1 on ${d.name}; the templates then expire at the next packet instead of after the persistence timeout`,
          });
        }
      }
    }
    return out;
  },
};
