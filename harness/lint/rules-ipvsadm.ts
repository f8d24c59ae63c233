/**
 * Rules for an operator's ipvsadm rules (`--ipvsadm RULES`: an `ipvsadm -S` save or a script),
 * alone and against the keepalived files linted with them. The rules file is parsed once by
 * harness/ipvs/parse-rules.ts; a line it refuses is one finding and ends the file's checks.
 */
import type { HostSetupStep } from '../ipvs/host-setup.js';
import type { ParsedRules } from '../ipvs/parse-rules.js';
import type { Method, VirtualServiceRule } from '../ipvs/rules.js';
import type { RulesParseError } from '../ipvs/rules-error.js';
import type { TVirtualServer } from '../keepalived/conf/typed.js';
import { drPort, vipNotHeld } from './rules-topology.js';
import { finding, type Finding, type LintedFile, type Severity } from './types.js';

/** One rules file as lint holds it: parsed, or the line the parser refused. */
export interface LintedRules {
  file: string;
  parsed?: ParsedRules;
  error?: RulesParseError;
}

export interface IpvsadmRule {
  id: string;
  severity: Severity;
  summary: string;
  why: string;
  scope: 'ipvsadm';
  /** `confs`: the keepalived files of the same lint run (possibly none) */
  check(rules: LintedRules, confs: readonly LintedFile[]): Finding[];
}

const norm = (a: string) => a.replace(/^\[|\]$/g, '').toLowerCase();
const where = (s: VirtualServiceRule) => (s.fwmark !== undefined ? `-f ${s.fwmark}` : `${s.protocol === 'udp' ? '-u' : s.protocol === 'sctp' ? '--sctp-service' : '-t'} ${s.address}:${s.port}`);
const at = (r: LintedRules, loc?: { file: string; line: number }) => loc ?? { file: r.file, line: 1 };

export const ipvsadmParse: IpvsadmRule = {
  id: 'ipvsadm-parse',
  severity: 'error',
  scope: 'ipvsadm',
  summary: 'a line of the ipvsadm rules that ipvsadm would refuse, or that the parser cannot evaluate',
  why: 'a refused line stops `ipvsadm -R` (and a script run with `set -e`) there: the rules after it are never loaded',
  check: (r) => {
    if (r.error) {
      const why = r.error.message.replace(/^[^:]*:\d+: /, '');
      return [finding(ipvsadmParse, { file: r.file, line: Math.max(1, r.error.line) }, why, r.error.hint ?? 'correct the line as ipvsadm(8) spells it')];
    }
    // a -g/-i port ipvsadm replaced is the dr-port rule's, said there as the error it is
    const drPortLines = new Set((r.parsed?.services ?? []).flatMap((s) => s.realServers.flatMap((rs) => (rs.writtenPort !== undefined && rs.loc ? [`${rs.loc.file}:${rs.loc.line}`] : []))));
    return (r.parsed?.warnings ?? []).filter((w) => !drPortLines.has(`${w.file}:${w.line}`)).map((w) => finding(ipvsadmParse, w, w.message, 'check the line by hand: the parser reads it as described, or could not read it at all', 'warning'));
  },
};

export const ipvsadmDrPort: IpvsadmRule = {
  id: drPort.id,
  severity: drPort.severity,
  scope: 'ipvsadm',
  summary: drPort.summary,
  why: drPort.why,
  check: (r) =>
    (r.parsed?.services ?? []).flatMap((s) =>
      s.fwmark !== undefined
        ? [] // a fwmark service has no port of its own
        : s.realServers.flatMap((rs) => {
            // the parser keeps what ipvsadm loads (the service's port) and the port written beside it
            const written = rs.writtenPort ?? rs.port;
            if ((rs.method !== 'droute' && rs.method !== 'tunnel') || String(written) === String(s.port)) return [];
            const m = rs.method === 'droute' ? 'DR (-g)' : 'TUN (-i)';
            return [finding(ipvsadmDrPort, at(r, rs.loc ?? s.loc), `real server ${rs.address}:${written} of ${where(s)} with ${m}: ${m} cannot change the port, so packets reach ${rs.address} on port ${s.port}, not ${written}`, `make the real server listen on ${s.port} and write -r ${rs.address}:${s.port}, or use NAT (-m) to map ${s.port} to ${written}`)];
          }),
    ),
};

