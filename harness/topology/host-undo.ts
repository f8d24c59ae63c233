/**
 * What configuring a real host over SSH changes, and how each change is undone (issue 14). A
 * container is thrown away after a run; a host is not, so before the node script first runs on
 * an SSH node, the harness takes a snapshot on the host and writes one undo entry per category
 * into the undo journal (runtime/undo.ts), ahead of any change:
 *
 *   recorded (and undone in reverse)        undo
 *   the snapshot directory                  rm -rf it (last)
 *   the IPVS table (ipvsadm -S -n)          ipvsadm -C, then ipvsadm -R from the snapshot
 *   iptables, ip6tables (…-save)            iptables-restore / ip6tables-restore from the snapshot
 *   the plan's sysctls (old values read)    sysctl -w each old value
 *   default routes the plan replaces        ours deleted, the old ones put back
 *   addresses the plan adds (VIPs, source   ip addr del each one the host did not have
 *   addresses, VRRP VIPs keepalived holds)
 *   links the plan brings up (tunl0)        ip link set down, when it was down
 *   directories the harness creates         removed (its own: rm -rf; others: rmdir when empty)
 *   files it writes (confs, scripts, logs)  the old content put back (cp -p), or removed
 *   processes it starts                     each process group stopped (TERM, then KILL)
 *
 * A snapshot, not a trace of each command: whatever a fault does later (a partition's iptables
 * rules, keepalived's IPVS services) is undone by the same restore. Each undo is idempotent and
 * takes "already gone" as done, so it can run after a crash at any point, from another process
 * (`lvs-harness down <topology>`). The snapshot lives on the host, outside every directory the
 * undo removes; a host with a snapshot of an earlier run that was not undone is refused.
 */
import { HarnessError } from '../errors.js';
import { NGINX_CONF, UDP_ECHO, HEALTH_FLAG, BODY_ROOT } from '../images/rs-app.js';
import type { Node } from '../runtime/node.js';
import type { UndoJournal } from '../runtime/undo.js';
import { shellCommand, shellQuote } from '../util/shell.js';
import type { NodeScriptSpec } from './node-script.js';
import type { PlannedNode } from './planner.js';

/** Where the snapshots live on a host: one directory per topology and node. */
export const HOST_SNAPSHOT_ROOT = '/var/lib/lvs-harness-undo';
export const snapshotDir = (topology: string, node: string) => `${HOST_SNAPSHOT_ROOT}/${topology}/${node}`;
/** Process groups the node script started on a host: `<name>.pgid` files. */
export const HOST_PID_DIR = '/run/lvs-harness/pids';
/** nginx's own pid file (the rendered nginx.conf says so). */
export const NGINX_PID = '/run/lvs-harness/nginx.pid';
const NGINX_LOG = '/var/log/lvs-harness-nginx.log';
/** load/driver.ts's AGENT_PATH (load is a layer above topology): the load agent a client runs, written at each load */
export const LOAD_AGENT = '/opt/lvs-harness/agent.cjs';

/** Exit codes of the snapshot script. */
export const SNAPSHOT_EXIT = {
  /** a snapshot of this or another topology is on the host already: an earlier run was not undone */
  leftover: 20,
  /** a daemon the plan starts runs already, not started by the harness */
  foreign: 21,
} as const;

/** What the node script will change on the host, from its spec and the node's plan. */
export interface HostChanges {
  /** addresses it adds (plan.addresses, and the VRRP VIPs keepalived may leave behind when killed) */
  addresses: { address: string; prefix: number; dev: string }[];
  /** default routes it replaces, by family, and the gateway it puts in */
  routes: { family: 4 | 6; via: string }[];
  sysctls: string[];
  links: string[];
  dirs: string[];
  files: string[];
  /** daemons it starts (pgrep -x names), which must not run already unless it started them */
  daemons: string[];
}

