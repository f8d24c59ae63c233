/**
 * TUN: the real server receives the client's packet inside IP-in-IP on tunl0 and answers from the
 * VIP. Strict reverse-path filtering drops it (the route back to the client is not via tunl0);
 * and the outer header's 20 bytes make a full-size packet too large for the director's path.
 */
import { addrOn, devOf, directorsOf, effective, linkOf, quote } from '../facts.js';
import { clientOn } from '../../topology/planner.js';
import { rpFilterFix, rpFilterStrict } from '../sentences.js';
import type { Cause, CauseRule, Quote } from '../types.js';

/** bytes IP-in-IP adds: the outer IPv4 header */
export const IPIP_OVERHEAD = 20;

export const tunRpFilterRule: CauseRule = {
  id: 'tun-rp-filter',
  summary: 'TUN real server with rp_filter strict (1)',
  reads: "real servers' net.ipv4.conf.all.rp_filter and conf.tunl0.rp_filter (the kernel uses the larger)",
  fix: 'rp_filter 0 (or 2, loose) on all and tunl0 of every TUN real server',
  find(ctx) {
    const names = [...new Set(ctx.services.flatMap((s) => s.realServers.filter((r) => r.method === 'tunnel').map((r) => r.name)))];
    const bad: string[] = [];
    const evidence: Quote[] = [];
    for (const n of names) {
      const ev = ctx.evidence[n];
      const rp = effective(ev, 'tunl0', 'rp_filter');
      if (rp?.value !== 1) continue;
      bad.push(n);
      evidence.push(quote(ev, n, 'sysctl', rp.lines, 'max(conf.all, conf.tunl0) = 1: strict'));
    }
    return bad.length ? [{ id: 'tun-rp-filter', sentence: rpFilterStrict(bad), evidence, fix: rpFilterFix(bad) }] : [];
  },
};

export const tunMtuRule: CauseRule = {
  id: 'tun-mtu',
  summary: 'TUN packets too large for the path (IP-in-IP adds 20 bytes)',
  reads: "the client's and the director's device MTUs (`ip -o link`), a large request body's outcome through the TUN service",
  fix: 'an MTU of at least the clients\' + 20 between director and real servers, or a smaller MSS advertised by the real servers',
  find(ctx) {
    const out: Cause[] = [];
    for (const svc of ctx.services) {
      if (svc.mode !== 'tun' && svc.mode !== 'mixed') continue;
      // only an observed failure: with path MTU discovery working, large bodies pass despite the overhead
      const failed = (ctx.probes ?? []).find((p) => p.kind === 'large-body' && p.service === svc.name && !p.ok);
      if (!failed) continue;
      const client = clientOn(ctx.plan, svc);
      const cev = client ? ctx.evidence[client] : undefined;
      const cNode = client ? ctx.plan.nodes.find((n) => n.name === client) : undefined;
      const cLink = linkOf(cev, devOf(cev, addrOn(cNode, svc.vipNetwork))?.dev);
      if (!cLink?.mtu) continue;
      for (const r of svc.realServers.filter((x) => x.method === 'tunnel')) {
        const tight = directorsOf(ctx.plan, svc)
          .map((d) => {
            const dev = ctx.evidence[d.name];
            const link = linkOf(dev, devOf(dev, addrOn(d, r.network))?.dev);
            return { d, dev, link };
          })
          .find((x) => x.link?.mtu !== undefined && x.link.mtu - IPIP_OVERHEAD < cLink.mtu!);
        if (!tight) continue;
        const room = tight.link!.mtu! - IPIP_OVERHEAD;
        out.push({
          id: 'tun-mtu',
          sentence: `a ${failed.bytes}-byte request body through ${svc.name} (TUN) failed (${failed.outcome}): the client ${client} sends packets of up to ${cLink.mtu} bytes, IP-in-IP adds ${IPIP_OVERHEAD}, and the director ${tight.d.name}'s ${tight.link!.dev} towards ${r.name} carries at most ${tight.link!.mtu} (${room} of payload): full-size packets cannot be tunnelled and the "fragmentation needed" answer does not bring the client's packets down`,
          evidence: [quote(cev, client!, 'link', [cLink.line]), quote(tight.dev, tight.d.name, 'link', [tight.link!.line]), { node: client!, command: `large-body probe (${failed.bytes} bytes) to ${svc.name}`, lines: [failed.outcome] }],
          fix: `raise the MTU between ${tight.d.name} and the real servers to at least ${cLink.mtu + IPIP_OVERHEAD} (ip link set dev ${tight.link!.dev} mtu ${cLink.mtu + IPIP_OVERHEAD}, and on the real servers), or have the real servers advertise an MSS that fits (ip route replace … advmss ${room - 40}); let ICMP "fragmentation needed" reach the clients`,
        });
        break;
      }
    }
    return out;
  },
};
