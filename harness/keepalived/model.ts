/**
 * keepalived.conf as data: the parts the harness configures on its directors (VRRP pairs
 * guarding the VIPs, and the virtual servers keepalived keeps in IPVS with health checks).
 * Syntax and limits are those of keepalived 2.2.x as Debian bookworm ships it (2.2.7), from
 * keepalived.conf(5) and the 2.2.7 parsers. Times are seconds, as keepalived reads them.
 */
import { HarnessError } from '../errors.js';
import { isIPv6, type Scheduler } from '../ipvs/rules.js';

/**
 * A program keepalived runs. A string is a command line that keepalived splits on whitespace
 * itself; an array is the exact argv, quoted on rendering so that each element stays one argument.
 */
export type Command = string | readonly string[];

export interface GarpSettings {
  /** vrrp_garp_master_delay: seconds before the second burst after becoming MASTER (0: none; keepalived's default 5) */
  masterDelay?: number;
  /** vrrp_garp_master_repeat: gratuitous ARPs per burst (default 5) */
  masterRepeat?: number;
  /** vrrp_garp_master_refresh: seconds between refreshes while MASTER (default 0: none) */
  masterRefresh?: number;
  /** vrrp_garp_master_refresh_repeat (default 1) */
  masterRefreshRepeat?: number;
  /** vrrp_garp_interval: seconds between the ARPs of one burst (default 0) */
  interval?: number;
}

/**
 * The IPVS connection-synchronisation daemon. keepalived reads it in global_defs; tied to a VRRP
 * instance, the MASTER runs the sync master and every other director the sync backup.
 */
export interface LvsSyncDaemon {
  interface: string;
  /** the vrrp_instance whose state decides master/backup; without one both daemons run */
  instance?: string;
  /** syncid 0-255; keepalived defaults it to the instance's virtual_router_id */
  syncId?: number;
}

export interface GlobalDefs {
  routerId?: string;
  /**
   * The user scripts run as. Without it keepalived wants a `keepalived_script` user. Note:
   * keepalived 2.2.7's config test (`-t`) kills itself with SIGTERM when it checks a script
   * under a uid other than its own, so configs that must pass `keepalived -t` use root.
   */
  scriptUser?: { user: string; group?: string };
  /** without it, keepalived 2.2.7 reports a SECURITY VIOLATION (config test exit 6) as soon as any script is configured */
  enableScriptSecurity?: boolean;
  garp?: GarpSettings;
  lvsSyncDaemon?: LvsSyncDaemon;
}

/** A tracking script: run every `interval` s; its exit status moves the priority by `weight`, or faults the instance when weight is 0. */
export interface VrrpScript {
  name: string;
  script: Command;
  /** whole seconds (keepalived 2.2.7 reads an integer; default 1) */
  interval?: number;
  /** whole seconds after which a running script counts as failed */
  timeout?: number;
  /** -253..253; 0 (the default) puts tracking instances in FAULT instead */
  weight?: number;
  rise?: number;
  fall?: number;
}

export interface VirtualIp {
  address: string;
  prefix?: number;
  dev?: string;
  label?: string;
}

export interface TrackScript {
  /** the vrrp_script's name */
  name: string;
  /** overrides the script's own weight for this instance */
  weight?: number;
}

/** notify_master/backup/fault/stop, and `notify` (called for every change with: INSTANCE|GROUP name state priority). */
export interface NotifyScripts {
  master?: Command;
  backup?: Command;
  fault?: Command;
  stop?: Command;
  all?: Command;
}

export interface VrrpInstance {
  name: string;
  state: 'MASTER' | 'BACKUP';
  interface: string;
  virtualRouterId: number;
  /** 1..255; 255 is the address owner */
  priority: number;
  /** seconds; VRRPv2 only whole seconds, VRRPv3 in steps of 10 ms (e.g. 0.2). Default 1 */
  advertInt?: number;
  /** default 2; IPv6 instances must be 3 */
  version?: 2 | 3;
  /** VRRPv2 only; RFC 3768 removed it, keepalived still supports it */
  authentication?: { type: 'PASS' | 'AH'; pass: string };
  virtualIpaddress: VirtualIp[];
  /** needs state BACKUP: keepalived clears it on a MASTER instance */
  nopreempt?: boolean;
  /** seconds 0..1000; needs state BACKUP and preemption */
  preemptDelay?: number;
  unicastSrcIp?: string;
  unicastPeers?: string[];
  trackScripts?: TrackScript[];
  notify?: NotifyScripts;
}

