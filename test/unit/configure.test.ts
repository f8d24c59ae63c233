import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HarnessError } from '../../harness/errors.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import type { ExecOptions, ExecResult, Node, NodeProcess } from '../../harness/runtime/node.js';
import { NO_CAPABILITIES } from '../../harness/runtime/node.js';
import { configureNode, devicesOf } from '../../harness/topology/configure.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { NODE_SCRIPT_EXIT } from '../../harness/topology/node-script.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';

/**
 * configure.ts over a Node that is neither a container nor a host: it answers `ip -o -4 addr
 * show` with the node's planned addresses on eth0, eth1… and records every command. Configuring
 * a node of a shipped topology is then two commands, whatever the node is: the read of its
 * devices, and the node script (a one-off). This is what lets an SSH host be configured by the
 * same code as a container.
 */
class FakeNode implements Node {
  readonly capabilities = { ...NO_CAPABILITIES };
  readonly calls: { argv: readonly string[]; opts?: ExecOptions }[] = [];
  constructor(
    readonly name: string,
    private readonly addrShow: string,
    private readonly script: (text: string) => ExecResult = () => ({ exitCode: 0, stdout: '', stderr: '' }),
  ) {}
  async exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push({ argv, opts });
    if (argv.join(' ') === 'ip -o -4 addr show') return { exitCode: 0, stdout: this.addrShow, stderr: '' };
    if (argv[0] === 'sh' && argv[1] === '-c') return this.script(argv[2]!);
    throw new Error(`unexpected command on ${this.name}: ${argv.join(' ')}`);
  }
  spawn(): Promise<NodeProcess> {
    throw new Error('no spawn in configure');
  }
  async writeFile(): Promise<void> {
    throw new Error('no writeFile in configure');
  }
  async readFile(): Promise<string> {
    throw new Error('no readFile in configure');
  }
  handCommand(argv: readonly string[]): string {
    return argv.join(' ');
  }
  async close(): Promise<void> {}
}

const shipped = (name: string): Plan => plan(parseTopology(readFileSync(path.join(REPO_ROOT, 'topologies', `${name}.yaml`), 'utf8'), `topologies/${name}.yaml`));

/** `ip -o -4 addr show` as a node with the planned interfaces (eth0, eth1… in order) prints it. */
const addrShow = (n: PlannedNode, devs = n.interfaces.map((_, i) => `eth${i}`)) =>
  [
    '1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever',
    ...n.interfaces.map((i, k) => `${k + 2}: ${devs[k]}@if${k + 40}    inet ${i.address}/24 brd 10.0.0.255 scope global ${devs[k]}\\       valid_lft forever preferred_lft forever`),
  ].join('\n') + '\n';