export const ipvsadmVipNotHeld: IpvsadmRule = {
  id: vipNotHeld.id,
  severity: vipNotHeld.severity,
  scope: 'ipvsadm',
  summary: vipNotHeld.summary,
  why: vipNotHeld.why,
  check: (r, confs) => {
    const instances = confs.flatMap((c) => c.typed.vrrpInstances);
    // no keepalived file, or one without VRRP: a single director may serve on its own address
    if (!instances.length) return [];
    const held = new Set(instances.flatMap((i) => [...i.virtualIpaddress, ...i.virtualIpaddressExcluded].map((v) => norm(v.address))));
    return (r.parsed?.services ?? []).flatMap((s) =>
      s.address === undefined || s.hostName || held.has(norm(s.address))
        ? []
        : [finding(ipvsadmVipNotHeld, at(r, s.loc), `${where(s)}: ${s.address} is not a VIP of any vrrp_instance in ${confs.map((c) => c.file).join(', ')} (VIPs: ${[...held].join(', ') || 'none'})`, `add ${s.address} to the virtual_ipaddress of the instance that should carry the service, or correct the address`)],
    );
  },
};

const METHOD: Record<Method, string> = { masq: 'NAT', droute: 'DR', tunnel: 'TUN' };

/** keepalived's service as ipvsadm would key it, with keepalived's defaults filled in. */
function keepalivedKey(vs: TVirtualServer): string | undefined {
  if (vs.kind === 'fwmark' && vs.fwmark !== undefined) return `fwm:${vs.fwmark}`;
  if (vs.kind !== 'address' || !vs.address || vs.port === undefined) return undefined;
  return `${(vs.protocol?.value ?? 'TCP').toLowerCase()}:${norm(vs.address)}:${vs.port}`;
}
const rulesKey = (s: VirtualServiceRule) => (s.fwmark !== undefined ? `fwm:${s.fwmark}` : s.address !== undefined ? `${s.protocol ?? 'tcp'}:${norm(s.address)}:${s.port}` : undefined);

/** The settings that differ, as "what: ipvsadm vs keepalived". */
function differences(s: VirtualServiceRule, vs: TVirtualServer): string[] {
  const out: string[] = [];
  const sched = vs.lbAlgo?.value ?? 'wlc'; // keepalived's default scheduler
  if (sched !== s.scheduler) out.push(`scheduler ${s.scheduler} vs ${sched}`);
  const methods = new Set(s.realServers.map((rs) => METHOD[rs.method]));
  const kind = vs.lbKind?.value ?? 'NAT';
  if (methods.size && (methods.size > 1 || !methods.has(kind))) out.push(`forwarding ${[...methods].join('/')} vs ${kind}`);
  const p = s.persistence ? String(s.persistence.timeout) : 'none';
  const kp = vs.persistenceTimeout ? String(vs.persistenceTimeout.value) : 'none';
  if (p !== kp) out.push(`persistence ${p} vs ${kp}`);
  const rs = (xs: string[]) => xs.sort().join(', ') || 'none';
  const mine = rs(s.realServers.map((x) => `${norm(x.address)}:${x.port} w${x.weight}`));
  const theirs = rs(vs.realServers.map((x) => `${norm(x.address)}:${x.port ?? 0} w${x.weight?.value ?? 1}`));
  if (mine !== theirs) out.push(`real servers ${mine} vs ${theirs}`);
  return out;
}

