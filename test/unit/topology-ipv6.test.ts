import { expect } from 'chai';
import { renderNginxConf } from '../../harness/images/rs-app.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { ipToInt, parseCidr } from '../../harness/topology/net.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';
import { problems, shippedText, variantText, type Doc } from '../topology-helpers.js';

const planVariant = (name: string, change: (doc: Doc) => void): Plan => plan(parseTopology(variantText(name, change), `topologies/${name}.yaml`));

const nat = (change: (doc: Doc) => void) => problems(variantText('nat', change), 'topologies/nat.yaml');

function node(p: Plan, name: string): PlannedNode {
  const n = p.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in plan ${p.topology} (${p.nodes.map((x) => x.name).join(', ')})`);
  return n;
}
const realServers = (p: Plan) => p.nodes.filter((n) => n.role === 'real-server');
const service = (p: Plan, name: string) => {
  const s = p.services.find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name} (${p.services.map((x) => x.name).join(', ')})`);
  return s;
};

/** index of the IPv6 service web6 in topologies/nat.yaml */
const WEB6 = 3;

describe('dual-stack topologies (IPv6, UDP, fwmark)', () => {
  describe('topologies/nat.yaml parses', () => {
    const t = parseTopology(shippedText('nat'), 'topologies/nat.yaml');

    it('with subnet6 on both networks and the four services', () => {
      expect(t.networks).to.deep.equal([
        { name: 'public', subnet: '10.89.10.0/24', subnet6: 'fd89:10::/64' },
        { name: 'private', subnet: '10.89.20.0/24', subnet6: 'fd89:20::/64' },
      ]);
      expect(t.services.map((s) => [s.name, s.vip, s.protocol, s.port, s.fwmark])).to.deep.equal([
        ['web', '10.89.10.100', 'tcp', 80, undefined],
        ['echo', '10.89.10.100', 'udp', 53, undefined],
        ['mark', '10.89.10.100', 'tcp', undefined, { mark: 1, ports: [8080, 8081] }],
        ['web6', 'fd89:10::100', 'tcp', 80, undefined],
      ]);
    });
  });

  describe('the plan of topologies/nat.yaml', () => {
    const p = plan(parseTopology(shippedText('nat'), 'topologies/nat.yaml'));
    const director = node(p, 'director');
    const client = node(p, 'client');

    it('networks carry subnet6 and gateway6', () => {
      expect(p.networks).to.deep.equal([
        { name: 'public', subnet: '10.89.10.0/24', gateway: '10.89.10.1', subnet6: 'fd89:10::/64', gateway6: 'fd89:10::1', dockerName: 'lvsh-nat-public' },
        { name: 'private', subnet: '10.89.20.0/24', gateway: '10.89.20.1', subnet6: 'fd89:20::/64', gateway6: 'fd89:20::1', dockerName: 'lvsh-nat-private' },
      ]);
    });

    it('every interface on a dual-stack network has address6 = the prefix + its IPv4 host number', () => {
      const prefix6: Record<string, string> = { public: 'fd89:10::', private: 'fd89:20::' };
      let checked = 0;
      for (const n of p.nodes)
        for (const i of n.interfaces) {
          const host = ipToInt(i.address) - parseCidr(i.network === 'public' ? '10.89.10.0/24' : '10.89.20.0/24').network;
          expect(i.address6, `${n.name} on ${i.network}`).to.equal(`${prefix6[i.network]}${host}`);
          expect(i.prefix6, `${n.name} on ${i.network}`).to.equal(64);
          checked++;
        }
      expect(checked).to.equal(6);
      expect(director.interfaces).to.deep.equal([
        { network: 'public', address: '10.89.10.2', prefix: 24, address6: 'fd89:10::2', prefix6: 64 },
        { network: 'private', address: '10.89.20.2', prefix: 24, address6: 'fd89:20::2', prefix6: 64 },
      ]);
      expect(node(p, 'rs1').interfaces).to.deep.equal([{ network: 'private', address: '10.89.20.11', prefix: 24, address6: 'fd89:20::11', prefix6: 64 }]);
      expect(client.interfaces).to.deep.equal([{ network: 'public', address: '10.89.10.3', prefix: 24, address6: 'fd89:10::3', prefix6: 64 }]);
    });

    it("the client's extra source addresses each get an IPv6 twin on the same network", () => {
      expect(client.addresses).to.have.length(30);
      for (let k = 0; k < 15; k++) {
        const v4 = client.addresses[2 * k]!;
        const v6 = client.addresses[2 * k + 1]!;
        expect(v4).to.deep.equal({ address: `10.89.10.${4 + k}`, prefix: 24, on: { network: 'public' }, why: `source address ${k + 2} of 16` });
        expect(v6).to.deep.equal({ address: `fd89:10::${4 + k}`, prefix: 64, on: { network: 'public' }, why: `IPv6 source address ${k + 2} of 16` });
      }
    });

    it('services carry their family; the IPv6 service uses the real servers’ IPv6 RIPs', () => {
      expect(p.services.map((s) => [s.name, s.family, s.vipNetwork])).to.deep.equal([
        ['web', 4, 'public'],
        ['echo', 4, 'public'],
        ['mark', 4, 'public'],
        ['web6', 6, 'public'],
      ]);
      expect(service(p, 'web6').realServers).to.deep.equal([
        { name: 'rs1', rip: 'fd89:20::11', port: 80, method: 'masq', weight: 1, network: 'private' },
        { name: 'rs2', rip: 'fd89:20::12', port: 80, method: 'masq', weight: 1, network: 'private' },
        { name: 'rs3', rip: 'fd89:20::13', port: 80, method: 'masq', weight: 1, network: 'private' },
      ]);
      expect(service(p, 'web').realServers.map((r) => r.rip)).to.deep.equal(['10.89.20.11', '10.89.20.12', '10.89.20.13']);
    });

    it("the director's IPVS rule for the IPv6 VIP points at the IPv6 RIPs", () => {
      const rule = director.ipvs!.find((r) => r.address === 'fd89:10::100');
      expect(rule).to.deep.equal({
        protocol: 'tcp',
        address: 'fd89:10::100',
        port: 80,
        scheduler: 'rr',
        realServers: ['fd89:20::11', 'fd89:20::12', 'fd89:20::13'].map((address) => ({ address, port: 80, method: 'masq', weight: 1 })),
      });
    });

    it('the UDP and fwmark services become their own IPVS rules', () => {
      expect(director.ipvs).to.have.length(4);
      expect(director.ipvs![1]).to.deep.equal({
        protocol: 'udp',
        address: '10.89.10.100',
        port: 53,
        scheduler: 'rr',
        realServers: ['10.89.20.11', '10.89.20.12', '10.89.20.13'].map((address) => ({ address, port: 53, method: 'masq', weight: 1 })),
      });
      expect(director.ipvs![2]).to.deep.equal({
        fwmark: 1,
        scheduler: 'rr',
        realServers: ['10.89.20.11', '10.89.20.12', '10.89.20.13'].map((address) => ({ address, port: 0, method: 'masq', weight: 1 })),
      });
    });

    it('the director forwards IPv6 too and holds the IPv6 VIP as /128 (each IPv4 destination once, as /32)', () => {
      expect(director.sysctls).to.deep.equal({
        'net.ipv4.ip_forward': '1',
        'net.ipv6.conf.all.forwarding': '1',
        'net.ipv6.conf.all.disable_ipv6': '0',
      });
      expect(director.addresses.map(({ address, prefix, on }) => ({ address, prefix, on }))).to.deep.equal([
        ...['100', '101', '102', '103'].map((h) => ({ address: `10.89.10.${h}`, prefix: 32, on: { network: 'public' } })),
        { address: 'fd89:10::100', prefix: 128, on: { network: 'public' } },
      ]);
    });

    it("the director marks TCP 8080 and 8081 to the VIP and its extra destinations with the service's mark", () => {
      expect(director.commands.map((c) => c.argv)).to.deep.equal(
        ['100', '101', '102', '103'].flatMap((h) => ['8080', '8081'].map((port) => ['iptables', '-t', 'mangle', '-A', 'PREROUTING', '-d', `10.89.10.${h}/32`, '-p', 'tcp', '--dport', port, '-j', 'MARK', '--set-mark', '1'])),
      );
    });

    it("NAT real servers get an IPv4 and an IPv6 (family 6) default route via the director's DIPs", () => {
      expect(realServers(p)).to.have.length(3);
      for (const n of realServers(p))
        expect(n.routes.map(({ to, via, family }) => ({ to, via, family })), n.name).to.deep.equal([
          { to: 'default', via: '10.89.20.2', family: undefined },
          { to: 'default', via: 'fd89:20::2', family: 6 },
        ]);
    });

    it('every node on a dual-stack network has IPv6 switched on (disable_ipv6=0)', () => {
      for (const n of p.nodes) expect(n.sysctls['net.ipv6.conf.all.disable_ipv6'], n.name).to.equal('0');
      for (const n of realServers(p)) expect(n.sysctls, n.name).to.deep.equal({ 'net.ipv6.conf.all.disable_ipv6': '0' });
      expect(client.sysctls).to.deep.equal({ 'net.ipv6.conf.all.disable_ipv6': '0' });
    });

    it('real servers serve HTTP on 80, 8080 and 8081 and UDP echo on 53', () => {
      for (const n of realServers(p)) expect(n.app, n.name).to.deep.equal({ httpPort: 80, httpPorts: [80, 8080, 8081], udpPorts: [53] });
    });
  });

  describe('the plan of other IPv6 shapes', () => {
    it('an IPv4-only topology plans no IPv6 at all', () => {
      const p = planVariant('nat', (d) => {
        for (const n of d.networks) delete n.subnet6;
        d.services.splice(WEB6, 1);
      });
      expect(p.networks.map((n) => Object.keys(n))).to.deep.equal([
        ['name', 'subnet', 'gateway', 'dockerName'],
        ['name', 'subnet', 'gateway', 'dockerName'],
      ]);
      for (const n of p.nodes) {
        expect(n.interfaces.every((i) => i.address6 === undefined && i.prefix6 === undefined), n.name).to.equal(true);
        expect(n.sysctls, n.name).to.not.have.property('net.ipv6.conf.all.disable_ipv6');
        expect(n.routes.every((r) => r.family === undefined), n.name).to.equal(true);
      }
      expect(node(p, 'director').sysctls).to.deep.equal({ 'net.ipv4.ip_forward': '1' });
      expect(node(p, 'client').addresses).to.have.length(15);
    });

    it('a node gets IPv6 only on its dual-stack networks', () => {
      const p = planVariant('nat', (d) => {
        delete d.networks[1].subnet6;
        d.services.splice(WEB6, 1);
      });
      const director = node(p, 'director');
      expect(director.interfaces).to.deep.equal([
        { network: 'public', address: '10.89.10.2', prefix: 24, address6: 'fd89:10::2', prefix6: 64 },
        { network: 'private', address: '10.89.20.2', prefix: 24 },
      ]);
      expect(director.sysctls['net.ipv6.conf.all.disable_ipv6']).to.equal('0');
      expect(node(p, 'rs1').sysctls).to.deep.equal({});
      expect(p.networks[1]).to.deep.equal({ name: 'private', subnet: '10.89.20.0/24', gateway: '10.89.20.1', dockerName: 'lvsh-nat-private' });
    });

    it('a sysctl from the file wins over disable_ipv6=0', () => {
      const p = planVariant('nat', (d) => (d.real_servers[0].sysctls = { 'net.ipv6.conf.all.disable_ipv6': 1 }));
      expect(node(p, 'rs1').sysctls['net.ipv6.conf.all.disable_ipv6']).to.equal('1');
      expect(node(p, 'rs2').sysctls['net.ipv6.conf.all.disable_ipv6']).to.equal('0');
    });

    it('auto addresses skip the host number an IPv6 VIP spells (fd89:10::50 keeps 10.89.10.50 free)', () => {
      const p = planVariant('nat', (d) => {
        d.services = [{ ...d.services[WEB6], vip: 'fd89:10::50' }];
        d.clients[0].source_addresses = 64;
      });
      const client = node(p, 'client');
      const v4 = [client.interfaces[0]!.address, ...client.addresses.filter((a) => !a.address.includes(':')).map((a) => a.address)];
      const v6 = [client.interfaces[0]!.address6, ...client.addresses.filter((a) => a.address.includes(':')).map((a) => a.address)];
      expect(v4).to.have.length(64);
      expect(v4).to.not.include('10.89.10.50');
      expect(v6).to.not.include('fd89:10::50');
      expect(v4).to.include('10.89.10.49').and.to.include('10.89.10.51');
      // .3 to .67 less .50: 64 addresses
      expect(v4[0]).to.equal('10.89.10.3');
      expect(v4[v4.length - 1]).to.equal('10.89.10.67');
      expect(v6[v6.length - 1]).to.equal('fd89:10::67');
    });

    it('DR to an IPv6 VIP: the VIP /128 on lo, and no ARP sysctls (IPv6 has no ARP)', () => {
      const p = planVariant('dr', (d) => {
        d.networks[0].subnet6 = 'fd89:30::/64';
        d.services = [{ name: 'web6', vip: 'fd89:30::100', port: 80, scheduler: 'rr', real_servers: ['rs1', 'rs2', 'rs3'].map((name) => ({ name, method: 'droute' })) }];
      });
      expect(service(p, 'web6').realServers.map((r) => r.rip)).to.deep.equal(['fd89:30::11', 'fd89:30::12', 'fd89:30::13']);
      for (const n of realServers(p)) {
        expect(n.addresses.map(({ address, prefix, on }) => ({ address, prefix, on })), n.name).to.deep.equal([{ address: 'fd89:30::100', prefix: 128, on: { dev: 'lo' } }]);
        expect(n.sysctls, n.name).to.deep.equal({ 'net.ipv6.conf.all.disable_ipv6': '0' });
        expect(n.routes, n.name).to.deep.equal([]);
      }
      const director = node(p, 'director');
      expect(director.sysctls).to.deep.equal({ 'net.ipv6.conf.all.disable_ipv6': '0' });
      expect(director.addresses.map((a) => [a.address, a.prefix])).to.deep.equal([['fd89:30::100', 128]]);
    });

    it('a UDP service on another port adds that port to udpPorts, not httpPorts', () => {
      const p = planVariant('nat', (d) => d.services.push({ name: 'echo2', vip: '10.89.10.100', port: 5353, protocol: 'udp', scheduler: 'rr', real_servers: [{ name: 'rs2', method: 'masq' }] }));
      expect(node(p, 'rs2').app).to.deep.equal({ httpPort: 80, httpPorts: [80, 8080, 8081], udpPorts: [53, 5353] });
      expect(node(p, 'rs1').app).to.deep.equal({ httpPort: 80, httpPorts: [80, 8080, 8081], udpPorts: [53] });
    });

    it('the plan hash changes when a subnet6 changes', () => {
      const a = planVariant('nat', () => undefined);
      const b = planVariant('nat', (d) => {
        d.networks[1].subnet6 = 'fd89:21::/64';
      });
      expect(a.hash).to.match(/^[0-9a-f]{12}$/);
      expect(b.hash).to.not.equal(a.hash);
      expect(node(b, 'rs1').interfaces[0]!.address6).to.equal('fd89:21::11');
    });
  });

  describe('IPv6 errors name the file and the path', () => {
    it('an IPv6 VIP when no network has a subnet6', () => {
      expect(
        nat((d) => {
          for (const n of d.networks) delete n.subnet6;
        }),
      ).to.deep.equal([
        'topologies/nat.yaml: services[3].vip: "fd89:10::100" is outside every IPv6 subnet (no network has a subnet6); an IPv6 VIP needs a dual-stack network',
      ]);
    });

    it('an IPv6 VIP outside every subnet6 lists the subnet6s', () => {
      expect(nat((d) => (d.services[WEB6].vip = 'fd89:99::100'))).to.deep.equal([
        'topologies/nat.yaml: services[3].vip: "fd89:99::100" is outside every IPv6 subnet (fd89:10::/64, fd89:20::/64); an IPv6 VIP needs a dual-stack network',
      ]);
    });

    it("an IPv6 VIP that is a node's derived IPv6 address (fd89:10::2 is the director's 10.89.10.2)", () => {
      expect(nat((d) => (d.services[WEB6].vip = 'fd89:10::2'))).to.deep.equal([
        `topologies/nat.yaml: services[3].vip: "fd89:10::2" is the IPv6 address of directors[0].networks.public (a node's IPv6 address is the prefix plus its IPv4 host number)`,
      ]);
    });

    it("an IPv6 VIP that is a node's derived IPv6 address on another dual-stack network (fd89:20::11 is rs1's)", () => {
      const lines = nat((d) => {
        d.services[WEB6].vip = 'fd89:20::11';
        d.clients[0].networks.private = 'auto';
      });
      expect(lines).to.include(
        `topologies/nat.yaml: services[3].vip: "fd89:20::11" is the IPv6 address of real_servers[0].networks.private (a node's IPv6 address is the prefix plus its IPv4 host number)`,
      );
    });

    it('the network and gateway addresses of a subnet6 are not VIPs', () => {
      expect(nat((d) => (d.services[WEB6].vip = 'fd89:10::1'))).to.deep.equal(['topologies/nat.yaml: services[3].vip: "fd89:10::1" is the network or gateway address of fd89:10::/64']);
      expect(nat((d) => (d.services[WEB6].vip = 'fd89:10::'))).to.deep.equal(['topologies/nat.yaml: services[3].vip: "fd89:10::" is the network or gateway address of fd89:10::/64']);
    });

    it('tunnel to an IPv6 VIP', () => {
      expect(nat((d) => (d.services[WEB6].real_servers[1].method = 'tunnel'))).to.deep.equal([
        'topologies/nat.yaml: services[3].real_servers[1].method: tunnel to an IPv6 VIP needs ip6ip6, which the planner does not build; use masq or droute',
      ]);
    });

    it('full-NAT with an IPv6 VIP', () => {
      expect(nat((d) => (d.services[WEB6].fullnat = true))).to.deep.equal(['topologies/nat.yaml: services[3]: full-NAT services are IPv4 only; fd89:10::100 is IPv6']);
    });

    it('fwmark with an IPv6 VIP', () => {
      expect(
        nat((d) => {
          delete d.services[WEB6].port;
          d.services[WEB6].fwmark = { mark: 2, ports: [80, 443] };
        }),
      ).to.deep.equal(['topologies/nat.yaml: services[3]: firewall-mark services are IPv4 only (the director marks with iptables); fd89:10::100 is IPv6']);
    });

    it('a persistence netmask with an IPv6 VIP', () => {
      expect(nat((d) => (d.services[WEB6].persistence = { timeout: 300, netmask: '255.255.255.0' }))).to.deep.equal([
        'topologies/nat.yaml: services[3]: persistence.netmask is an IPv4 netmask; IPv6 services persist per client address; fd89:10::100 is IPv6',
      ]);
    });

    it('a subnet6 with host bits set names the network it means', () => {
      expect(nat((d) => (d.networks[0].subnet6 = 'fd89:10::1/64'))).to.deep.equal(['topologies/nat.yaml: networks[0].subnet6: "fd89:10::1/64" has host bits set (the network is fd89:10::/64)']);
    });

    it('a subnet6 longer than /96 (or shorter than /64) is refused with the allowed range', () => {
      for (const s6 of ['fd89:10::/112', 'fd89:10::/97', 'fd89:10::/48', 'fd89:10::', 'fd89:10::/x'])
        expect(nat((d) => (d.networks[0].subnet6 = s6))).to.deep.equal([`topologies/nat.yaml: networks[0].subnet6: "${s6}" is not an IPv6 subnet from /64 to /96 such as fd89:10::/64`]);
    });

    it('a /96 subnet6 is accepted', () => {
      const p = planVariant('nat', (d) => (d.networks[1].subnet6 = 'fd89:20::/96'));
      expect(node(p, 'rs3').interfaces[0]).to.deep.equal({ network: 'private', address: '10.89.20.13', prefix: 24, address6: 'fd89:20::13', prefix6: 96 });
    });

    it('overlapping subnet6s, equal or nested', () => {
      expect(nat((d) => (d.networks[1].subnet6 = 'fd89:10::/64'))).to.deep.equal(['topologies/nat.yaml: networks[1].subnet6: "fd89:10::/64" overlaps networks[0] (fd89:10::/64)']);
      const nested = nat((d) => {
        d.networks[0].subnet6 = 'fd89:10::/64';
        d.networks[1].subnet6 = 'fd89:10::/80';
      });
      expect(nested).to.include('topologies/nat.yaml: networks[1].subnet6: "fd89:10::/80" overlaps networks[0] (fd89:10::/64)');
      const nestedOtherWay = nat((d) => {
        d.networks[0].subnet6 = 'fd89:20::/80';
        d.networks[1].subnet6 = 'fd89:20::/64';
      });
      expect(nestedOtherWay).to.include('topologies/nat.yaml: networks[1].subnet6: "fd89:20::/64" overlaps networks[0] (fd89:20::/80)');
    });

    it("a vip that is no IP address ('banana') says it is not an IPv4 or IPv6 address", () => {
      expect(nat((d) => (d.services[0].vip = 'banana'))).to.deep.equal([
        'topologies/nat.yaml: services[0].vip: "banana" is not an IPv4 or IPv6 address such as 10.89.1.100 or fd89:10::100',
      ]);
      expect(nat((d) => (d.services[0].vip = '10.89.10.300'))).to.deep.equal([
        'topologies/nat.yaml: services[0].vip: "10.89.10.300" is not an IPv4 or IPv6 address such as 10.89.1.100 or fd89:10::100',
      ]);
    });

    it("a malformed IPv6 VIP ('fd89:::1') is a topology error, not a crash", () => {
      expect(nat((d) => (d.services[WEB6].vip = 'fd89:::1'))).to.deep.equal([
        'topologies/nat.yaml: services[3].vip: "fd89:::1" is not an IPv4 or IPv6 address such as 10.89.1.100 or fd89:10::100',
      ]);
    });

    it("a malformed subnet6 ('fd89:::/64') is a topology error, not a crash", () => {
      expect(nat((d) => (d.networks[0].subnet6 = 'fd89:::/64'))).to.deep.equal([
        'topologies/nat.yaml: networks[0].subnet6: "fd89:::/64" is not an IPv6 subnet from /64 to /96 such as fd89:10::/64',
      ]);
    });

    it('the same IPv6 virtual service spelled two ways is the same service', () => {
      expect(nat((d) => d.services.push({ ...d.services[WEB6], name: 'web7', vip: 'fd89:10:0:0::100' }))).to.deep.equal([
        'topologies/nat.yaml: services[4]: the same virtual service as services[3]',
      ]);
      expect(nat((d) => d.services.push({ ...d.services[WEB6], name: 'web7', vip: 'FD89:0010::0100' }))).to.deep.equal([
        'topologies/nat.yaml: services[4]: the same virtual service as services[3]',
      ]);
    });

    it("an IPv6 service whose real servers' network has no subnet6 is a topology error, not a planner crash", () => {
      expect(nat((d) => delete d.networks[1].subnet6)).to.deep.equal(
        [1, 2, 3].map((k) => `topologies/nat.yaml: services[3].real_servers[${k - 1}].name: rs${k} is reached on private, which has no subnet6, so it has no IPv6 address for the IPv6 VIP fd89:10::100`),
      );
    });

    it('an IPv6 VIP written in upper case or with zeros is planned in canonical form (as ipvsadm prints it)', () => {
      for (const vip of ['FD89:10::100', 'fd89:0010:0000:0000:0000:0000:0000:0100', 'fd89:10:0::100']) {
        const p = planVariant('nat', (d) => (d.services[WEB6].vip = vip));
        expect(service(p, 'web6').vip, vip).to.equal('fd89:10::100');
        const director = node(p, 'director');
        expect(director.addresses.filter((a) => a.prefix === 128).map((a) => a.address), vip).to.deep.equal(['fd89:10::100']);
        expect(director.ipvs!.map((r) => r.address), vip).to.include('fd89:10::100');
      }
    });
  });

  describe("the real server's nginx config (renderNginxConf)", () => {
    const listens = (conf: string) =>
      conf
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('listen '));

    it('one listen per port, the first as default_server; no IPv6 listens without ipv6', () => {
      const conf = renderNginxConf({ name: 'rs1', rip: '10.89.20.11', httpPorts: [80, 8080, 8081] });
      expect(listens(conf)).to.deep.equal(['listen 80 default_server;', 'listen 8080;', 'listen 8081;']);
      expect(conf).to.not.include('[::]');
      expect(conf).to.include('add_header X-Real-Server "rs1" always;');
      expect(conf).to.include('add_header X-Real-Server-Address "10.89.20.11" always;');
      expect(conf).to.include('port=$server_port');
      const explicitOff = renderNginxConf({ name: 'rs1', rip: '10.89.20.11', httpPorts: [80], ipv6: false });
      expect(listens(explicitOff)).to.deep.equal(['listen 80 default_server;']);
    });

    it('with ipv6, each port also listens on [::]', () => {
      const conf = renderNginxConf({ name: 'rs2', rip: '10.89.20.12', httpPorts: [80, 8080, 8081], ipv6: true });
      expect(listens(conf)).to.deep.equal(['listen 80 default_server;', 'listen [::]:80 default_server;', 'listen 8080;', 'listen [::]:8080;', 'listen 8081;', 'listen [::]:8081;']);
      // every listen sits inside the server block, indented like the rest
      expect(conf).to.include('  server {\n    listen 80 default_server;\n    listen [::]:80 default_server;\n    listen 8080;\n');
    });

    it('renders the planned ports of a real server', () => {
      const p = plan(parseTopology(shippedText('nat'), 'topologies/nat.yaml'));
      const rs = node(p, 'rs3');
      const conf = renderNginxConf({ name: rs.name, rip: rs.interfaces[0]!.address, httpPorts: rs.app!.httpPorts, ipv6: true });
      expect(listens(conf).filter((l) => !l.includes('[::]'))).to.deep.equal(['listen 80 default_server;', 'listen 8080;', 'listen 8081;']);
      expect(listens(conf).filter((l) => l.includes('[::]'))).to.have.length(3);
    });
  });
});
