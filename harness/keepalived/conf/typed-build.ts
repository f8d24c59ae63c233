/**
 * From keepalived's reading of a config (reading.ts) to the typed model (typed.ts). Only the
 * keywords keepalived knows where they stand contribute; the unknown ones come along as located
 * items. Never throws: a value that does not parse is kept as text with a NaN value.
 */
import type { Loc, ParsedConf } from './ast.js';
import type { KeywordLifecycle } from '../releases.js';
import { DEFAULT_RELEASE, type KeepalivedRelease } from './keywords.js';
import { readAsKeepalived, type Reading, type ReadNode } from './reading.js';
import type { At, CheckerType, Flag, TChecker, TGlobalDefs, TNotify, TRealServer, TSyncGroup, TTiming, TTrack, TVip, TVirtualServer, TVrrpInstance, TVrrpScript, TVsGroup, TypedConf } from './typed.js';
import { CHECKER_TYPES } from './typed.js';

const loc = (n: Loc): Loc => ({ file: n.file, line: n.line });
const flag = (n: ReadNode): Flag => loc(n);
const text = (n: ReadNode) => n.args.join(' ');
const known = (n: ReadNode) => !n.unknown;
/** keepalived reads numbers with strtod/strtoul on the whole word: anything else is not a number */
const toNum = (s: string | undefined) => (s !== undefined && /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : NaN);
const str = (n: ReadNode): At<string> => ({ ...loc(n), value: n.args[0] ?? '', text: text(n) });
const num = (n: ReadNode): At<number> => ({ ...loc(n), value: toNum(n.args[0]), text: text(n) });

/** Each known child in order; a later occurrence of a keyword overrides an earlier one, as keepalived's handlers do. */
function each(n: ReadNode, fn: Record<string, (c: ReadNode) => void>): void {
  for (const c of n.children ?? []) if (known(c)) fn[c.keyword]?.(c);
}

function timing(t: TTiming): Record<string, (c: ReadNode) => void> {
  return {
    delay_loop: (c) => (t.delayLoop = num(c)),
    connect_timeout: (c) => (t.connectTimeout = num(c)),
    retry: (c) => (t.retry = num(c)),
    delay_before_retry: (c) => (t.delayBeforeRetry = num(c)),
    warmup: (c) => (t.warmup = num(c)),
  };
}

function notifyHandlers(out: TNotify): Record<string, (c: ReadNode) => void> {
  return {
    notify: (c) => (out.all = str(c)),
    notify_master: (c) => (out.master = str(c)),
    notify_backup: (c) => (out.backup = str(c)),
    notify_fault: (c) => (out.fault = str(c)),
    notify_stop: (c) => (out.stop = str(c)),
    notify_deleted: (c) => (out.deleted = str(c)),
    notify_master_rx_lower_pri: (c) => (out.masterRxLowerPri = str(c)),
  };
}
/** a notify script is the whole rest of the line (quoted or not) */
const fixNotify = (n: TNotify) => {
  for (const v of Object.values(n)) if (v) v.value = v.text;
};

/** `NAME [weight N [reverse]]` lines of track_script / track_interface. */
function tracks(n: ReadNode): TTrack[] {
  return (n.children ?? []).map((c) => {
    const w = c.args.indexOf('weight');
    const weight = w >= 0 ? toNum(c.args[w + 1]) : undefined;
    return { ...loc(c), name: c.keyword, text: [c.keyword, ...c.args].join(' '), ...(weight !== undefined ? { weight } : {}), ...(c.args.includes('reverse') ? { reverse: true } : {}) };
  });
}

/** `ADDRESS[/PREFIX] [dev IF] [label L] [brd B] [scope S] …` */
function vips(n: ReadNode): TVip[] {
  return (n.children ?? []).map((c) => {
    const [address = '', prefix] = c.keyword.split('/');
    const opt = (k: string) => {
      const i = c.args.indexOf(k);
      return i >= 0 ? c.args[i + 1] : undefined;
    };
    const v: TVip = { ...loc(c), text: [c.keyword, ...c.args].join(' '), address };
    if (prefix !== undefined) v.prefix = toNum(prefix);
    for (const [k, f] of [
      ['dev', 'dev'],
      ['label', 'label'],
      ['brd', 'brd'],
      ['broadcast', 'brd'],
      ['scope', 'scope'],
    ] as const) {
      const x = opt(k);
      if (x !== undefined) v[f] = x;
    }
    return v;
  });
}