/** The changes of a node script on a host (`vipDevs`: the VRRP VIPs with their bound devices). */
export function hostChanges(n: PlannedNode, spec: NodeScriptSpec, addresses: HostChanges['addresses']): HostChanges {
  // a daemon's stale pid files are removed before it starts (keepalived's /run/*.pid): put back as they were too
  const files = [...spec.files.map((f) => f.path), ...spec.daemons.flatMap((d) => [d.log, ...(d.removeFirst ?? [])])];
  const dirs = [...spec.dirs, HOST_PID_DIR.replace(/\/pids$/, '')];
  if (n.app) {
    files.push(NGINX_LOG, HEALTH_FLAG);
    dirs.push(BODY_ROOT.replace(/\/www$/, ''));
  }
  if (n.role === 'client') files.push(LOAD_AGENT);
  return {
    addresses,
    routes: n.routes.map((r) => ({ family: r.family === 6 ? 6 : 4, via: r.via })),
    sysctls: Object.keys(n.sysctls),
    links: [...n.linksUp],
    dirs: [...new Set(dirs)],
    files: [...new Set(files)],
    // nginx too: the kill-app fault and the checks find the app by name (pgrep -x nginx)
    daemons: [...spec.daemons.map((d) => d.process), ...(spec.nginx ? ['nginx'] : [])],
  };
}

const SECTIONS = ['addr', 'link', 'route4', 'route6', 'sysctl', 'files', 'dirs', 'saved', 'sshroute', 'foreign'] as const;
type Section = (typeof SECTIONS)[number];
const mark = (s: Section) => `@@lvsh-snapshot ${s}`;

/**
 * The script that takes the snapshot (run as root on the host): makes the snapshot directory
 * (refusing when an earlier one is there), saves the IPVS table and iptables, copies the files
 * the plan overwrites, and prints what the undo needs in sections. It changes nothing else.
 */
export function hostSnapshotScript(dir: string, c: HostChanges, o: SnapshotOptions = {}): string {
  const q = shellQuote;
  const tables = o.tables ?? true;
  const lines = [
    `root=${q(o.root ?? HOST_SNAPSHOT_ROOT)}; d=${q(dir)}`,
    // an earlier run's snapshot, of this topology or another: its changes were not undone
    `left=$(ls -d "$root"/*/* 2>/dev/null); if [ -n "$left" ]; then echo "a snapshot of an earlier run that was not undone is on this host: $left" >&2; exit ${SNAPSHOT_EXIT.leftover}; fi`,
    // daemons the plan starts must not run already: the harness would take the operator's for its own
    ...c.daemons.map((p) => `pids=$(pgrep -x ${q(p)} | tr '\\n' ' '); if [ -n "$pids" ]; then echo "${p} already runs on this host (pids $pids), not started by lvs-harness: stop it (systemctl stop ${p}) for the run" >&2; exit ${SNAPSHOT_EXIT.foreign}; fi`),
    `mkdir -p "$(dirname "$d")" && mkdir -m 700 "$d" && mkdir "$d/files" || { echo "cannot make the snapshot directory $d" >&2; exit 1; }`,
    // first: ipvsadm loads ip_vs, whose sysctls (net.ipv4.vs.*) can then be read
    `echo ${q(mark('saved'))}`,
    ...(tables
      ? [
          'if command -v ipvsadm >/dev/null 2>&1 && ipvsadm -S -n > "$d/ipvs.rules" 2>/dev/null; then echo ipvs; else rm -f "$d/ipvs.rules"; fi',
          // listing a table loads it (iptables-legacy), so that the save covers the tables the harness and its faults use
          'if command -v iptables-save >/dev/null 2>&1; then for t in filter nat mangle; do iptables -w 10 -t $t -S >/dev/null 2>&1; done; iptables-save > "$d/iptables.v4" && echo iptables4; fi',
          'if command -v ip6tables-save >/dev/null 2>&1 && ip6tables-save > "$d/iptables.v6" 2>/dev/null; then echo iptables6; else rm -f "$d/iptables.v6"; fi',
        ]
      : []),
    `echo ${q(mark('addr'))}; ip -o addr show`,
    `echo ${q(mark('link'))}; ip -o link show`,
    `echo ${q(mark('route4'))}; ip -4 route show default`,
    `echo ${q(mark('route6'))}; ip -6 route show default 2>/dev/null`,
    `echo ${q(mark('sysctl'))}`,
    ...c.sysctls.map((k) => `v=$(sysctl -n ${q(k)} 2>/dev/null) && printf '%s=%s\\n' ${q(k)} "$v"`),
    `echo ${q(mark('files'))}`,
    ...c.files.map((f, i) => `if [ -f ${q(f)} ]; then cp -p -- ${q(f)} "$d/files/${i}" && echo "${i} saved"; else echo "${i} absent"; fi`),
    `echo ${q(mark('dirs'))}`,
    ...c.dirs.map((x, i) => `if [ -d ${q(x)} ]; then echo "${i} present"; else echo "${i} absent"; fi`),
    // the address the harness connects from: SSH_CONNECTION, which sudo's env_reset drops, is then read from sudo's own environment (this script's parent)
    `echo ${q(mark('sshroute'))}`,
    `c=\${SSH_CONNECTION:-$(tr '\\0' '\\n' < /proc/$PPID/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')}; c=\${c%% *}`,
    'if [ -n "$c" ]; then case $c in *:*) f=-6;; *) f=-4;; esac; echo "client $c"; ip $f route show match "$c" 2>/dev/null; fi',
    'echo @@lvsh-snapshot end',
  ];
  return lines.join('\n') + '\n';
}

