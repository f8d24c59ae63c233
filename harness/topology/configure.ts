/**
 * Configuration: a node brought to its plan over Node.exec only (issue 14): links, addresses,
 * routes, iptables and the plan's other commands, the real server's app, HAProxy, keepalived
 * (which programs IPVS, or verify.ts restores the table). Whatever made the node (provision.ts
 * for a container, or an SSH host), it is configured by this same code.
 *
 * The plan's sysctls: Docker sets a container's when it creates it (HostConfig.Sysctls in
 * provision.ts); on a real host (an SSH node) they are written here (sysctl -w), after the
 * snapshot that undoes them and every other change (host-undo.ts).
 *
 * What the node script assumes of a fresh container, and how a host is kept safe from it: it
 * starts keepalived, HAProxy and nginx unless `pgrep -x` finds them (the snapshot refuses a host
 * where one runs that the harness did not start, so every one found is the harness's); it
 * writes /etc/keepalived/keepalived.conf and /etc/haproxy/haproxy.cfg (the snapshot keeps the
 * old ones, put back at teardown); it replaces the default route of a NAT real server (the
 * snapshot refuses a plan that would take away the route the SSH connection uses). It touches
 * no interface but the ones holding the planned addresses (found by address, not by name).
 */
import { HarnessError } from '../errors.js';
import { DEFAULT_BODY_SIZES, NGINX_CONF, UDP_ECHO, UDP_ECHO_READY, bodyFilesScript, renderNginxConf, udpEchoSource } from '../images/rs-app.js';
import type { Node } from '../runtime/node.js';
import { KEEPALIVED_TEST_EXIT, keepalivedTestArgv, parseKeepalivedTestOutput, renderKeepalivedConf } from '../keepalived/render.js';
import type { KeepalivedConfig } from '../keepalived/model.js';
import { HAPROXY_CFG, HAPROXY_LOG, renderHaproxyConf } from '../haproxy/config.js';
import { DAEMON_WAIT_S, NODE_SCRIPT_EXIT, nodeScript, readNodeScriptFailure, type NodeScriptSpec } from './node-script.js';
import { HOST_PID_DIR, hostChanges, snapshotHost, type HostUndoContext } from './host-undo.js';
import { KEEPALIVED_CONF, KEEPALIVED_LOG, MISC_CHECK, VRRP_LOG, VRRP_NOTIFY, type PlannedNode } from './planner.js';

/** Interface names by address, as the node sees them (Docker names them in attach order). */
export async function devicesOf(node: Pick<Node, 'exec'>): Promise<Map<string, string>> {
  const out = (await node.exec(['ip', '-o', '-4', 'addr', 'show'])).stdout;
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const x = line.match(/^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+([\d.]+)\//);
    if (x) m.set(x[2]!, x[1]!);
  }
  return m;
}

/**
 * Configures one node to its plan over Node.exec alone (a container or a host alike): its
 * links, addresses, routes, iptables and other commands, HAProxy, keepalived and the real
 * server's app, in one node script (node-script.ts). A rejected config or a daemon that did not
 * come up is a coded error naming the node.
 */
