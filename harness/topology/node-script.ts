import { shellCommand, shellQuote, stepsScript } from '../util/shell.js';

/**
 * Everything a node needs after its container starts, as one shell script run in one exec:
 * addresses, routes and iptables rules, the files (keepalived.conf, haproxy.cfg, nginx.conf,
 * scripts), the config checks (`keepalived -t`, `haproxy -c`), the daemons started unless they
 * run, and the wait until each runs and nginx answers, observed inside the node. Under software
 * emulation an exec costs half a second to a second; the builder used twenty per director.
 *
 * Idempotent: restoreNode runs it again on a node that may be half configured.
 * A failure exits with one of NODE_SCRIPT_EXIT, what it saw on stderr.
 */

export const NODE_SCRIPT_EXIT = {
  /** a configuration step (ip, iptables, nginx) failed: stderr names it */
  step: 1,
  haproxyCheck: 10,
  keepalivedCheck: 11,
  /** a daemon did not run: `lvsh-not-running NAME`, then the end of its log */
  daemon: 12,
  /** nginx did not answer its health URL */
  health: 13,
  /** the restarted background process did not say it was ready (its ready file) in time */
  notReady: 14,
} as const;

/** Seconds a started daemon is waited for (pgrep), unless the spec says otherwise. */
export const DAEMON_WAIT_S = 20;

/** The marker line after a config check's own output: `lvsh-check-exit <tool> <status>`. */
export const CHECK_EXIT_MARK = 'lvsh-check-exit';

export interface NodeFile {
  path: string;
  text: string;
  mode?: string;
}

export interface NodeDaemon {
  /** the process name pgrep -x looks for */
  process: string;
  argv: string[];
  /** its output, each line stamped with the lab clock ($EPOCHREALTIME) */
  log: string;
  /** removed before a start (stale pid files) */
  removeFirst?: string[];
}

