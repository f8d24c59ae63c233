/**
 * Both directors MASTER: each holds the VIP, so the segment's ARP entries follow whichever
 * announced last. Why, when the evidence shows it: the two configs disagree on what VRRP must agree
 * on (virtual_router_id, authentication, advert_int, version), keepalived logged dropping the
 * other's adverts, or nothing passes between them (DROP rules, a link down).
 */
import { addrOn, devOf, linkOf, listNames, quote } from '../facts.js';
import { confInstances, type ConfInstance } from '../keepalived-conf.js';
import type { Cause, CauseRule, Quote } from '../types.js';

// keepalived 2.2's words when it drops an advert
const DROPPED = /invalid passwd|authentication|interval mismatch|not present in MASTER advert|bogus VRRP|Dropping received VRRP|wrong (?:virtual router|VRID)|received lower prio/i;

type Field = 'virtualRouterId' | 'auth' | 'advertInt' | 'version';
const FIELDS: { f: Field; what: string; fix: string }[] = [
  { f: 'virtualRouterId', what: 'virtual_router_id', fix: 'use one virtual_router_id on both directors' },
  { f: 'auth', what: 'authentication', fix: 'write the same auth_type and auth_pass (8 characters at most) on both directors' },
  { f: 'version', what: 'VRRP version', fix: 'set the same version on both directors' },
  { f: 'advertInt', what: 'advert_int', fix: 'use one advert_int on both directors (VRRPv2 drops adverts of another interval)' },
];

export const splitBrainRule: CauseRule = {
  id: 'vrrp-split-brain',
  summary: 'both directors MASTER (both hold the VIP), and why',
  reads: "each director's `ip -o addr` (the VIP), its keepalived.conf (virtual_router_id, auth, advert_int, version), keepalived's log, `iptables-save -t filter` DROP rules, `ip -o link` states",
  fix: 'the same virtual_router_id, authentication, advert_int and version on both; let VRRP (protocol 112) pass between them; links up',
  find(ctx) {
    const out: Cause[] = [];
    for (const v of ctx.plan.vrrp ?? []) {
      const vipSet = new Set(v.vips.map((x) => x.address));
      const holders = Object.keys(v.priorities).filter((d) => ctx.evidence[d]?.addrs.some((a) => vipSet.has(a.address)));
      if (holders.length < 2) continue;
      const evidence: Quote[] = holders.map((d) => quote(ctx.evidence[d], d, 'addr', ctx.evidence[d]!.addrs.filter((a) => vipSet.has(a.address)).map((a) => a.line)));
      const reasons: string[] = [];
      const fixes: string[] = [];
      // what the configs disagree on
      const insts = holders.map((d) => ({ d, i: confInstances(ctx.evidence[d])?.find((x) => x.name === v.name) }));
      const [a, b] = insts;
      if (a?.i && b?.i) {
        for (const { f, what, fix } of FIELDS) {
          const x = a.i[f] as ConfInstance[Field];
          const y = b.i[f] as ConfInstance[Field];
          if ((x?.value ?? null) === (y?.value ?? null)) continue;
          const shown = (z: typeof x) => (z === undefined ? '(none)' : f === 'auth' ? 'differs' : String(z.value));
          reasons.push(f === 'auth' ? `their ${what} differs, so each drops the other's adverts` : `${what} ${shown(x)} on ${a.d} vs ${shown(y)} on ${b.d}`);
          fixes.push(fix);
          evidence.push(quote(ctx.evidence[a.d], a.d, 'keepalived-conf', x ? [x.line] : [], x ? undefined : `no ${what}`), quote(ctx.evidence[b.d], b.d, 'keepalived-conf', y ? [y.line] : [], y ? undefined : `no ${what}`));
        }
      }
      // what keepalived said about the adverts it dropped
      for (const d of holders) {
        const said = (ctx.evidence[d]?.items['keepalived-log']?.lines ?? []).filter((l) => DROPPED.test(l) && (l.includes(v.name) || !/\(\w+\)/.test(l)));
        if (said.length) evidence.push(quote(ctx.evidence[d], d, 'keepalived-log', said.slice(-4)));
        if (said.length && !reasons.length) reasons.push(`keepalived on ${d} drops the other's adverts`);
      }
      // whether anything passes between them
      for (const d of holders) {
        const ev = ctx.evidence[d];
        const peers = holders.filter((p) => p !== d).flatMap((p) => ctx.plan.nodes.find((n) => n.name === p)?.interfaces.map((i) => i.address) ?? []);
        const drops = (ev?.items['iptables-filter']?.lines ?? []).filter((l) => /^-A /.test(l) && /-j DROP\b/.test(l) && (peers.some((p) => new RegExp(`(-s|-d) ${p.replace(/\./g, '\\.')}(/32)?\\b`).test(l)) || /-p (vrrp|112)\b/.test(l)));
        if (drops.length) {
          reasons.push(`${d} drops traffic to or from the other director (${drops.length} DROP rule${drops.length > 1 ? 's' : ''})`);
          fixes.push(`delete the DROP rules on ${d} (iptables -D …) or let VRRP (protocol 112) through`);
          evidence.push(quote(ev, d, 'iptables-filter', drops));
        }
        const node = ctx.plan.nodes.find((n) => n.name === d);
        const link = linkOf(ev, devOf(ev, addrOn(node, v.network))?.dev);
        if (link && (link.state === 'DOWN' || !link.flags.includes('UP'))) {
          reasons.push(`${d}'s ${link.dev} on ${v.network} is down`);
          fixes.push(`ip link set dev ${link.dev} up on ${d}`);
          evidence.push(quote(ev, d, 'link', [link.line]));
        }
      }
      out.push({
        id: 'vrrp-split-brain',
        sentence: `${holders.length === 2 ? 'both ' : 'all of '}${listNames(holders)} hold ${[...vipSet].join(', ')} of ${v.name}: each is MASTER (split brain) and the segment's ARP entries follow whichever announced last; ${reasons.length ? `why: ${reasons.join('; ')}` : 'the configs agree, keepalived logged no dropped advert and no DROP rule or link down shows: look for adverts on the segment (tcpdump -ni <dev> vrrp)'}`,
        evidence,
        fix: fixes.length ? [...new Set(fixes)].join('; ') : `capture the adverts on ${v.network} (tcpdump -ni <dev> vrrp) on both directors: each must see the other's`,
      });
    }
    return out;
  },
};