export async function configureNode(node: Node, n: PlannedNode, opts: { host?: HostUndoContext } = {}): Promise<void> {
  const devs = await devicesOf(node);
  const devOf = (network: string) => {
    const i = n.interfaces.find((x) => x.network === network)!;
    const d = devs.get(i.address);
    if (!d) throw new HarnessError('ERR_LVS_CONFIGURE', `node ${n.name}: no interface holds ${i.address} (network ${network})`);
    return d;
  };
  // idempotent throughout: restoreNode runs it again on a node that may be half configured.
  // One exec for all of it (see node-script.ts): under emulation each exec costs half a second or more
  const spec: NodeScriptSpec = { steps: [], dirs: [], files: [], checks: [], daemons: [] };
  for (const l of n.linksUp) spec.steps.push({ argv: ['ip', 'link', 'set', l, 'up'] });
  // a host's sysctls: what Docker does for a container at its creation; after the links (tunl0's), before the addresses (arp_ignore before a VIP on lo)
  const sysctls = Object.entries(n.sysctls);
  if (opts.host && sysctls.length) spec.steps.push({ argv: ['sysctl', '-q', '-w', ...sysctls.map(([k, v]) => `${k}=${v}`)] });
  for (const a of n.addresses) {
    const dev = 'dev' in a.on ? a.on.dev : devOf(a.on.network);
    // IPv6: skip duplicate address detection, or the address stays tentative (unusable) for a second or more
    spec.steps.push({ argv: ['ip', 'addr', 'replace', `${a.address}/${a.prefix}`, 'dev', dev, ...(a.address.includes(':') ? ['nodad'] : [])] });
  }
  for (const r of n.routes) spec.steps.push({ argv: ['ip', ...(r.family === 6 ? ['-6'] : []), 'route', 'replace', 'default', 'via', r.via] });
  for (const c of n.commands) {
    const a = c.argv.indexOf('-A');
    // an iptables rule that is already there (-C finds it) is not appended twice
    spec.steps.push({ argv: [...c.argv], ...(c.argv[0] === 'iptables' && a > 0 ? { unless: c.argv.map((x, i) => (i === a ? '-C' : x)) } : {}) });
  }
  // HAProxy before keepalived: a vrrp_script that tracks it must find it running
  let haproxyConf = '';
  if (n.haproxy) {
    haproxyConf = renderHaproxyConf(n.haproxy);
    spec.dirs.push('/etc/haproxy', '/run/lvs-harness');
    spec.files.push({ path: HAPROXY_CFG, text: haproxyConf });
    spec.checks.push({ tool: 'haproxy', argv: ['haproxy', '-c', '-f', HAPROXY_CFG] });
    spec.daemons.push({ process: 'haproxy', argv: ['haproxy', '-db', '-f', HAPROXY_CFG], log: HAPROXY_LOG });
  }
  let keepalivedConf = '';
  if (n.keepalived) {
    // the operator's own files (validate), else the model rendered; `@net:<network>` names a device
    const bind = (text: string) => text.replace(/@net:([a-z][a-z0-9-]*)/g, (_, net: string) => devOf(net));
    const files = n.keepalivedFiles?.length ? n.keepalivedFiles.map((f) => ({ path: f.path, text: bind(f.text) })) : [{ path: KEEPALIVED_CONF, text: renderKeepalivedConf(bindInterfaces(n.keepalived, devOf)) }];
    keepalivedConf = files[0]!.text;
    spec.dirs.push('/etc/keepalived', '/opt/lvs-harness', '/run/lvs-harness');
    spec.files.push(...files, { path: VRRP_NOTIFY, text: NOTIFY_SCRIPT, mode: '755' }, { path: MISC_CHECK, text: MISC_CHECK_SCRIPT, mode: '755' });
    spec.checks.push({ tool: 'keepalived', argv: keepalivedTestArgv(files[0]!.path) });
    // /run is no tmpfs in a container: after a kill and a start the old pid files are still there,
    // and keepalived exits as "already running" when a new process happens to have an old pid
    spec.daemons.push({ process: 'keepalived', argv: ['keepalived', '--dont-fork', '--log-console', '--log-detail', '--use-file', files[0]!.path], log: KEEPALIVED_LOG, removeFirst: KEEPALIVED_PID_FILES });
  }
  if (n.app) {
    const rip = n.interfaces[0]!.address;
    const ipv6 = n.interfaces.some((i) => i.address6);
    spec.dirs.push('/etc/lvs-harness', '/opt/lvs-harness', '/run/lvs-harness');
    spec.files.push({ path: NGINX_CONF, text: renderNginxConf({ name: n.name, rip, httpPorts: n.app.httpPorts, ipv6 }) });
    // the bodies bench fetches (/bytes/<N>); other sizes bench writes itself
    spec.steps.push({ argv: ['sh', '-c', bodyFilesScript(DEFAULT_BODY_SIZES)] });
    spec.nginx = { conf: NGINX_CONF, healthUrl: `http://127.0.0.1:${n.app.httpPort}/health` };
    if (n.app.udpPorts.length) {
      spec.files.push({ path: UDP_ECHO, text: udpEchoSource() });
      const local = [...n.interfaces.flatMap((i) => [i.address, ...(i.address6 ? [i.address6] : [])]), ...n.addresses.map((a) => a.address)];
      spec.restart = { argv: ['node', UDP_ECHO, n.name, rip, n.app.udpPorts.join(','), ...local], ready: UDP_ECHO_READY };
    }
  }
  // a host's client: the directory the load agent is written to at each load (a container's image has it)
  if (opts.host && n.role === 'client') spec.dirs.push('/opt/lvs-harness');
  spec.dirs = [...new Set(spec.dirs)];
  if (opts.host) {
    spec.host = { pidDir: HOST_PID_DIR };
    // what the undo takes away again: the plan's addresses, and the VRRP VIPs a killed keepalived leaves behind
    const vips = (n.keepalived?.vrrpInstances ?? []).flatMap((i) => i.virtualIpaddress.flatMap((v) => (v.dev ? [{ address: v.address, prefix: v.prefix ?? 32, dev: v.dev.startsWith('@net:') ? devOf(v.dev.slice(5)) : v.dev }] : [])));
    const added = n.addresses.map((a) => ({ address: a.address, prefix: a.prefix, dev: 'dev' in a.on ? a.on.dev : devOf(a.on.network) }));
    await snapshotHost(node, n, hostChanges(n, spec, [...added, ...vips]), opts.host);
  }
  // one-off: a DockerNode runs it by docker exec, while the node's shell starts beside it for every later command
  const r = await node.exec(['sh', '-c', nodeScript(spec)], { allowFailure: true, timeoutMs: 180_000, oneOff: true });
  if (r.exitCode === 0) return;
  const f = readNodeScriptFailure(r.stderr);
  const role = n.role === 'director' ? 'director' : 'node';
  if (r.exitCode === NODE_SCRIPT_EXIT.haproxyCheck) {
    const lines = haproxyConf.split('\n');
    // [ALERT] ... : config : parsing [/etc/haproxy/haproxy.cfg:12] : unknown keyword ...
    const said = f.said
      .split('\n')
      .filter((l) => /ALERT|WARNING/.test(l))
      .map((l) => {
        const line = Number(l.match(/haproxy\.cfg:(\d+)\]/)?.[1] ?? 0);
        return `${l.trim()}${line ? `   | ${lines[line - 1]?.trim() ?? ''}` : ''}`;
      });
    throw new HarnessError('ERR_LVS_HAPROXY_CONFIG', `director ${n.name}: haproxy -c rejected ${HAPROXY_CFG} (exit ${f.checkStatus}):\n  ${said.join('\n  ') || f.said.trim()}`, { details: { conf: haproxyConf } });
  }
  if (r.exitCode === NODE_SCRIPT_EXIT.keepalivedCheck) {
    const diags = parseKeepalivedTestOutput(f.said, KEEPALIVED_CONF);
    const lines = keepalivedConf.split('\n');
    throw new HarnessError(
      'ERR_LVS_KEEPALIVED_CONFIG',
      `director ${n.name}: keepalived -t rejected ${KEEPALIVED_CONF} (exit ${f.checkStatus}: ${KEEPALIVED_TEST_EXIT[f.checkStatus!] ?? 'unknown'}):\n  ${diags.map((d) => `${d.file}${d.line ? `:${d.line}` : ''}: ${d.message}${d.line ? `   | ${lines[d.line - 1]?.trim() ?? ''}` : ''}`).join('\n  ') || f.said.trim()}`,
      { details: { conf: keepalivedConf, stderr: f.said } },
    );
  }
  if (r.exitCode === NODE_SCRIPT_EXIT.daemon && f.daemon) {
    const d = spec.daemons.find((x) => x.process === f.daemon);
    const label = f.daemon === 'haproxy' ? 'HAProxy' : f.daemon;
    throw new HarnessError(f.daemon === 'haproxy' ? 'ERR_LVS_HAPROXY_START' : 'ERR_LVS_KEEPALIVED_START', `director ${n.name}: ${label} did not run within ${DAEMON_WAIT_S} s of its start; ${d?.log ?? 'its log'} ends:\n${f.said || '(nothing)'}`);
  }
  if (r.exitCode === NODE_SCRIPT_EXIT.health) throw new HarnessError('ERR_LVS_APP_START', `${role} ${n.name}: ${f.said}`);
  if (r.exitCode === NODE_SCRIPT_EXIT.notReady) {
    const secs = f.said.match(/(\d+)\s*$/)?.[1];
    throw new HarnessError('ERR_LVS_APP_START', `${role} ${n.name}: the UDP echo (ports ${n.app?.udpPorts.join(', ')}) did not bind its sockets within ${secs ?? 'the'} s of its start`, {
      hint: `its addresses: ${spec.restart?.argv.slice(5).join(', ')}; look inside with lvs-harness exec ${n.name} -- ss -ulnp`,
    });
  }
  throw new HarnessError('ERR_LVS_EXEC_FAILED', `${role} ${n.name}: configuring it failed (exit ${r.exitCode}): ${(f.said || r.stdout).trim()}`);
}