function globalDefs(n: ReadNode): TGlobalDefs {
  const g: TGlobalDefs = { ...loc(n), garp: {} };
  each(n, {
    router_id: (c) => (g.routerId = str(c)),
    script_user: (c) => (g.scriptUser = { ...loc(c), value: { user: c.args[0] ?? '', ...(c.args[1] ? { group: c.args[1] } : {}) }, text: text(c) }),
    enable_script_security: (c) => (g.enableScriptSecurity = flag(c)),
    vrrp_strict: (c) => (g.vrrpStrict = flag(c)),
    vrrp_version: (c) => (g.vrrpVersion = num(c)),
    lvs_sync_daemon: (c) => {
      const id = c.args.indexOf('id');
      const instance = c.args[1] && !['id', 'maxlen', 'port', 'ttl', 'group'].includes(c.args[1]) ? c.args[1] : undefined;
      g.lvsSyncDaemon = { ...loc(c), text: text(c), value: { interface: c.args[0] ?? '', ...(instance ? { instance } : {}), ...(id >= 0 ? { syncId: toNum(c.args[id + 1]) } : {}) } };
    },
    vrrp_garp_master_delay: (c) => (g.garp.masterDelay = num(c)),
    vrrp_garp_master_repeat: (c) => (g.garp.masterRepeat = num(c)),
    vrrp_garp_master_refresh: (c) => (g.garp.masterRefresh = num(c)),
    vrrp_garp_master_refresh_repeat: (c) => (g.garp.masterRefreshRepeat = num(c)),
    vrrp_garp_interval: (c) => (g.garp.interval = num(c)),
    vrrp_gna_interval: (c) => (g.garp.gnaInterval = num(c)),
    vrrp_garp_lower_prio_delay: (c) => (g.garp.lowerPrioDelay = num(c)),
    vrrp_garp_lower_prio_repeat: (c) => (g.garp.lowerPrioRepeat = num(c)),
  });
  return g;
}

function vrrpScript(n: ReadNode): TVrrpScript {
  const s: TVrrpScript = { ...loc(n), name: n.args[0] ?? '' };
  each(n, {
    script: (c) => (s.script = { ...str(c), value: text(c) }),
    interval: (c) => (s.interval = num(c)),
    timeout: (c) => (s.timeout = num(c)),
    weight: (c) => {
      s.weight = num(c);
      if (c.args.includes('reverse')) s.weightReverse = true;
    },
    rise: (c) => (s.rise = num(c)),
    fall: (c) => (s.fall = num(c)),
    user: (c) => (s.user = str(c)),
  });
  return s;
}

function syncGroup(n: ReadNode): TSyncGroup {
  const g: TSyncGroup = { ...loc(n), name: n.args[0] ?? '', group: [], trackScripts: [], trackInterfaces: [], notify: {} };
  each(n, {
    group: (c) => (g.group = (c.children ?? []).map((x) => ({ ...loc(x), value: x.keyword, text: x.keyword }))),
    track_script: (c) => g.trackScripts.push(...tracks(c)),
    track_interface: (c) => g.trackInterfaces.push(...tracks(c)),
    ...notifyHandlers(g.notify),
  });
  fixNotify(g.notify);
  return g;
}

