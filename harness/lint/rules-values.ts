/**
 * Rules on values keepalived accepts but changes: compared case-sensitively, truncated, cut at a
 * comment character, rounded, or cleared because another setting excludes them. Each message
 * says what keepalived 2.2.7 does instead (read from its parsers and vrrp.c's instance checks).
 */
import type { At, TVrrpInstance, TypedConf } from '../keepalived/conf/typed.js';
import { finding, type Finding, type LintedFile, type Rule } from './types.js';

/** The VRRP version keepalived gives an instance: its own `version`, else global_defs vrrp_version, else 2. */
export const versionOf = (t: TypedConf, i: TVrrpInstance): number => {
  const v = i.version?.value ?? t.globalDefs?.vrrpVersion?.value;
  return v === 3 ? 3 : 2;
};
export const strictOf = (t: TypedConf, i: TVrrpInstance): boolean => i.strictMode?.value ?? !!t.globalDefs?.vrrpStrict;

export const lbKindCase: Rule = {
  id: 'lb-kind-case',
  severity: 'error',
  scope: 'file',
  summary: 'lb_kind / lvs_method other than exactly NAT, DR or TUN (e.g. `dr`)',
  why: 'keepalived compares case-sensitively; `dr` is an unknown routing method and the service falls back to NAT',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.virtualServers.flatMap((vs) => {
        const out: Finding[] = [];
        const bad = (a: At<string> | undefined, what: string) => {
          if (!a || ['NAT', 'DR', 'TUN'].includes(a.value)) return;
          const meant = a.value.toUpperCase();
          out.push(
            finding(
              lbKindCase,
              a,
              `${what} "${a.value}" is not NAT, DR or TUN: keepalived ${f.typed.release} compares case-sensitively, logs "PARSER : unknown [${a.value}] routing method" and leaves the method unset, and then sets the default NAT ("no forwarding method set, setting default NAT")${['DR', 'TUN'].includes(meant) ? `: the service runs as NAT, not ${meant}` : ''}`,
              ['NAT', 'DR', 'TUN'].includes(meant) ? `write ${meant}` : 'write NAT, DR or TUN',
            ),
          );
        };
        bad(vs.lbKind, `virtual_server ${vs.text}: lb_kind`);
        for (const rs of vs.realServers) bad(rs.lvsMethod, `real_server ${rs.text}: lvs_method`);
        return out;
      }),
    ),
};

const int = (a: At<number> | undefined, min: number, max: number) => !a || (Number.isInteger(a.value) && a.value >= min && a.value <= max);

export const badValue: Rule = {
  id: 'bad-value',
  severity: 'error',
  scope: 'file',
  summary: 'a value keepalived refuses or replaces: state other than MASTER/BACKUP, auth_type other than PASS/AH, virtual_router_id or priority out of range, a number that is not one',
  why: 'keepalived logs the error and uses its default instead (BACKUP, no authentication, …), so the director does not behave as written',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        const out: Finding[] = [];
        const w = `vrrp_instance ${i.name}`;
        if (i.state && !['MASTER', 'BACKUP'].includes(i.state.value))
          out.push(finding(badValue, i.state, `${w}: state "${i.state.value}" is not MASTER or BACKUP (case-sensitive): keepalived logs "unknown state" and starts the instance as BACKUP`, `write ${['MASTER', 'BACKUP'].includes(i.state.value.toUpperCase()) ? i.state.value.toUpperCase() : 'MASTER or BACKUP'}`));
        if (i.authentication?.type && !['PASS', 'AH'].includes(i.authentication.type.value))
          out.push(finding(badValue, i.authentication.type, `${w}: auth_type "${i.authentication.type.value}" is not PASS or AH (case-sensitive): keepalived logs "unknown authentication type" and sends adverts without authentication, which a peer with PASS drops`, 'write PASS (or remove the authentication block on both directors)'));
        if (!int(i.virtualRouterId, 1, 255)) out.push(finding(badValue, i.virtualRouterId!, `${w}: virtual_router_id "${i.virtualRouterId!.text}" is not within 1..255: keepalived refuses the instance`, 'use a whole number 1..255, the same on both directors and unique on the segment'));
        if (!int(i.priority, 1, 255)) out.push(finding(badValue, i.priority!, `${w}: priority "${i.priority!.text}" is not within 1..255: keepalived ignores it and uses 100`, 'use a whole number 1..254 (255 only for the address owner)'));
        if (i.advertInt && !(i.advertInt.value > 0)) out.push(finding(badValue, i.advertInt, `${w}: advert_int "${i.advertInt.text}" is not a positive number: keepalived ignores it and uses 1 s`, 'use a positive number of seconds'));
        return out;
      }),
    ),
};

/** The raw text after `keyword` on its line, as written (before the grammar dropped a comment). */
function rawRest(f: LintedFile, at: { file: string; line: number }, keyword: string): string | undefined {
  const raw = f.source(at.file, at.line);
  const k = raw?.indexOf(keyword);
  return raw === undefined || k === undefined || k < 0 ? undefined : raw.slice(k + keyword.length).trim();
}

