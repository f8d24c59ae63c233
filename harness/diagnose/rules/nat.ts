/**
 * NAT: the replies of the real servers must come back through the director, which rewrites their
 * source to the VIP. Two ways that breaks: the director does not forward, or a real server's
 * default route leads elsewhere (the Docker bridge, a stale gateway).
 */
import { directorsOf, nodesOf, quote, sysctlOf } from '../facts.js';
import { noForward, noForwardFix } from '../sentences.js';
import type { Cause, CauseRule } from '../types.js';

const isNat = (mode: string) => mode === 'nat' || mode === 'fullnat' || mode === 'mixed';

export const natForwardRule: CauseRule = {
  id: 'nat-no-forward',
  summary: 'NAT without forwarding on the director',
  reads: "the director's net.ipv4.ip_forward (net.ipv6.conf.all.forwarding for an IPv6 VIP)",
  fix: 'ip_forward=1 on every director of a NAT service, no override in the topology',
  find(ctx) {
    const out = new Map<string, Cause>();
    for (const svc of ctx.services) {
      if (!isNat(svc.mode) || !svc.realServers.some((r) => r.method === 'masq')) continue;
      const key = svc.family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
      for (const d of directorsOf(ctx.plan, svc)) {
        const ev = ctx.evidence[d.name];
        const s = sysctlOf(ev, key);
        if (!s || s.value.trim() !== '0' || out.has(`${d.name}/${key}`)) continue;
        out.set(`${d.name}/${key}`, { id: 'nat-no-forward', sentence: noForward(d.name, svc.family), evidence: [quote(ev, d.name, 'sysctl', [s.line])], fix: noForwardFix(d.name, svc.family) });
      }
    }
    return [...out.values()];
  },
};

export const natRouteRule: CauseRule = {
  id: 'nat-route',
  summary: "NAT real server whose default route does not go back through the director's DIP (or the floating gateway)",
  reads: "the real server's `ip route` / `ip -6 route` default route, against the plan's",
  fix: "default route via the director's DIP, or via the VRRP floating gateway in a keepalived pair",
  find(ctx) {
    const out: Cause[] = [];
    const names = new Set(ctx.services.filter((s) => s.mode === 'nat' || s.mode === 'mixed').flatMap((s) => s.realServers.filter((r) => r.method === 'masq').map((r) => r.name)));
    for (const rs of nodesOf(ctx.plan, 'real-server')) {
      if (!names.has(rs.name)) continue;
      const ev = ctx.evidence[rs.name];
      if (!ev || ev.error?.includes('printed nothing') || !ev.items.route) continue;
      for (const want of rs.routes.filter((r) => r.to === 'default')) {
        const family = want.family ?? 4;
        if (family === 6 && !ev.items.route6) continue;
        const defaults = ev.routes.filter((r) => r.family === family && r.dst === 'default');
        if (defaults.some((r) => r.via === want.via.toLowerCase())) continue;
        const gw = ctx.plan.vrrp?.some((v) => v.vips.some((x) => x.address === want.via)) ? 'the floating gateway' : "the director's DIP";
        const now = defaults[0];
        out.push({
          id: 'nat-route',
          sentence: `the real server ${rs.name}'s ${family === 6 ? 'IPv6 ' : ''}default route ${now ? `goes via ${now.via ?? `dev ${now.dev ?? '?'}`}` : 'is missing'}, not through ${gw} ${want.via}: its replies leave without the director rewriting their source to the VIP, so clients drop them`,
          evidence: [quote(ev, rs.name, family === 6 ? 'route6' : 'route', defaults.map((r) => r.line), now ? undefined : 'no default route')],
          fix: `on ${rs.name}: ip ${family === 6 ? '-6 ' : ''}route replace default via ${want.via}`,
        });
      }
    }
    return out;
  },
};
