/**
 * The typed model of an operator's keepalived.conf: what they wrote, block by block, each element
 * with its file and line. Wider than model.ts (which is what the harness renders for its own
 * directors) and deliberately loose: values keep the text as written next to the parsed value,
 * since lint reports exactly what keepalived would do with a value the harness would never render
 * (`lb_kind dr`, `auth_pass abcdefghij`, `advert_int 0.5` with VRRPv2). Names follow model.ts.
 */
import type { Loc } from './ast.js';
import type { KeepalivedRelease } from './keywords.js';

/** A value as written (`text`, the words after the keyword) and as read (`value`: NaN for a number that is not one). */
export interface At<T> extends Loc {
  value: T;
  text: string;
}

/** A keyword without a value (`nopreempt`, `enable_script_security`): where it stands. */
export type Flag = Loc;

export interface TGarp {
  masterDelay?: At<number>;
  masterRepeat?: At<number>;
  masterRefresh?: At<number>;
  masterRefreshRepeat?: At<number>;
  interval?: At<number>;
  gnaInterval?: At<number>;
  lowerPrioDelay?: At<number>;
  lowerPrioRepeat?: At<number>;
}

export interface TGlobalDefs extends Loc {
  routerId?: At<string>;
  scriptUser?: At<{ user: string; group?: string }>;
  enableScriptSecurity?: Flag;
  /** `lvs_sync_daemon INTERFACE [VRRP_INSTANCE] [id N] …` */
  lvsSyncDaemon?: At<{ interface: string; instance?: string; syncId?: number }>;
  vrrpStrict?: Flag;
  /** vrrp_version: the default version of every instance */
  vrrpVersion?: At<number>;
  garp: TGarp;
}

export interface TVrrpScript extends Loc {
  name: string;
  script?: At<string>;
  interval?: At<number>;
  timeout?: At<number>;
  weight?: At<number>;
  /** `weight N reverse`: the priority moves by N while the script fails instead */
  weightReverse?: boolean;
  rise?: At<number>;
  fall?: At<number>;
  user?: At<string>;
}

/** One entry of track_script / track_interface: a name and the weight that overrides the script's. */
export interface TTrack extends Loc {
  name: string;
  weight?: number;
  reverse?: boolean;
  text: string;
}

export type NotifyKind = 'all' | 'master' | 'backup' | 'fault' | 'stop' | 'deleted' | 'masterRxLowerPri';
export type TNotify = Partial<Record<NotifyKind, At<string>>>;

export interface TSyncGroup extends Loc {
  name: string;
  group: At<string>[];
  trackScripts: TTrack[];
  trackInterfaces: TTrack[];
  notify: TNotify;
}

export interface TVip extends Loc {
  text: string;
  address: string;
  prefix?: number;
  dev?: string;
  label?: string;
  brd?: string;
  scope?: string;
}

export interface TVrrpInstance extends Loc {
  name: string;
  state?: At<string>;
  interface?: At<string>;
  virtualRouterId?: At<number>;
  priority?: At<number>;
  advertInt?: At<number>;
  version?: At<number>;
  authentication?: Loc & { type?: At<string>; pass?: At<string> };
  virtualIpaddress: TVip[];
  virtualIpaddressExcluded: TVip[];
  unicastSrcIp?: At<string>;
  unicastPeer?: Loc & { peers: At<string>[] };
  trackScripts: TTrack[];
  trackInterfaces: TTrack[];
  nopreempt?: Flag;
  preempt?: Flag;
  preemptDelay?: At<number>;
  notify: TNotify;
  /** strict_mode [on|off] in the instance (vrrp_strict in global_defs sets the default) */
  strictMode?: At<boolean>;
  accept?: Flag;
  noAccept?: Flag;
  /** the vrrp_sync_group naming it */
  syncGroup?: string;
}

export type CheckerType = 'TCP_CHECK' | 'HTTP_GET' | 'SSL_GET' | 'MISC_CHECK' | 'SMTP_CHECK' | 'DNS_CHECK' | 'UDP_CHECK' | 'PING_CHECK' | 'FILE_CHECK' | 'BFD_CHECK';
export const CHECKER_TYPES: readonly CheckerType[] = ['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'SMTP_CHECK', 'DNS_CHECK', 'UDP_CHECK', 'PING_CHECK', 'FILE_CHECK', 'BFD_CHECK'];

export interface TUrl extends Loc {
  path?: At<string>;
  digest?: At<string>;
  statusCode?: At<string>;
}

/** Timing keywords that keepalived reads at virtual_server, real_server and checker level (the innermost wins). */
export interface TTiming {
  delayLoop?: At<number>;
  connectTimeout?: At<number>;
  retry?: At<number>;
  delayBeforeRetry?: At<number>;
  warmup?: At<number>;
}

export interface TChecker extends Loc, TTiming {
  type: CheckerType;
  /** HTTP_GET / SSL_GET's old name for retry */
  nbGetRetry?: At<number>;
  connectIp?: At<string>;
  connectPort?: At<number>;
  urls: TUrl[];
  miscPath?: At<string>;
  miscTimeout?: At<number>;
  miscDynamic?: Flag;
}

export interface TRealServer extends Loc, TTiming {
  text: string;
  address: string;
  port?: number;
  weight?: At<number>;
  lvsMethod?: At<string>;
  inhibitOnFailure?: Flag;
  notifyUp?: At<string>;
  notifyDown?: At<string>;
  checkers: TChecker[];
}

export interface TVirtualServer extends Loc, TTiming {
  /** the line's arguments: `ADDRESS PORT`, `fwmark N` or `group NAME` */
  text: string;
  kind: 'address' | 'fwmark' | 'group';
  address?: string;
  port?: number;
  fwmark?: number;
  group?: string;
  /** lb_algo or lvs_sched */
  lbAlgo?: At<string>;
  /** lb_kind or lvs_method */
  lbKind?: At<string>;
  persistenceTimeout?: At<number>;
  persistenceGranularity?: At<string>;
  persistenceEngine?: At<string>;
  protocol?: At<string>;
  sorryServer?: At<{ address: string; port?: number }>;
  quorum?: At<number>;
  quorumUp?: At<string>;
  quorumDown?: At<string>;
  hysteresis?: At<number>;
  alpha?: Flag;
  omega?: Flag;
  inhibitOnFailure?: Flag;
  realServers: TRealServer[];
}

export interface TVsGroupEntry extends Loc {
  text: string;
  /** `ADDRESS[-LAST] PORT` */
  address?: string;
  port?: number;
  fwmark?: number;
}

export interface TVsGroup extends Loc {
  name: string;
  entries: TVsGroupEntry[];
}

/** A keyword keepalived does not know in its block, kept with where it is and what was likely meant. */
export interface UnknownKeyword extends Loc {
  keyword: string;
  /** the enclosing blocks' keywords, outermost first */
  block: string[];
  suggestion?: string;
  /** the keepalived release that first reads it, when a later one does */
  addedIn?: string;
}

export interface TypedConf {
  release: KeepalivedRelease;
  globalDefs?: TGlobalDefs;
  vrrpScripts: TVrrpScript[];
  vrrpSyncGroups: TSyncGroup[];
  vrrpInstances: TVrrpInstance[];
  virtualServerGroups: TVsGroup[];
  virtualServers: TVirtualServer[];
  unknown: UnknownKeyword[];
}
