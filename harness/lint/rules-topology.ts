/**
 * Rules across the blocks of one file: services on addresses no instance floats, instances that
 * collide on the wire, forwarding methods that cannot do what the ports ask, references to
 * scripts that are not there, and scripts keepalived will not run quietly.
 */
import type { TVirtualServer, TVrrpInstance } from '../keepalived/conf/typed.js';
import { finding, type Finding, type Rule } from './types.js';

/** The address as IPVS and `ip addr` compare it (IPv6 in its canonical-ish lower-case form, brackets off). */
const norm = (a: string) => a.replace(/^\[|\]$/g, '').toLowerCase();

/** The addresses a virtual_server listens on (its own, or its group's entries). */
function serviceAddresses(vs: TVirtualServer, groups: Map<string, string[]>): string[] {
  if (vs.kind === 'address' && vs.address) return [vs.address];
  if (vs.kind === 'group') return groups.get(vs.group ?? '') ?? [];
  return [];
}

export const vipNotHeld: Rule = {
  id: 'vip-not-held',
  severity: 'error',
  scope: 'file',
  summary: 'a virtual_server on an address that no vrrp_instance holds as a VIP',
  why: 'the service floats with no VIP: after a failover the new MASTER has the VIP but the clients address something else, or the service address never moves',
  check: (files) =>
    files.flatMap((f) => {
      const t = f.typed;
      if (!t.vrrpInstances.length) return []; // a single director may serve on its own address (no VRRP at all)
      const held = new Set(t.vrrpInstances.flatMap((i) => [...i.virtualIpaddress, ...i.virtualIpaddressExcluded].map((v) => norm(v.address))));
      const groups = new Map(t.virtualServerGroups.map((g) => [g.name, g.entries.flatMap((e) => (e.address ? [e.address.replace(/-\d+$/, '')] : []))]));
      const out: Finding[] = [];
      for (const vs of t.virtualServers)
        for (const a of serviceAddresses(vs, groups))
          if (!held.has(norm(a)))
            out.push(finding(vipNotHeld, vs, `virtual_server ${vs.text}: ${a} is not a VIP of any vrrp_instance in this file (VIPs: ${[...held].join(', ') || 'none'})`, `add ${a} to the virtual_ipaddress of the instance that should carry the service, or correct the address`));
      return out;
    }),
};

export const duplicateVrid: Rule = {
  id: 'duplicate-vrid',
  severity: 'error',
  scope: 'file',
  summary: 'two vrrp_instances with one virtual_router_id on one interface',
  why: 'they share the virtual MAC and the advert stream: each takes the other\u2019s adverts as its own, with the wrong VIPs and priority',
  check: (files) =>
    files.flatMap((f) => {
      const seen = new Map<string, TVrrpInstance>();
      const out: Finding[] = [];
      for (const i of f.typed.vrrpInstances) {
        if (!i.virtualRouterId || !Number.isFinite(i.virtualRouterId.value)) continue;
        const v6 = i.virtualIpaddress.some((v) => v.address.includes(':'));
        const key = `${i.interface?.value ?? '?'}/${i.virtualRouterId.value}/${v6 ? 6 : 4}`;
        const prev = seen.get(key);
        if (prev) out.push(finding(duplicateVrid, i.virtualRouterId, `vrrp_instance ${i.name} and ${prev.name} (line ${prev.line}) both use virtual_router_id ${i.virtualRouterId.value} on ${i.interface?.value ?? 'the same interface'}`, 'give each instance on an interface its own virtual_router_id (the same on both directors of the pair)'));
        else seen.set(key, i);
      }
      return out;
    }),
};

export const drPort: Rule = {
  id: 'dr-port',
  severity: 'error',
  scope: 'file',
  summary: 'a DR or TUN real server on another port than its service',
  why: 'direct routing and tunnelling forward the packet unchanged: they cannot rewrite the destination port, so the real server gets the service port, where nothing may listen',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.virtualServers.flatMap((vs) => {
        if (vs.kind !== 'address' || !vs.port) return [];
        return vs.realServers.flatMap((rs) => {
          const method = rs.lvsMethod?.value ?? vs.lbKind?.value;
          if ((method !== 'DR' && method !== 'TUN') || rs.port === undefined || rs.port === vs.port || rs.port === 0) return [];
          return [finding(drPort, rs, `real_server ${rs.text} behind ${vs.text} with ${method}: ${method} cannot change the port, so packets reach ${rs.address} on port ${vs.port}, not ${rs.port}`, `make the real server listen on ${vs.port} and write real_server ${rs.address} ${vs.port}, or use NAT to map ${vs.port} to ${rs.port}`)];
        });
      }),
    ),
};