/** The files the node script writes (base64 heredocs after `put <path>`), by path, decoded. */
const filesIn = (script: string): Map<string, string> =>
  new Map([...script.matchAll(/^put '?([^' ]+)'?(?: \d+)? <<'LVSH_EOF'\n([\s\S]*?)\nLVSH_EOF$/gm)].map((m) => [m[1]!, Buffer.from(m[2]!.replace(/\n/g, ''), 'base64').toString('utf8')]));

describe('configure over any Node', () => {
  it('devicesOf reads device names by address from `ip -o -4 addr show`, veth suffixes dropped', async () => {
    const p = shipped('nat');
    const d = p.nodes.find((n) => n.role === 'director')!;
    const node = new FakeNode(d.name, addrShow(d));
    const devs = await devicesOf(node);
    expect(devs.get('127.0.0.1')).to.equal('lo');
    d.interfaces.forEach((i, k) => expect(devs.get(i.address)).to.equal(`eth${k}`));
  });

  for (const topology of ['nat', 'dr-ha', 'haproxy-ha']) {
    it(`${topology}: every node is two commands, its devices then one node script run as a one-off, with the plan's addresses, routes and daemons in it`, async () => {
      const p = shipped(topology);
      for (const n of p.nodes) {
        const node = new FakeNode(n.name, addrShow(n));
        await configureNode(node, n);
        expect(node.calls.map((c) => c.argv.slice(0, 2).join(' ')), n.name).to.deep.equal(['ip -o', 'sh -c']);
        const { argv, opts } = node.calls[1]!;
        expect(opts).to.deep.equal({ allowFailure: true, timeoutMs: 180_000, oneOff: true });
        const script = argv[2]!;
        for (const a of n.addresses) expect(script, `${n.name} ${a.address}`).to.include(`${a.address}/${a.prefix}`);
        for (const r of n.routes) expect(script, `${n.name} route via ${r.via}`).to.include(`via ${r.via}`);
        for (const l of n.linksUp) expect(script).to.include(`ip link set ${l} up`);
        if (n.keepalived) expect(script, n.name).to.include('keepalived --dont-fork');
        if (n.haproxy) expect(script, n.name).to.include('haproxy -c -f');
        if (n.app) expect(script, n.name).to.include('/health');
        // `@net:` references are bound to the node's own device names
        const files = filesIn(script);
        if (n.keepalived) expect(files.get('/etc/keepalived/keepalived.conf'), n.name).to.match(/interface eth0\b/);
        for (const [f, text] of files) expect(text, `${n.name} ${f}`).not.to.include('@net:');
      }
    });
  }

  it('a keepalived director gets its interface names from the node, not from the plan', async () => {
    const p = shipped('dr-ha');
    const d = p.nodes.find((n) => n.keepalived)!;
    const node = new FakeNode(d.name, addrShow(d, d.interfaces.map((_, k) => `ens${k + 3}`)));
    await configureNode(node, d);
    expect(filesIn(node.calls[1]!.argv[2]!).get('/etc/keepalived/keepalived.conf')).to.match(/interface ens3\b/);
  });

  it('a planned address on no interface of the node is ERR_LVS_CONFIGURE before any change is made', async () => {
    const p = shipped('dr-ha');
    const d = p.nodes.find((n) => n.keepalived)!;
    const node = new FakeNode(d.name, '1: lo    inet 127.0.0.1/8 scope host lo\n');
    const e = await configureNode(node, d).then(() => undefined, (x: HarnessError) => x);
    expect(e?.code).to.equal('ERR_LVS_CONFIGURE');
    expect(e?.message).to.match(new RegExp(`^node ${d.name}: no interface holds ${d.interfaces[0]!.address.replace(/\./g, '\\.')} \\(network `));
    expect(node.calls).to.have.length(1);
  });

  it("the node script's failures are the builder's coded errors, naming the node", async () => {
    const p = shipped('nat');
    const rs = p.nodes.find((n) => n.role === 'real-server')!;
    const unhealthy = new FakeNode(rs.name, addrShow(rs), () => ({ exitCode: NODE_SCRIPT_EXIT.health, stdout: '', stderr: 'nginx answered 502 on /health\n' }));
    const e = await configureNode(unhealthy, rs).then(() => undefined, (x: HarnessError) => x);
    expect(e?.code).to.equal('ERR_LVS_APP_START');
    expect(e?.message).to.equal(`node ${rs.name}: nginx answered 502 on /health`);
    const step = new FakeNode(rs.name, addrShow(rs), () => ({ exitCode: NODE_SCRIPT_EXIT.step, stdout: '', stderr: 'ip route replace default via 10.9.9.9: Nexthop has invalid gateway\n' }));
    const s = await configureNode(step, rs).then(() => undefined, (x: HarnessError) => x);
    expect(s?.code).to.equal('ERR_LVS_EXEC_FAILED');
    expect(s?.message).to.equal(`node ${rs.name}: configuring it failed (exit 1): ip route replace default via 10.9.9.9: Nexthop has invalid gateway`);
  });

  it('a UDP echo that never binds is ERR_LVS_APP_START naming its ports and the wait, and the script waits for its ready file', async () => {
    const p = shipped('nat');
    const rs = p.nodes.find((n) => n.role === 'real-server' && n.app?.udpPorts.length)!;
    let script = '';
    const slow = new FakeNode(rs.name, addrShow(rs), (text) => {
      script = text;
      return { exitCode: NODE_SCRIPT_EXIT.notReady, stdout: '', stderr: 'lvsh-not-ready node /opt/lvs-harness/udp-echo.cjs 20\n' };
    });
    const e = await configureNode(slow, rs).then(() => undefined, (x: HarnessError) => x);
    expect(e?.code).to.equal('ERR_LVS_APP_START');
    expect(e?.message).to.equal(`node ${rs.name}: the UDP echo (ports ${rs.app!.udpPorts.join(', ')}) did not bind its sockets within 20 s of its start`);
    expect(script).to.include('LVSH_READY=/run/lvs-harness/udp-echo.ready setsid node /opt/lvs-harness/udp-echo.cjs');
    expect(script).to.include('until [ -e /run/lvs-harness/udp-echo.ready ]');
  });
});
