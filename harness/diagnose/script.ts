/**
 * The evidence script: one POSIX sh program per node, run in one exec before teardown, that prints
 * each command's output between markers. One exec, not twenty, because a failed run is often a
 * slow one, and because the node may die between two execs; each command has its own timeout so
 * that one hung command (ipvsadm on a wedged kernel table) costs its section, not the rest.
 */
import type { Role } from '../topology/planner.js';
import { KEEPALIVED_CONF, VRRP_LOG } from '../topology/planner.js';

/** Where the builder sends keepalived's output (startKeepalived in builder.ts). */
export { KEEPALIVED_LOG } from '../topology/planner.js';
import { KEEPALIVED_LOG } from '../topology/planner.js';

export const BEGIN = '#lvsh-evidence-begin';
export const END = '#lvsh-evidence-end';
/** per section: enough for a table of a few hundred connections, not a flood */
export const MAX_LINES = 400;
/** seconds each command may take */
export const ITEM_TIMEOUT_S = 5;

export type ItemKey =
  | 'sysctl'
  | 'addr'
  | 'link'
  | 'route'
  | 'route6'
  | 'neigh'
  | 'ipvs'
  | 'ipvs-conns'
  | 'ipvs-persistent'
  | 'iptables-nat'
  | 'iptables-mangle'
  | 'iptables-filter'
  | 'keepalived-log'
  | 'vrrp-log'
  | 'keepalived-conf'
  | 'keepalived-proc'
  | 'app-proc';

export interface EvidenceCommand {
  key: ItemKey;
  /** shell text, as quoted in a cause; a constant of this file, never built from input */
  command: string;
  roles: readonly Role[];
}

const ALL: readonly Role[] = ['director', 'real-server', 'client'];
const SERVERS: readonly Role[] = ['director', 'real-server'];
const T = `timeout ${ITEM_TIMEOUT_S}`;

/**
 * The sysctls the forwarding modes depend on (`conf.<dev>` covers all, default, lo, tunl0 and each
 * device), read from /proc/sys by the shell itself and printed as `sysctl` does ("net.ipv4.ip_forward
 * = 0", a dot in a device's name shown as "/"). Not `sysctl -a | grep`: walking all of /proc/sys took
 * longer than its 5 s under a loaded emulated lab, and the cut output lacked ip_forward, so a NAT
 * director with forwarding off went undiagnosed in a CI run. No fork per file: builtins only.
 */
const SYSCTL_FILES = [
  '/proc/sys/net/ipv4/ip_forward',
  ...['arp_ignore', 'arp_announce', 'rp_filter'].map((x) => `/proc/sys/net/ipv4/conf/*/${x}`),
  '/proc/sys/net/ipv4/vs/*',
  '/proc/sys/net/ipv6/conf/all/forwarding',
];
const SYSCTL_READ = [
  `for f in ${SYSCTL_FILES.join(' ')}; do`,
  '[ -f "$f" ] && [ -r "$f" ] || continue; IFS= read -r v < "$f" || [ -n "$v" ] || continue;',
  'r=${f#/proc/sys/}; k=;',
  'while [ -n "$r" ]; do c=${r%%/*}; case $r in */*) r=${r#*/};; *) r=;; esac;',
  'd=; while :; do case $c in *.*) d="$d${c%%.*}/"; c=${c#*.};; *) d="$d$c"; break;; esac; done;',
  'k="${k:+$k.}$d"; done;',
  'printf \'%s = %s\\n\' "$k" "$v"; done',
].join(' ');

export const EVIDENCE_COMMANDS: readonly EvidenceCommand[] = [
  { key: 'sysctl', command: SYSCTL_READ, roles: ALL },
  { key: 'addr', command: 'ip -o addr show', roles: ALL },
  { key: 'link', command: 'ip -o link show', roles: ALL },
  { key: 'route', command: 'ip route show', roles: ALL },
  { key: 'route6', command: 'ip -6 route show', roles: ALL },
  { key: 'neigh', command: 'ip neigh show', roles: ALL },
  { key: 'ipvs', command: `${T} ipvsadm -Ln`, roles: ['director'] },
  { key: 'ipvs-conns', command: `${T} ipvsadm -Lnc`, roles: ['director'] },
  // older ipvsadm builds lack the option: the section then holds its complaint and a non-zero status
  { key: 'ipvs-persistent', command: `${T} ipvsadm -Ln --persistent-conn`, roles: ['director'] },
  { key: 'iptables-nat', command: `${T} iptables-save -t nat`, roles: SERVERS },
  { key: 'iptables-mangle', command: `${T} iptables-save -t mangle`, roles: SERVERS },
  // DROP rules between directors (a partition, a firewall) live in the filter table
  { key: 'iptables-filter', command: `${T} iptables-save -t filter`, roles: SERVERS },
  { key: 'keepalived-log', command: `test -f ${KEEPALIVED_LOG} && tail -n 200 ${KEEPALIVED_LOG}`, roles: ['director'] },
  { key: 'vrrp-log', command: `test -f ${VRRP_LOG} && tail -n 50 ${VRRP_LOG}`, roles: ['director'] },
  { key: 'keepalived-conf', command: `test -f ${KEEPALIVED_CONF} && cat ${KEEPALIVED_CONF}`, roles: ['director'] },
  // by process name, not -f: the script's own command line contains these words
  { key: 'keepalived-proc', command: 'pgrep -a keepalived', roles: ['director'] },
  { key: 'app-proc', command: 'pgrep -a nginx', roles: ['real-server'] },
];

export const commandsFor = (role: Role): EvidenceCommand[] => EVIDENCE_COMMANDS.filter((c) => c.roles.includes(role));

/**
 * The script for a node of `role`. Each section: a begin line with the key, the first MAX_LINES
 * lines of the command's output (stdout and stderr), an end line with the exit status and the
 * number of lines the command printed (more than shown means the section was cut).
 */
export function evidenceScript(role: Role): string {
  const out = [
    '#!/bin/sh',
    '# lvs-harness evidence: read only, changes nothing on the node',
    't=$(mktemp 2>/dev/null || echo /tmp/lvsh-evidence.$$)',
    `end() { head -n ${MAX_LINES} "$t"; printf '%s %s rc=%s lines=%s\\n' '${END}' "$1" "$2" "$(wc -l < "$t" | tr -d ' ')"; }`,
  ];
  for (const c of commandsFor(role)) out.push(`printf '%s %s\\n' '${BEGIN}' '${c.key}'`, `{ ${c.command}; } > "$t" 2>&1; end ${c.key} $?`);
  out.push('rm -f "$t"', 'exit 0', '');
  return out.join('\n');
}

/** The argv that runs the script: as an argument, so no file is left on the node. */
export const evidenceArgv = (role: Role): string[] => ['sh', '-c', evidenceScript(role)];
