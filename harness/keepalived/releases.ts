/**
 * The releases the lab runs and what each one's keepalived reads: Debian 12 "bookworm" ships
 * keepalived 2.2.7 (kernel 6.1), Debian 13 "trixie" keepalived 2.3.3 (kernel 6.12). A keyword's
 * life is kept here: the first keepalived release that reads it, the first that announces it as
 * deprecated (and what to write instead), the first that no longer reads it. Lint compares an
 * operator's file against the release it will run on (`--release`, `--keepalived-version`).
 *
 * Sources: keepalived's own parsers at the tags v2.2.7 … v2.3.3 (the `install_keyword*` calls,
 * diffed tag by tag, and the handlers' "deprecated" log lines), keepalived.conf(5)
 * (doc/man/man5/keepalived.conf.5.in) and keepalived's ChangeLog (which ends at 2.0.20). Only
 * keyword names and a short paraphrase are kept, with one source line each. Between 2.2.7 and
 * 2.3.3 keepalived added keywords and deprecated one, and removed none (every keyword 2.2.7
 * installs, 2.3.3 still installs); `removed` is modelled for what a later release drops.
 */
import { errUsage } from '../errors.js';

/** The keepalived versions whose keyword tables the parser knows. */
export type KeepalivedVersion = '2.2.7' | '2.3.3';
export const KEEPALIVED_VERSIONS: readonly KeepalivedVersion[] = ['2.2.7', '2.3.3'];

export type ReleaseName = 'bookworm' | 'trixie';

export interface DebianRelease {
  name: ReleaseName;
  /** Debian's version number */
  debian: number;
  /** the keepalived version the release ships */
  keepalived: KeepalivedVersion;
  /** the kernel series the release ships */
  kernel: string;
}

export const DEBIAN_RELEASES: readonly DebianRelease[] = [
  { name: 'bookworm', debian: 12, keepalived: '2.2.7', kernel: '6.1' },
  { name: 'trixie', debian: 13, keepalived: '2.3.3', kernel: '6.12' },
];

/** The release lint and validate target when neither `--release` nor `--keepalived-version` is given. */
export const DEFAULT_RELEASE_NAME: ReleaseName = 'bookworm';

/** The usage fragment of both flags, for the help and the commands' usage lines. */
export const RELEASE_FLAGS_USAGE = `[--release ${DEBIAN_RELEASES.map((r) => r.name).join('|')}] [--keepalived-version ${KEEPALIVED_VERSIONS.join('|')}]`;

export const releaseNamed = (name: ReleaseName): DebianRelease => DEBIAN_RELEASES.find((r) => r.name === name)!;

/** The Debian release that ships a keepalived version, when one of ours does. */
export const releaseOfVersion = (v: string): DebianRelease | undefined => DEBIAN_RELEASES.find((r) => r.keepalived === v);

/** "keepalived 2.3.3 (Debian 13 trixie)", or "keepalived 2.2.8" for a version no release of ours ships. */
export function describeVersion(v: string): string {
  const r = releaseOfVersion(v);
  return r ? `keepalived ${v} (Debian ${r.debian} ${r.name})` : `keepalived ${v}`;
}

/** Dotted versions compared numerically: 2.2.10 > 2.2.8. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

/** One keyword's life across keepalived releases. */
export interface KeywordLifecycle {
  keyword: string;
  /** the blocks it stands in, each as its keywords from the top joined by `.` ('' for the top level) */
  blocks: readonly string[];
  /** the first keepalived release that reads it, when later than the oldest release we know */
  introduced?: string;
  /** the first keepalived release that announces it as deprecated */
  deprecated?: string;
  /** the first keepalived release that no longer reads it */
  removed?: string;
  /** what to write instead */
  use?: string;
  /** read as this keyword, with nothing logged and nothing planned: no finding */
  synonymOf?: string;
  /** a short paraphrase of what keepalived says or does */
  note: string;
  /** where this was read: file@tag (line), or the ChangeLog's line */
  source: string;
}

