/**
 * ARP flux in DR and TUN: a real server that holds the VIP answers ARP for it (arp_ignore 0) or
 * puts it in its own ARP requests (arp_announce below 2); a client then holds a real server's MAC
 * for the VIP and its packets bypass the director.
 */
import { clientOn } from '../../topology/planner.js';
import { addrOn, effective, devOf, quote } from '../facts.js';
import { arpFlux, arpFluxFix } from '../sentences.js';
import type { Cause, CauseRule, Quote } from '../types.js';

// 1 and 2 answer only for addresses on the asking interface; 8 never answers. 0 answers for any
// local address, 3 for any of global scope: both answer for a VIP on lo.
const IGNORES_VIP = new Set([1, 2, 4, 5, 6, 7, 8]);

export const arpFluxRule: CauseRule = {
  id: 'arp-flux',
  summary: 'ARP flux in DR or TUN: a real server answers or announces ARP for the VIP',
  reads: "real servers' arp_ignore / arp_announce (conf.all and the device facing the clients), the client's `ip neigh` entry for the VIP, every node's MAC from `ip -o link`",
  fix: 'arp_ignore=1 and arp_announce=2 on every real server (all and the device), no override in the topology; flush the client\'s neighbour entry',
  find(ctx) {
    const out: Cause[] = [];
    const seen = new Set<string>();
    for (const svc of ctx.services) {
      if (svc.family !== 4 || seen.has(svc.vip)) continue;
      const rss = svc.realServers.filter((r) => (r.method === 'droute' || r.method === 'tunnel') && r.network === svc.vipNetwork);
      if (!rss.length) continue;
      seen.add(svc.vip);
      const evidence: Quote[] = [];
      const bad: string[] = [];
      for (const r of rss) {
        const ev = ctx.evidence[r.name];
        const dev = devOf(ev, r.rip)?.dev;
        const ign = effective(ev, dev, 'arp_ignore');
        const ann = effective(ev, dev, 'arp_announce');
        const wrong = (ign && !IGNORES_VIP.has(ign.value)) || (ann && ann.value < 2);
        if (!wrong) continue;
        bad.push(r.name);
        evidence.push(quote(ev, r.name, 'sysctl', [...(ign?.lines ?? []), ...(ann?.lines ?? [])], `the kernel uses the larger of conf.all and conf.${dev ?? '<device>'}: arp_ignore ${ign?.value ?? '?'}, arp_announce ${ann?.value ?? '?'}`));
      }
      // the client's neighbour entry shows whether the flux happened, not only that it can
      const client = clientOn(ctx.plan, svc);
      const cev = client ? ctx.evidence[client] : undefined;
      const entry = cev?.neigh.find((n) => n.address === svc.vip && n.lladdr);
      const holder = entry
        ? rss.find((r) => ctx.evidence[r.name]?.links.some((l) => l.mac === entry.lladdr))
        : undefined;
      if (!bad.length && !holder) continue;
      let sentence = arpFlux(bad.length ? bad : [holder!.name], svc.vip, svc.mode === 'mixed' ? 'DR/TUN' : svc.mode);
      if (holder && entry && client) {
        const hev = ctx.evidence[holder.name];
        const mac = hev?.links.find((l) => l.mac === entry.lladdr);
        const director = ctx.plan.nodes.find((n) => n.role === 'director' && addrOn(n, svc.vipNetwork));
        const dmac = director ? ctx.evidence[director.name]?.links.find((l) => l.dev === devOf(ctx.evidence[director.name], addrOn(director, svc.vipNetwork))?.dev)?.mac : undefined;
        sentence = `the client ${client} holds the VIP ${svc.vip} at ${entry.lladdr}, the MAC of the real server ${holder.name}${dmac ? ` (the director's is ${dmac})` : ''}; ${sentence}`;
        evidence.unshift(quote(cev, client, 'neigh', [entry.line]));
        if (mac) evidence.splice(1, 0, quote(hev, holder.name, 'link', [mac.line]));
      }
      out.push({ id: 'arp-flux', sentence, evidence, fix: arpFluxFix(bad.length ? bad : [holder!.name]) });
    }
    return out;
  },
};
