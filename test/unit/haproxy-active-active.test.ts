import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseHaproxyStat, renderHaproxyConf } from '../../harness/haproxy/config.js';
import { trackScriptBound } from '../../harness/keepalived/bound.js';
import { renderKeepalivedConf } from '../../harness/keepalived/render.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';
import { problems, shippedText, variantText, type Doc } from '../topology-helpers.js';

const shipped = (name: string): Plan => plan(parseTopology(shippedText(name), `topologies/${name}.yaml`));
const node = (p: Plan, name: string): PlannedNode => p.nodes.find((n) => n.name === name)!;
const fixture = (...parts: string[]) => readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', ...parts), 'utf8');
const haproxyHa = (change: (d: Doc) => void) => problems(variantText('haproxy-ha', change), 'topologies/haproxy-ha.yaml');

describe('active-active: two VRRP instances with crossed priorities (topologies/active-active.yaml)', () => {
  const p = shipped('active-active');

  it('plans one MASTER per instance, on different directors', () => {
    expect(p.vrrp!.map((v) => [v.name, v.master, v.vips.map((x) => x.address)])).to.deep.equal([
      ['VI_141', 'director1', ['10.89.150.141']],
      ['VI_142', 'director2', ['10.89.150.142']],
    ]);
  });

  it('each director runs both instances, MASTER of one and BACKUP of the other, with the instance\'s own password', () => {
    for (const [d, states] of [
      ['director1', [['VI_141', 'MASTER', 100], ['VI_142', 'BACKUP', 50]]],
      ['director2', [['VI_141', 'BACKUP', 50], ['VI_142', 'MASTER', 100]]],
    ] as const) {
      const k = node(p, d).keepalived!;
      expect(k.vrrpInstances!.map((i) => [i.name, i.state, i.priority]), d).to.deep.equal(states);
      expect(k.vrrpInstances!.map((i) => i.authentication?.pass), d).to.deep.equal(['141', '142']);
      // both VIPs are balanced by both directors: whichever holds a VIP forwards it
      expect(k.virtualServers!.map((v) => ('vip' in v ? v.vip : v.fwmark)), d).to.deep.equal(['10.89.150.141', '10.89.150.142']);
    }
  });

  it('the real servers hold both VIPs on lo (DR)', () => {
    expect(node(p, 'rs1').addresses.map((a) => [a.address, 'dev' in a.on ? a.on.dev : a.on.network])).to.deep.equal([
      ['10.89.150.141', 'lo'],
      ['10.89.150.142', 'lo'],
    ]);
  });

  it('two instances may not share a virtual_router_id on one network', () => {
    const lines = problems(variantText('active-active', (d) => (d.keepalived.vrrp[1].virtual_router_id = 141)), 'topologies/active-active.yaml');
    expect(lines).to.deep.equal(['topologies/active-active.yaml: keepalived.vrrp[1].virtual_router_id: 141 is already used on lan by keepalived.vrrp[0]']);
  });
});

