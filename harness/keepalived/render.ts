/**
 * A keepalived model rendered to keepalived.conf (2.2.x syntax, keepalived.conf(5)), and what
 * `keepalived -t` says about a file read back as data. Rendering is deterministic: the same model
 * gives the same bytes, two-space indentation, one option per line, blocks in model order.
 */
import {
  errKeepalivedConfig,
  validateKeepalivedConfig,
  type Command,
  type GlobalDefs,
  type HealthCheck,
  type KeepalivedConfig,
  type RealServer,
  type VirtualServer,
  type VrrpInstance,
  type VrrpScript,
} from './model.js';

const BARE = /^[A-Za-z0-9_.:@/+=,%-]+$/;

/**
 * keepalived reads a script in two passes (lib/parser.c alloc_strvec_quoted_escaped, then
 * lib/notify.c set_script_params_array): the line is split into words honouring "…", '…' and
 * backslash escapes, and the script word is split again the same way into argv. So each argument
 * is quoted for the second pass, and the whole command for the first.
 */
function quoteArg(a: string): string {
  return BARE.test(a) ? a : `'${a.replace(/[\\']/g, '\\$&')}'`;
}

export function renderCommand(c: Command): string {
  const line = typeof c === 'string' ? c.trim().split(/\s+/).join(' ') : c.map(quoteArg).join(' ');
  return BARE.test(line) ? line : `"${line.replace(/[\\"]/g, '\\$&')}"`;
}

/** Seconds as keepalived reads them: plain decimals, never exponent notation, at most µs precision. */
const secs = (n: number) => String(Number(n.toFixed(6)));

