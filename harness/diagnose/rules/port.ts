/**
 * DR and TUN do not rewrite the destination port: the kernel keeps the real server at the
 * service's port whatever was asked (ipvsadm -a … -r RIP:8080 -g lists RIP:80). A plan that put
 * the real server on another port has it listen where no packet arrives.
 */
import { directorsOf, endpoint, quote, tableLines } from '../facts.js';
import type { Cause, CauseRule } from '../types.js';

export const portRule: CauseRule = {
  id: 'dr-tun-port',
  summary: 'DR or TUN real server planned on another port than the service',
  reads: "the plan's real-server port, the director's `ipvsadm -Ln`",
  fix: "make the real server listen on the service's port (or use NAT, which maps ports)",
  find(ctx) {
    const out: Cause[] = [];
    for (const svc of ctx.services) {
      if (svc.fwmark || svc.port === undefined) continue;
      const moved = svc.realServers.filter((r) => (r.method === 'droute' || r.method === 'tunnel') && r.port !== svc.port);
      if (!moved.length) continue;
      for (const d of directorsOf(ctx.plan, svc)) {
        const ev = ctx.evidence[d.name];
        const lines = tableLines(ev, svc);
        const shown = moved.filter((r) => lines.some((l) => l.includes(endpoint(r.rip, svc.port!))));
        if (!shown.length) continue;
        out.push({
          id: 'dr-tun-port',
          sentence: `${shown.map((r) => `${r.name} is planned on port ${r.port}`).join(', ')} for ${svc.name} (${svc.mode.toUpperCase()}), but DR and TUN cannot change the destination port: IPVS on ${d.name} lists ${shown.map((r) => endpoint(r.rip, svc.port!)).join(', ')}, so packets arrive on port ${svc.port}, where the real server does not listen`,
          evidence: [quote(ev, d.name, 'ipvs', lines.filter((l) => !/^\s+->/.test(l) || shown.some((r) => l.includes(endpoint(r.rip, svc.port!)))))],
          fix: `make ${shown.map((r) => r.name).join(', ')} listen on port ${svc.port} and drop their port: ${shown[0]!.port} from the topology (or use NAT, method masq, which maps ports)`,
        });
        break;
      }
    }
    return out;
  },
};
