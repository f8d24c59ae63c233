import { expect } from 'chai';
import { diagnose, NO_KNOWN_CAUSE, servicesOf } from '../../harness/diagnose/diagnose.js';
import { unreachable } from '../../harness/diagnose/evidence.js';
import type { Cause, FailedCheck, Probe } from '../../harness/diagnose/types.js';
import type { Plan } from '../../harness/topology/planner.js';
import { evidenceOf, shippedPlan } from '../diagnose-helpers.js';

const failed = (group = 'web', name = 'every real server answers through the VIP'): FailedCheck => ({ name, group, suite: 'modes', valid: false });
const ids = (cs: Cause[]) => cs.map((c) => c.id);
const run = (plan: Plan, evidence: ReturnType<typeof evidenceOf>, o: { check?: FailedCheck; probes?: Probe[]; frozen?: Record<string, { from: number; to?: number }[]> } = {}) =>
  diagnose({ plan, evidence, check: o.check ?? failed(), ...(o.probes ? { probes: o.probes } : {}), ...(o.frozen ? { frozen: o.frozen } : {}) });
const only = (cs: Cause[], id: string) => {
  expect(ids(cs)).to.deep.equal([id]);
  return cs[0]!;
};
const quoted = (c: Cause) => c.evidence.flatMap((q) => q.lines.map((l) => `${q.node}: ${l}`));