describe('haproxy-ha: HAProxy behind a keepalived pair with a vrrp_script (topologies/haproxy-ha.yaml)', () => {
  const p = shipped('haproxy-ha');

  it('plans an HAProxy service: no IPVS, no keepalived virtual_server, HAProxy bound to the VIP on both directors', () => {
    const svc = p.services[0]!;
    expect(svc.mode).to.equal('proxy');
    expect(svc.realServers.map((r) => [r.name, r.rip, r.port, r.method])).to.deep.equal([
      ['rs1', '10.89.160.11', 80, 'proxy'],
      ['rs2', '10.89.160.12', 80, 'proxy'],
      ['rs3', '10.89.160.13', 80, 'proxy'],
    ]);
    for (const d of ['director1', 'director2']) {
      const n = node(p, d);
      expect(n.ipvs, d).to.equal(undefined);
      expect(n.keepalived!.virtualServers, d).to.equal(undefined);
      // VRRP puts the VIP on the MASTER; HAProxy binds it on both
      expect(n.addresses, d).to.deep.equal([]);
      expect(n.sysctls, d).to.deep.equal({ 'net.ipv4.ip_nonlocal_bind': '1' });
      expect(n.haproxy!.proxies.map((x) => [x.name, x.bind, x.balance]), d).to.deep.equal([['web', { address: '10.89.160.100', port: 80 }, 'roundrobin']]);
    }
  });

  it('renders haproxy.cfg as the golden file: HTTP checks from the health_check (inter = delay_loop, fall = retry + 1)', () => {
    expect(renderHaproxyConf(node(p, 'director1').haproxy!)).to.equal(fixture('haproxy', 'haproxy-ha.cfg'));
  });

  it('keepalived tracks HAProxy with a vrrp_script whose weight drops the MASTER below the BACKUP', () => {
    const k = node(p, 'director1').keepalived!;
    expect(k.vrrpScripts).to.deep.equal([{ name: 'chk_haproxy', script: ['/usr/bin/pgrep', '-x', 'haproxy'], interval: 1, timeout: 3, fall: 2, rise: 2, weight: -60 }]);
    expect(k.vrrpInstances![0]!.trackScripts).to.deep.equal([{ name: 'chk_haproxy' }]);
    expect(p.vrrp![0]!.track).to.deep.equal({ process: 'haproxy', interval: 1, fall: 2, rise: 2, weight: -60, timeout: 3 });
    const conf = renderKeepalivedConf(k);
    expect(conf).to.contain('vrrp_script chk_haproxy {\n  script "/usr/bin/pgrep -x haproxy"\n  interval 1\n  timeout 3\n  weight -60\n  rise 2\n  fall 2\n}\n');
    expect(conf).to.contain('  track_script {\n    chk_haproxy\n  }\n');
    expect(conf).to.not.contain('virtual_server');
    expect(p.vrrp![0]!.priorities.director1! + -60).to.be.below(p.vrrp![0]!.priorities.director2!);
  });

  it('the real servers need no VIP and no route: HAProxy connects to them from the director', () => {
    const rs = node(p, 'rs1');
    expect(rs.addresses).to.deep.equal([]);
    expect(rs.routes).to.deep.equal([]);
    expect(rs.sysctls).to.deep.equal({});
    expect(rs.app!.httpPorts).to.deep.equal([80]);
  });

  it('maps each scheduler to the HAProxy balance that keeps its promise', () => {
    const balance = (scheduler: string) => plan(parseTopology(variantText('haproxy-ha', (d) => (d.services[0].scheduler = scheduler)), 'h.yaml')).nodes[0]!.haproxy!.proxies[0]!.balance;
    expect(['rr', 'wrr', 'lc', 'wlc', 'sh'].map(balance)).to.deep.equal(['roundrobin', 'roundrobin', 'leastconn', 'leastconn', 'source']);
  });

  it('refuses what HAProxy does not do here, naming the field and what is allowed', () => {
    const f = 'topologies/haproxy-ha.yaml';
    expect(haproxyHa((d) => (d.services[0].real_servers[0].method = 'droute'))).to.deep.equal([
      `${f}: services[0].real_servers[0].method: "droute": an HAProxy service has no forwarding method (HAProxy connects to the real server itself); leave method out`,
    ]);
    expect(haproxyHa((d) => (d.services[0].scheduler = 'dh'))).to.deep.equal([`${f}: services[0].scheduler: "dh": not for an HAProxy service: HAProxy balances with rr, wrr, lc, wlc, sh (roundrobin, leastconn, source)`]);
    expect(haproxyHa((d) => (d.services[0].protocol = 'udp'))).to.deep.equal([`${f}: services[0].protocol: "udp": not for an HAProxy service: HAProxy proxies TCP here`]);
    expect(haproxyHa((d) => (d.services[0].persistence = { timeout: 60 }))[0]).to.match(/services\[0\]\.persistence: .*use scheduler: sh \(balance source\)/);
    // an IPVS service still needs its method
    expect(haproxyHa((d) => delete d.services[0].balancer)).to.deep.equal(
      [0, 1, 2].map((i) => `${f}: services[0].real_servers[${i}].method: is required for an IPVS service (masq, droute or tunnel)`),
    );
    // a vrrp_script tracking HAProxy needs an HAProxy service on the instance's VIPs
    expect(
      problems(
        variantText('dr-ha', (d) => (d.keepalived.vrrp[0].track_process = { process: 'haproxy', weight: -60 })),
        'topologies/dr-ha.yaml',
      ),
    ).to.deep.equal(['topologies/dr-ha.yaml: keepalived.vrrp[0].track_process: tracks haproxy, but no service on this instance\'s VIPs (10.89.130.100) has balancer: haproxy']);
  });

  it('an HAProxy service may health-check without keepalived (HAProxy checks its servers itself)', () => {
    const t = parseTopology(
      variantText('haproxy-ha', (d) => delete d.keepalived),
      'h.yaml',
    );
    const q = plan(t);
    // without VRRP the director holds the VIP itself
    expect(node(q, 'director1').addresses.map((a) => a.address)).to.deep.equal(['10.89.160.100']);
    expect(node(q, 'director1').keepalived).to.equal(undefined);
  });
});

describe('trackScriptBound: a vrrp_script failure moves the VIP', () => {
  it('fall × interval + the last run\'s timeout to notice, then the BACKUP\'s master down interval: 2 + 1 + 3.609375 s for VRRPv2, advert 1 s, backup 100', () => {
    const b = trackScriptBound({ version: 2, advertInt: 1, backupPriority: 100, interval: 1, fall: 2, timeout: 1 });
    expect(b.boundMs).to.equal(6609.375);
    expect(b.masterDownMs).to.equal(3609.375);
    expect(b.toleranceMs).to.equal(1000);
    expect(b.formula).to.match(/^vrrp_script fall 2 × interval 1 s \+ timeout 1 s = 3 s to notice, then the master down interval = 3 × advert_int 1 s \+ skew .*; bound 6\.609375 s$/);
  });

  it('a script without a timeout may run for its interval (keepalived\'s default)', () => {
    expect(trackScriptBound({ version: 2, advertInt: 1, backupPriority: 100, interval: 2, fall: 3 }).boundMs).to.equal((3 * 2 + 2) * 1000 + 3609.375);
  });
});

describe('parseHaproxyStat', () => {
  it('reads the servers and their status from "show stat", leaving out frontends and backends', () => {
    expect(parseHaproxyStat(fixture('haproxy', 'show-stat.csv'))).to.deep.equal([
      { proxy: 'web', server: 'rs1', status: 'UP' },
      { proxy: 'web', server: 'rs2', status: 'DOWN' },
      { proxy: 'web', server: 'rs3', status: 'UP' },
    ]);
  });

  it('says so when the text is not "show stat" output', () => {
    expect(() => parseHaproxyStat('Unknown command\n')).to.throw(/not HAProxy "show stat" output.*Unknown command/);
  });
});
