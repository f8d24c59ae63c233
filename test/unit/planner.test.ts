import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { normalize, parseSave, renderRestore } from '../../harness/ipvs/rules.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';

const shippedText = (name: string) => readFileSync(path.join(REPO_ROOT, 'topologies', `${name}.yaml`), 'utf8');
const planOf = (text: string, file = 'test.yaml') => plan(parseTopology(text, file));
const shipped = (name: string) => planOf(shippedText(name), `topologies/${name}.yaml`);

type Doc = any;
/** A shipped topology changed by `change`, then planned. */
function variant(name: string, change: (doc: Doc) => void): Plan {
  const doc = YAML.parse(shippedText(name));
  change(doc);
  return planOf(YAML.stringify(doc), `topologies/${name}.yaml`);
}

function node(p: Plan, name: string): PlannedNode {
  const n = p.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in plan ${p.topology} (${p.nodes.map((x) => x.name).join(', ')})`);
  return n;
}
const realServers = (p: Plan) => p.nodes.filter((n) => n.role === 'real-server');

const ARP = {
  'net.ipv4.conf.all.arp_ignore': '1',
  'net.ipv4.conf.all.arp_announce': '2',
  'net.ipv4.conf.lo.arp_ignore': '1',
  'net.ipv4.conf.lo.arp_announce': '2',
};

describe('topology planner', () => {
  describe('NAT (topologies/nat.yaml)', () => {
    const p = shipped('nat');
    const director = node(p, 'director');

    it('names containers and networks after the topology', () => {
      expect(p.topology).to.equal('nat');
      expect(director.container).to.equal('lvsh-nat-director');
      expect(p.networks).to.deep.equal([
        { name: 'public', subnet: '10.89.10.0/24', gateway: '10.89.10.1', subnet6: 'fd89:10::/64', gateway6: 'fd89:10::1', dockerName: 'lvsh-nat-public' },
        { name: 'private', subnet: '10.89.20.0/24', gateway: '10.89.20.1', subnet6: 'fd89:20::/64', gateway6: 'fd89:20::1', dockerName: 'lvsh-nat-private' },
      ]);
    });

    it('the director forwards IPv4 and IPv6 and holds the VIPs (/32 and /128) on its public network', () => {
      expect(director.sysctls).to.deep.equal({ 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1', 'net.ipv6.conf.all.disable_ipv6': '0' });
      expect(director.interfaces).to.deep.equal([
        { network: 'public', address: '10.89.10.2', prefix: 24, address6: 'fd89:10::2', prefix6: 64 },
        { network: 'private', address: '10.89.20.2', prefix: 24, address6: 'fd89:20::2', prefix6: 64 },
      ]);
      // the VIP, the fwmark service's three extra destinations, and the IPv6 VIP
      expect(director.addresses.map(({ address, prefix, on }) => ({ address, prefix, on }))).to.deep.equal([
        { address: '10.89.10.100', prefix: 32, on: { network: 'public' } },
        ...['101', '102', '103'].map((h) => ({ address: `10.89.10.${h}`, prefix: 32, on: { network: 'public' } })),
        { address: 'fd89:10::100', prefix: 128, on: { network: 'public' } },
      ]);
      // the fwmark service's two ports on each of its four destinations
      expect(director.commands.map((c) => c.argv.join(' '))).to.deep.equal(
        ['100', '101', '102', '103'].flatMap((h) => [8080, 8081].map((port) => `iptables -t mangle -A PREROUTING -d 10.89.10.${h}/32 -p tcp --dport ${port} -j MARK --set-mark 1`)),
      );
      expect(p.services.find((s) => s.name === 'mark')!.vips).to.deep.equal(['10.89.10.100', '10.89.10.101', '10.89.10.102', '10.89.10.103']);
      expect(p.services.find((s) => s.name === 'web')!.vips).to.deep.equal(['10.89.10.100']);
    });

    it('real servers route their replies back through the director’s DIP 10.89.20.2', () => {
      const rs = realServers(p);
      expect(rs.map((n) => n.name)).to.deep.equal(['rs1', 'rs2', 'rs3']);
      for (const n of rs) {
        expect(n.routes.map(({ to, via, family }) => ({ to, via, family })), n.name).to.deep.equal([
          { to: 'default', via: '10.89.20.2', family: undefined },
          { to: 'default', via: 'fd89:20::2', family: 6 },
        ]);
        expect(n.addresses, n.name).to.deep.equal([]);
        expect(n.sysctls, n.name).to.deep.equal({ 'net.ipv6.conf.all.disable_ipv6': '0' });
        // every port a service sends them: web and web6 (80), the fwmark ports, and the UDP echo
        expect(n.app).to.deep.equal({ httpPort: 80, httpPorts: [80, 8080, 8081], udpPorts: [53] });
      }
    });

    it('the director holds a masq rule per service (TCP, UDP, fwmark, IPv6), the first with the three real servers', () => {
      expect(director.ipvs!.map((r) => (r.fwmark ? `fwm ${r.fwmark}` : `${r.protocol} ${r.address}:${r.port}`))).to.deep.equal(['tcp 10.89.10.100:80', 'udp 10.89.10.100:53', 'fwm 1', 'tcp fd89:10::100:80']);
      expect(director.ipvs!.at(-1)!.realServers.map((r) => r.address)).to.deep.equal(['fd89:20::11', 'fd89:20::12', 'fd89:20::13']);
      expect(director.ipvs!.slice(0, 1)).to.deep.equal([
        {
          protocol: 'tcp',
          address: '10.89.10.100',
          port: 80,
          scheduler: 'rr',
          realServers: [
            { address: '10.89.20.11', port: 80, method: 'masq', weight: 1 },
            { address: '10.89.20.12', port: 80, method: 'masq', weight: 1 },
            { address: '10.89.20.13', port: 80, method: 'masq', weight: 1 },
          ],
        },
      ]);
    });

    it('describes the service for checks', () => {
      const s = p.services[0]!;
      expect(s.mode).to.equal('nat');
      expect(s.vipNetwork).to.equal('public');
      expect(s.realServers.map((r) => `${r.name} ${r.rip}:${r.port} ${r.method} on ${r.network}`)).to.deep.equal([
        'rs1 10.89.20.11:80 masq on private',
        'rs2 10.89.20.12:80 masq on private',
        'rs3 10.89.20.13:80 masq on private',
      ]);
      expect(s.directorAddresses).to.deep.equal({ director: { public: '10.89.10.2', private: '10.89.20.2' } });
      expect(s).to.not.have.property('_rs');
      expect(s).to.not.have.property('_spec');
    });

    it('the director’s rules render to an ipvsadm -R file that parses back to the same rules', () => {
      const restore = renderRestore(director.ipvs!);
      expect(restore.split('\n').filter((l) => l.startsWith('-A'))).to.deep.equal(['-A -t 10.89.10.100:80 -s rr', '-A -u 10.89.10.100:53 -s rr', '-A -f 1 -s rr', '-A -t [fd89:10::100]:80 -s rr']);
      expect(restore.split('\n').slice(0, 4)).to.deep.equal([
        '-A -t 10.89.10.100:80 -s rr',
        '-a -t 10.89.10.100:80 -r 10.89.20.11:80 -m -w 1',
        '-a -t 10.89.10.100:80 -r 10.89.20.12:80 -m -w 1',
        '-a -t 10.89.10.100:80 -r 10.89.20.13:80 -m -w 1',
      ]);
      expect(restore).to.contain('-a -t [fd89:10::100]:80 -r [fd89:20::11]:80 -m -w 1');
      expect(normalize(parseSave(restore))).to.deep.equal(normalize(director.ipvs!));
    });
  });

  describe('DR (topologies/dr.yaml)', () => {
    const p = shipped('dr');

    it('each real server holds the VIP /32 on lo, and the fwmark service’s extra destinations, and keeps quiet about them in ARP (all and lo)', () => {
      for (const n of realServers(p)) {
        expect(n.addresses.map(({ address, prefix, on }) => ({ address, prefix, on })), n.name).to.deep.equal(
          ['100', '101', '102', '103'].map((h) => ({ address: `10.89.30.${h}`, prefix: 32, on: { dev: 'lo' } })),
        );
        expect(n.sysctls, n.name).to.deep.equal(ARP);
        expect(n.linksUp, n.name).to.deep.equal([]);
      }
    });

    it('does not change any default route, and the director needs no forwarding', () => {
      for (const n of p.nodes) expect(n.routes, n.name).to.deep.equal([]);
      expect(node(p, 'director').sysctls).to.deep.equal({});
    });

    it('the director holds the VIP and a droute rule to the real servers on the shared segment', () => {
      const d = node(p, 'director');
      expect(d.addresses.map((a) => `${a.address}/${a.prefix}`)).to.deep.equal(['10.89.30.100/32', '10.89.30.101/32', '10.89.30.102/32', '10.89.30.103/32']);
      expect(d.ipvs![0]!.realServers.map((r) => `${r.address}:${r.port} ${r.method}`)).to.deep.equal([
        '10.89.30.11:80 droute',
        '10.89.30.12:80 droute',
        '10.89.30.13:80 droute',
      ]);
      expect(p.services[0]!.mode).to.equal('dr');
    });

    it('per-node sysctls from the file win over planned ones (a broken DR: arp_ignore 0)', () => {
      const broken = variant('dr', (d) => (d.real_servers[1].sysctls = { 'net.ipv4.conf.all.arp_ignore': 0 }));
      expect(node(broken, 'rs2').sysctls).to.deep.equal({ ...ARP, 'net.ipv4.conf.all.arp_ignore': '0' });
      expect(node(broken, 'rs1').sysctls).to.deep.equal(ARP);
      expect(node(broken, 'rs3').sysctls).to.deep.equal(ARP);
    });

    it('per-client sysctls apply to every client a count expands to', () => {
      const p2 = variant('dr', (d) => Object.assign(d.clients[0], { count: 2, source_addresses: 1, sysctls: { 'net.ipv4.tcp_tw_reuse': 1 } }));
      expect(node(p2, 'client-1').sysctls).to.deep.equal({ 'net.ipv4.tcp_tw_reuse': '1' });
      expect(node(p2, 'client-2').sysctls).to.deep.equal({ 'net.ipv4.tcp_tw_reuse': '1' });
      expect(p2.nodes.map((n) => n.name)).to.deep.equal(['director', 'rs1', 'rs2', 'rs3', 'client-1', 'client-2']);
    });
  });

  describe('TUN (topologies/tun.yaml)', () => {
    const p = shipped('tun');

    it('each real server holds the VIP (and the extra destinations) /32 on tunl0 and brings tunl0 up', () => {
      for (const n of realServers(p)) {
        expect(n.addresses.map(({ address, prefix, on }) => ({ address, prefix, on })), n.name).to.deep.equal(
          ['100', '101', '102', '103'].map((h) => ({ address: `10.89.40.${h}`, prefix: 32, on: { dev: 'tunl0' } })),
        );
        expect(n.linksUp, n.name).to.include('tunl0');
        expect(n.routes, n.name).to.deep.equal([]);
      }
    });

    it('turns rp_filter off on all, default and tunl0, and sets the ARP sysctls', () => {
      for (const n of realServers(p))
        expect(n.sysctls, n.name).to.deep.equal({
          ...ARP,
          'net.ipv4.conf.all.rp_filter': '0',
          'net.ipv4.conf.default.rp_filter': '0',
          'net.ipv4.conf.tunl0.rp_filter': '0',
        });
    });

    it('the director’s rule tunnels to each real server', () => {
      expect(node(p, 'director').ipvs![0]!.realServers.map((r) => r.method)).to.deep.equal(['tunnel', 'tunnel', 'tunnel']);
      expect(p.services[0]!.mode).to.equal('tun');
    });
  });

  describe('Full-NAT (topologies/fullnat.yaml)', () => {
    const p = shipped('fullnat');
    const director = node(p, 'director');

    it('real servers keep their own route: none via the director', () => {
      for (const n of realServers(p)) expect(n.routes, n.name).to.deep.equal([]);
    });

    it('the director forwards, tracks IPVS connections and SNATs to its DIP 10.89.60.2', () => {
      expect(director.sysctls).to.deep.equal({ 'net.ipv4.ip_forward': '1', 'net.ipv4.vs.conntrack': '1' });
      expect(director.commands.map((c) => c.argv).filter((a) => a.includes('SNAT'))).to.deep.equal([
        ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'ipvs', '--vaddr', '10.89.50.100/32', '--vport', '80', '-j', 'SNAT', '--to-source', '10.89.60.2'],
        ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'ipvs', '--vaddr', '10.89.50.100/32', '--vport', '53', '-j', 'SNAT', '--to-source', '10.89.60.2'],
        // the fwmark service has no port: one rule for every port, per destination (its connections' virtual address)
        ...['100', '101', '102', '103'].map((h) => ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'ipvs', '--vaddr', `10.89.50.${h}/32`, '-j', 'SNAT', '--to-source', '10.89.60.2']),
      ]);
      expect(p.services[0]!.mode).to.equal('fullnat');
    });
  });

  describe('clients and addresses', () => {
    it('a client with source_addresses: 16 gets 15 extra addresses on its first network', () => {
      const c = node(shipped('nat'), 'client');
      expect(c.interfaces).to.deep.equal([{ network: 'public', address: '10.89.10.3', prefix: 24, address6: 'fd89:10::3', prefix6: 64 }]);
      // and, on this dual-stack network, an IPv6 twin of each
      expect(c.addresses).to.have.length(30);
      expect(c.addresses[0]).to.deep.equal({ address: '10.89.10.4', prefix: 24, on: { network: 'public' }, why: 'source address 2 of 16' });
      expect(c.addresses[1]).to.deep.equal({ address: 'fd89:10::4', prefix: 64, on: { network: 'public' }, why: 'IPv6 source address 2 of 16' });
      expect(c.addresses[28]).to.deep.equal({ address: '10.89.10.18', prefix: 24, on: { network: 'public' }, why: 'source address 16 of 16' });
    });

    it('auto addresses skip the VIP and explicit addresses, whatever their order in the file', () => {
      const p = planOf(
        [
          'name: auto',
          'networks: [{ name: lan, subnet: 10.89.70.0/24 }]',
          'directors: [{ name: director, networks: { lan: auto } }]',
          'real_servers:',
          '  - { name: rs1, networks: { lan: 10.89.70.2 } }',
          '  - { name: rs2, networks: { lan: auto } }',
          'clients: [{ name: client, networks: { lan: auto }, source_addresses: 3 }]',
          'services:',
          '  - vip: 10.89.70.4',
          '    port: 80',
          '    scheduler: wlc',
          '    real_servers: [{ name: rs1, method: droute }, { name: rs2, method: droute, weight: 3 }]',
        ].join('\n'),
      );
      const addr = (n: string) => node(p, n).interfaces[0]!.address;
      expect(addr('director')).to.equal('10.89.70.3');
      expect(addr('rs1')).to.equal('10.89.70.2');
      expect(addr('rs2')).to.equal('10.89.70.5');
      expect(addr('client')).to.equal('10.89.70.6');
      expect(node(p, 'client').addresses.map((a) => a.address)).to.deep.equal(['10.89.70.7', '10.89.70.8']);
      const all = p.nodes.flatMap((n) => [...n.interfaces.map((i) => i.address), ...n.addresses.filter((a) => 'network' in a.on).map((a) => a.address)]);
      expect(all.filter((a) => a !== '10.89.70.4')).to.have.length(new Set(all.filter((a) => a !== '10.89.70.4')).size);
      // the unnamed service is named after its index, and the weight reaches the rule
      expect(p.services[0]!.name).to.equal('svc0');
      expect(node(p, 'director').ipvs![0]!.realServers.map((r) => `${r.address} w${r.weight}`)).to.deep.equal(['10.89.70.2 w1', '10.89.70.5 w3']);
    });
  });

  describe('the plan hash', () => {
    it('is stable for the same input', () => {
      expect(shipped('dr').hash).to.match(/^[0-9a-f]{12}$/);
      expect(shipped('dr').hash).to.equal(shipped('dr').hash);
      expect(planOf(YAML.stringify(YAML.parse(shippedText('dr'))), 'elsewhere.yaml').hash).to.equal(shipped('dr').hash);
    });

    it('changes when a weight changes, and differs between topologies', () => {
      const base = shipped('dr').hash;
      expect(variant('dr', (d) => (d.services[0].real_servers[2].weight = 2)).hash).to.not.equal(base);
      expect(variant('dr', (d) => (d.services[0].real_servers[2].weight = 1)).hash).to.equal(base);
      expect(shipped('tun').hash).to.not.equal(base);
    });

    it('changes when a planned sysctl is overridden', () => {
      expect(variant('dr', (d) => (d.real_servers[0].sysctls = { 'net.ipv4.conf.all.arp_ignore': 0 })).hash).to.not.equal(shipped('dr').hash);
    });
  });

  describe('a fwmark service', () => {
    const p = variant('dr', (d) => {
      d.services = d.services.slice(0, 1);
      delete d.services[0].port;
      d.services[0].fwmark = { mark: 7, ports: [80, 443] };
      d.services[0].persistence = { timeout: 600, netmask: '255.255.255.0' };
    });
    const director = node(p, 'director');

    it('the director marks packets to the VIP, one mangle MARK command per port', () => {
      expect(director.commands.map((c) => c.argv)).to.deep.equal([
        ['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-d', '10.89.30.100/32', '-p', 'tcp', '--dport', '80', '-j', 'MARK', '--set-mark', '7'],
        ['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-d', '10.89.30.100/32', '-p', 'tcp', '--dport', '443', '-j', 'MARK', '--set-mark', '7'],
      ]);
    });

    it('the ipvs rule balances the mark, with real servers on port 0', () => {
      expect(director.ipvs).to.deep.equal([
        {
          fwmark: 7,
          scheduler: 'rr',
          persistence: { timeout: 600, netmask: '255.255.255.0' },
          realServers: [
            { address: '10.89.30.11', port: 0, method: 'droute', weight: 1 },
            { address: '10.89.30.12', port: 0, method: 'droute', weight: 1 },
            { address: '10.89.30.13', port: 0, method: 'droute', weight: 1 },
          ],
        },
      ]);
      expect(renderRestore(director.ipvs!).split('\n').slice(0, 2)).to.deep.equal(['-A -f 7 -s rr -p 600 -M 255.255.255.0', '-a -f 7 -r 10.89.30.11:0 -g -w 1']);
      expect(p.services[0]!.fwmark).to.deep.equal({ mark: 7, ports: [80, 443] });
    });
  });

  it('thresholds from the file reach the rule', () => {
    const p = variant('nat', (d) => Object.assign(d.services[0].real_servers[0], { u_threshold: 100, l_threshold: 10 }));
    expect(node(p, 'director').ipvs![0]!.realServers[0]).to.deep.equal({ address: '10.89.20.11', port: 80, method: 'masq', weight: 1, upperThreshold: 100, lowerThreshold: 10 });
  });
});