function vrrpInstance(n: ReadNode): TVrrpInstance {
  const i: TVrrpInstance = { ...loc(n), name: n.args[0] ?? '', virtualIpaddress: [], virtualIpaddressExcluded: [], trackScripts: [], trackInterfaces: [], notify: {} };
  each(n, {
    state: (c) => (i.state = str(c)),
    interface: (c) => (i.interface = str(c)),
    virtual_router_id: (c) => (i.virtualRouterId = num(c)),
    priority: (c) => (i.priority = num(c)),
    advert_int: (c) => (i.advertInt = num(c)),
    version: (c) => (i.version = num(c)),
    authentication: (c) => {
      const a: NonNullable<TVrrpInstance['authentication']> = loc(c);
      each(c, { auth_type: (x) => (a.type = str(x)), auth_pass: (x) => (a.pass = str(x)) });
      i.authentication = a;
    },
    virtual_ipaddress: (c) => i.virtualIpaddress.push(...vips(c)),
    virtual_ipaddress_excluded: (c) => i.virtualIpaddressExcluded.push(...vips(c)),
    unicast_src_ip: (c) => (i.unicastSrcIp = str(c)),
    unicast_peer: (c) => (i.unicastPeer = { ...loc(c), peers: (c.children ?? []).map((x) => ({ ...loc(x), value: x.keyword, text: [x.keyword, ...x.args].join(' ') })) }),
    track_script: (c) => i.trackScripts.push(...tracks(c)),
    track_interface: (c) => i.trackInterfaces.push(...tracks(c)),
    nopreempt: (c) => ((i.nopreempt = flag(c)), delete i.preempt),
    preempt: (c) => ((i.preempt = flag(c)), delete i.nopreempt),
    preempt_delay: (c) => (i.preemptDelay = num(c)),
    strict_mode: (c) => (i.strictMode = { ...loc(c), text: text(c), value: !['off', 'false', 'no', '0'].includes(c.args[0] ?? 'on') }),
    accept: (c) => ((i.accept = flag(c)), delete i.noAccept),
    no_accept: (c) => ((i.noAccept = flag(c)), delete i.accept),
    ...notifyHandlers(i.notify),
  });
  fixNotify(i.notify);
  return i;
}

function checker(n: ReadNode, type: CheckerType): TChecker {
  const k: TChecker = { ...loc(n), type, urls: [] };
  each(n, {
    ...timing(k),
    nb_get_retry: (c) => (k.nbGetRetry = num(c)),
    connect_ip: (c) => (k.connectIp = str(c)),
    connect_port: (c) => (k.connectPort = num(c)),
    misc_path: (c) => (k.miscPath = { ...str(c), value: text(c) }),
    misc_timeout: (c) => (k.miscTimeout = num(c)),
    misc_dynamic: (c) => (k.miscDynamic = flag(c)),
    url: (c) => {
      const u: TChecker['urls'][number] = loc(c);
      each(c, { path: (x) => (u.path = str(x)), digest: (x) => (u.digest = str(x)), status_code: (x) => (u.statusCode = { ...str(x), value: text(x) }) });
      k.urls.push(u);
    },
  });
  return k;
}

function realServer(n: ReadNode): TRealServer {
  const r: TRealServer = { ...loc(n), text: text(n), address: n.args[0] ?? '', checkers: [] };
  if (n.args[1] !== undefined) r.port = toNum(n.args[1]);
  const checkers = Object.fromEntries(CHECKER_TYPES.map((t) => [t, (c: ReadNode) => r.checkers.push(checker(c, t))]));
  each(n, {
    ...timing(r),
    weight: (c) => (r.weight = num(c)),
    lvs_method: (c) => (r.lvsMethod = str(c)),
    inhibit_on_failure: (c) => (r.inhibitOnFailure = flag(c)),
    notify_up: (c) => (r.notifyUp = { ...str(c), value: text(c) }),
    notify_down: (c) => (r.notifyDown = { ...str(c), value: text(c) }),
    ...checkers,
  });
  return r;
}

