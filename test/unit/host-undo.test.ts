import { expect } from 'chai';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HarnessError } from '../../harness/errors.js';
import { AGENT_PATH } from '../../harness/load/driver.js';
import { getNemesis } from '../../harness/nemesis/registry.js';
import { STAMP_SCRIPT, sshDeviceArgv } from '../../harness/nemesis/common.js';
import type { ExecOptions, ExecResult, Node } from '../../harness/runtime/node.js';
import { SshNode } from '../../harness/runtime/ssh-node.js';
import { UndoJournal } from '../../harness/runtime/undo.js';
import { StartedTopology } from '../../harness/topology/builder.js';
import { configureNode } from '../../harness/topology/configure.js';
import { connectSshNodes, hostJournalFile, hostTools, openHostJournal } from '../../harness/topology/hosts.js';
import { run } from '../../harness/util/proc.js';
import {
  hostRefusals,
  LOAD_AGENT,
  hostSnapshotScript,
  hostUndoEntries,
  parseHostSnapshot,
  routeTokens,
  SNAPSHOT_DIR_UNDO,
  SNAPSHOT_EXIT,
  snapshotHost,
  type HostChanges,
} from '../../harness/topology/host-undo.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';
import { shellCommand } from '../../harness/util/shell.js';
import { rejection } from '../helpers.js';
import { variantText } from '../topology-helpers.js';
import { NodeStub } from './node-stub.js';
import { alive, Sshd, sshdMissing } from './sshd-fixture.js';

const FP = 'SHA256:2f1q1bX2ZfXrJOjbuHfAq1DbiZf/c0/RkXXAd8GaqXs';
const SSH = { host: 'h.lab', user: 'root', key_file: '/k', host_key: FP };

/** A host that answers from `answer` (default: exit 0, nothing said) and records every argv it ran. */
class FakeHost extends NodeStub {
  calls: string[][] = [];
  constructor(
    name: string,
    private answer: (argv: readonly string[]) => Partial<ExecResult> | undefined = () => undefined,
  ) {
    super(name);
  }
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push([...argv]);
    // a fault's command stamped by the node's clock (execStamped): answered as the command itself
    const inner = argv[0] === 'sh' && argv[2] === STAMP_SCRIPT ? argv.slice(4) : argv;
    const r = { exitCode: 0, stdout: '', stderr: '', ...this.answer(inner) };
    if (r.exitCode !== 0 && !opts.allowFailure) throw new HarnessError('ERR_LVS_EXEC_FAILED', `\`${argv.join(' ')}\` on ${this.name} exited with ${r.exitCode}: ${r.stderr}`);
    return r;
  }
  handCommand(argv: readonly string[]): string {
    return `ssh ${this.name} ${shellCommand(argv)}`;
  }
  /** the scripts it ran, by what they are */
  get snapshots() {
    return this.calls.filter((a) => a[0] === 'sh' && a[2]?.includes('@@lvsh-snapshot'));
  }
  get nodeScripts() {
    return this.calls.filter((a) => a[0] === 'sh' && a[2]?.includes('start_daemon()'));
  }
}

/** What a host's `ip -o -4 addr show` says for a planned node: its planned addresses on eth0, eth1… */
const ipAddr = (n: PlannedNode) => n.interfaces.map((i, k) => `${k + 2}: eth${k}    inet ${i.address}/${i.prefix} brd 10.255.255.255 scope global eth${k}\\       valid_lft forever preferred_lft forever`).join('\n');