describe('diagnose: cause rules on recorded evidence', () => {
  const dr = shippedPlan('dr');
  const tun = shippedPlan('tun');
  const nat = shippedPlan('nat');
  const fullnat = shippedPlan('fullnat');
  const natHa = shippedPlan('nat-ha');

  describe('every correct topology: no known cause', () => {
    for (const [name, p] of [['dr', dr], ['tun', tun], ['nat', nat], ['fullnat', fullnat], ['nat-ha', natHa]] as const) {
      it(name, () => {
        const c = only(run(p, evidenceOf(name)), NO_KNOWN_CAUSE);
        expect(c.sentence).to.match(/^no known cause/);
        expect(c.evidence.some((q) => q.command === 'timeout 5 ipvsadm -Ln')).to.equal(true);
      });
    }
  });

  describe('ARP flux (DR, TUN)', () => {
    it('names the real server whose MAC the client holds for the VIP, with the sysctls behind it', () => {
      const c = only(run(dr, evidenceOf('dr', 'dr-arp')), 'arp-flux');
      expect(c.sentence).to.include('the client client holds the VIP 10.89.30.100 at 02:42:0a:59:1e:0c, the MAC of the real server rs2 (the director\'s is 02:42:0a:59:1e:02)');
      expect(c.sentence).to.include('rs1, rs2 and rs3 answer or announce ARP');
      expect(quoted(c)).to.include.members(['client: 10.89.30.100 dev eth0 lladdr 02:42:0a:59:1e:0c REACHABLE', 'rs1: net.ipv4.conf.all.arp_ignore = 0', 'rs1: net.ipv4.conf.all.arp_announce = 0']);
      expect(c.fix).to.include('arp_ignore=1');
    });
    it('names the sysctls even before a client learned the wrong MAC', () => {
      const ev = evidenceOf('dr', 'dr-arp', { client: (t) => t.replace('lladdr 02:42:0a:59:1e:0c', 'lladdr 02:42:0a:59:1e:02') });
      expect(only(run(dr, ev), 'arp-flux').sentence).to.match(/^rs1, rs2 and rs3 answer or announce ARP for the VIP 10\.89\.30\.100/);
    });
    it('the kernel takes the larger of all and the device: eth0 at 1 is enough', () => {
      const fix = (t: string) => t.replace('net.ipv4.conf.eth0.arp_ignore = 0', 'net.ipv4.conf.eth0.arp_ignore = 1').replace('net.ipv4.conf.eth0.arp_announce = 0', 'net.ipv4.conf.eth0.arp_announce = 2');
      const ev = evidenceOf('dr', 'dr-arp', { rs1: fix, rs2: fix, rs3: fix, client: (t) => t.replace('02:42:0a:59:1e:0c', '02:42:0a:59:1e:02') });
      expect(ids(run(dr, ev))).to.deep.equal([NO_KNOWN_CAUSE]);
    });
    it('stays silent in NAT, where real servers are not on the clients\' segment', () => {
      expect(ids(run(nat, evidenceOf('nat')))).to.deep.equal([NO_KNOWN_CAUSE]);
    });
  });

  describe('NAT', () => {
    it('ip_forward 0 on the director', () => {
      const c = only(run(nat, evidenceOf('nat', 'nat-noforward')), 'nat-no-forward');
      expect(c.sentence).to.equal('the director director does not forward packets (net.ipv4.ip_forward = 0): in NAT the real servers\' replies pass through it and are dropped, so clients never get an answer');
      expect(quoted(c)).to.deep.equal(['director: net.ipv4.ip_forward = 0']);
    });
    it('a real server whose default route is not the DIP', () => {
      const c = only(run(nat, evidenceOf('nat', 'nat-route')), 'nat-route');
      expect(c.sentence).to.include("the real server rs2's default route goes via 10.89.20.1, not through the director's DIP 10.89.20.2");
      expect(c.fix).to.equal('on rs2: ip route replace default via 10.89.20.2');
    });
    it('the floating gateway in a keepalived pair', () => {
      const ev = evidenceOf('nat-ha', undefined, { rs1: (t) => t.replace('default via 10.89.120.254 dev eth0', 'default via 10.89.120.2 dev eth0') });
      expect(only(run(natHa, ev), 'nat-route').sentence).to.include('not through the floating gateway 10.89.120.254');
    });
  });

  describe('full-NAT', () => {
    it('net.ipv4.vs.conntrack = 0, quoting the SNAT rule that cannot match', () => {
      const c = only(run(fullnat, evidenceOf('fullnat', 'fullnat-noconntrack')), 'fullnat-no-conntrack');
      expect(quoted(c)).to.include('director: -A POSTROUTING -m ipvs --vaddr 10.89.50.100/32 --vport 80 -j SNAT --to-source 10.89.60.2');
    });
    it('no SNAT rule', () => {
      const c = only(run(fullnat, evidenceOf('fullnat', 'fullnat-nosnat')), 'fullnat-no-snat');
      expect(c.fix).to.include('iptables -t nat -A POSTROUTING -m ipvs --vaddr 10.89.50.100/32 --vport 80 -j SNAT --to-source 10.89.60.2');
    });
  });

  describe('TUN', () => {
    it('rp_filter strict on a real server', () => {
      const c = only(run(tun, evidenceOf('tun', 'tun-rpfilter')), 'tun-rp-filter');
      expect(c.sentence).to.match(/^rs1 drops the decapsulated packets/);
      expect(quoted(c)).to.deep.equal(['rs1: net.ipv4.conf.all.rp_filter = 1', 'rs1: net.ipv4.conf.tunl0.rp_filter = 1']);
    });
    it('loose (2) passes: the route back exists through some device', () => {
      const ev = evidenceOf('tun', 'tun-rpfilter', { rs1: (t) => t.replace(/rp_filter = 1/g, 'rp_filter = 2') });
      expect(ids(run(tun, ev))).to.deep.equal([NO_KNOWN_CAUSE]);
    });
    const probe = (ok: boolean): Probe => ({ kind: 'large-body', service: 'web', bytes: 65536, ok, outcome: ok ? '200 in 14 ms' : 'timeout after 5 s' });
    it('a large body that failed where the tunnel leaves no room for full-size packets', () => {
      const c = only(run(tun, evidenceOf('tun'), { probes: [probe(false)] }), 'tun-mtu');
      expect(c.sentence).to.include('the client client sends packets of up to 1500 bytes, IP-in-IP adds 20');
      expect(c.fix).to.include('mtu 1520');
      expect(c.evidence.map((q) => q.node)).to.deep.equal(['client', 'director', 'client']);
    });
    it('stays silent when the large body came through, or the path has room', () => {
      expect(ids(run(tun, evidenceOf('tun'), { probes: [probe(true)] }))).to.deep.equal([NO_KNOWN_CAUSE]);
      const jumbo = (t: string) => t.replace(/(eth0@if\d+: <[^>]*> mtu) 1500/, '$1 1600');
      expect(ids(run(tun, evidenceOf('tun', undefined, { director: jumbo }), { probes: [probe(false)] }))).to.deep.equal([NO_KNOWN_CAUSE]);
    });
  });

  describe('DR/TUN real server on another port', () => {
    const moved = shippedPlan('dr', (d) => {
      for (const r of d.services[0].real_servers) r.port = 8080;
    });
    it('names the port the kernel kept', () => {
      const c = only(run(moved, evidenceOf('dr')), 'dr-tun-port');
      expect(c.sentence).to.include('rs1 is planned on port 8080');
      expect(c.sentence).to.include('IPVS on director lists 10.89.30.11:80, 10.89.30.12:80, 10.89.30.13:80');
      expect(quoted(c)[0]).to.equal('director: TCP  10.89.30.100:80 rr');
    });
  });

  describe('persistence templates', () => {
    const persistent = shippedPlan('dr', (d) => {
      d.services[0].persistence = { timeout: 300 };
    });
    it('to a real server the table no longer lists', () => {
      const c = only(run(persistent, evidenceOf('dr', 'dr-persist-stale')), 'stale-template');
      expect(c.sentence).to.equal('2 persistence templates on director still bind clients of web to rs2 (10.89.30.12), which the IPVS table of web no longer lists: those clients keep being sent there for up to 298 s more');
      expect(quoted(c)).to.include('director: TCP 04:58  NONE        10.89.30.5:0       10.89.30.100:80    10.89.30.12:80');
    });
    it('to a real server that is down', () => {
      const ev = { ...evidenceOf('dr', 'dr-persist'), rs1: unreachable('rs1', 'container lvsh-dr-rs1 is not running') };
      expect(only(run(persistent, ev), 'stale-template').sentence).to.include('rs1 (10.89.30.11), whose node does not answer (container lvsh-dr-rs1 is not running)');
    });
    it('to a real server whose app stopped', () => {
      const ev = evidenceOf('dr', 'dr-persist', { rs1: (t) => t.replace(/#lvsh-evidence-begin app-proc[\s\S]*?rc=0 lines=2/, '#lvsh-evidence-begin app-proc\n#lvsh-evidence-end app-proc rc=1 lines=0') });
      expect(only(run(persistent, ev), 'stale-template').sentence).to.include('whose app is not running');
    });
    it('stays silent while templates point at listed, running servers', () => {
      expect(ids(run(persistent, evidenceOf('dr', 'dr-persist')))).to.deep.equal([NO_KNOWN_CAUSE]);
    });
  });

  describe('keepalived', () => {
    it('removed every real server: the empty table and the log lines that say so', () => {
      const c = only(run(natHa, evidenceOf('nat-ha', 'nat-ha-removed')), 'keepalived-removed-all');
      expect(c.sentence).to.equal('keepalived on director1 removed every real server from web (10.89.110.100:80): HTTP_GET /health port 80 failed on rs1, rs2, rs3, so IPVS has no server to send clients to');
      expect(quoted(c)).to.include.members(['director1: Tue Jun  4 09:12:05 2024: Removing service [10.89.120.11]:tcp:80 to VS [10.89.110.100]:tcp:80', 'director1: Tue Jun  4 09:12:06 2024: HTTP_CHECK on service [10.89.120.13]:tcp:80 failed after 1 retries.']);
    });

    it('keepalived ran late: the timer lines past a second, the worst named, on the director that logged them', () => {
      const late = (t: string) =>
        t.replace(
          /(#lvsh-evidence-begin keepalived-log\n)/,
          '$1Tue Jun  4 09:12:00 2024: A thread timer expired 0.412000 seconds ago\nTue Jun  4 09:12:01 2024: A thread timer expired 7.316621 seconds ago\nTue Jun  4 09:12:02 2024: A thread timer expired 2.100000 seconds ago\n',
        );
      const c = only(run(natHa, evidenceOf('nat-ha', 'nat-ha', { director1: late }), { check: failed('web', 'keepalived takes 10.89.120.12:80 out of service after it fails') }), 'keepalived-late');
      expect(c.sentence).to.match(/^keepalived on director1 ran up to 7\.3 s late \(2 times its timers fired more than 1 s after they were due\): the director was starved of CPU/);
      expect(quoted(c)).to.deep.equal(['director1: Tue Jun  4 09:12:01 2024: A thread timer expired 7.316621 seconds ago', 'director1: Tue Jun  4 09:12:02 2024: A thread timer expired 2.100000 seconds ago']);
    });
    it('a paused director\'s late timers on thawing are the freeze, not a starved CPU; late timers outside the freeze still are', () => {
      // as tun-ha's pause of director1 left them in a fresh-clone run: frozen 1796102891.848 to 1796102899.094
      const thawed = (t: string) =>
        t.replace(
          /(#lvsh-evidence-begin keepalived-log\n)/,
          '$11796102899.018572 Tue Dec  1 05:28:18 2026: A thread timer expired 5.500122 seconds ago\n1796102899.120163 Tue Dec  1 05:28:18 2026: A thread timer expired 3.761165 seconds ago\n',
        );
      const check = { check: failed('VI_TUN', 'failover after pause on director1 within the VRRP bound') };
      const frozen = { director1: [{ from: 1796102891848, to: 1796102899094 }] };
      // without the pause window it fires (what the run said), with it it stays silent
      expect(ids(run(natHa, evidenceOf('nat-ha', 'nat-ha', { director1: thawed }), check))).to.include('keepalived-late');
      expect(ids(run(natHa, evidenceOf('nat-ha', 'nat-ha', { director1: thawed }), { ...check, frozen }))).to.not.include('keepalived-late');
      // the other director was not frozen: its own late timers are still a starved CPU
      expect(ids(run(natHa, evidenceOf('nat-ha', 'nat-ha', { director2: thawed }), { ...check, frozen }))).to.include('keepalived-late');
      // a late timer due long before the freeze is not the freeze's
      const before = (t: string) => t.replace(/(#lvsh-evidence-begin keepalived-log\n)/, '$11796102891.000000 Tue Dec  1 05:28:11 2026: A thread timer expired 4.000000 seconds ago\n');
      expect(ids(run(natHa, evidenceOf('nat-ha', 'nat-ha', { director1: before }), { ...check, frozen }))).to.include('keepalived-late');
    });

    it('keepalived on time (or late under a second) is no cause', () => {
      const small = (t: string) => t.replace(/(#lvsh-evidence-begin keepalived-log\n)/, '$1Tue Jun  4 09:12:00 2024: A thread timer expired 0.900000 seconds ago\n');
      expect(ids(run(natHa, evidenceOf('nat-ha', 'nat-ha', { director1: small }), { check: failed('web', 'keepalived takes 10.89.120.12:80 out of service after it fails') }))).to.not.include('keepalived-late');
    });

    it('both directors MASTER: the authentication that differs, and keepalived\'s words', () => {
      const c = only(run(natHa, evidenceOf('nat-ha', 'nat-ha-splitbrain'), { check: failed('VI_NAT', 'exactly one director holds 10.89.110.100') }), 'vrrp-split-brain');
      expect(c.sentence).to.match(/^both director1 and director2 hold 10\.89\.110\.100, 10\.89\.120\.254 of VI_NAT: each is MASTER \(split brain\)/);
      expect(c.sentence).to.include("their authentication differs, so each drops the other's adverts");
      expect(quoted(c)).to.include.members(['director2: auth_pass lvsnat52', 'director2: Tue Jun  4 09:12:04 2024: (VI_NAT) received an invalid passwd!']);
    });
    const bothHold = (edit: (t: string) => string) =>
      evidenceOf('nat-ha', 'nat-ha-splitbrain', { director2: (t) => edit(t.replace('auth_pass lvsnat52', 'auth_pass lvsnat51').replace(/.*invalid passwd.*\n/g, '')) });
    it('virtual_router_id and advert_int mismatches', () => {
      const c = only(run(natHa, bothHold((t) => t.replace('virtual_router_id 51', 'virtual_router_id 52').replace('advert_int 1', 'advert_int 2'))), 'vrrp-split-brain');
      expect(c.sentence).to.include('virtual_router_id 51 on director1 vs 52 on director2');
      expect(c.sentence).to.include('advert_int 1 on director1 vs 2 on director2');
    });
    it('no path between them: DROP rules, a link down', () => {
      const drop = bothHold((t) => t.replace(/(\*filter\n(?::.*\n)*)/, '$1-A INPUT -s 10.89.110.2/32 -m comment --comment "lvs-harness partition" -j DROP\n'));
      expect(only(run(natHa, drop), 'vrrp-split-brain').sentence).to.include('director2 drops traffic to or from the other director (1 DROP rule)');
      const down = bothHold((t) => t.replace(/eth0@if(\d+): <BROADCAST,MULTICAST,UP,LOWER_UP>(.*?)state UP/, 'eth0@if$1: <BROADCAST,MULTICAST>$2state DOWN'));
      expect(only(run(natHa, down), 'vrrp-split-brain').sentence).to.include("director2's eth0 on public is down");
    });
    it('says so when the evidence shows no reason', () => {
      expect(only(run(natHa, bothHold((t) => t)), 'vrrp-split-brain').sentence).to.include('the configs agree');
    });
  });

  describe('robustness', () => {
    it('finds the services a check concerns by group or VIP, else all', () => {
      expect(servicesOf(nat.services, { name: 'x', group: 'echo nat udp 10.89.10.100:53' }).map((s) => s.name)).to.deep.equal(['echo']);
      expect(servicesOf(nat.services, { name: 'exactly one director holds fd89:10::100', group: 'failover' }).map((s) => s.name)).to.deep.equal(['web6']);
      expect(servicesOf(nat.services, { name: 'x', group: 'failover' })).to.have.length(4);
    });
    it('never throws, whatever it is given', () => {
      for (const input of [undefined, {}, { plan: dr }, { plan: dr, evidence: { director: unreachable('director', 'gone') }, check: failed() }, { plan: { nodes: 3 } }] as unknown[]) {
        const cs = diagnose(input as never);
        expect(cs.length).to.be.greaterThan(0);
      }
    });
    it('a rule that throws is named in "no known cause", the others still run', () => {
      const boom = { id: 'boom', summary: '', reads: '', fix: '', find: () => { throw new Error('bad'); } };
      expect(diagnose({ plan: dr, evidence: evidenceOf('dr'), check: failed() }, [boom])[0]!.sentence).to.include('rule boom failed: bad');
    });
  });
});

describe("pauseWindows (the history's pause faults, as the diagnosis reads them)", () => {
  it('pairs each start with its end per node, keeps when it was in effect by, keeps an unended one open, and ignores other faults', async () => {
    const { pauseWindows } = await import('../../harness/history/history.js');
    const f = (t: number, phase: 'start' | 'end', fault: string, target: string) => ({ type: 'fault' as const, t, phase, fault, target });
    expect(
      pauseWindows([
        f(100, 'start', 'pause', 'director1'),
        f(150, 'start', 'kill', 'director2'),
        f(900, 'end', 'pause', 'director1'),
        f(950, 'end', 'kill', 'director2'),
        { ...f(2000, 'start', 'pause', 'director1'), by: 2400 },
      ]),
    ).to.deep.equal({ director1: [{ from: 100, to: 900 }, { from: 2000, by: 2400 }] });
    expect(pauseWindows([])).to.deep.equal({});
  });
});