interface CheckTiming {
  /** seconds keepalived waits for the connection (and, for HTTP_GET, for each read); default 5 */
  connectTimeout?: number;
  /** extra attempts before a failing server is declared down; default 1 (MISC_CHECK 0) */
  retry?: number;
  /** seconds between those attempts; default 1 (HTTP_GET 3) */
  delayBeforeRetry?: number;
}

export interface TcpCheck extends CheckTiming {
  type: 'TCP_CHECK';
  connectPort?: number;
}

export interface HttpGetCheck extends CheckTiming {
  type: 'HTTP_GET';
  url: { path: string; statusCode?: number };
  connectPort?: number;
}

export interface MiscCheck {
  type: 'MISC_CHECK';
  miscPath: Command;
  /** whole seconds; without it the script may run for delay_loop */
  miscTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
}

export interface PingCheck extends CheckTiming {
  type: 'PING_CHECK';
}

export type HealthCheck = TcpCheck | HttpGetCheck | MiscCheck | PingCheck;

export interface RealServer {
  address: string;
  /** required unless the virtual server is a firewall mark */
  port?: number;
  /** default 1 */
  weight?: number;
  /** on failure keep the server in IPVS with weight 0 instead of removing it */
  inhibitOnFailure?: boolean;
  check: HealthCheck;
}

export type LbKind = 'NAT' | 'DR' | 'TUN';

interface VirtualServerCommon {
  /** seconds between health checks of each real server; keepalived's default 60 */
  delayLoop?: number;
  /** rendered as lvs_sched (lb_algo is its older alias) */
  lbAlgo: Scheduler;
  /** rendered as lvs_method (lb_kind is its older alias) */
  lbKind: LbKind;
  /** whole seconds */
  persistenceTimeout?: number;
  realServers: RealServer[];
}

/** An address service has a protocol; a firewall-mark service has none (keepalived warns that it ignores one). */
export type VirtualServer = VirtualServerCommon &
  ({ vip: string; port: number; protocol: 'TCP' | 'UDP'; fwmark?: undefined } | { fwmark: number; vip?: undefined; port?: undefined; protocol?: undefined });

export interface KeepalivedConfig {
  globalDefs?: GlobalDefs;
  vrrpScripts?: VrrpScript[];
  vrrpInstances?: VrrpInstance[];
  virtualServers?: VirtualServer[];
}

/** The argv keepalived will run for a command (a string splits on whitespace, as keepalived splits it). */
export const commandArgv = (c: Command): string[] => (typeof c === 'string' ? c.trim().split(/\s+/).filter(Boolean) : [...c]);

const commandsOf = (c: KeepalivedConfig): Command[] => [
  ...(c.vrrpScripts ?? []).map((s) => s.script),
  ...(c.vrrpInstances ?? []).flatMap((i) => Object.values(i.notify ?? {}).filter((x): x is Command => x !== undefined)),
  ...(c.virtualServers ?? []).flatMap((vs) => vs.realServers.flatMap((rs) => (rs.check.type === 'MISC_CHECK' ? [rs.check.miscPath] : []))),
];

/** Every program the config runs (argv[0], sorted): the node must have them, root-owned, before keepalived starts. */
export function referencedScripts(c: KeepalivedConfig): string[] {
  return [...new Set(commandsOf(c).map((x) => commandArgv(x)[0]).filter((x): x is string => !!x))].sort();
}

/** Every interface the config names (sorted): keepalived refuses to start VRRP when one is missing. */
export function referencedInterfaces(c: KeepalivedConfig): string[] {
  const out = new Set<string>();
  if (c.globalDefs?.lvsSyncDaemon) out.add(c.globalDefs.lvsSyncDaemon.interface);
  for (const i of c.vrrpInstances ?? []) {
    out.add(i.interface);
    for (const v of i.virtualIpaddress) if (v.dev) out.add(v.dev);
  }
  return [...out].sort();
}

