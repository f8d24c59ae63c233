import { isIPv4 } from 'node:net';
import type { TVrrpInstance, TypedConf } from '../keepalived/conf/typed.js';
import type { TopologyFile } from '../topology/schema.js';
import type { Notes } from './notes.js';
import type { Translation } from './translation.js';

/**
 * The keepalived section from a pair of files: one entry per instance both files have (matched
 * by name, then by virtual_router_id), with each director's priority. Where the two files
 * disagree the lab takes the first file's value and says so: the directors run their own files,
 * so the run itself shows what the disagreement does (lint has already named it).
 */
export type KeepalivedFile = NonNullable<TopologyFile['keepalived']>;
type VrrpFile = KeepalivedFile['vrrp'][number];

const DEFAULT_PRIORITY = 100;

export interface VrrpDerived {
  keepalived?: KeepalivedFile;
  /** the second director's auth_pass when it differs (how the schema builds a mismatched pair) */
  peerAuthPass?: string;
}

function priorityOf(i: TVrrpInstance, notes: Notes): number {
  const p = i.priority?.value ?? DEFAULT_PRIORITY;
  if (!Number.isInteger(p) || p < 1 || p > 254) {
    notes.warn(i.priority ?? i, `priority ${i.priority?.text}: the lab plans priorities 1 to 254 (255 is an address owner's); judged as ${Math.min(254, Math.max(1, Math.round(p) || DEFAULT_PRIORITY))}`);
    return Math.min(254, Math.max(1, Math.round(p) || DEFAULT_PRIORITY));
  }
  return p;
}

function authOf(i: TVrrpInstance, version: number, notes: Notes): string | undefined {
  const a = i.authentication;
  if (!a?.pass) return undefined;
  if (a.type && a.type.value !== 'PASS') {
    notes.notExercised(a.type, `auth_type ${a.type.text}: the lab plans PASS authentication only`);
    return undefined;
  }
  if (version === 3) {
    notes.warn(a, 'authentication with VRRPv3: keepalived ignores it, and so does the lab');
    return undefined;
  }
  // keepalived keeps the first 8 characters (lint's auth-pass says so)
  const pass = a.pass.value.slice(0, 8);
  return /^\S{1,8}$/.test(pass) ? pass : undefined;
}

export function deriveVrrp(directors: string[], confs: TypedConf[], t: Translation, notes: Notes): VrrpDerived {
  const [a, b] = confs;
  if (!a) return {};
  if (!b) {
    for (const i of a.vrrpInstances) notes.notExercised(i, `vrrp_instance ${i.name}: one director, so nothing fails over (give the peer's file with --peer)`);
    return {};
  }
  const vrrp: VrrpFile[] = [];
  let peerAuthPass: string | undefined;
  const used = new Set<TVrrpInstance>();
  for (const ia of a.vrrpInstances) {
    const ib = b.vrrpInstances.find((x) => x.name === ia.name && !used.has(x)) ?? b.vrrpInstances.find((x) => !used.has(x) && x.virtualRouterId?.value === ia.virtualRouterId?.value);
    if (!ib) {
      notes.warn(ia, `vrrp_instance ${ia.name} has no counterpart in the peer's file: nothing backs its VIPs up, and the lab does not fail it over`);
      continue;
    }
    used.add(ib);
    const network = ia.interface ? t.interfaces.get(directors[0]!)?.get(ia.interface.value) : undefined;
    if (!network) {
      notes.error(ia, `vrrp_instance ${ia.name} has no interface: keepalived refuses an instance without one`);
      continue;
    }
    if (!ia.virtualRouterId || !Number.isInteger(ia.virtualRouterId.value)) {
      notes.error(ia, `vrrp_instance ${ia.name} has no virtual_router_id: keepalived refuses the instance`);
      continue;
    }
    const version = ia.version?.value ?? a.globalDefs?.vrrpVersion?.value ?? 2;
    const vb = ib.version?.value ?? b.globalDefs?.vrrpVersion?.value ?? 2;
    for (const [what, x, y] of [
      ['virtual_router_id', ia.virtualRouterId?.value, ib.virtualRouterId?.value],
      ['advert_int', ia.advertInt?.value ?? 1, ib.advertInt?.value ?? 1],
      ['version', version, vb],
    ] as const)
      if (x !== y) notes.warn(ib, `vrrp_instance ${ib.name}: ${what} ${y} here, ${x} in the first file; the lab's checks expect the first file's, each director runs its own`);
    const vips = [...ia.virtualIpaddress, ...ia.virtualIpaddressExcluded]
      .filter((v) => isIPv4(v.address))
      .map((v) => {
        const address = t.addresses.get(v.address)!;
        return { address, network: t.networkOf(address)! };
      });
    if (!vips.length) {
      notes.warn(ia, `vrrp_instance ${ia.name} holds no IPv4 address: nothing for the lab to follow at failover`);
      continue;
    }
    const pass = authOf(ia, version, notes);
    const passB = authOf(ib, vb, notes);
    if (pass !== passB && passB) peerAuthPass = passB;
    const nopreempt = !!(ia.nopreempt || ib.nopreempt);
    if (!!ia.nopreempt !== !!ib.nopreempt) notes.warn(ia.nopreempt ?? ib.nopreempt ?? ia, `vrrp_instance ${ia.name}: nopreempt in one file only; the lab judges the pair as nopreempt`);
    const delay = ia.preemptDelay?.value ?? ib.preemptDelay?.value;
    for (const s of [...ia.trackScripts, ...ib.trackScripts]) notes.notExercised(s, `track_script ${s.name}: runs as written; the lab does not make its script fail`);
    for (const s of [...ia.trackInterfaces, ...ib.trackInterfaces]) notes.notExercised(s, `track_interface ${s.name}: the lab does not take that interface down in this run`);
    vrrp.push({
      name: ia.name.slice(0, 31).replace(/[^A-Za-z0-9_]/g, '_').replace(/^[^A-Za-z]/, 'V'),
      network,
      virtual_router_id: ia.virtualRouterId.value,
      priorities: { [directors[0]!]: priorityOf(ia, notes), [directors[1]!]: priorityOf(ib, notes) },
      advert_int: ia.advertInt?.value ?? 1,
      version: version === 3 ? 3 : 2,
      ...(pass ? { auth_pass: pass } : {}),
      vips,
      nopreempt,
      ...(delay !== undefined && !nopreempt ? { preempt_delay: delay } : {}),
      unicast: !!(ia.unicastPeer || ib.unicastPeer),
    });
  }
  for (const ib of b.vrrpInstances) if (!used.has(ib)) notes.warn(ib, `vrrp_instance ${ib.name} has no counterpart in the first file: nothing backs its VIPs up, and the lab does not fail it over`);
  if (!vrrp.length) return {};
  return { keepalived: { vrrp, sync_daemon: !!(a.globalDefs?.lvsSyncDaemon || b.globalDefs?.lvsSyncDaemon) }, ...(peerAuthPass ? { peerAuthPass } : {}) };
}