class Out {
  private readonly lines: string[] = [];
  private depth = 0;
  line(text: string): this {
    this.lines.push('  '.repeat(this.depth) + text);
    return this;
  }
  opt(key: string, value: string | number | undefined): this {
    return value === undefined ? this : this.line(`${key} ${value}`);
  }
  flag(key: string, on: boolean | undefined): this {
    return on ? this.line(key) : this;
  }
  block(head: string, body: () => void): this {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    return this.line('}');
  }
  blank(): this {
    this.lines.push('');
    return this;
  }
  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

function globalDefs(o: Out, g: GlobalDefs): void {
  o.block('global_defs', () => {
    o.opt('router_id', g.routerId);
    if (g.scriptUser) o.line(`script_user ${g.scriptUser.user}${g.scriptUser.group ? ` ${g.scriptUser.group}` : ''}`);
    o.flag('enable_script_security', g.enableScriptSecurity);
    const garp = g.garp ?? {};
    o.opt('vrrp_garp_master_delay', garp.masterDelay === undefined ? undefined : secs(garp.masterDelay));
    o.opt('vrrp_garp_master_repeat', garp.masterRepeat);
    o.opt('vrrp_garp_master_refresh', garp.masterRefresh === undefined ? undefined : secs(garp.masterRefresh));
    o.opt('vrrp_garp_master_refresh_repeat', garp.masterRefreshRepeat);
    o.opt('vrrp_garp_interval', garp.interval === undefined ? undefined : secs(garp.interval));
    const s = g.lvsSyncDaemon;
    if (s) o.line(['lvs_sync_daemon', s.interface, ...(s.instance ? ['inst', s.instance] : []), ...(s.syncId !== undefined ? ['id', String(s.syncId)] : [])].join(' '));
  });
}

function vrrpScript(o: Out, s: VrrpScript): void {
  o.block(`vrrp_script ${s.name}`, () => {
    o.line(`script ${renderCommand(s.script)}`);
    o.opt('interval', s.interval);
    o.opt('timeout', s.timeout);
    o.opt('weight', s.weight);
    o.opt('rise', s.rise);
    o.opt('fall', s.fall);
  });
}

function vrrpInstance(o: Out, i: VrrpInstance): void {
  o.block(`vrrp_instance ${i.name}`, () => {
    o.line(`state ${i.state}`);
    o.line(`interface ${i.interface}`);
    o.line(`virtual_router_id ${i.virtualRouterId}`);
    o.line(`priority ${i.priority}`);
    // always written: the failover bound is computed from these, so the file must not lean on defaults
    o.line(`advert_int ${secs(i.advertInt ?? 1)}`);
    o.line(`version ${i.version ?? 2}`);
    if (i.authentication) {
      const a = i.authentication;
      o.block('authentication', () => o.line(`auth_type ${a.type}`).line(`auth_pass ${a.pass}`));
    }
    o.opt('unicast_src_ip', i.unicastSrcIp);
    if (i.unicastPeers?.length) o.block('unicast_peer', () => i.unicastPeers!.forEach((p) => o.line(p)));
    o.block('virtual_ipaddress', () => {
      for (const v of i.virtualIpaddress) {
        o.line([`${v.address}${v.prefix !== undefined ? `/${v.prefix}` : ''}`, ...(v.dev ? ['dev', v.dev] : []), ...(v.label ? ['label', v.label] : [])].join(' '));
      }
    });
    if (i.trackScripts?.length) o.block('track_script', () => i.trackScripts!.forEach((t) => o.line(t.weight !== undefined ? `${t.name} weight ${t.weight}` : t.name)));
    o.flag('nopreempt', i.nopreempt);
    o.opt('preempt_delay', i.preemptDelay === undefined ? undefined : secs(i.preemptDelay));
    const n = i.notify ?? {};
    for (const [key, cmd] of [
      ['notify_master', n.master],
      ['notify_backup', n.backup],
      ['notify_fault', n.fault],
      ['notify_stop', n.stop],
      ['notify', n.all],
    ] as const) {
      if (cmd !== undefined) o.line(`${key} ${renderCommand(cmd)}`);
    }
  });
}

function healthCheck(o: Out, c: HealthCheck): void {
  o.block(c.type, () => {
    switch (c.type) {
      case 'HTTP_GET':
        o.block('url', () => o.line(`path ${c.url.path}`).opt('status_code', c.url.statusCode));
        o.opt('connect_port', c.connectPort);
        break;
      case 'TCP_CHECK':
        o.opt('connect_port', c.connectPort);
        break;
      case 'MISC_CHECK':
        o.line(`misc_path ${renderCommand(c.miscPath)}`);
        o.opt('misc_timeout', c.miscTimeout);
        break;
      case 'PING_CHECK':
        break;
    }
    if (c.type !== 'MISC_CHECK') o.opt('connect_timeout', c.connectTimeout === undefined ? undefined : secs(c.connectTimeout));
    o.opt('retry', c.retry);
    o.opt('delay_before_retry', c.delayBeforeRetry === undefined ? undefined : secs(c.delayBeforeRetry));
  });
}

function realServer(o: Out, rs: RealServer): void {
  o.block(`real_server ${rs.address}${rs.port !== undefined ? ` ${rs.port}` : ''}`, () => {
    o.line(`weight ${rs.weight ?? 1}`);
    o.flag('inhibit_on_failure', rs.inhibitOnFailure);
    healthCheck(o, rs.check);
  });
}

function virtualServer(o: Out, vs: VirtualServer): void {
  o.block(vs.fwmark !== undefined ? `virtual_server fwmark ${vs.fwmark}` : `virtual_server ${vs.vip} ${vs.port}`, () => {
    o.opt('delay_loop', vs.delayLoop === undefined ? undefined : secs(vs.delayLoop));
    o.line(`lvs_sched ${vs.lbAlgo}`);
    o.line(`lvs_method ${vs.lbKind}`);
    o.opt('persistence_timeout', vs.persistenceTimeout);
    o.opt('protocol', vs.protocol);
    for (const rs of vs.realServers) realServer(o, rs);
  });
}

/** keepalived.conf for the model; throws ERR_LVS_KEEPALIVED_CONFIG listing every problem when the model is not a valid config. */
export function renderKeepalivedConf(c: KeepalivedConfig): string {
  const problems = validateKeepalivedConfig(c);
  if (problems.length) throw errKeepalivedConfig(problems);
  const o = new Out();
  o.line('# keepalived.conf rendered by lvs-harness from its keepalived model: change the model, not this file');
  const sections: (() => void)[] = [
    ...(c.globalDefs ? [() => globalDefs(o, c.globalDefs!)] : []),
    ...(c.vrrpScripts ?? []).map((s) => () => vrrpScript(o, s)),
    ...(c.vrrpInstances ?? []).map((i) => () => vrrpInstance(o, i)),
    ...(c.virtualServers ?? []).map((vs) => () => virtualServer(o, vs)),
  ];
  for (const s of sections) {
    o.blank();
    s();
  }
  return o.text();
}

/** The config test: keepalived parses FILE, prints what it objects to on stderr, and exits without starting. */
export const keepalivedTestArgv = (file: string): string[] => ['keepalived', '--config-test', '--use-file', file];

/**
 * keepalived 2.2.7's exit codes for the config test (lib/scheduler.h chk_exit_code, as observed:
 * a missing interface exits 5, not 4, since the VRRP checks report it after the main parse).
 * A config test killed by SIGTERM (exit 143 from a shell) is keepalived 2.2.7 checking a script
 * under a script_user other than its own uid, not a verdict on the file.
 */
export const KEEPALIVED_TEST_EXIT: Record<number, string> = {
  0: 'the configuration is clean',
  4: 'keepalived cannot run this configuration (a configuration file is missing, or a fatal error)',
  5: 'keepalived found errors it works around (it ignores or defaults what it reports), or an interface or script the file names is missing here',
  6: 'a script security violation (scripts without enable_script_security, or insecure scripts)',
};

export interface KeepalivedDiagnostic {
  /** the file keepalived named, or the tested file when it named none */
  file: string;
  line?: number;
  message: string;
  /**
   * config: the file itself is at fault. interface: an interface it names does not exist on this
   * machine. script: a script it names is missing or not runnable here. The last two depend on the
   * machine the test ran on, not on the syntax.
   */
  kind: 'config' | 'interface' | 'script';
}

const INTERFACE_MESSAGES = [/^WARNING - interface \S+ for .+ doesn't exist$/, /^Non-existent interface specified in configuration$/];
const SCRIPT_MESSAGES = [
  /^Disabling (track|misc) script .+ since not found\/accessible$/,
  /^Script \S+ cannot be accessed - /,
  /^Cannot find script \S+ in path - disabling$/,
  /^check_script_secure could not find script /,
  /^WARNING - script '.+' is not executable for uid:gid /,
  /^Unable to access script `.+` - disabling$/,
];

/**
 * The diagnostics of `keepalived -t` (stderr), one per line. keepalived 2.2.7 (lib/parser.c
 * vreport_config_error) writes "(FILE: Line N) message" while reading a file it names,
 * "(Line N) message" when it does not name the file, and a bare "message" for checks made after
 * parsing (missing interfaces, scripts, VRRP consistency), which carry no line.
 */
export function parseKeepalivedTestOutput(stderr: string, file: string): KeepalivedDiagnostic[] {
  const out: KeepalivedDiagnostic[] = [];
  for (const raw of stderr.split('\n')) {
    const text = raw.replace(/\r$/, '').trim();
    if (!text) continue;
    const named = text.match(/^\((.+): Line (\d+)\) (.*)$/);
    const lineOnly = named ? null : text.match(/^\(Line (\d+)\) (.*)$/);
    const d = named
      ? { file: named[1]!, line: Number(named[2]), message: named[3]! }
      : lineOnly
        ? { file, line: Number(lineOnly[1]), message: lineOnly[2]! }
        : { file, message: text };
    const kind = INTERFACE_MESSAGES.some((r) => r.test(d.message)) ? 'interface' : SCRIPT_MESSAGES.some((r) => r.test(d.message)) ? 'script' : 'config';
    out.push({ ...d, kind });
  }
  return out;
}