export interface SnapshotOptions {
  /** where every snapshot of the host lives (default HOST_SNAPSHOT_ROOT): one there already is an earlier run's */
  root?: string;
  /** save (and so restore) the IPVS table and iptables (default true; a test on a machine it must not touch: false) */
  tables?: boolean;
}

export interface HostSnapshot {
  /** `dev address/prefix` of every address the host has */
  addresses: Set<string>;
  /** links by name: up or not */
  links: Map<string, boolean>;
  defaultRoutes: { 4: string[]; 6: string[] };
  sysctls: Map<string, string>;
  /** indexes into HostChanges.files of the ones saved */
  savedFiles: Set<number>;
  /** indexes into HostChanges.dirs of the ones present */
  presentDirs: Set<number>;
  saved: Set<'ipvs' | 'iptables4' | 'iptables6'>;
  /** the harness's address as the host sees it, and the routes that match it (`ip route show match`) */
  ssh?: { client: string; matching: string[] };
}

export function parseHostSnapshot(out: string): HostSnapshot {
  const sec = new Map<string, string[]>();
  let cur: string | undefined;
  for (const line of out.split('\n')) {
    const m = line.match(/^@@lvsh-snapshot (\S+)$/);
    if (m) {
      cur = m[1]!;
      sec.set(cur, []);
    } else if (cur && line.trim()) sec.get(cur)!.push(line);
  }
  if (!sec.has('end')) throw new HarnessError('ERR_LVS_CONFIGURE', `the host snapshot ended early: ${out.slice(-300)}`);
  const get = (s: Section) => sec.get(s) ?? [];
  const addresses = new Set<string>();
  for (const l of get('addr')) {
    const x = l.match(/^\d+:\s+(\S+?)(?:@\S+)?\s+inet6?\s+(\S+)/);
    if (x) addresses.add(`${x[1]} ${x[2]}`);
  }
  const links = new Map<string, boolean>();
  for (const l of get('link')) {
    const x = l.match(/^\d+:\s+([^:@\s]+)(?:@[^:]+)?:\s+<([^>]*)>/);
    if (x) links.set(x[1]!, x[2]!.split(',').includes('UP'));
  }
  const sysctls = new Map<string, string>();
  for (const l of get('sysctl')) {
    const i = l.indexOf('=');
    if (i > 0) sysctls.set(l.slice(0, i), l.slice(i + 1));
  }
  const indexes = (s: Section, word: string) => new Set(get(s).filter((l) => l.endsWith(` ${word}`)).map((l) => Number(l.split(' ')[0])));
  const sshLines = get('sshroute');
  const client = sshLines.find((l) => l.startsWith('client '))?.slice('client '.length);
  return {
    addresses,
    links,
    defaultRoutes: { 4: get('route4'), 6: get('route6') },
    sysctls,
    savedFiles: indexes('files', 'saved'),
    presentDirs: indexes('dirs', 'present'),
    saved: new Set(get('saved').filter((l): l is 'ipvs' | 'iptables4' | 'iptables6' => l === 'ipvs' || l === 'iptables4' || l === 'iptables6')),
    ...(client ? { ssh: { client, matching: sshLines.filter((l) => !l.startsWith('client ')) } } : {}),
  };
}

