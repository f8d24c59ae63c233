import { isIPv4 } from 'node:net';
import type { KeepalivedSource, RulesSource } from './sources.js';
import type { Notes } from './notes.js';
import { addressWords } from './tokens.js';
import type { TranslationBuilder } from './translation.js';

/**
 * Where each address of the operator's files lives, as far as the files say: a VIP on an
 * interface (its `dev`, else the instance's interface), a director's own address (its
 * unicast_src_ip, the peer's unicast_peer entry, an `ip addr` of the rules script), a real
 * server, or something else (an smtp_server). The translation groups them into networks.
 */
export function collectSightings(directors: string[], confs: KeepalivedSource[], rules: RulesSource | undefined, b: TranslationBuilder, notes: Notes): void {
  confs.forEach((c, k) => {
    const d = directors[k]!;
    const other = directors.length === 2 ? directors[1 - k] : undefined;
    const t = c.typed;
    for (const i of t.vrrpInstances) {
      const iface = i.interface?.value;
      if (iface) b.iface(d, iface);
      for (const v of [...i.virtualIpaddress, ...i.virtualIpaddressExcluded]) {
        if (!isIPv4(v.address)) {
          notes.notExercised(v, `${v.text}: the lab's keepalived pairs hold IPv4 VIPs only; kept as written`);
          continue;
        }
        const dev = v.dev ?? iface;
        if (dev) b.iface(d, dev);
        b.see({ address: v.address, ...(v.prefix !== undefined ? { prefix: v.prefix } : {}), ...(dev ? { iface: { director: d, name: dev } } : {}), role: 'vip', at: v });
      }
      const src = i.unicastSrcIp;
      if (src && isIPv4(src.value)) b.see({ address: src.value, ...(iface ? { iface: { director: d, name: iface } } : {}), owner: d, role: 'director', at: src });
      for (const p of i.unicastPeer?.peers ?? []) {
        if (!isIPv4(p.value)) continue;
        b.see({ address: p.value, ...(iface ? { iface: { director: d, name: iface } } : {}), ...(other && p.value !== src?.value ? { owner: other } : {}), role: 'director', at: p });
      }
      for (const ti of i.trackInterfaces) b.iface(d, ti.name);
    }
    const sync = t.globalDefs?.lvsSyncDaemon;
    if (sync) b.iface(d, sync.value.interface);
    for (const v of t.virtualServers) {
      if (v.address && isIPv4(v.address)) b.see({ address: v.address, role: 'vip', at: v });
      for (const r of v.realServers) if (isIPv4(r.address)) b.see({ address: r.address, role: 'real-server', at: r });
    }
    for (const g of t.virtualServerGroups) for (const e of g.entries) if (e.address && isIPv4(e.address.split('-')[0]!)) b.see({ address: e.address.split('-')[0]!, role: 'vip', at: e });
    // every other address the files write (smtp_server, a sorry_server, a script argument)
    for (const [file, text] of c.texts) for (const w of addressWords(text)) b.see({ address: w.address, role: 'other', at: { file, line: w.line } });
  });
  if (rules) {
    const d = directors[0]!;
    const vips = new Set(rules.rules.services.map((s) => s.address).filter((a): a is string => a !== undefined));
    for (const s of rules.rules.services) {
      const at = s.loc ?? { file: rules.file, line: 0 };
      if (s.address && isIPv4(s.address)) b.see({ address: s.address, role: 'vip', at });
      for (const r of s.realServers) if (isIPv4(r.address)) b.see({ address: r.address, role: 'real-server', at: r.loc ?? at });
    }
    for (const step of rules.rules.hostSetup) {
      if (step.kind !== 'address' || step.dev === 'lo' || step.dev === 'tunl0' || !isIPv4(step.address)) continue;
      b.iface(d, step.dev);
      const host = step.prefix === 32 || step.netmask === '255.255.255.255';
      const prefix = step.prefix ?? (step.netmask ? maskLength(step.netmask) : undefined);
      // an address that is not a /32 alias is the interface's own, even when it is also the VIP (seed 003)
      b.see({ address: step.address, ...(prefix !== undefined && !host ? { prefix } : {}), iface: { director: d, name: step.dev }, ...(host && vips.has(step.address) ? {} : { owner: d }), role: vips.has(step.address) ? 'vip' : 'director', at: step.loc });
    }
  }
}

function maskLength(mask: string): number | undefined {
  if (!isIPv4(mask)) return undefined;
  const bits = mask.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') < 0 ? 32 : bits.indexOf('0') : undefined;
}
