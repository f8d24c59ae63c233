/**
 * Which keywords keepalived accepts in which block, per release, and which it still reads but
 * deprecates. Lint compares an operator's file against the release it will run on
 * (`--keepalived-version`), since a keyword 2.3.3 added is "Unknown keyword" to 2.2.7.
 */
import { TREE_2_2_7, type Encoded } from './keyword-tree.js';

export type KeepalivedRelease = '2.2.7' | '2.3.3';
export const RELEASES: readonly KeepalivedRelease[] = ['2.2.7', '2.3.3'];
export const DEFAULT_RELEASE: KeepalivedRelease = '2.2.7';

export interface KeywordInfo {
  /** the keywords of its `{ … }` block, when it takes one */
  block?: KeywordTable;
  /** its block holds values (addresses, names), not keywords */
  values?: boolean;
  /** the first release (of those we know) that reads it */
  since: KeepalivedRelease;
}
export type KeywordTable = ReadonlyMap<string, KeywordInfo>;

/** Keywords keepalived 2.3.3 reads and 2.2.7 does not (diff of the two releases' keyword trees). */
export const ADDED_IN_2_3: readonly string[] = [
  'global_defs.use_symlink_paths',
  'global_defs.v3_checksum_as_v2',
  'global_defs.snmp_vs_stats_update_interval',
  'global_defs.snmp_rs_stats_update_interval',
  'global_defs.dbus_no_interface_name',
  'global_defs.vrrp_owner_ignore_adverts',
  'global_defs.json_version',
  'global_defs.iproute_usr_dir',
  'global_defs.iproute_etc_dir',
  'global_defs.state_dump_file',
  'global_defs.stats_dump_file',
  'global_defs.json_dump_file',
  'vrrp_instance.no_virtual_ipaddress',
  'vrrp_instance.v3_checksum_as_v2',
  'vrrp_instance.owner_ignore_adverts',
  'virtual_server.real_server.HTTP_GET.tls_compliant',
  'virtual_server.real_server.HTTP_GET.url.tls_compliant',
  'virtual_server.real_server.SSL_GET.tls_compliant',
  'virtual_server.real_server.SSL_GET.url.tls_compliant',
  'bfd_instance.multihop',
];

export interface Deprecation {
  /** the keyword to write instead, when there is one */
  use?: string;
  note: string;
}

/**
 * Keywords both releases still read but announce as deprecated (their handlers log it), keyed by
 * `block.keyword` with `*` for any block. None was removed between 2.2.7 and 2.3.3.
 */
export const DEPRECATED: ReadonlyMap<string, Deprecation> = new Map([
  ['*.nb_get_retry', { use: 'retry', note: 'keepalived logs "nb_get_retry is deprecated - please use \'retry\'"' }],
  ['global_defs.lvs_process_name', { use: 'checker_process_name', note: 'deprecated since 2.1' }],
  ['global_defs.lvs_flush_onstop', { use: 'lvs_flush_on_stop', note: 'deprecated after 2.1.5' }],
  ['global_defs.vrrp_vmac_garp_intvl', { use: 'vrrp_garp_extra_if', note: 'deprecated after 2.2.2' }],
  ['vrrp_instance.vmac_garp_intvl', { use: 'garp_extra_if', note: 'deprecated after 2.2.2' }],
  ['global_defs.vrrp_rlimit_rtime', { use: 'vrrp_rlimit_rttime', note: 'deprecated since 2020' }],
  ['global_defs.checker_rlimit_rtime', { use: 'checker_rlimit_rttime', note: 'deprecated since 2020' }],
  ['global_defs.bfd_rlimit_rtime', { use: 'bfd_rlimit_rttime', note: 'deprecated since 2020' }],
  ['global_defs.enable_snmp_keepalived', { use: 'enable_snmp_vrrp', note: 'deprecated since 2.0.0' }],
  ['vrrp_sync_group.global_tracking', { use: 'sync_group_tracking_weight', note: 'tracking now belongs on the sync group' }],
  ['vrrp_instance.linkbeat_use_polling', { use: 'a top-level linkbeat_interfaces block', note: 'deprecated in an instance' }],
  ['vrrp_instance.lvs_sync_daemon_interface', { use: 'lvs_sync_daemon in global_defs', note: 'deprecated after 1.2.19' }],
]);

export function deprecation(blockPath: readonly string[], keyword: string): Deprecation | undefined {
  return DEPRECATED.get(`${blockPath.at(-1) ?? ''}.${keyword}`) ?? DEPRECATED.get(`*.${keyword}`);
}

function decode(e: Encoded, path: string, added: Set<string>, release: KeepalivedRelease): Map<string, KeywordInfo> {
  const out = new Map<string, KeywordInfo>();
  for (const w of e._.split(/\s+/).filter(Boolean)) {
    const values = w.endsWith('=');
    out.set(values ? w.slice(0, -1) : w, { values, since: '2.2.7' });
  }
  for (const [k, v] of Object.entries(e)) if (k !== '_' && typeof v !== 'string') out.set(k, { block: decode(v, path ? `${path}.${k}` : k, added, release), since: '2.2.7' });
  if (release !== '2.2.7')
    for (const a of added) {
      const i = a.lastIndexOf('.');
      if (a.slice(0, Math.max(0, i)) === path) out.set(a.slice(i + 1), { since: '2.3.3' });
    }
  return out;
}

const cache = new Map<KeepalivedRelease, KeywordTable>();

/** The top-level keyword table of a release (global_defs, vrrp_instance, virtual_server, …). */
export function keywordTable(release: KeepalivedRelease = DEFAULT_RELEASE): KeywordTable {
  let t = cache.get(release);
  if (!t) cache.set(release, (t = decode(TREE_2_2_7, '', new Set(ADDED_IN_2_3), release)));
  return t;
}

/** The table of the block at `path` (keywords from the top), or undefined when no such block exists. */
export function tableAt(path: readonly string[], release: KeepalivedRelease = DEFAULT_RELEASE): KeywordTable | undefined {
  let t: KeywordTable | undefined = keywordTable(release);
  for (const k of path) t = t?.get(k)?.block;
  return t;
}

/** When a keyword unknown to `release` in this block is read by a later release, that release. */
export function addedLater(path: readonly string[], keyword: string, release: KeepalivedRelease): KeepalivedRelease | undefined {
  if (release === '2.3.3') return undefined;
  return ADDED_IN_2_3.includes([...path, keyword].join('.')) ? '2.3.3' : undefined;
}
