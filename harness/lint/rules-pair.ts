/**
 * Rules on a pair of directors (`--pair A B`): each instance of A is matched with B's of the same
 * name, else with B's of the same virtual_router_id on the same interface. What must agree for
 * VRRP to elect one MASTER, and what differs so that the service changes at failover.
 */
import type { TVirtualServer, TVrrpInstance, TypedConf } from '../keepalived/conf/typed.js';
import { trackWeights } from './rules-bounds.js';
import { versionOf } from './rules-values.js';
import { finding, type Finding, type LintedFile, type Rule } from './types.js';

interface Matched {
  a: TVrrpInstance;
  b: TVrrpInstance;
  by: 'name' | 'virtual_router_id';
}

export function matchInstances(a: TypedConf, b: TypedConf): { pairs: Matched[]; onlyA: TVrrpInstance[]; onlyB: TVrrpInstance[] } {
  const pairs: Matched[] = [];
  const usedB = new Set<TVrrpInstance>();
  const onlyA: TVrrpInstance[] = [];
  for (const x of a.vrrpInstances) {
    const byName = b.vrrpInstances.find((y) => !usedB.has(y) && y.name === x.name);
    const byVrid = byName ? undefined : b.vrrpInstances.find((y) => !usedB.has(y) && y.virtualRouterId?.value === x.virtualRouterId?.value && y.interface?.value === x.interface?.value);
    const y = byName ?? byVrid;
    if (y) {
      usedB.add(y);
      pairs.push({ a: x, b: y, by: byName ? 'name' : 'virtual_router_id' });
    } else onlyA.push(x);
  }
  return { pairs, onlyA, onlyB: b.vrrpInstances.filter((y) => !usedB.has(y)) };
}

const at = (f: LintedFile, l: { line: number }) => `${f.file}:${l.line}`;
const both = (files: readonly LintedFile[]) => (files.length === 2 ? ([files[0]!, files[1]!] as const) : undefined);

function eachPair(files: readonly LintedFile[], fn: (m: Matched, A: LintedFile, B: LintedFile) => Finding[]): Finding[] {
  const p = both(files);
  if (!p) return [];
  const [A, B] = p;
  return matchInstances(A.typed, B.typed).pairs.flatMap((m) => fn(m, A, B));
}

/** advert_int as keepalived runs it (VRRPv2 rounds to whole seconds). */
const advertOf = (t: TypedConf, i: TVrrpInstance) => {
  const a = i.advertInt && i.advertInt.value > 0 ? i.advertInt.value : 1;
  return versionOf(t, i) === 2 ? Math.max(1, Math.round(a)) : Math.round(a * 100) / 100;
};
/** the password keepalived sends: at most 8 characters */
const passOf = (i: TVrrpInstance) => (i.authentication ? `${i.authentication.type?.value ?? '(none)'}:${(i.authentication.pass?.value ?? '').slice(0, 8)}` : 'none');

export const pairUnmatched: Rule = {
  id: 'pair-unmatched',
  severity: 'warning',
  scope: 'pair',
  summary: 'an instance in one director with no instance of the same name or virtual_router_id in the other',
  why: 'nothing backs it up: the VIP dies with its director',
  check: (files) => {
    const p = both(files);
    if (!p) return [];
    const [A, B] = p;
    const m = matchInstances(A.typed, B.typed);
    return [
      ...m.onlyA.map((i) => finding(pairUnmatched, i, `vrrp_instance ${i.name} (virtual_router_id ${i.virtualRouterId?.text ?? '?'}) has no counterpart in ${B.file}`, `add the instance to ${B.file} with the same name, virtual_router_id and VIPs`)),
      ...m.onlyB.map((i) => finding(pairUnmatched, i, `vrrp_instance ${i.name} (virtual_router_id ${i.virtualRouterId?.text ?? '?'}) has no counterpart in ${A.file}`, `add the instance to ${A.file} with the same name, virtual_router_id and VIPs`)),
    ];
  },
};