const TOKEN = /^[A-Za-z0-9_.:@/+-]+$/;
const isInt = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;
const isTime = (n: number, min = 0) => Number.isFinite(n) && n >= min && n <= 2_147_483;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isAddress = (a: string) => (IPV4.test(a) ? a.split('.').every((o) => Number(o) <= 255) : /^[0-9a-fA-F:]+(%[A-Za-z0-9_.-]+)?$/.test(a) && a.includes(':'));
// keepalived expands $NAME and ${NAME} when NAME is a defined parameter; keep rendered text literal
const EXPANDS = /\$[{A-Za-z_]/;

function checkCommand(where: string, c: Command, out: string[]): void {
  const argv = commandArgv(c);
  if (!argv.length || !argv[0]) out.push(`${where}: empty command`);
  else if (!argv[0].startsWith('/')) out.push(`${where}: ${argv[0]} is not an absolute path (keepalived searches PATH and warns; script security wants a full path)`);
  for (const a of argv) {
    if (/[\n\r\0]/.test(a)) out.push(`${where}: argument ${JSON.stringify(a)} holds a line break or NUL`);
    if (EXPANDS.test(a)) out.push(`${where}: argument ${JSON.stringify(a)} holds $NAME, which keepalived expands as a config parameter`);
  }
  if (typeof c === 'string' && /["'\\]/.test(c)) out.push(`${where}: quotes or backslashes in a command line; give the argv as an array`);
}

function checkTiming(where: string, t: { connectTimeout?: number; retry?: number; delayBeforeRetry?: number }, out: string[]): void {
  if (t.connectTimeout !== undefined && !isTime(t.connectTimeout, 0.000001)) out.push(`${where}: connect_timeout ${t.connectTimeout} must be a positive number of seconds`);
  if (t.retry !== undefined && !isInt(t.retry, 0, 2 ** 31)) out.push(`${where}: retry ${t.retry} must be a whole number ≥ 0`);
  if (t.delayBeforeRetry !== undefined && !isTime(t.delayBeforeRetry)) out.push(`${where}: delay_before_retry ${t.delayBeforeRetry} must be seconds ≥ 0`);
}

/**
 * What keepalived 2.2.7 would reject, or silently change, in a config: each problem names where it
 * is. An empty list means the config says what it means; `keepalived -t` on the node is the final word.
 */
export function validateKeepalivedConfig(c: KeepalivedConfig): string[] {
  const out: string[] = [];
  const g = c.globalDefs ?? {};
  if (g.routerId !== undefined && !TOKEN.test(g.routerId)) out.push(`global_defs: router_id ${JSON.stringify(g.routerId)} must be one word`);
  if (g.scriptUser && (!TOKEN.test(g.scriptUser.user) || (g.scriptUser.group !== undefined && !TOKEN.test(g.scriptUser.group)))) out.push('global_defs: script_user must be a user name (and group name)');
  for (const [k, v] of Object.entries(g.garp ?? {})) if (v !== undefined && !isTime(v)) out.push(`global_defs: garp ${k} ${v} must be ≥ 0`);
  if (g.garp?.masterRepeat !== undefined && !isInt(g.garp.masterRepeat, 1, 2 ** 31)) out.push('global_defs: vrrp_garp_master_repeat must be a whole number ≥ 1');
  if (g.garp?.masterRefreshRepeat !== undefined && !isInt(g.garp.masterRefreshRepeat, 1, 2 ** 31)) out.push('global_defs: vrrp_garp_master_refresh_repeat must be a whole number ≥ 1');

  const scripts = new Set<string>();
  for (const s of c.vrrpScripts ?? []) {
    const w = `vrrp_script ${s.name}`;
    if (!TOKEN.test(s.name)) out.push(`${w}: the name must be one word`);
    if (scripts.has(s.name)) out.push(`${w}: defined twice`);
    scripts.add(s.name);
    checkCommand(w, s.script, out);
    if (s.interval !== undefined && !isInt(s.interval, 1, 2 ** 31)) out.push(`${w}: interval ${s.interval} must be whole seconds ≥ 1 (keepalived 2.2.7 reads an integer)`);
    if (s.timeout !== undefined && !isInt(s.timeout, 1, 2 ** 31)) out.push(`${w}: timeout ${s.timeout} must be whole seconds ≥ 1`);
    if (s.weight !== undefined && !isInt(s.weight, -253, 253)) out.push(`${w}: weight ${s.weight} must be within -253..253`);
    if (s.rise !== undefined && !isInt(s.rise, 1, 2 ** 31)) out.push(`${w}: rise must be ≥ 1`);
    if (s.fall !== undefined && !isInt(s.fall, 1, 2 ** 31)) out.push(`${w}: fall must be ≥ 1`);
  }

  const instances = new Set<string>();
  for (const i of c.vrrpInstances ?? []) {
    const w = `vrrp_instance ${i.name}`;
    const version = i.version ?? 2;
    const adv = i.advertInt ?? 1;
    if (!TOKEN.test(i.name)) out.push(`${w}: the name must be one word`);
    if (instances.has(i.name)) out.push(`${w}: defined twice`);
    instances.add(i.name);
    if (!TOKEN.test(i.interface)) out.push(`${w}: interface must be one word`);
    if (!isInt(i.virtualRouterId, 1, 255)) out.push(`${w}: virtual_router_id ${i.virtualRouterId} must be within 1..255`);
    if (!isInt(i.priority, 1, 255)) out.push(`${w}: priority ${i.priority} must be within 1..255`);
    if (version === 2 && !isInt(adv, 1, 255)) out.push(`${w}: VRRPv2 advert_int ${adv} must be whole seconds 1..255 (keepalived rounds it)`);
    if (version === 3 && !(adv > 0 && adv < 40.96 && Math.abs(adv * 100 - Math.round(adv * 100)) < 1e-9)) out.push(`${w}: VRRPv3 advert_int ${adv} must be a multiple of 0.01 s below 40.96 s (keepalived rounds it)`);
    if (i.authentication) {
      if (version === 3) out.push(`${w}: VRRPv3 has no authentication`);
      if (!i.authentication.pass || !TOKEN.test(i.authentication.pass)) out.push(`${w}: auth_pass must be one non-empty word`);
      else if (i.authentication.pass.length > 8) out.push(`${w}: auth_pass is longer than 8 characters; keepalived uses only the first 8`);
    }
    if (!i.virtualIpaddress.length) out.push(`${w}: no virtual_ipaddress`);
    const families = new Set(i.virtualIpaddress.map((v) => isIPv6(v.address)));
    if (families.size > 1) out.push(`${w}: virtual_ipaddress mixes IPv4 and IPv6 (keepalived needs one family per instance)`);
    if (families.has(true) && version === 2) out.push(`${w}: IPv6 VIPs need VRRP version 3`);
    for (const v of i.virtualIpaddress) {
      if (!isAddress(v.address)) out.push(`${w}: ${v.address} is not an IP address`);
      if (v.prefix !== undefined && !isInt(v.prefix, 0, isIPv6(v.address) ? 128 : 32)) out.push(`${w}: prefix /${v.prefix} out of range for ${v.address}`);
      if (v.dev !== undefined && !TOKEN.test(v.dev)) out.push(`${w}: dev of ${v.address} must be one word`);
      if (v.label !== undefined && !TOKEN.test(v.label)) out.push(`${w}: label of ${v.address} must be one word`);
    }
    if (i.nopreempt && i.state === 'MASTER') out.push(`${w}: nopreempt needs state BACKUP (keepalived clears it on a MASTER instance)`);
    if (i.preemptDelay !== undefined) {
      if (!isTime(i.preemptDelay) || i.preemptDelay > 1000) out.push(`${w}: preempt_delay ${i.preemptDelay} must be within 0..1000 s`);
      if (i.state === 'MASTER') out.push(`${w}: preempt_delay needs state BACKUP (keepalived clears it on a MASTER instance)`);
      if (i.nopreempt) out.push(`${w}: preempt_delay and nopreempt exclude each other`);
    }
    if (i.unicastSrcIp !== undefined && !isAddress(i.unicastSrcIp)) out.push(`${w}: unicast_src_ip ${i.unicastSrcIp} is not an IP address`);
    for (const p of i.unicastPeers ?? []) if (!isAddress(p)) out.push(`${w}: unicast peer ${p} is not an IP address`);
    if (i.unicastPeers && !i.unicastPeers.length) out.push(`${w}: an empty unicast_peer list makes keepalived fall back to multicast`);
    for (const t of i.trackScripts ?? []) {
      if (!scripts.has(t.name)) out.push(`${w}: track_script ${t.name} is not a vrrp_script`);
      if (t.weight !== undefined && !isInt(t.weight, -253, 253)) out.push(`${w}: track_script ${t.name} weight ${t.weight} must be within -253..253`);
    }
    for (const [k, cmd] of Object.entries(i.notify ?? {})) if (cmd !== undefined) checkCommand(`${w}: notify${k === 'all' ? '' : `_${k}`}`, cmd, out);
  }
  const rids = (c.vrrpInstances ?? []).map((i) => `${i.interface}/${i.virtualRouterId}/${i.virtualIpaddress.some((v) => isIPv6(v.address)) ? 6 : 4}`);
  for (const r of new Set(rids)) if (rids.filter((x) => x === r).length > 1) out.push(`virtual_router_id ${r.split('/')[1]} is used twice on ${r.split('/')[0]}`);

  const sync = g.lvsSyncDaemon;
  if (sync) {
    if (!TOKEN.test(sync.interface)) out.push('lvs_sync_daemon: interface must be one word');
    if (sync.instance !== undefined && !instances.has(sync.instance)) out.push(`lvs_sync_daemon: ${sync.instance} is not a vrrp_instance`);
    if (sync.syncId !== undefined && !isInt(sync.syncId, 0, 255)) out.push(`lvs_sync_daemon: id ${sync.syncId} must be within 0..255`);
  }

  for (const vs of c.virtualServers ?? []) {
    const w = vs.fwmark !== undefined ? `virtual_server fwmark ${vs.fwmark}` : `virtual_server ${vs.vip} ${vs.port}`;
    if (vs.fwmark !== undefined) {
      if (!isInt(vs.fwmark, 1, 2 ** 32 - 1)) out.push(`${w}: fwmark must be a whole number ≥ 1`);
    } else {
      if (!isAddress(vs.vip)) out.push(`${w}: ${vs.vip} is not an IP address`);
      if (!isInt(vs.port, 1, 65535)) out.push(`${w}: port must be within 1..65535`);
    }
    if (vs.delayLoop !== undefined && !isTime(vs.delayLoop, 0.000001)) out.push(`${w}: delay_loop must be a positive number of seconds`);
    if (vs.persistenceTimeout !== undefined && !isInt(vs.persistenceTimeout, 1, 2 ** 31)) out.push(`${w}: persistence_timeout must be whole seconds ≥ 1`);
    const seen = new Set<string>();
    for (const rs of vs.realServers) {
      const rw = `${w}: real_server ${rs.address}${rs.port !== undefined ? ` ${rs.port}` : ''}`;
      const key = `${rs.address}:${rs.port ?? 0}`;
      if (seen.has(key)) out.push(`${rw}: listed twice`);
      seen.add(key);
      if (!isAddress(rs.address)) out.push(`${rw}: not an IP address`);
      if (vs.fwmark === undefined && rs.port === undefined) out.push(`${rw}: needs a port (only firewall-mark services may leave it out)`);
      if (rs.port !== undefined && !isInt(rs.port, 1, 65535)) out.push(`${rw}: port must be within 1..65535`);
      if (vs.vip !== undefined && vs.lbKind !== 'TUN' && isIPv6(rs.address) !== isIPv6(vs.vip)) out.push(`${rw}: address family differs from the VIP's (only tunnelled servers may)`);
      if (rs.weight !== undefined && !isInt(rs.weight, 0, 2 ** 31 - 1)) out.push(`${rw}: weight must be a whole number ≥ 0`);
      const ck = rs.check;
      const cw = `${rw}: ${ck.type}`;
      if (ck.type === 'MISC_CHECK') {
        checkCommand(cw, ck.miscPath, out);
        if (ck.miscTimeout !== undefined && !isInt(ck.miscTimeout, 1, 2 ** 31)) out.push(`${cw}: misc_timeout must be whole seconds ≥ 1`);
        checkTiming(cw, ck, out);
      } else {
        checkTiming(cw, ck, out);
        if (ck.type !== 'PING_CHECK' && ck.connectPort !== undefined && !isInt(ck.connectPort, 1, 65535)) out.push(`${cw}: connect_port must be within 1..65535`);
        if (ck.type !== 'PING_CHECK' && ck.connectPort === undefined && rs.port === undefined) out.push(`${cw}: needs connect_port, as the real server has no port`);
        if (ck.type === 'HTTP_GET') {
          if (!ck.url.path.startsWith('/') || !/^[\x21-\x7e]+$/.test(ck.url.path) || EXPANDS.test(ck.url.path)) out.push(`${cw}: url path ${JSON.stringify(ck.url.path)} must start with / and hold no spaces`);
          if (ck.url.statusCode !== undefined && !isInt(ck.url.statusCode, 100, 599)) out.push(`${cw}: status_code ${ck.url.statusCode} is not an HTTP status`);
        }
      }
    }
  }

  const usesScripts = commandsOf(c).length > 0;
  if (usesScripts && !g.enableScriptSecurity) out.push('global_defs: scripts are configured without enable_script_security (keepalived reports a SECURITY VIOLATION)');
  return out;
}

export const errKeepalivedConfig = (problems: readonly string[]) =>
  new HarnessError('ERR_LVS_KEEPALIVED_CONFIG', `the keepalived model is not a valid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, {
    hint: 'fix the model (the topology or the suite that built it); each line names the block at fault',
    details: { problems },
  });