/** Why the plan cannot be applied to this host without cutting the harness off it; empty when it can. */
export function hostRefusals(c: HostChanges, s: HostSnapshot): string[] {
  const out: string[] = [];
  if (!s.ssh) return out;
  const fam = s.ssh.client.includes(':') ? 6 : 4;
  const onlyDefault = s.ssh.matching.length > 0 && s.ssh.matching.every((l) => l.startsWith('default'));
  for (const r of c.routes)
    if (r.family === fam && onlyDefault)
      out.push(
        `the plan replaces the default route (via ${r.via}), and the SSH connection from ${s.ssh.client} uses it: the harness would cut itself off. Give the host a route to ${s.ssh.client} (the harness's machine) other than the default one, or connect over another network`,
      );
  return out;
}

/** A default route line of `ip route show default` as arguments for `ip route replace` (flags the kernel prints but does not take left out). */
export const routeTokens = (line: string): string[] => line.trim().split(/\s+/).filter((t) => !['linkdown', 'dead', 'offload', 'trap', 'rt_offload', 'rt_trap', 'pervasive', 'notify'].includes(t));

export interface HostUndoEntry {
  /** the category, for people */
  what: string;
  undo: string[];
}

const sh = (script: string, ...args: string[]): string[] => ['sh', '-c', script, 'sh', ...args];

/**
 * The undo entries of a snapshot, in the order they are recorded (undone in reverse: processes
 * first, the snapshot directory last). The snapshot directory's own entry is recorded before
 * the snapshot is taken (snapshotDirUndo), so it is not in this list.
 */