export const ipvsadmKeepalivedBoth: IpvsadmRule = {
  id: 'ipvsadm-keepalived-both',
  severity: 'error',
  scope: 'ipvsadm',
  summary: 'a service that both the ipvsadm rules and a keepalived virtual_server program (an error when their settings differ)',
  why: 'keepalived\u2019s checker and the ipvsadm rules program the same IPVS service: whichever ran last wins, and keepalived re-adds the real servers its checks pass, so the table drifts from both files',
  check: (r, confs) => {
    const ks = new Map<string, { vs: TVirtualServer; file: string }>();
    for (const c of confs) for (const vs of c.typed.virtualServers) {
      const k = keepalivedKey(vs);
      if (k && !ks.has(k)) ks.set(k, { vs, file: c.file });
    }
    return (r.parsed?.services ?? []).flatMap((s) => {
      const k = rulesKey(s);
      const other = k ? ks.get(k) : undefined;
      if (!other) return [];
      const diff = differences(s, other.vs);
      const there = `virtual_server ${other.vs.text} (${other.vs.file}:${other.vs.line})`;
      return [
        diff.length
          ? finding(ipvsadmKeepalivedBoth, at(r, s.loc), `${where(s)} is also ${there}, with other settings (${diff.join('; ')}): both would program IPVS`, 'choose one owner for the service: drop it from the ipvsadm rules and let keepalived program it, or remove the virtual_server')
          : finding(ipvsadmKeepalivedBoth, at(r, s.loc), `${where(s)} is also ${there}, with the same settings: both would program IPVS`, 'choose one owner for the service: drop it from the ipvsadm rules and let keepalived program it, or remove the virtual_server', 'warning'),
      ];
    });
  },
};

const sysctls = (steps: readonly HostSetupStep[], name: RegExp) => steps.filter((x): x is Extract<HostSetupStep, { kind: 'sysctl' }> => x.kind === 'sysctl' && name.test(x.key));

export const hostSetupMethod: IpvsadmRule = {
  id: 'host-setup-method',
  severity: 'error',
  scope: 'ipvsadm',
  summary: 'host setup in an ipvsadm script that contradicts the role or forwarding method its rules give the host',
  why: 'a script that programs services runs on the director: real-server preparation there (VIP on lo with arp_ignore) hides the VIP from ARP, and ip_forward=0 stops NAT replies',
  check: (r) => {
    const p = r.parsed;
    if (!p || !p.services.length) return []; // not a director's script: real-server setup is what it should contain
    const out: Finding[] = [];
    const vips = new Set(p.services.flatMap((s) => (s.address ? [norm(s.address)] : [])));
    const addrs = p.hostSetup.filter((x): x is Extract<HostSetupStep, { kind: 'address' }> => x.kind === 'address' && vips.has(norm(x.address)));
    const ignore = sysctls(p.hostSetup, /(^|\.)arp_ignore$/).filter((x) => x.value !== '0');
    for (const a of addrs) {
      // the VIP only on lo: with arp_ignore ≥ 1 the director answers no ARP for it, so nothing reaches the service
      if (a.dev !== 'lo' || !ignore.length || addrs.some((b) => norm(b.address) === norm(a.address) && b.dev !== 'lo')) continue;
      out.push(finding(hostSetupMethod, a.loc, `${a.address} is a service address of this script, put on lo while ${ignore[0]!.key}=${ignore[0]!.value} (line ${ignore[0]!.loc.line}): that is a DR real server's preparation, and on the director it means no ARP answer for the VIP`, `put ${a.address} on the director's public interface (ip addr add ${a.address}/32 dev eth0), and keep lo and arp_ignore for the real servers' script`));
    }
    const nat = p.services.some((s) => s.realServers.some((rs) => rs.method === 'masq'));
    for (const f of sysctls(p.hostSetup, /(^|\.)(ip_forward|forwarding)$/))
      if (nat && f.value === '0')
        out.push(finding(hostSetupMethod, f.loc, `${f.key}=0 on a director with NAT (-m) real servers: the replies the director must rewrite and forward are dropped`, `set ${f.key}=1 on a NAT director`));
    return out;
  },
};

export const ipvsadmRules: readonly IpvsadmRule[] = [ipvsadmParse, ipvsadmDrPort, ipvsadmVipNotHeld, ipvsadmKeepalivedBoth, hostSetupMethod];
