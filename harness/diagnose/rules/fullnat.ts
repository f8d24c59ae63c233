/**
 * full-NAT is NAT plus an SNAT rule that matches IPVS connections (`-m ipvs --vaddr VIP`): the
 * rule only sees them when IPVS keeps netfilter's connection tracking (net.ipv4.vs.conntrack=1).
 */
import { directorsOf, quote, sysctlOf } from '../facts.js';
import { fullnatNoConntrack, fullnatNoConntrackFix } from '../sentences.js';
import type { Cause, CauseRule } from '../types.js';

export const fullnatConntrackRule: CauseRule = {
  id: 'fullnat-no-conntrack',
  summary: 'full-NAT with net.ipv4.vs.conntrack = 0',
  reads: "the director's net.ipv4.vs.conntrack, its `iptables-save -t nat` SNAT rule",
  fix: 'net.ipv4.vs.conntrack=1 on the director, no override in the topology',
  find(ctx) {
    const out = new Map<string, Cause>();
    for (const svc of ctx.services) {
      if (svc.mode !== 'fullnat') continue;
      for (const d of directorsOf(ctx.plan, svc)) {
        const ev = ctx.evidence[d.name];
        const s = sysctlOf(ev, 'net.ipv4.vs.conntrack');
        if (!s || s.value.trim() !== '0' || out.has(d.name)) continue;
        const snat = (ev?.items['iptables-nat']?.lines ?? []).filter((l) => /-m ipvs\b/.test(l) && /-j SNAT\b/.test(l));
        out.set(d.name, {
          id: 'fullnat-no-conntrack',
          sentence: fullnatNoConntrack(d.name),
          evidence: [quote(ev, d.name, 'sysctl', [s.line]), ...(snat.length ? [quote(ev, d.name, 'iptables-nat', snat, 'the SNAT rule that cannot match')] : [])],
          fix: fullnatNoConntrackFix(d.name),
        });
      }
    }
    return [...out.values()];
  },
};

export const fullnatSnatRule: CauseRule = {
  id: 'fullnat-no-snat',
  summary: 'full-NAT without the SNAT rule for the VIP',
  reads: "the director's `iptables-save -t nat`",
  fix: 'iptables -t nat -A POSTROUTING -m ipvs --vaddr VIP/32 --vport PORT -j SNAT --to-source DIP',
  find(ctx) {
    const out: Cause[] = [];
    for (const svc of ctx.services) {
      if (svc.mode !== 'fullnat') continue;
      for (const d of directorsOf(ctx.plan, svc)) {
        const ev = ctx.evidence[d.name];
        const it = ev?.items['iptables-nat'];
        // a failed iptables-save says nothing about the rules
        if (!it || it.exitCode !== 0) continue;
        const missing = svc.vips.filter((vip) => !it.lines.some((l) => l.includes(`--vaddr ${vip}/32`) && /-j SNAT\b/.test(l)));
        if (!missing.length) continue;
        const planned = d.commands.filter((c) => c.argv.includes('SNAT') && missing.some((v) => c.argv.includes(`${v}/32`))).map((c) => c.argv.join(' '));
        out.push({
          id: 'fullnat-no-snat',
          sentence: `full-NAT service ${svc.name} on ${d.name} has no SNAT rule for ${missing.join(', ')} in the nat table: the real servers see the client's address and answer it directly, not through the director`,
          evidence: [quote(ev, d.name, 'iptables-nat', it.lines.filter((l) => /^-A POSTROUTING/.test(l)), `no rule with --vaddr ${missing.join(', ')} and -j SNAT`)],
          fix: planned.length ? `on ${d.name}: ${planned.join('; ')}` : `on ${d.name}: iptables -t nat -A POSTROUTING -m ipvs --vaddr VIP/32 -j SNAT --to-source DIP`,
        });
      }
    }
    return out;
  },
};