export const pairMismatch: Rule = {
  id: 'pair-mismatch',
  severity: 'error',
  scope: 'pair',
  summary: 'matched instances that differ in virtual_router_id, authentication, advert_int or VRRP version',
  why: 'each director drops the other\u2019s adverts (wrong VRID, failed authentication, interval mismatch): both become MASTER and hold the VIP (split brain)',
  check: (files) =>
    eachPair(files, ({ a, b }, A, B) => {
      const out: Finding[] = [];
      const w = `vrrp_instance ${a.name} (${at(A, a)}) and ${b.name} (${at(B, b)})`;
      if (a.virtualRouterId?.value !== b.virtualRouterId?.value)
        out.push(finding(pairMismatch, a.virtualRouterId ?? a, `${w}: virtual_router_id ${a.virtualRouterId?.text ?? '(none)'} vs ${b.virtualRouterId?.text ?? '(none)'}: they are two virtual routers, each MASTER of its own`, 'use one virtual_router_id on both directors'));
      if (passOf(a) !== passOf(b))
        out.push(finding(pairMismatch, a.authentication?.pass ?? a.authentication ?? a, `${w}: authentication differs (${passOf(a)} vs ${passOf(b)}, as keepalived sends it): each drops the other's adverts and both hold the VIP`, 'write the same auth_type and auth_pass (8 characters at most, letters and digits) on both'));
      const va = versionOf(A.typed, a);
      const vb = versionOf(B.typed, b);
      if (va !== vb) out.push(finding(pairMismatch, a.version ?? a, `${w}: VRRP version ${va} vs ${vb}: neither accepts the other's adverts`, 'set the same version (or global_defs vrrp_version) on both'));
      else if (advertOf(A.typed, a) !== advertOf(B.typed, b)) {
        const sev = va === 2 ? 'error' : 'warning';
        out.push(
          finding(
            pairMismatch,
            a.advertInt ?? a,
            va === 2
              ? `${w}: advert_int ${advertOf(A.typed, a)} s vs ${advertOf(B.typed, b)} s under VRRPv2: keepalived drops adverts whose interval differs from its own ("advertisement interval mismatch"), so both become MASTER`
              : `${w}: advert_int ${advertOf(A.typed, a)} s vs ${advertOf(B.typed, b)} s: under VRRPv3 a BACKUP adopts the MASTER's interval, so the takeover time depends on which director is MASTER`,
            'use one advert_int on both directors',
            sev,
          ),
        );
      }
      return out;
    }),
};

export const pairElection: Rule = {
  id: 'pair-election',
  severity: 'warning',
  scope: 'pair',
  summary: 'both directors MASTER at equal priority, equal priorities, or both nopreempt',
  why: 'equal priorities leave the election to the higher IP address; both nopreempt with both starting BACKUP is fine, but then a returning director never takes back, which must be intended',
  check: (files) =>
    eachPair(files, ({ a, b }, A, B) => {
      const out: Finding[] = [];
      const w = `vrrp_instance ${a.name} (${at(A, a)}) and ${b.name} (${at(B, b)})`;
      const pa = a.priority?.value ?? 100;
      const pb = b.priority?.value ?? 100;
      if (pa === pb)
        out.push(
          finding(
            pairElection,
            a.priority ?? a,
            a.state?.value === 'MASTER' && b.state?.value === 'MASTER'
              ? `${w}: both state MASTER at priority ${pa}: both start as MASTER and the one with the higher IP address wins each election, so which director holds the VIP depends on addresses, not on the config`
              : `${w}: equal priority ${pa}: the director with the higher primary IP address wins, whatever the state says`,
            'give the preferred director a higher priority (e.g. 150 and 100)',
            a.state?.value === 'MASTER' && b.state?.value === 'MASTER' ? 'error' : 'warning',
          ),
        );
      if (a.nopreempt && b.nopreempt)
        out.push(finding(pairElection, a.nopreempt, `${w}: both nopreempt: a director that comes back never takes the VIP back, even with the higher priority`, 'keep nopreempt only if staying on the survivor is intended; otherwise remove it from both', 'info'));
      return out;
    }),
};

const vipKey = (v: { address: string; prefix?: number; dev?: string }) => `${v.address.toLowerCase()}/${v.prefix ?? 32}${v.dev ? ` dev ${v.dev}` : ''}`;

export const pairVips: Rule = {
  id: 'pair-vips',
  severity: 'error',
  scope: 'pair',
  summary: 'matched instances with differing VIP sets or prefixes',
  why: 'at failover the new MASTER brings up other addresses (or another prefix, hence other routes) than the old one had',
  check: (files) =>
    eachPair(files, ({ a, b }, A, B) => {
      const ka = new Set(a.virtualIpaddress.map(vipKey));
      const kb = new Set(b.virtualIpaddress.map(vipKey));
      const onlyA = [...ka].filter((k) => !kb.has(k));
      const onlyB = [...kb].filter((k) => !ka.has(k));
      if (!onlyA.length && !onlyB.length) return [];
      return [finding(pairVips, a.virtualIpaddress[0] ?? a, `vrrp_instance ${a.name} (${at(A, a)}) and ${b.name} (${at(B, b)}): VIPs differ: only in ${A.file}: ${onlyA.join(', ') || 'none'}; only in ${B.file}: ${onlyB.join(', ') || 'none'}`, 'list the same addresses, prefixes and devices on both directors')];
    }),
};