/** The snapshot a host prints for `script`: the first file and directory exist, sysctls are 0, the route and SSH path as given. */
function snapshotOut(n: PlannedNode, script: string, o: { defaultRoute?: string; sshMatching?: string[] } = {}): string {
  const files = [...script.matchAll(/echo "(\d+) saved"/g)].map((m) => Number(m[1]));
  const dirs = [...script.matchAll(/echo "(\d+) present"/g)].map((m) => Number(m[1]));
  const sysctls = [...script.matchAll(/sysctl -n (\S+) 2>/g)].map((m) => m[1]!);
  return [
    '@@lvsh-snapshot addr',
    ...n.interfaces.map((i, k) => `${k + 2}: eth${k}    inet ${i.address}/${i.prefix} brd 10.255.255.255 scope global eth${k}\\       valid_lft forever preferred_lft forever`),
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    '@@lvsh-snapshot link',
    '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
    '2: eth0@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default \\    link/ether 02:42:0a:59:14:0b brd ff:ff:ff:ff:ff:ff link-netnsid 0',
    '3: tunl0@NONE: <NOARP> mtu 1480 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/ipip 0.0.0.0 brd 0.0.0.0',
    '@@lvsh-snapshot route4',
    ...(o.defaultRoute ? [o.defaultRoute] : []),
    '@@lvsh-snapshot route6',
    '@@lvsh-snapshot sysctl',
    ...sysctls.map((k) => `${k}=0`),
    '@@lvsh-snapshot files',
    ...files.map((i) => `${i} ${i === 0 ? 'saved' : 'absent'}`),
    '@@lvsh-snapshot dirs',
    ...dirs.map((i) => `${i} ${i === 0 ? 'present' : 'absent'}`),
    '@@lvsh-snapshot saved',
    'ipvs',
    'iptables4',
    'iptables6',
    '@@lvsh-snapshot sshroute',
    'client 192.168.5.5',
    ...(o.sshMatching ?? ['192.168.5.0/24 dev eth9 proto kernel scope link src 192.168.5.10']),
    '@@lvsh-snapshot end',
    '',
  ].join('\n');
}

/** A host for node n: devices by address, the snapshot, everything else exit 0. */
const hostFor = (n: PlannedNode, o: Parameters<typeof snapshotOut>[2] & { snapshotExit?: number } = {}) =>
  new FakeHost(n.name, (argv) => {
    if (argv[0] === 'ip' && argv.includes('addr')) return { stdout: ipAddr(n) };
    if (argv[0] === 'sh' && argv[2]?.includes('@@lvsh-snapshot'))
      return o.snapshotExit ? { exitCode: o.snapshotExit, stderr: 'a snapshot of an earlier run that was not undone is on this host: /var/lib/lvs-harness-undo/x/lb1' } : { stdout: snapshotOut(n, argv[2]!, o) };
    return undefined;
  });

/** A NAT real server over SSH with a UDP echo and a sysctl of the file's, on IPv4-only networks. */
const MINI = `
name: mini
networks:
  - { name: public, subnet: 10.89.10.0/24 }
  - { name: private, subnet: 10.89.20.0/24 }
directors:
  - { name: director, networks: { public: 10.89.10.2, private: 10.89.20.2 } }
real_servers:
  - name: rs1
    networks: { private: 10.89.20.11 }
    app: { http_port: 80, udp_port: 53 }
    sysctls: { net.ipv4.conf.all.rp_filter: 0 }
    ssh: { host: rs1.lab, user: deploy, key_file: /k, host_key: '${FP}' }
clients:
  - { name: client, networks: { public: auto } }
services:
  - { name: web, vip: 10.89.10.100, port: 80, scheduler: rr, real_servers: [{ name: rs1, method: masq }] }
  - { name: dns, vip: 10.89.10.100, port: 53, protocol: udp, scheduler: rr, real_servers: [{ name: rs1, method: masq }] }
`;