export const authPass: Rule = {
  id: 'auth-pass',
  severity: 'warning',
  scope: 'file',
  summary: 'auth_pass longer than 8 characters (truncated) or cut short by `!` / `#` (a comment to keepalived)',
  why: 'keepalived uses only the first 8 characters and ends the line at `!` or `#`; a peer written differently (quoted, or another tail) then fails authentication: both directors become MASTER',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        const p = i.authentication?.pass;
        if (!p) return [];
        const out: Finding[] = [];
        const rest = rawRest(f, p, 'auth_pass');
        const quoted = rest?.startsWith('"');
        if (rest !== undefined && !quoted && rest !== p.value && /^[^\s]*[!#]/.test(rest))
          out.push(
            finding(
              authPass,
              p,
              `vrrp_instance ${i.name}: auth_pass "${rest.split(/\s+/)[0]}" is cut at the comment character: keepalived's password is "${p.value}"`,
              'use a password of letters and digits only (up to 8), identical on both directors',
              'error',
            ),
          );
        if (p.value.length > 8)
          out.push(finding(authPass, p, `vrrp_instance ${i.name}: auth_pass "${p.value}" has ${p.value.length} characters: keepalived logs "Truncating auth_pass to 8 characters" and uses "${p.value.slice(0, 8)}"`, `write auth_pass ${p.value.slice(0, 8)} on both directors, so the file says what runs`));
        return out;
      }),
    ),
};

export const advertIntFraction: Rule = {
  id: 'advert-int-fraction',
  severity: 'warning',
  scope: 'file',
  summary: 'a fractional advert_int under VRRPv2',
  why: 'VRRPv2 carries whole seconds: keepalived rounds the interval, so failover timing is not what the file says',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        const a = i.advertInt;
        if (!a || !(a.value > 0) || Number.isInteger(a.value) || versionOf(f.typed, i) !== 2) return [];
        const rounded = Math.max(1, Math.round(a.value));
        return [finding(advertIntFraction, a, `vrrp_instance ${i.name}: advert_int ${a.text} under VRRPv2: keepalived logs "VRRPv2 advertisement interval … must be an integer. rounding" and advertises every ${rounded} s`, `write advert_int ${rounded}, or set version 3 (on both directors) for sub-second adverts`)];
      }),
    ),
};

export const preemptMaster: Rule = {
  id: 'nopreempt-master',
  severity: 'warning',
  scope: 'file',
  summary: 'nopreempt or preempt_delay on an instance with state MASTER',
  why: 'keepalived clears both on a MASTER instance ("nopreempt will not work with initial state MASTER - clearing"): this director takes the VIP back when it returns',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        if (i.state?.value !== 'MASTER') return [];
        const out: Finding[] = [];
        if (i.nopreempt) out.push(finding(preemptMaster, i.nopreempt, `vrrp_instance ${i.name}: nopreempt with state MASTER: keepalived clears nopreempt, so this director preempts when it comes back`, 'set state BACKUP on both directors (the priorities still choose the first MASTER)'));
        if (i.preemptDelay) out.push(finding(preemptMaster, i.preemptDelay, `vrrp_instance ${i.name}: preempt_delay with state MASTER: keepalived clears it, so this director preempts at once when it comes back`, 'set state BACKUP for preempt_delay to apply'));
        return out;
      }),
    ),
};

export const vrrpStrict: Rule = {
  id: 'vrrp-strict',
  severity: 'warning',
  scope: 'file',
  summary: 'vrrp_strict (or strict_mode) and what it implies: no accept mode, no authentication, no unicast, no preempt_delay, MASTER only at priority 255',
  why: 'strict mode makes keepalived install firewall rules that drop traffic addressed to the VIPs unless accept mode is on, and it silently resets settings RFC 3768/5798 forbid',
  check: (files) =>
    files.flatMap((f) =>
      f.typed.vrrpInstances.flatMap((i) => {
        if (!strictOf(f.typed, i)) return [];
        const at = i.strictMode ?? f.typed.globalDefs?.vrrpStrict ?? i;
        const w = `vrrp_instance ${i.name}`;
        const out: Finding[] = [];
        const v2 = versionOf(f.typed, i) === 2;
        const owner = i.priority?.value === 255;
        if (!owner && (!i.accept || v2))
          out.push(
            finding(
              vrrpStrict,
              i.accept && v2 ? i.accept : at,
              i.accept && v2
                ? `${w}: accept under vrrp_strict with VRRPv2: keepalived resets it ("accept mode for VRRP version 2 does not comply with RFC3768 - resetting") and drops traffic addressed to the VIPs`
                : `${w}: vrrp_strict without accept: keepalived runs the instance in no_accept mode and installs firewall (nftables/iptables) rules that drop packets addressed to its VIPs; services on the VIP (a virtual_server too) get no traffic and the VIP does not answer ping`,
              v2 ? 'remove vrrp_strict, or use version 3 with accept' : 'add accept to the instance, or remove vrrp_strict',
            ),
          );
        if (i.authentication) out.push(finding(vrrpStrict, i.authentication, `${w}: authentication under vrrp_strict: keepalived ignores it ("Strict mode does not support authentication")`, 'remove the authentication block, or vrrp_strict'));
        if (i.unicastPeer) out.push(finding(vrrpStrict, i.unicastPeer, `${w}: unicast_peer under vrrp_strict: keepalived refuses unicast on a multicast-capable interface ("Unicast peers are not supported in strict mode")`, 'remove vrrp_strict to use unicast'));
        if (i.preemptDelay) out.push(finding(vrrpStrict, i.preemptDelay, `${w}: preempt_delay under vrrp_strict: keepalived resets it to 0`, 'remove preempt_delay or vrrp_strict'));
        if (i.state?.value === 'MASTER' && !owner) out.push(finding(vrrpStrict, i.state, `${w}: state MASTER under vrrp_strict without priority 255: keepalived starts it as BACKUP ("State MASTER must match being address owner")`, 'use state BACKUP, or remove vrrp_strict'));
        return out;
      }),
    ),
};

export const valueRules: readonly Rule[] = [lbKindCase, badValue, authPass, advertIntFraction, preemptMaster, vrrpStrict];