export function hostUndoEntries(dir: string, c: HostChanges, s: HostSnapshot, o: { pidDir?: string } = {}): HostUndoEntry[] {
  const out: HostUndoEntry[] = [];
  if (s.saved.has('ipvs')) out.push({ what: 'the IPVS table as it was (ipvsadm -C; ipvsadm -R)', undo: sh('[ -f "$1" ] || exit 0; ipvsadm -C && ipvsadm -R < "$1"', `${dir}/ipvs.rules`) });
  if (s.saved.has('iptables4')) out.push({ what: 'iptables as it was (iptables-restore)', undo: sh('[ -f "$1" ] || exit 0; iptables-restore -w 10 < "$1"', `${dir}/iptables.v4`) });
  if (s.saved.has('iptables6')) out.push({ what: 'ip6tables as it was (ip6tables-restore)', undo: sh('[ -f "$1" ] || exit 0; ip6tables-restore -w 10 < "$1"', `${dir}/iptables.v6`) });
  const old = c.sysctls.filter((k) => s.sysctls.has(k));
  if (old.length) out.push({ what: `sysctls as they were (${old.map((k) => `${k}=${s.sysctls.get(k)}`).join(', ')})`, undo: ['sysctl', '-q', '-w', ...old.map((k) => `${k}=${s.sysctls.get(k)}`)] });
  for (const fam of [4, 6] as const) {
    const ours = c.routes.filter((r) => r.family === fam);
    if (!ours.length) continue;
    const ip = fam === 6 ? ['ip', '-6'] : ['ip'];
    const before = s.defaultRoutes[fam];
    // ours deleted (gone already is fine), then each old default route put back as it was
    const script = [
      ...ours.map((r) => `${shellCommand([...ip, 'route', 'del', 'default', 'via', r.via])} 2>/dev/null`),
      'rc=0',
      ...before.map((l) => `${shellCommand([...ip, 'route', 'replace', ...routeTokens(l)])} || rc=1`),
      'exit $rc',
    ].join('\n');
    out.push({ what: `the IPv${fam} default route as it was (${before.join('; ') || 'none'})`, undo: sh(script) });
  }
  const added = c.addresses.filter((a) => !s.addresses.has(`${a.dev} ${a.address}/${a.prefix}`));
  if (added.length)
    out.push({
      what: `addresses the harness added (${added.map((a) => `${a.address}/${a.prefix} on ${a.dev}`).join(', ')})`,
      // deleted, or already gone: either way it is not there afterwards
      undo: sh(
        ['del() { ip addr del "$1" dev "$2" 2>/dev/null; ! ip -o addr show dev "$2" 2>/dev/null | grep -qF " $1 "; }', 'rc=0', ...added.map((a) => `del ${shellQuote(`${a.address}/${a.prefix}`)} ${shellQuote(a.dev)} || rc=1`), 'exit $rc'].join('\n'),
      ),
    });
  const wasDown = c.links.filter((l) => s.links.get(l) === false);
  if (wasDown.length) out.push({ what: `links down again (${wasDown.join(', ')})`, undo: sh(wasDown.map((l) => `[ ! -e /sys/class/net/${shellQuote(l)} ] || ip link set ${shellQuote(l)} down`).join(' && ') || 'true') });
  const made = c.dirs.filter((_, i) => !s.presentDirs.has(i));
  if (made.length)
    out.push({
      what: `directories the harness made (${made.join(', ')})`,
      // its own (named lvs-harness) whole; another (/etc/keepalived) only when nothing else is in it
      undo: sh(made.map((d) => (/lvs-harness/.test(d) ? `rm -rf -- ${shellQuote(d)}` : `{ [ ! -d ${shellQuote(d)} ] || rmdir --ignore-fail-on-non-empty -- ${shellQuote(d)}; }`)).join(' && ')),
    });
  if (c.files.length)
    out.push({
      what: `files the harness wrote, back as they were (${c.files.map((f, i) => `${f}: ${s.savedFiles.has(i) ? 'restored' : 'removed'}`).join(', ')})`,
      undo: sh(
        [
          'rc=0',
          ...c.files.map((f, i) => (s.savedFiles.has(i) ? `{ [ ! -f "$1/${i}" ] || cp -p -- "$1/${i}" ${shellQuote(f)}; } || rc=1` : `rm -f -- ${shellQuote(f)} || rc=1`)),
          'exit $rc',
        ].join('\n'),
        `${dir}/files`,
      ),
    });
  // bash: dash's kill takes no process group (a negative pid)
  out.push({ what: 'processes the harness started, stopped (keepalived, HAProxy, nginx, the UDP echo, the load agent)', undo: ['bash', '-c', STOP_PROCESSES, 'bash', o.pidDir ?? HOST_PID_DIR, NGINX_PID, `^node ${UDP_ECHO}`, `^node ${LOAD_AGENT}`] });
  return out;
}

/**
 * The snapshot directory's entry, recorded before the snapshot is taken: the directory, then its
 * topology's and the root (/var/lib/lvs-harness-undo) when nothing else is left in them.
 */
export const SNAPSHOT_DIR_UNDO = 'rm -rf -- "$1"; p=$(dirname -- "$1"); rmdir -- "$p" 2>/dev/null && rmdir -- "$(dirname -- "$p")" 2>/dev/null; true';
export const snapshotDirUndo = (dir: string): HostUndoEntry => ({ what: `the harness's snapshot directory ${dir}`, undo: sh(SNAPSHOT_DIR_UNDO, dir) });