describe('configuring a real host over SSH, with its undo (host-undo.ts)', () => {
  let dir: string;
  let journal: UndoJournal;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-host-undo-'));
    journal = await UndoJournal.open(path.join(dir, 'undo.json'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const drHa = (): Plan =>
    plan(
      parseTopology(
        variantText('dr-ha', (d) => {
          d.directors[0].ssh = SSH;
        }),
        'dr-ha.yaml',
      ),
    );

  it('a keepalived director: one snapshot before the first change, one undo entry per category written ahead, none again on a second configure', async () => {
    const p = drHa();
    const n = p.nodes.find((x) => x.name === 'director1')!;
    const host = hostFor(n);
    await configureNode(host, n, { host: { journal, topology: 'dr-ha' } });
    // the device lookup, the snapshot, then the node script: nothing changed before the journal held the undo
    expect(host.calls.map((a) => (a[0] === 'sh' ? (a[2]!.includes('@@lvsh-snapshot') ? 'snapshot' : 'node script') : a.join(' ')))).to.deep.equal(['ip -o -4 addr show', 'snapshot', 'node script']);
    const snap = '/var/lib/lvs-harness-undo/dr-ha/director1';
    expect(journal.entries.map((e) => e.what.replace(/ \(.*/, ''))).to.deep.equal([
      `the harness's snapshot directory ${snap}`,
      'the IPVS table as it was',
      'iptables as it was',
      'ip6tables as it was',
      'addresses the harness added',
      'directories the harness made',
      'files the harness wrote, back as they were',
      'processes the harness started, stopped',
    ]);
    expect(journal.entries.every((e) => e.node === 'director1')).to.equal(true);
    const by = (w: string) => journal.entries.find((e) => e.what.startsWith(w))!;
    expect(by('the IPVS table').undo).to.deep.equal(['sh', '-c', '[ -f "$1" ] || exit 0; ipvsadm -C && ipvsadm -R < "$1"', 'sh', `${snap}/ipvs.rules`]);
    expect(by('iptables').undo).to.deep.equal(['sh', '-c', '[ -f "$1" ] || exit 0; iptables-restore -w 10 < "$1"', 'sh', `${snap}/iptables.v4`]);
    // the VRRP VIP keepalived holds: gone with keepalived, unless it was SIGKILLed
    expect(by('addresses').what).to.equal('addresses the harness added (10.89.130.100/32 on eth0)');
    expect(by('addresses').undo[2]).to.contain("del 10.89.130.100/32 eth0 || rc=1");
    // keepalived.conf was there (the first file saved): restored; the others removed
    expect(by('files').what).to.match(/^files the harness wrote, back as they were \(\/etc\/keepalived\/keepalived\.conf: restored, \/opt\/lvs-harness\/vrrp-notify: removed, /);
    expect(by('files').undo[2]).to.contain('cp -p -- "$1/0" /etc/keepalived/keepalived.conf').and.contain('rm -f -- /var/log/keepalived.log').and.contain('rm -f -- /run/keepalived.pid');
    expect(by('files').undo.at(-1)).to.equal(`${snap}/files`);
    // the harness's own directories whole; /etc/keepalived (present here: the first) is left
    expect(by('directories').undo[2]).to.contain('rm -rf -- /opt/lvs-harness').and.contain('rm -rf -- /run/lvs-harness').and.not.contain('/etc/keepalived');
    expect(by('processes').undo.slice(0, 2)).to.deep.equal(['bash', '-c']);
    expect(by('processes').undo.slice(3)).to.deep.equal(['bash', '/run/lvs-harness/pids', '/run/lvs-harness/nginx.pid', '^node /opt/lvs-harness/udp-echo.cjs', `^node ${AGENT_PATH}`]);
    expect(LOAD_AGENT).to.equal(AGENT_PATH);
    // the node script writes each daemon's process group where the undo finds it
    expect(host.nodeScripts[0]![2]).to.contain("echo $! > /run/lvs-harness/pids/keepalived.pgid").and.contain('mkdir -p /etc/keepalived /opt/lvs-harness /run/lvs-harness /run/lvs-harness/pids');
    // the snapshot refuses a keepalived it did not start
    expect(host.snapshots[0]![2]).to.contain("pids=$(pgrep -x keepalived | tr '\\n' ' '); if [ -n \"$pids\" ]; then echo \"keepalived already runs on this host");

    // restoreNode after a fault configures again: no second snapshot, the same entries
    const before = journal.entries.length;
    await configureNode(host, n, { host: { journal, topology: 'dr-ha' } });
    expect(host.snapshots).to.have.length(1);
    expect(host.nodeScripts).to.have.length(2);
    expect(journal.entries).to.have.length(before);

    // teardown: every entry undone on the host, the last change first, the snapshot directory last; the journal file goes
    host.calls = [];
    const r = await journal.undoAll(host);
    expect(r.failed).to.deep.equal([]);
    expect(host.calls[0]![0]).to.equal('bash');
    expect(host.calls.at(-1)).to.deep.equal(['sh', '-c', SNAPSHOT_DIR_UNDO, 'sh', snap]);
    expect(host.calls.map((a) => a.at(-1))).to.include(`${snap}/ipvs.rules`);
    expect(existsSync(journal.file)).to.equal(false);
  });

  it('a NAT real server: its sysctls written with sysctl -w after their old values were read, its default route put back as it was', async () => {
    const p = plan(parseTopology(MINI, 'mini.yaml'));
    const n = p.nodes.find((x) => x.name === 'rs1')!;
    const host = hostFor(n, { defaultRoute: 'default via 10.89.20.1 dev eth0 proto static metric 100 linkdown' });
    await configureNode(host, n, { host: { journal, topology: 'mini' } });
    const script = host.nodeScripts[0]![2]!;
    expect(script).to.contain('sysctl -q -w net.ipv4.conf.all.rp_filter=0');
    expect(script.indexOf('sysctl -q -w')).to.be.below(script.indexOf('ip route replace default via 10.89.20.2'));
    expect(script).to.contain('& echo $! > /run/lvs-harness/pids/udp-echo.pgid');
    const by = (w: string) => journal.entries.find((e) => e.what.startsWith(w))!;
    expect(by('sysctls').undo).to.deep.equal(['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=0']);
    expect(by('the IPv4 default route').what).to.equal('the IPv4 default route as it was (default via 10.89.20.1 dev eth0 proto static metric 100 linkdown)');
    expect(by('the IPv4 default route').undo[2]).to.equal('ip route del default via 10.89.20.2 2>/dev/null\nrc=0\nip route replace default via 10.89.20.1 dev eth0 proto static metric 100 || rc=1\nexit $rc');
    // nginx runs on the host only when the harness started it
    expect(host.snapshots[0]![2]).to.contain('pgrep -x nginx');
    expect(by('files').what).to.contain('/etc/lvs-harness/nginx.conf').and.contain('/run/lvs-harness/unhealthy: removed');
  });

  it('a client: its source addresses removed again, the load agent\'s directory made and the agent removed', async () => {
    const p = plan(parseTopology(variantText('dr-ha', (d) => (d.clients[0] = { name: 'client', networks: { lan: '10.89.130.50' }, source_addresses: 3, ssh: SSH })), 'dr-ha.yaml'));
    const n = p.nodes.find((x) => x.name === 'client')!;
    const host = hostFor(n);
    await configureNode(host, n, { host: { journal, topology: 'dr-ha' } });
    expect(host.nodeScripts[0]![2]).to.contain('mkdir -p /opt/lvs-harness /run/lvs-harness/pids');
    const what = journal.entries.map((e) => e.what);
    expect(what).to.include('addresses the harness added (10.89.130.4/24 on eth0, 10.89.130.5/24 on eth0)');
    expect(what.find((w) => w.startsWith('files'))).to.equal(`files the harness wrote, back as they were (${AGENT_PATH}: restored)`);
  });

  it('refuses, before any change, a plan that replaces the default route the SSH connection rides on', async () => {
    const p = plan(parseTopology(MINI, 'mini.yaml'));
    const n = p.nodes.find((x) => x.name === 'rs1')!;
    const host = hostFor(n, { defaultRoute: 'default via 10.89.20.1 dev eth0', sshMatching: ['default via 10.89.20.1 dev eth0'] });
    const e = await rejection(configureNode(host, n, { host: { journal, topology: 'mini' } }));
    expect(e.code).to.equal('ERR_LVS_CONFIGURE');
    expect(e.message).to.equal(
      "real-server rs1: the plan replaces the default route (via 10.89.20.2), and the SSH connection from 192.168.5.5 uses it: the harness would cut itself off. Give the host a route to 192.168.5.5 (the harness's machine) other than the default one, or connect over another network; nothing was changed on it",
    );
    expect(host.nodeScripts).to.have.length(0);
    // the snapshot is on the host: its entries stay, so that the teardown removes it
    expect(journal.entries.length).to.be.above(0);
  });

  it('refuses a host with an earlier run\'s snapshot (or a daemon it did not start), recording nothing', async () => {
    const p = drHa();
    const n = p.nodes.find((x) => x.name === 'director1')!;
    const host = hostFor(n, { snapshotExit: SNAPSHOT_EXIT.leftover });
    const e = await rejection(configureNode(host, n, { host: { journal, topology: 'dr-ha' } }));
    expect(e.code).to.equal('ERR_LVS_HOST_NOT_CLEAN');
    expect(e.message).to.equal('director director1: a snapshot of an earlier run that was not undone is on this host: /var/lib/lvs-harness-undo/x/lb1; nothing was changed on it');
    expect(e.hint).to.contain('lvs-harness down');
    expect(journal.entries).to.deep.equal([]);
    expect(host.nodeScripts).to.have.length(0);
  });

  it('parses a snapshot: addresses per device (veth @ifN names too), link state, routes, sysctl values with tabs; route flags the kernel does not take are dropped', () => {
    const s = parseHostSnapshot(
      [
        '@@lvsh-snapshot addr',
        '2: eth0@if9    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever',
        '2: eth0@if9    inet6 fd00::5/64 scope global \\       valid_lft forever',
        '@@lvsh-snapshot link',
        '3: tunl0@NONE: <NOARP> mtu 1480',
        '2: eth0@if9: <BROADCAST,UP,LOWER_UP> mtu 1500',
        '@@lvsh-snapshot route4',
        'default via 10.0.0.1 dev eth0',
        '@@lvsh-snapshot sysctl',
        'net.ipv4.tcp_rmem=4096\t131072\t6291456',
        '@@lvsh-snapshot saved',
        'ipvs',
        '@@lvsh-snapshot end',
      ].join('\n'),
    );
    expect([...s.addresses]).to.deep.equal(['eth0 10.0.0.5/24', 'eth0 fd00::5/64']);
    expect([...s.links]).to.deep.equal([
      ['tunl0', false],
      ['eth0', true],
    ]);
    expect(s.defaultRoutes).to.deep.equal({ 4: ['default via 10.0.0.1 dev eth0'], 6: [] });
    expect(s.sysctls.get('net.ipv4.tcp_rmem')).to.equal('4096\t131072\t6291456');
    expect([...s.saved]).to.deep.equal(['ipvs']);
    expect(s.ssh).to.equal(undefined);
    expect(() => parseHostSnapshot('@@lvsh-snapshot addr\n')).to.throw(/ended early/);
    expect(routeTokens('default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.5 metric 100 linkdown')).to.deep.equal(['default', 'via', '10.0.0.1', 'dev', 'eth0', 'proto', 'dhcp', 'src', '10.0.0.5', 'metric', '100']);
  });

  it('undoes only what the host did not have: an address or a down link it had is left alone', () => {
    const c: HostChanges = { addresses: [{ address: '10.0.0.100', prefix: 32, dev: 'lo' }, { address: '10.0.0.5', prefix: 24, dev: 'eth0' }], routes: [], sysctls: ['net.x', 'net.missing'], links: ['tunl0', 'eth0'], dirs: [], files: [], daemons: [] };
    const s = parseHostSnapshot(['@@lvsh-snapshot addr', '2: eth0    inet 10.0.0.5/24 brd x', '@@lvsh-snapshot link', '3: tunl0@NONE: <NOARP> mtu 1480', '2: eth0: <UP> mtu 1', '@@lvsh-snapshot sysctl', 'net.x=1', '@@lvsh-snapshot end'].join('\n'));
    const e = hostUndoEntries('/snap', c, s);
    expect(e.map((x) => x.what)).to.deep.equal([
      'sysctls as they were (net.x=1)',
      'addresses the harness added (10.0.0.100/32 on lo)',
      'links down again (tunl0)',
      'processes the harness started, stopped (keepalived, HAProxy, nginx, the UDP echo, the load agent)',
    ]);
    expect(hostRefusals(c, s)).to.deep.equal([]);
    // tables are saved unless told not to
    expect(hostSnapshotScript('/snap', c)).to.contain('iptables-save > "$d/iptables.v4"');
    expect(hostSnapshotScript('/snap', c, { tables: false })).to.not.contain('iptables-save');
  });
});

describe('faults on an SSH host (issue 14)', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'lvs-host-fault-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** dr-ha with director1 and rs1 over SSH, as fake hosts; director2 a fake "container" */
  async function topology(answer: (node: string, argv: readonly string[]) => Partial<ExecResult> | undefined = () => undefined) {
    const p = plan(
      parseTopology(
        variantText('dr-ha', (d) => {
          d.directors[0].ssh = SSH;
          d.real_servers[0].ssh = { ...SSH, host: 'rs1.lab' };
        }),
        'dr-ha.yaml',
      ),
    );
    const hosts = new Map(p.nodes.map((n) => [n.name, new FakeHost(n.name, (argv) => (argv[0] === 'ip' && argv.includes('addr') && argv.includes('-o') ? { stdout: ipAddr(n) } : answer(n.name, argv)))]));
    const journal = await UndoJournal.open(path.join(dir, 'undo.json'));
    const st = new StartedTopology(p, undefined as never, hosts, false, {}, undefined, journal);
    const env = { st, history: undefined as never, now: () => 0 };
    return { p, hosts, journal, st, env };
  }

  for (const [fault, needs] of [
    ['kill', 'be killed (SIGKILL to every process at once), nor be started again'],
    ['pause', 'be frozen (paused)'],
    ['restart', 'be restarted'],
  ] as const)
    it(`${fault} is refused with ERR_LVS_NODE_UNSUPPORTED before anything is done to the host`, async () => {
      const { hosts, env } = await topology();
      const e = await rejection(getNemesis(fault).inject(env, 'director1'));
      expect(e.code).to.equal('ERR_LVS_NODE_UNSUPPORTED');
      expect(e.message).to.equal(`${fault} on director1: node director1 cannot ${needs}; nothing was done to it`);
      expect(hosts.get('director1')!.calls).to.deep.equal([]);
    });

  it('link-down refuses the device the SSH connection runs over, before taking anything down; another device is fine', async () => {
    const { hosts, env } = await topology((_, argv) => (argv[2] === sshDeviceArgv[2] ? { stdout: 'eth0\n' } : undefined));
    const e = await rejection(getNemesis('link-down').inject(env, 'director1'));
    expect(e.code).to.equal('ERR_LVS_NODE_UNSUPPORTED');
    expect(e.message).to.equal('link-down on director1: eth0 carries the SSH connection the harness runs director1 over; taking it down would cut the harness off the host; nothing was done to it');
    expect(hosts.get('director1')!.calls.some((a) => a.includes('down'))).to.equal(false);
    // a container is not asked
    expect((await rejection(getNemesis('link-down').inject(env, 'nosuch'))).code).to.equal('ERR_LVS_NO_NODE');
  });

  it('link-down of a device the SSH connection does not use: journalled (link up, its routes back) while down, forgotten once healed', async () => {
    let up = true;
    const { journal, env } = await topology((node, argv) => {
      if (node !== 'director1') return undefined;
      const a = argv.join(' ');
      if (argv[2] === sshDeviceArgv[2]) return { stdout: 'eth9\n' };
      if (a === 'ip -j addr show') return { stdout: JSON.stringify([{ ifname: 'eth0', flags: up ? ['BROADCAST', 'UP'] : ['BROADCAST'], addr_info: [{ family: 'inet', local: '10.89.130.2', prefixlen: 24 }] }]) };
      if (a === 'ip -j -4 route show') return { stdout: JSON.stringify(up ? [{ dst: 'default', gateway: '10.89.130.1', dev: 'eth0', flags: [] }, { dst: '10.89.130.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.89.130.2', flags: [] }] : []) };
      if (a === 'ip -j -6 route show') return { stdout: '[]' };
      if (a === 'ip link set dev eth0 down') up = false;
      if (a === 'ip link set dev eth0 up') up = true;
      return undefined;
    });
    const f = await getNemesis('link-down').inject(env, 'director1');
    expect(up).to.equal(false);
    expect(journal.entries.map((e) => [e.node, e.what])).to.deep.equal([['director1', 'link-down: eth0 up again, their routes back']]);
    expect(journal.entries[0]!.undo[2]).to.equal(
      'rc=0\nip link set dev eth0 up || rc=1\nip route replace 10.89.130.0/24 dev eth0 proto kernel scope link src 10.89.130.2 || rc=1\nip route replace default via 10.89.130.1 dev eth0 || rc=1\nexit $rc',
    );
    await f.heal();
    expect(up).to.equal(true);
    expect(journal.entries).to.deep.equal([]);
  });

  it('netem on a host: its undo is journalled before the qdisc goes on, and dropped when healed; on a container nothing is journalled', async () => {
    const added = new Set<string>();
    const { journal, env } = await topology((node, argv) => {
      if (argv[0] === 'tc' && argv[1] === '-j') return { stdout: added.has(node) ? '[{"kind":"netem","root":true}]' : '[]' };
      if (argv[0] === 'tc' && argv[2] === 'add') added.add(node);
      if (argv[0] === 'tc' && argv[2] === 'del') added.delete(node);
      return undefined;
    });
    const f = await getNemesis('netem-delay').inject(env, 'rs1');
    expect(journal.entries.map((e) => [e.node, e.what])).to.deep.equal([['rs1', 'netem-delay: the netem qdiscs removed (eth0)']]);
    expect(journal.entries[0]!.undo.slice(-2)).to.deep.equal(['sh', 'eth0']);
    await f.heal();
    expect(journal.entries).to.deep.equal([]);
    const g = await getNemesis('netem-delay').inject(env, 'rs2');
    expect(journal.entries).to.deep.equal([]);
    await g.heal();
  });
});

describe('a host snapshot and its undo against a real sshd on 127.0.0.1 (files, directories, a process group; no tables)', function () {
  this.timeout(20_000);
  let sshd: Sshd;
  let node: SshNode;
  before(async function () {
    const why = sshdMissing();
    if (why) throw new Error(`sshd cannot run here: ${why}`);
    sshd = await Sshd.create();
    node = new SshNode({ name: 'lb1', host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.userKey, hostKey: sshd.hostKey.fingerprint });
  });
  after(async () => {
    await node?.close();
    await sshd?.dispose();
  });

  it('restores a file it overwrote (content and mode), removes what it made, stops its process group; from a new journal and connection, as after a crash', async () => {
    const base = path.join(sshd.dir, 'host');
    const etc = path.join(base, 'etc');
    await mkdir(etc, { recursive: true });
    const conf = path.join(etc, 'keepalived.conf');
    await writeFile(conf, 'the operator\'s config\n');
    await chmod(conf, 0o640);
    const made = path.join(etc, 'new.conf');
    const own = path.join(base, 'opt-lvs-harness');
    const pids = path.join(base, 'pids');
    const changes: HostChanges = { addresses: [], routes: [], sysctls: [], links: [], dirs: [etc, own], files: [conf, made], daemons: [] };
    const o = { root: path.join(base, 'undo'), tables: false, pidDir: pids };
    const journalFile = path.join(base, 'journal.json');
    const journal = await UndoJournal.open(journalFile);
    const n = { name: 'lb1', role: 'director' } as PlannedNode;
    await snapshotHost(node, n, changes, { journal, topology: 't', snapshot: o });
    expect(journal.entries.map((e) => e.what.replace(/ \(.*/, ''))).to.deep.equal([
      `the harness's snapshot directory ${base}/undo/t/lb1`,
      'directories the harness made',
      'files the harness wrote, back as they were',
      'processes the harness started, stopped',
    ]);
    // a second topology on the same host is refused while this one's snapshot is there
    const other = await UndoJournal.open(path.join(base, 'other.json'));
    const e = await rejection(snapshotHost(node, n, changes, { journal: other, topology: 't2', snapshot: o }));
    expect(e.code).to.equal('ERR_LVS_HOST_NOT_CLEAN');
    expect(other.entries).to.deep.equal([]);

    // the run: files written, a directory made, a daemon started in a process group of its own
    await node.exec(['sh', '-c', 'printf "harness\\n" > "$1"; echo new > "$2"; mkdir -p "$3"; mkdir -p "$4"; setsid sleep 300 </dev/null >/dev/null 2>&1 & echo $! > "$4/sleeper.pgid"', 'sh', conf, made, own, pids]);
    const pgid = Number(readFileSync(path.join(pids, 'sleeper.pgid'), 'utf8'));
    expect(alive(pgid)).to.equal(true);
    await node.close();

    // a later process: the journal read back from its file, a new connection
    const later = await UndoJournal.open(journalFile);
    const again = new SshNode({ name: 'lb1', host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.userKey, hostKey: sshd.hostKey.fingerprint });
    try {
      const r = await later.undoAll(again);
      expect(r.failed).to.deep.equal([]);
      expect(r.undone).to.have.length(4);
    } finally {
      await again.close();
    }
    expect(readFileSync(conf, 'utf8')).to.equal('the operator\'s config\n');
    expect(statSync(conf).mode & 0o777).to.equal(0o640);
    expect(existsSync(made)).to.equal(false);
    expect(existsSync(own)).to.equal(false);
    expect(existsSync(etc)).to.equal(true);
    expect(alive(pgid)).to.equal(false);
    expect(existsSync(path.join(base, 'undo', 't'))).to.equal(false);
    // the root of the snapshots too, now empty: nothing of the harness is left on the host (issue 14's lab test found it left)
    expect(existsSync(path.join(base, 'undo'))).to.equal(false);
    expect(existsSync(journalFile)).to.equal(false);

    // undo again (a second `down`): nothing left, nothing fails
    const twice = await UndoJournal.open(journalFile);
    expect(twice.entries).to.deep.equal([]);
  });
});

describe('SSH hosts of a topology against a real sshd on 127.0.0.1: connect and check, journal, undo from another process', function () {
  this.timeout(30_000);
  let sshd: Sshd;
  let state: string;
  const saved = process.env.LVS_HARNESS_HOST_STATE;
  before(async function () {
    const why = sshdMissing();
    if (why) throw new Error(`sshd cannot run here: ${why}`);
    sshd = await Sshd.create();
    state = path.join(sshd.dir, 'state');
    process.env.LVS_HARNESS_HOST_STATE = state;
  });
  after(async () => {
    if (saved === undefined) delete process.env.LVS_HARNESS_HOST_STATE;
    else process.env.LVS_HARNESS_HOST_STATE = saved;
    await sshd?.dispose();
  });

  /** dr with its client on the loopback sshd */
  const planWith = (ssh: Record<string, unknown>) =>
    plan(
      parseTopology(
        variantText('dr', (d) => {
          d.clients[0] = { name: 'client', networks: { lan: '10.89.30.250' }, ssh: { host: '127.0.0.1', port: sshd.port, user: sshd.user, key_file: sshd.userKey, ...ssh } };
        }),
        'dr.yaml',
      ),
    );

  it('connectSshNodes fails on a host key before anything is done, naming the host; with the right key, checks root and the tools the plan needs', async () => {
    const wrong = await rejection(connectSshNodes(planWith({ host_key: sshd.otherHostKey.fingerprint }), () => {}));
    expect(wrong.code).to.equal('ERR_LVS_SSH_HOST_KEY');
    expect(wrong.message).to.contain(`host key of client (${sshd.user}@127.0.0.1:${sshd.port}): the host key has CHANGED`);
    const p = planWith({ host_key: sshd.hostKey.fingerprint });
    const missing = (await run(['sh', '-c', 'for t in "$@"; do command -v "$t" >/dev/null || printf " %s" "$t"; done', 'sh', ...hostTools(p.nodes.find((n) => n.name === 'client')!)])).stdout;
    if (!missing) {
      const nodes = await connectSshNodes(p, () => {});
      await Promise.all([...nodes.values()].map((n) => n.close()));
    } else {
      const e = await rejection(connectSshNodes(p, () => {}));
      expect(e.code).to.equal('ERR_LVS_MISSING_TOOL');
      expect(e.message).to.equal(`client client (${sshd.user}@127.0.0.1): missing:${missing}`);
    }
  });

  it('a killed run\'s changes are undone by another process (lvs-harness down\'s path): it reconnects from nodes.json beside the journal', async () => {
    const p = planWith({ host_key: sshd.hostKey.fingerprint });
    const node = new SshNode({ name: 'client', host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.userKey, hostKey: sshd.hostKey.fingerprint });
    const journal = await openHostJournal(p, new Map([['client', node]]));
    const marker = path.join(sshd.dir, 'source-address-marker');
    await journal.apply(node, 'a marker', ['touch', marker], ['rm', '-f', marker]);
    await node.close();
    expect(existsSync(marker)).to.equal(true);
    expect(existsSync(path.join(state, 'dr', 'nodes.json'))).to.equal(true);
    const child = await run(
      [process.execPath, '--import', 'tsx', '--input-type=module', '-e', `const m = await import(${JSON.stringify(path.resolve('harness/topology/hosts.ts'))}); await m.undoHosts('dr', (l) => console.log(l));`],
      { env: { ...process.env, LVS_HARNESS_HOST_STATE: state } },
    );
    expect(child.stdout).to.contain('undoing 1 change on client (dr)').and.contain('undid 1 change on the hosts of dr');
    expect(existsSync(marker)).to.equal(false);
    expect(existsSync(hostJournalFile('dr'))).to.equal(false);
    expect(existsSync(path.join(state, 'dr'))).to.equal(false);
  });
});