export const unicastNoSrc: Rule = {
  id: 'unicast-no-src',
  severity: 'warning',
  scope: 'file',
  summary: 'unicast_peer without unicast_src_ip',
  why: 'keepalived then sends from the interface\u2019s primary address, which the peer\u2019s unicast_peer list must name exactly; a secondary or changed address means adverts are dropped and both directors become MASTER',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) =>
        i.unicastPeer && !i.unicastSrcIp
          ? [finding(unicastNoSrc, i.unicastPeer, `vrrp_instance ${i.name}: unicast_peer without unicast_src_ip: adverts leave from the primary address of ${i.interface?.value ?? 'the interface'}, whatever it is at the time`, 'add unicast_src_ip with this director\u2019s address, the one listed in the peer\u2019s unicast_peer')]
          : [],
      ),
    ),
};

export const trackUndefined: Rule = {
  id: 'track-undefined',
  severity: 'error',
  scope: 'file',
  summary: 'track_script naming a vrrp_script that is not defined',
  why: 'keepalived logs "track script … not found, ignoring": the instance does not track what the operator thinks it does',
  check: (files) =>
    files.flatMap((f) => {
      const names = new Set(f.typed.vrrpScripts.map((s) => s.name));
      return [...f.typed.vrrpInstances.map((i) => ({ w: `vrrp_instance ${i.name}`, t: i.trackScripts })), ...f.typed.vrrpSyncGroups.map((g) => ({ w: `vrrp_sync_group ${g.name}`, t: g.trackScripts }))].flatMap(({ w, t }) =>
        t.filter((s) => !names.has(s.name)).map((s) => finding(trackUndefined, s, `${w}: track_script ${s.name} is not a vrrp_script of this file: keepalived ignores it`, `define vrrp_script ${s.name} { … } or correct the name`)),
      );
    }),
};

export const scriptSecurity: Rule = {
  id: 'script-security',
  severity: 'error',
  scope: 'file',
  summary: 'notify, track or check scripts without enable_script_security (and script_user) in global_defs',
  why: 'keepalived reports "SECURITY VIOLATION - scripts are being executed but script_security not enabled", `keepalived -t` fails, and scripts run as root unchecked',
  check: (files) =>
    files.flatMap((f) => {
      const t = f.typed;
      const scripts: { at: { file: string; line: number }; what: string }[] = [
        ...t.vrrpScripts.flatMap((s) => (s.script ? [{ at: s.script, what: `vrrp_script ${s.name}` }] : [])),
        ...[...t.vrrpInstances, ...t.vrrpSyncGroups].flatMap((i) => Object.entries(i.notify).flatMap(([k, v]) => (v ? [{ at: v, what: `${'group' in i ? 'vrrp_sync_group' : 'vrrp_instance'} ${i.name} notify${k === 'all' ? '' : `_${k}`}` }] : []))),
        ...t.virtualServers.flatMap((vs) => vs.realServers.flatMap((rs) => rs.checkers.flatMap((c) => (c.miscPath ? [{ at: c.miscPath, what: `MISC_CHECK of ${rs.text}` }] : [])))),
      ];
      if (!scripts.length) return [];
      const out: Finding[] = [];
      const first = scripts[0]!;
      const more = scripts.length > 1 ? ` (and ${scripts.length - 1} more script(s))` : '';
      if (!t.globalDefs?.enableScriptSecurity)
        out.push(finding(scriptSecurity, first.at, `${first.what} runs a script${more}, but global_defs has no enable_script_security: keepalived reports a SECURITY VIOLATION and \`keepalived -t\` fails`, 'add enable_script_security to global_defs, and keep the scripts and their directories root-owned and not writable by others'));
      if (!t.globalDefs?.scriptUser)
        out.push(finding(scriptSecurity, first.at, `${first.what} runs a script${more}, but global_defs has no script_user: keepalived runs scripts as the user keepalived_script, or root (with a warning) when that user does not exist`, 'add script_user (e.g. script_user root, or a dedicated user) to global_defs', 'warning'));
      return out;
    }),
};

export const topologyRules: readonly Rule[] = [vipNotHeld, duplicateVrid, drPort, unicastNoSrc, trackUndefined, scriptSecurity];