export interface NodeScriptSpec {
  steps: { argv: string[]; unless?: string[] }[];
  dirs: string[];
  files: NodeFile[];
  /** a config check, run after the files are written: nonzero exits NODE_SCRIPT_EXIT[exit] */
  checks: { tool: 'haproxy' | 'keepalived'; argv: string[] }[];
  /** started in order unless running, each waited for before the next (HAProxy before keepalived) */
  daemons: NodeDaemon[];
  /** nginx: started, or reloaded when it runs */
  nginx?: { conf: string; healthUrl: string };
  /**
   * A background process started again every time (the UDP echo): killed first by its command
   * line. `ready`: a file the process writes once it serves (the echo: every socket bound), given
   * to it as $LVSH_READY; removed before the start and waited for at the end of the script.
   */
  restart?: { argv: string[]; ready?: string };
  /** seconds a daemon or nginx is waited for */
  waitSeconds?: number;
  /**
   * A real host (an SSH node), not a container: the process group of each daemon and of the
   * UDP echo is written to `<pidDir>/<name>.pgid`, so that the undo stops exactly what the
   * harness started (topology/host-undo.ts) and nothing else of the host's.
   */
  host?: { pidDir: string };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64').replace(/(.{76})/g, '$1\n');

export function nodeScript(spec: NodeScriptSpec): string {
  const wait = spec.waitSeconds ?? DAEMON_WAIT_S;
  const out: string[] = [stepsScript(spec.steps).trimEnd()];
  out.push(
    // a file from base64 (no quoting or heredoc delimiter can break it)
    'put() { mkdir -p "$(dirname "$1")" && base64 -d > "$1" || fail $? write "$1"; [ -z "${2:-}" ] || chmod "$2" "$1"; }',
    // a daemon in the foreground of a detached session, its lines stamped with the lab clock;
    // its descriptors point away from the exec, so the exec ends when this script does
    `start_daemon() { log=$1; shift; setsid bash -c 'log=$1; shift; "$@" 2>&1 | while IFS= read -r l; do printf "%s %s\\n" "$EPOCHREALTIME" "$l"; done >> "$log"' bash "$log" "$@" </dev/null >/dev/null 2>&1 & }`,
    `wait_proc() { end=$(( $(date +%s) + ${wait} )); until pgrep -x "$1" >/dev/null; do if [ "$(date +%s)" -ge "$end" ]; then echo "lvsh-not-running $1" >&2; tail -n 8 "$2" >&2; exit ${NODE_SCRIPT_EXIT.daemon}; fi; sleep 0.2; done; }`,
  );
  const dirs = spec.host ? [...spec.dirs, spec.host.pidDir] : spec.dirs;
  if (dirs.length) out.push(`mkdir -p ${dirs.map(shellQuote).join(' ')} || fail $? mkdir`);
  // $! of a start: the setsid'ed command, leader of its own process group
  const pgid = (name: string) => (spec.host ? `; echo $! > ${shellQuote(`${spec.host.pidDir}/${name}.pgid`)}` : '');
  for (const f of spec.files) out.push(`put ${shellQuote(f.path)}${f.mode ? ` ${f.mode}` : ''} <<'LVSH_EOF'\n${b64(f.text)}\nLVSH_EOF`);
  for (const c of spec.checks) {
    const code = c.tool === 'haproxy' ? NODE_SCRIPT_EXIT.haproxyCheck : NODE_SCRIPT_EXIT.keepalivedCheck;
    // haproxy -c says what is wrong on stdout and stderr; keepalived -t on stderr
    const capture = c.tool === 'haproxy' ? '2>&1' : '2>&1 >/dev/null';
    out.push(`said=$(${shellCommand(c.argv)} ${capture}); rc=$?; if [ $rc -ne 0 ]; then printf '%s\\n' "$said" >&2; echo "${CHECK_EXIT_MARK} ${c.tool} $rc" >&2; exit ${code}; fi`);
  }
  for (const d of spec.daemons) {
    const rm = d.removeFirst?.length ? `rm -f ${d.removeFirst.map(shellQuote).join(' ')}; ` : '';
    out.push(`if ! pgrep -x ${shellQuote(d.process)} >/dev/null; then ${rm}start_daemon ${shellQuote(d.log)} ${shellCommand(d.argv)}${pgid(d.process)}; wait_proc ${shellQuote(d.process)} ${shellQuote(d.log)}; fi`);
  }
  if (spec.nginx) {
    const c = shellQuote(spec.nginx.conf);
    out.push(`if pgrep -x nginx >/dev/null; then nginx -c ${c} -s reload || fail $? nginx -c ${c} -s reload; else nginx -c ${c} || fail $? nginx -c ${c}; fi`);
  }
  if (spec.restart) {
    // matched from the start of the command line: this script's own text names it too
    const ready = spec.restart.ready ? shellQuote(spec.restart.ready) : undefined;
    out.push(
      `pkill -f ${shellQuote(`^${spec.restart.argv.slice(0, 2).join(' ')}`)}`,
      ...(ready ? [`rm -f ${ready}`] : []),
      `${ready ? `LVSH_READY=${ready} ` : ''}setsid ${shellCommand(spec.restart.argv)} </dev/null >/dev/null 2>&1 &${pgid('udp-echo').replace(/^;/, '')}`,
    );
  }
  if (spec.nginx) {
    const url = shellQuote(spec.nginx.healthUrl);
    out.push(
      `end=$(( $(date +%s) + ${Math.max(wait, 30)} )); until [ "$(curl -s -o /dev/null -w '%{http_code}' ${url})" = 200 ]; do if [ "$(date +%s)" -ge "$end" ]; then echo "nginx did not answer ${spec.nginx.healthUrl} with 200 within ${Math.max(wait, 30)} s" >&2; exit ${NODE_SCRIPT_EXIT.health}; fi; sleep 0.2; done`,
    );
  }
  if (spec.restart?.ready) {
    // last: the process started long before, while nginx came up; under emulation a Node start takes seconds
    const ready = shellQuote(spec.restart.ready);
    out.push(`end=$(( $(date +%s) + ${wait} )); until [ -e ${ready} ]; do if [ "$(date +%s)" -ge "$end" ]; then echo "lvsh-not-ready ${spec.restart.argv.slice(0, 2).join(' ')} ${wait}" >&2; exit ${NODE_SCRIPT_EXIT.notReady}; fi; sleep 0.1; done`);
  }
  return out.join('\n') + '\n';
}

/** What a failed node script said: the config check's own output and status, or a daemon's name and log. */
export function readNodeScriptFailure(stderr: string): { checkStatus?: number; said: string; daemon?: string } {
  const lines = stderr.split('\n');
  const mark = lines.findIndex((l) => l.startsWith(CHECK_EXIT_MARK));
  if (mark >= 0) return { checkStatus: Number(lines[mark]!.split(' ')[2]), said: lines.slice(0, mark).join('\n') };
  const nr = lines.findIndex((l) => l.startsWith('lvsh-not-running '));
  if (nr >= 0) return { daemon: lines[nr]!.slice('lvsh-not-running '.length).trim(), said: lines.slice(nr + 1).join('\n').trim() };
  return { said: stderr.trim() };
}