// Fixed scripts, their inputs as arguments. The notify line: lab-clock milliseconds, instance, state, priority.
const NOTIFY_SCRIPT = `#!/bin/sh
# keepalived notify: $1 INSTANCE|GROUP, $2 name, $3 MASTER|BACKUP|FAULT|STOP, $4 priority
echo "$(date +%s%3N) $2 $3 $4" >> ${VRRP_LOG}
`;
const MISC_CHECK_SCRIPT = `#!/bin/sh
# MISC_CHECK: healthy when the real server's HTTP health URL answers 200
exec curl -fs -o /dev/null -m 2 "http://$1:$2$3"
`;

/** keepalived.conf with the node's device names for the `@net:<network>` references of the plan. */
export function bindInterfaces(c: KeepalivedConfig, devOf: (network: string) => string): KeepalivedConfig {
  const dev = (x: string) => (x.startsWith('@net:') ? devOf(x.slice(5)) : x);
  const g = c.globalDefs;
  return {
    ...c,
    ...(g ? { globalDefs: { ...g, ...(g.lvsSyncDaemon ? { lvsSyncDaemon: { ...g.lvsSyncDaemon, interface: dev(g.lvsSyncDaemon.interface) } } : {}) } } : {}),
    vrrpInstances: (c.vrrpInstances ?? []).map((i) => ({ ...i, interface: dev(i.interface), virtualIpaddress: i.virtualIpaddress.map((v) => ({ ...v, ...(v.dev ? { dev: dev(v.dev) } : {}) })) })),
  };
}

/** keepalived's pid files (Debian's build: the parent, the VRRP and checker children, BFD). */
const KEEPALIVED_PID_FILES = ['/run/keepalived.pid', '/run/vrrp.pid', '/run/checkers.pid', '/run/bfd.pid'];