export const pairTrackWeight: Rule = {
  id: 'pair-track-weight',
  severity: 'warning',
  scope: 'pair',
  summary: 'a track_script / track_interface weight that cannot move mastership between the two priorities',
  why: 'the MASTER keeps the VIP when what it tracks fails (HAProxy down, link down): the failover the tracking was written for never happens',
  check: (files) =>
    eachPair(files, ({ a, b }, A, B) => {
      const pa = a.priority?.value ?? 100;
      const pb = b.priority?.value ?? 100;
      if (pa === pb) return [];
      const [M, MF, S, SF] = pa > pb ? [a, A, b, B] : [b, B, a, A];
      const pm = Math.max(pa, pb);
      const ps = Math.min(pa, pb);
      const sw = new Map(trackWeights(SF.typed, S).map((w) => [`${w.kind}:${w.name}`, w.weight]));
      return trackWeights(MF.typed, M)
        .filter((w) => w.weight !== 0 && !w.reverse)
        .flatMap((w) => {
          const peerW = Math.max(0, sw.get(`${w.kind}:${w.name}`) ?? 0);
          // on failure: a negative weight lowers the MASTER; a positive one is lost by the MASTER while the BACKUP (tracking the same, healthy) keeps it
          const after = w.weight < 0 ? pm + w.weight : pm;
          const backup = w.weight < 0 ? ps : ps + peerW;
          if (backup > after) return [];
          const arithmetic =
            w.weight < 0
              ? `${pm} − ${-w.weight} = ${after}, still ${after === backup ? 'equal to' : 'above'} the BACKUP's ${backup}`
              : `the MASTER drops from ${pm} + ${w.weight} = ${pm + w.weight} to ${pm}, the BACKUP has ${ps}${peerW ? ` + ${peerW} = ${backup}` : ' (it does not track ' + w.name + ' with a positive weight)'}, still ${after === backup ? 'equal to' : 'below'} ${after}`;
          const need = pm - ps + 1;
          return [
            finding(
              pairTrackWeight,
              w,
              `vrrp_instance ${M.name}: when track_${w.kind} ${w.name} (weight ${w.weight}) fails on the MASTER (${MF.file}, priority ${pm}), ${arithmetic}: ${after === backup ? 'a tie, decided by IP address' : 'the MASTER keeps the VIP'}`,
              w.weight < 0 ? `use weight -${need} or lower (or priorities less than ${-w.weight} apart)` : `use weight ${need} or higher on both directors (or priorities less than ${w.weight} apart)`,
            ),
          ];
        });
    }),
};

function vsKey(v: TVirtualServer) {
  return v.text;
}
function vsSummary(v: TVirtualServer) {
  const rs = v.realServers
    .map((r) => `${r.text} w${r.weight?.value ?? 1}${r.checkers.map((c) => ` ${c.type}`).join('')}`)
    .sort()
    .join(', ');
  return {
    scheduler: v.lbAlgo?.value ?? '(default wlc)',
    'lb_kind': v.lbKind?.value ?? '(default NAT)',
    persistence: v.persistenceTimeout ? `${v.persistenceTimeout.value}s${v.persistenceGranularity ? ` /${v.persistenceGranularity.value}` : ''}` : 'none',
    protocol: v.protocol?.value ?? 'TCP',
    'real servers': rs || 'none',
  };
}

export const pairServices: Rule = {
  id: 'pair-services',
  severity: 'warning',
  scope: 'pair',
  summary: 'virtual_server sets that differ between the directors (scheduler, lb_kind, persistence, real servers, weights, checks)',
  why: 'the service behaves differently after a failover: other servers, another balance, lost persistence',
  check: (files) => {
    const p = both(files);
    if (!p) return [];
    const [A, B] = p;
    const out: Finding[] = [];
    const bMap = new Map(B.typed.virtualServers.map((v) => [vsKey(v), v]));
    const aKeys = new Set(A.typed.virtualServers.map(vsKey));
    for (const v of A.typed.virtualServers) {
      const w = bMap.get(vsKey(v));
      if (!w) {
        out.push(finding(pairServices, v, `virtual_server ${v.text} exists only in ${A.file}: after a failover to ${B.file}'s director the service is gone`, `copy it to ${B.file}`));
        continue;
      }
      const sa = vsSummary(v);
      const sb = vsSummary(w);
      const diffs = (Object.keys(sa) as (keyof typeof sa)[]).filter((k) => sa[k] !== sb[k]).map((k) => `${k}: ${sa[k]} vs ${sb[k]}`);
      if (diffs.length) out.push(finding(pairServices, v, `virtual_server ${v.text} differs from ${B.file}:${w.line}: ${diffs.join('; ')}`, 'make both directors\u2019 virtual_server blocks identical'));
    }
    for (const w of B.typed.virtualServers) if (!aKeys.has(vsKey(w))) out.push(finding(pairServices, w, `virtual_server ${w.text} exists only in ${B.file}: after a failover to ${A.file}'s director the service is gone`, `copy it to ${A.file}`));
    return out;
  },
};

export const pairRules: readonly Rule[] = [pairUnmatched, pairMismatch, pairElection, pairVips, pairTrackWeight, pairServices];