/**
 * Stops what the node script started on a host: each process group it recorded (TERM, then
 * KILL after 5 s), nginx by its pid file, the UDP echo by its command line (the harness's own
 * path). Nothing else: the host's other processes are not the harness's.
 */
const STOP_PROCESSES = [
  // a zombie nobody reaped yet counts as gone (kill -0 would still find it)
  'up() { ps -o stat= "$@" 2>/dev/null | grep -qv "^Z"; }',
  'stop() { t=$1; shift; kill -s TERM -- "$t" 2>/dev/null || return 0; i=0; while up "$@" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; up "$@" && kill -s KILL -- "$t" 2>/dev/null; return 0; }',
  // setsid made each group's leader a session leader too: its session is the group
  'for f in "$1"/*.pgid; do [ -f "$f" ] || continue; g=$(cat "$f"); case $g in ""|*[!0-9]*) ;; *) stop "-$g" -s "$g";; esac; rm -f "$f"; done',
  'if [ -s "$2" ]; then p=$(cat "$2"); case $p in ""|*[!0-9]*) ;; *) stop "$p" -p "$p";; esac; fi',
  // the UDP echo and the load agent by their command lines (the harness's own paths)
  'pkill -f "$3" 2>/dev/null; pkill -f "$4" 2>/dev/null; true',
].join('\n');

export interface HostUndoContext {
  journal: UndoJournal;
  topology: string;
  /** where the snapshot and pid files go, and whether tables are saved (tests on a machine they must not touch) */
  snapshot?: SnapshotOptions & { pidDir?: string };
}

/**
 * Takes the host's snapshot and writes its undo entries, once per node and journal (a later
 * configure of the node, restoreNode after a fault, finds them there and takes none). Refuses,
 * before any change, a host with an earlier run's snapshot, a daemon the plan starts already
 * running, or a plan that would cut the SSH connection.
 */
export async function snapshotHost(node: Node, n: PlannedNode, changes: HostChanges, ctx: HostUndoContext): Promise<void> {
  if (ctx.journal.entries.some((e) => e.node === n.name)) return;
  const o = ctx.snapshot ?? {};
  const dir = o.root ? `${o.root}/${ctx.topology}/${n.name}` : snapshotDir(ctx.topology, n.name);
  const first = snapshotDirUndo(dir);
  const id = await ctx.journal.record(first.what, first.undo, node);
  const r = await node.exec(['sh', '-c', hostSnapshotScript(dir, changes, o)], { allowFailure: true, timeoutMs: 60_000 });
  if (r.exitCode === SNAPSHOT_EXIT.leftover || r.exitCode === SNAPSHOT_EXIT.foreign) {
    // nothing was made: the directory there is not this run's
    await ctx.journal.forget(id);
    throw new HarnessError('ERR_LVS_HOST_NOT_CLEAN', `${n.role} ${n.name}: ${r.stderr.trim()}; nothing was changed on it`, {
      hint: r.exitCode === SNAPSHOT_EXIT.leftover ? `undo that run's changes with \`lvs-harness down <its topology>\` (it keeps its undo journal), or by hand, then remove the snapshot directory under ${HOST_SNAPSHOT_ROOT}` : undefined,
    });
  }
  if (r.exitCode !== 0) throw new HarnessError('ERR_LVS_CONFIGURE', `${n.role} ${n.name}: taking the snapshot to undo from failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  const snap = parseHostSnapshot(r.stdout);
  for (const e of hostUndoEntries(dir, changes, snap, o)) await ctx.journal.record(e.what, e.undo, node);
  const refused = hostRefusals(changes, snap);
  if (refused.length) throw new HarnessError('ERR_LVS_CONFIGURE', `${n.role} ${n.name}: ${refused.join('; ')}; nothing was changed on it`);
}