function virtualServer(n: ReadNode): TVirtualServer {
  const [a0 = '', a1] = n.args;
  const base = { ...loc(n), text: text(n), realServers: [] };
  const v: TVirtualServer =
    a0 === 'fwmark' ? { ...base, kind: 'fwmark', fwmark: toNum(a1) } : a0 === 'group' ? { ...base, kind: 'group', group: a1 ?? '' } : { ...base, kind: 'address', address: a0, ...(a1 !== undefined ? { port: toNum(a1) } : {}) };
  each(n, {
    ...timing(v),
    lb_algo: (c) => (v.lbAlgo = str(c)),
    lvs_sched: (c) => (v.lbAlgo = str(c)),
    lb_kind: (c) => (v.lbKind = str(c)),
    lvs_method: (c) => (v.lbKind = str(c)),
    persistence_timeout: (c) => (v.persistenceTimeout = c.args.length ? num(c) : { ...loc(c), value: 360, text: '' }),
    persistence_granularity: (c) => (v.persistenceGranularity = str(c)),
    persistence_engine: (c) => (v.persistenceEngine = str(c)),
    protocol: (c) => (v.protocol = str(c)),
    sorry_server: (c) => (v.sorryServer = { ...loc(c), text: text(c), value: { address: c.args[0] ?? '', ...(c.args[1] !== undefined ? { port: toNum(c.args[1]) } : {}) } }),
    quorum: (c) => (v.quorum = num(c)),
    quorum_up: (c) => (v.quorumUp = { ...str(c), value: text(c) }),
    quorum_down: (c) => (v.quorumDown = { ...str(c), value: text(c) }),
    hysteresis: (c) => (v.hysteresis = num(c)),
    alpha: (c) => (v.alpha = flag(c)),
    omega: (c) => (v.omega = flag(c)),
    inhibit_on_failure: (c) => (v.inhibitOnFailure = flag(c)),
    real_server: (c) => v.realServers.push(realServer(c)),
  });
  return v;
}

function vsGroup(n: ReadNode): TVsGroup {
  return {
    ...loc(n),
    name: n.args[0] ?? '',
    entries: (n.children ?? []).map((c) =>
      c.keyword === 'fwmark'
        ? { ...loc(c), text: [c.keyword, ...c.args].join(' '), fwmark: toNum(c.args[0]) }
        : { ...loc(c), text: [c.keyword, ...c.args].join(' '), address: c.keyword, ...(c.args[0] !== undefined ? { port: toNum(c.args[0]) } : {}) },
    ),
  };
}

/** The typed model of keepalived's reading of a config. */
export function typedFromReading(r: Reading, release: KeepalivedRelease = DEFAULT_RELEASE): TypedConf {
  const t: TypedConf = { release, vrrpScripts: [], vrrpSyncGroups: [], vrrpInstances: [], virtualServerGroups: [], virtualServers: [], unknown: [] };
  for (const n of r.nodes) {
    if (!known(n)) continue;
    switch (n.keyword) {
      case 'global_defs':
        t.globalDefs = globalDefs(n);
        break;
      case 'vrrp_script':
        t.vrrpScripts.push(vrrpScript(n));
        break;
      case 'vrrp_sync_group':
        t.vrrpSyncGroups.push(syncGroup(n));
        break;
      case 'vrrp_instance':
        t.vrrpInstances.push(vrrpInstance(n));
        break;
      case 'virtual_server_group':
        t.virtualServerGroups.push(vsGroup(n));
        break;
      case 'virtual_server':
        t.virtualServers.push(virtualServer(n));
        break;
    }
  }
  for (const g of t.vrrpSyncGroups) for (const m of g.group) for (const i of t.vrrpInstances) if (i.name === m.value) i.syncGroup = g.name;
  for (const u of r.issues) if (u.code === 'unknown-keyword') t.unknown.push({ file: u.file, line: u.line, keyword: u.keyword, block: u.path, ...(u.suggestion ? { suggestion: u.suggestion } : {}), ...(u.verdict?.kind === 'too-new' ? { addedIn: u.verdict.since } : {}) });
  return t;
}

/** The grammar layer's result, read as `release` of keepalived reads it and typed (`lifecycle`: another keyword history, for tests). */
export function typeConf(p: ParsedConf, release: KeepalivedRelease = DEFAULT_RELEASE, lifecycle?: readonly KeywordLifecycle[]): { reading: Reading; typed: TypedConf } {
  const reading = readAsKeepalived(p.nodes, release, lifecycle);
  return { reading, typed: typedFromReading(reading, release) };
}