const HTTP = ['virtual_server.real_server.HTTP_GET', 'virtual_server.real_server.SSL_GET'];

export const KEYWORD_LIFECYCLE: readonly KeywordLifecycle[] = [
  // added after 2.2.7, read by 2.3.3 (first tag that installs the keyword)
  { keyword: 'json_version', blocks: ['global_defs'], introduced: '2.2.8', note: 'version of the JSON state dump', source: 'keepalived/core/global_parser.c@v2.2.8 (install_keyword, absent @v2.2.7)' },
  { keyword: 'v3_checksum_as_v2', blocks: ['global_defs', 'vrrp_instance'], introduced: '2.2.8', note: 'VRRPv3 checksum computed as VRRPv2 does, for old peers', source: 'keepalived/core/global_parser.c, keepalived/vrrp/vrrp_parser.c@v2.2.8 (absent @v2.2.7)' },
  { keyword: 'no_virtual_ipaddress', blocks: ['vrrp_instance'], introduced: '2.2.8', note: 'an instance without VIPs', source: 'keepalived/vrrp/vrrp_parser.c@v2.2.8 (absent @v2.2.7)' },
  { keyword: 'timer_expired_backup', blocks: ['vrrp_instance'], introduced: '2.2.8', note: 'revert to backup when keepalived ran late past the adverts', source: 'keepalived/vrrp/vrrp_parser.c@v2.2.8 (absent @v2.2.7); keepalived.conf.5.in@v2.3.3' },
  { keyword: 'tls_compliant', blocks: ['virtual_server.real_server.SSL_GET', 'virtual_server.real_server.SSL_GET.url'], introduced: '2.2.8', note: 'SSL_GET only (not HTTP_GET)', source: 'keepalived/check/check_http.c@v2.2.8 install_http_ssl_check_keyword (absent @v2.2.7)' },
  { keyword: 'multihop', blocks: ['bfd_instance'], introduced: '2.2.8', note: 'multihop BFD', source: 'keepalived/bfd/bfd_parser.c@v2.2.8 (install_keyword_conditional, absent @v2.2.7)' },
  { keyword: 'use_symlink_paths', blocks: ['global_defs'], introduced: '2.3.0', note: 'keep symlinked paths of scripts as written', source: 'keepalived/core/global_parser.c@v2.3.0 (absent @v2.2.8)' },
  { keyword: 'snmp_vs_stats_update_interval', blocks: ['global_defs'], introduced: '2.3.0', note: 'SNMP virtual server statistics refresh', source: 'keepalived/core/global_parser.c@v2.3.0 (absent @v2.2.8)' },
  { keyword: 'snmp_rs_stats_update_interval', blocks: ['global_defs'], introduced: '2.3.0', note: 'SNMP real server statistics refresh', source: 'keepalived/core/global_parser.c@v2.3.0 (absent @v2.2.8)' },
  { keyword: 'dbus_no_interface_name', blocks: ['global_defs'], introduced: '2.3.0', note: 'D-Bus object paths without the interface name', source: 'keepalived/core/global_parser.c@v2.3.0 (absent @v2.2.8)' },
  { keyword: 'iproute_usr_dir', blocks: ['global_defs'], introduced: '2.3.2', note: 'where iproute2 tables are read', source: 'keepalived/core/global_parser.c@v2.3.2 (absent @v2.3.1)' },
  { keyword: 'iproute_etc_dir', blocks: ['global_defs'], introduced: '2.3.2', note: 'where iproute2 tables are read', source: 'keepalived/core/global_parser.c@v2.3.2 (absent @v2.3.1)' },
  { keyword: 'state_dump_file', blocks: ['global_defs'], introduced: '2.3.3', note: 'where the state dump is written', source: 'keepalived/core/global_parser.c@v2.3.3 (absent @v2.3.2)' },
  { keyword: 'stats_dump_file', blocks: ['global_defs'], introduced: '2.3.3', note: 'where the statistics dump is written', source: 'keepalived/core/global_parser.c@v2.3.3 (absent @v2.3.2)' },
  { keyword: 'json_dump_file', blocks: ['global_defs'], introduced: '2.3.3', note: 'where the JSON dump is written', source: 'keepalived/core/global_parser.c@v2.3.3 (absent @v2.3.2)' },
  { keyword: 'vrrp_owner_ignore_adverts', blocks: ['global_defs'], introduced: '2.3.3', note: 'default of owner_ignore_adverts', source: 'keepalived/core/global_parser.c@v2.3.3 (absent @v2.3.2)' },
  { keyword: 'owner_ignore_adverts', blocks: ['vrrp_instance'], introduced: '2.3.3', note: 'a priority-255 owner ignores other adverts', source: 'keepalived/vrrp/vrrp_parser.c@v2.3.3 (absent @v2.3.2)' },
  // added and deprecated at once: the spelling of the release notes, read as timer_expired_backup
  {
    keyword: 'thread_timer_expired',
    blocks: ['vrrp_instance'],
    introduced: '2.3.2',
    deprecated: '2.3.2',
    use: 'timer_expired_backup',
    note: 'keepalived logs that it should be replaced by timer_expired_backup',
    source: 'keepalived/vrrp/vrrp_parser.c@v2.3.2 vrrp_thread_timer_expired_handler (absent @v2.3.1)',
  },

  // deprecated before 2.2.7 and still read, with a warning, by 2.2.7 and 2.3.3
  { keyword: 'nb_get_retry', blocks: HTTP, deprecated: '2.0.15', use: 'retry', note: 'keepalived logs that it is deprecated', source: 'ChangeLog:1138 (2.0.15 "Add log message that nb_get_retry is deprecated"); keepalived/check/check_http.c@v2.2.7,v2.3.3' },
  { keyword: 'lvs_process_name', blocks: ['global_defs'], deprecated: '2.2.0', use: 'checker_process_name', note: 'keepalived logs that it is deprecated', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 lvs_process_name_handler (log first @v2.2.0)' },
  { keyword: 'lvs_flush_onstop', blocks: ['global_defs'], deprecated: '2.2.0', use: 'lvs_flush_on_stop', note: 'marked deprecated after 2.1.5 in the parser (nothing logged)', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 ("Deprecated after v2.1.5"; lvs_flush_on_stop first @v2.2.0)' },
  { keyword: 'vrrp_vmac_garp_intvl', blocks: ['global_defs'], deprecated: '2.2.3', use: 'vrrp_garp_extra_if', note: 'a misnamed keyword; keepalived logs that it is deprecated', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 ("Deprecated after v2.2.2"; log first @v2.2.3)' },
  { keyword: 'vmac_garp_intvl', blocks: ['vrrp_instance'], deprecated: '2.2.3', use: 'garp_extra_if', note: 'a misnamed keyword; keepalived logs that it is deprecated', source: 'keepalived/vrrp/vrrp_parser.c@v2.2.7,v2.3.3 ("Deprecated after v2.2.2"; log first @v2.2.3)' },
  { keyword: 'vrrp_rlimit_rtime', blocks: ['global_defs'], deprecated: '2.1.0', use: 'vrrp_rlimit_rttime', note: 'keepalived logs that it is deprecated', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 ("Deprecated 02/02/2020"; log first @v2.1.0)' },
  { keyword: 'checker_rlimit_rtime', blocks: ['global_defs'], deprecated: '2.1.0', use: 'checker_rlimit_rttime', note: 'keepalived logs that it is deprecated', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 ("Deprecated 02/02/2020"; log first @v2.1.0)' },
  { keyword: 'bfd_rlimit_rtime', blocks: ['global_defs'], deprecated: '2.1.0', use: 'bfd_rlimit_rttime', note: 'keepalived logs that it is deprecated', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 ("Deprecated 02/02/2020"; log first @v2.1.0)' },
  { keyword: 'enable_snmp_keepalived', blocks: ['global_defs'], deprecated: '2.0.0', use: 'enable_snmp_vrrp', note: 'marked deprecated in the parser (nothing logged)', source: 'keepalived/core/global_parser.c@v2.2.7,v2.3.3 ("Deprecated v2.0.0")' },
  { keyword: 'vrrp_track_file', blocks: [''], deprecated: '2.1.0', use: 'track_file', note: 'a deprecated synonym; keepalived logs it', source: 'keepalived/trackers/track_file.c@v2.2.7,v2.3.3 ("Deprecated synonym - after v2.0.20"; log first @v2.1.0)' },
  {
    keyword: 'global_tracking',
    blocks: ['vrrp_sync_group'],
    deprecated: '2.0.0',
    use: 'track_interface, track_script or track_file on the sync group',
    note: 'keepalived logs that it is deprecated',
    source: 'ChangeLog:2987 (2.0.0 "deprecate global_tracking"); keepalived/vrrp/vrrp_parser.c@v2.2.7,v2.3.3',
  },
  { keyword: 'linkbeat_use_polling', blocks: ['vrrp_instance'], deprecated: '2.0.13', use: 'a top-level linkbeat_interfaces block', note: 'deprecated in an instance (not at the top level); keepalived logs it', source: 'keepalived/vrrp/vrrp_parser.c@v2.2.7,v2.3.3 (log first @v2.0.13); keepalived.conf.5.in@v2.2.7' },
  { keyword: 'lvs_sync_daemon_interface', blocks: ['vrrp_instance'], deprecated: '1.2.20', use: 'lvs_sync_daemon in global_defs', note: 'keepalived logs that it is deprecated in an instance', source: 'keepalived/vrrp/vrrp_parser.c@v2.2.7,v2.3.3 ("Deprecated after v1.2.19")' },
  { keyword: 'native_ipv6', blocks: ['vrrp_instance'], deprecated: '1.3.6', use: 'IPv6 virtual_ipaddress entries (they decide the family)', note: 'keepalived.conf(5) calls it deprecated; nothing is logged', source: 'doc/man/man5/keepalived.conf.5.in@v2.2.7,v2.3.3 (first @v1.3.6)' },
  { keyword: 'host', blocks: ['virtual_server.real_server.SMTP_CHECK'], deprecated: '1.3.7', use: 'one SMTP_CHECK per host', note: 'keepalived logs that the host block is deprecated', source: 'ChangeLog:1321; keepalived/check/check_smtp.c@v2.2.7,v2.3.3 (log first @v1.3.7)' },

  // renamed long ago, still read as the new names and neither logged nor planned to go: no finding
  { keyword: 'lb_algo', blocks: ['virtual_server'], synonymOf: 'lvs_sched', note: 'renamed to lvs_sched in 1.1.5, old name kept for compatibility; same handler, nothing logged', source: 'ChangeLog:7796 (1.1.5); keepalived/check/check_parser.c@v2.2.7,v2.3.3' },
  { keyword: 'lb_kind', blocks: ['virtual_server'], synonymOf: 'lvs_method', note: 'renamed to lvs_method in 1.1.5, old name kept for compatibility; same handler, nothing logged', source: 'ChangeLog:7796 (1.1.5); keepalived/check/check_parser.c@v2.2.7,v2.3.3' },
  { keyword: 'neighbour_ip', blocks: ['bfd_instance'], synonymOf: 'neighbor_ip', note: 'a documented synonym', source: 'doc/man/man5/keepalived.conf.5.in@v2.2.7,v2.3.3' },
];

/** What a keyword's life means for one target version. */
export type KeywordVerdict =
  | { kind: 'too-new'; entry: KeywordLifecycle; since: string }
  | { kind: 'removed'; entry: KeywordLifecycle; since: string }
  | { kind: 'deprecated'; entry: KeywordLifecycle; since: string };

export function lifecycleOf(path: readonly string[], keyword: string, table: readonly KeywordLifecycle[] = KEYWORD_LIFECYCLE): KeywordLifecycle | undefined {
  const block = path.join('.');
  return table.find((e) => e.keyword === keyword && e.blocks.includes(block));
}

/** What `version` of keepalived makes of `keyword` in the block at `path`, when its life says anything. */
export function keywordVerdict(path: readonly string[], keyword: string, version: string, table: readonly KeywordLifecycle[] = KEYWORD_LIFECYCLE): KeywordVerdict | undefined {
  const e = lifecycleOf(path, keyword, table);
  if (!e || e.synonymOf) return undefined;
  if (e.removed && compareVersions(version, e.removed) >= 0) return { kind: 'removed', entry: e, since: e.removed };
  if (e.introduced && compareVersions(version, e.introduced) < 0) return { kind: 'too-new', entry: e, since: e.introduced };
  if (e.deprecated && compareVersions(version, e.deprecated) >= 0) return { kind: 'deprecated', entry: e, since: e.deprecated };
  return undefined;
}

/** The releases of ours whose keepalived reads the keyword (for "Debian 13 trixie reads it"). */
export function releasesReading(e: KeywordLifecycle): DebianRelease[] {
  return DEBIAN_RELEASES.filter((r) => (!e.introduced || compareVersions(r.keepalived, e.introduced) >= 0) && (!e.removed || compareVersions(r.keepalived, e.removed) < 0));
}

export interface KeepalivedTarget {
  release: DebianRelease;
  version: KeepalivedVersion;
}

/** A value from the command line, safe to print: control characters escaped, long values cut. */
function shown(v: string): string {
  const cut = v.length > 40 ? `${v.slice(0, 40)}…` : v;
  return /^[\x21-\x7e]+$/.test(cut) ? cut : JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const KNOWN_RELEASES = DEBIAN_RELEASES.map((r) => `${r.name} (Debian ${r.debian}, keepalived ${r.keepalived})`).join(', ');
const KNOWN_VERSIONS = `${KEEPALIVED_VERSIONS.join(', ')} (${DEBIAN_RELEASES.map((r) => `Debian ${r.debian} ${r.name} ships ${r.keepalived}`).join(', ')})`;

/**
 * The target of `--release` and `--keepalived-version` (the version defaults from the release,
 * the release from the version, both from bookworm). Anything else is a usage error naming the
 * flag and what is allowed; a release and a version that do not go together too.
 */
export function resolveTarget(opts: { release?: string; keepalivedVersion?: string }, command: string, usage?: string): KeepalivedTarget {
  let release: DebianRelease | undefined;
  if (opts.release !== undefined) {
    release = DEBIAN_RELEASES.find((r) => r.name === opts.release);
    if (!release) throw errUsage(`${command}: --release ${shown(opts.release)}: known releases are ${KNOWN_RELEASES}`, usage);
  }
  if (opts.keepalivedVersion !== undefined) {
    const version = KEEPALIVED_VERSIONS.find((v) => v === opts.keepalivedVersion);
    if (!version) throw errUsage(`${command}: --keepalived-version ${shown(opts.keepalivedVersion)}: known versions are ${KNOWN_VERSIONS}`, usage);
    if (release && release.keepalived !== version)
      throw errUsage(`${command}: --release ${release.name} ships keepalived ${release.keepalived}, not ${version}: give one of --release and --keepalived-version, or two that go together`, usage);
    return { release: release ?? releaseOfVersion(version)!, version };
  }
  release ??= releaseNamed(DEFAULT_RELEASE_NAME);
  return { release, version: release.keepalived };
}
