import { expect } from 'chai';
import { HarnessError } from '../../harness/errors.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { problems, shippedText, variantText, type Doc } from '../topology-helpers.js';

const SHIPPED = ['nat', 'dr', 'tun', 'fullnat'] as const;

const dr = (change: (doc: Doc) => void) => problems(variantText('dr', change), 'topologies/dr.yaml');
const nat = (change: (doc: Doc) => void) => problems(variantText('nat', change), 'topologies/nat.yaml');

describe('topology files', () => {
  describe('the shipped topologies', () => {
    for (const name of SHIPPED)
      it(`topologies/${name}.yaml parses, with defaults filled in`, () => {
        const t = parseTopology(shippedText(name), `topologies/${name}.yaml`);
        expect(t.name).to.equal(name);
        // web (TCP 80), echo (UDP 53), mark (fwmark 1 over 8080 and 8081), and on nat web6 (IPv6)
        expect(t.services.map((s) => s.name)).to.deep.equal(name === 'nat' ? ['web', 'echo', 'mark', 'web6'] : ['web', 'echo', 'mark']);
        expect(t.services.map((s) => s.protocol)).to.deep.equal(name === 'nat' ? ['tcp', 'udp', 'tcp', 'tcp'] : ['tcp', 'udp', 'tcp']);
        expect(t.services[2]!.fwmark).to.deep.equal({ mark: 1, ports: [8080, 8081] });
        expect(t.services[0]!.real_servers.map((r) => r.weight)).to.deep.equal([1, 1, 1]);
        expect(t.real_servers.map((r) => r.app)).to.deep.equal([{ http_port: 80 }, { http_port: 80 }, { http_port: 80 }]);
        expect(t.clients[0]!.count).to.equal(1);
        expect(t.clients[0]!.source_addresses).to.equal(16);
      });
  });

  describe('schema errors name the file, the path, the value found and what is allowed', () => {
    it('an unknown scheduler lists the schedulers', () => {
      const lines = dr((d) => (d.services[0].scheduler = 'wrrr'));
      expect(lines).to.have.length(1);
      expect(lines[0]!.startsWith('topologies/dr.yaml: services[0].scheduler: "wrrr" is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)')).to.equal(true, lines[0]);
    });

    it('an unknown forwarding method lists the methods', () => {
      expect(dr((d) => (d.services[0].real_servers[1].method = 'dr'))).to.deep.equal([
        'topologies/dr.yaml: services[0].real_servers[1].method: "dr" is not a forwarding method (masq, droute, tunnel)',
      ]);
    });

    it('an unknown protocol lists the protocols', () => {
      expect(dr((d) => (d.services[0].protocol = 'icmp'))).to.deep.equal(['topologies/dr.yaml: services[0].protocol: "icmp" is not a protocol (tcp, udp)']);
    });

    it('an unknown field is named with where it is', () => {
      expect(dr((d) => (d.services[0].colour = 'red'))).to.deep.equal(['topologies/dr.yaml: services[0]: unknown field "colour"']);
      expect(dr((d) => (d.real_servers[2].wieght = 2))).to.deep.equal(['topologies/dr.yaml: real_servers[2]: unknown field "wieght"']);
    });

    it('a weight of 70000 is out of range, with the bound', () => {
      expect(dr((d) => (d.services[0].real_servers[0].weight = 70000))).to.deep.equal([
        'topologies/dr.yaml: services[0].real_servers[0].weight: 70000 is out of range (at most 65535)',
      ]);
      expect(dr((d) => (d.services[0].real_servers[0].weight = -1))).to.deep.equal([
        'topologies/dr.yaml: services[0].real_servers[0].weight: -1 is out of range (at least 0)',
      ]);
    });

    it('a weight that is not a whole number says an integer is wanted', () => {
      expect(dr((d) => (d.services[0].real_servers[0].weight = 1.5))).to.deep.equal([
        'topologies/dr.yaml: services[0].real_servers[0].weight: 1.5 is not an integer',
      ]);
    });

    it('a service without a port says a port is required unless it is a fwmark service', () => {
      expect(dr((d) => delete d.services[0].port)).to.deep.equal([
        'topologies/dr.yaml: services[0].port: a port is required unless the service is a fwmark service',
      ]);
      expect(dr((d) => (d.services[0].fwmark = { mark: 1, ports: [80] }))).to.deep.equal([
        'topologies/dr.yaml: services[0].port: 80: a fwmark service takes its ports from fwmark.ports, not port',
      ]);
    });

    it('a port of the wrong type or out of range shows the value', () => {
      expect(dr((d) => (d.services[0].port = '80'))).to.deep.equal(['topologies/dr.yaml: services[0].port: "80" is not a number']);
      expect(dr((d) => (d.services[0].port = 0))).to.deep.equal(['topologies/dr.yaml: services[0].port: 0 is out of range (at least 1)']);
      expect(dr((d) => (d.services[0].port = 65536))).to.deep.equal(['topologies/dr.yaml: services[0].port: 65536 is out of range (at most 65535)']);
    });

    it('a missing required field says so and what type it takes', () => {
      expect(dr((d) => delete d.services[0].vip)).to.deep.equal(['topologies/dr.yaml: services[0].vip: is required (string)']);
    });

    it('a malformed address or subnet says what is expected', () => {
      expect(dr((d) => (d.services[0].vip = '10.89.30.300'))).to.deep.equal([
        'topologies/dr.yaml: services[0].vip: "10.89.30.300" is not an IPv4 or IPv6 address such as 10.89.1.100 or fd89:10::100',
      ]);
      expect(dr((d) => (d.networks[0].subnet = '10.89.30.0/8'))).to.deep.equal([
        'topologies/dr.yaml: networks[0].subnet: "10.89.30.0/8" is not an IPv4 subnet from /16 to /29 such as 10.89.1.0/24',
      ]);
    });

    it('an empty list says how many entries it needs', () => {
      expect(dr((d) => (d.services[0].real_servers = []))).to.deep.equal([
        'topologies/dr.yaml: services[0].real_servers: 0 entries is out of range (at least 1 entry)',
      ]);
    });

    it('a bad key (a sysctl that is not net.*, a network name in capitals) names the key and what is allowed', () => {
      expect(dr((d) => (d.real_servers[0].sysctls = { 'kernel.panic': 1 }))).to.deep.equal([
        'topologies/dr.yaml: real_servers[0].sysctls: "kernel.panic" is not a net.* sysctl (the ones a container may set)',
      ]);
      expect(dr((d) => (d.directors[0].networks = { LAN: '10.89.30.2' }))).to.deep.equal([
        'topologies/dr.yaml: directors[0].networks: "LAN" is not a name of lower-case letters, digits and "-" (at most 31, starting with a letter)',
      ]);
    });

    it('invalid YAML gives the line and column, once', () => {
      const text = shippedText('dr').replace('    port: 80\n', '    port: 80\n    port: 81\n');
      expect(text).to.not.equal(shippedText('dr'));
      expect(problems(text, 'topologies/dr.yaml')).to.deep.equal(['topologies/dr.yaml: line 20, column 5: not valid YAML: Map keys must be unique']);
      expect(problems('name: dr\nnetworks:\n\t- x\n', 'mine.yaml')).to.deep.equal(['mine.yaml: line 3, column 1: not valid YAML: Tabs are not allowed as indentation']);
    });

    it('a file that is not a mapping says so', () => {
      expect(problems('- a\n- b\n', 'list.yaml')).to.deep.equal(['list.yaml: ["a","b"] is not a mapping']);
    });

    it('several schema errors are reported together in one error', () => {
      const lines = dr((d) => {
        d.services[0].scheduler = 'wrrr';
        d.services[0].real_servers[0].weight = 70000;
        d.services[0].colour = 'red';
      });
      expect(lines).to.have.members([
        'topologies/dr.yaml: services[0].scheduler: "wrrr" is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)',
        'topologies/dr.yaml: services[0].real_servers[0].weight: 70000 is out of range (at most 65535)',
        'topologies/dr.yaml: services[0]: unknown field "colour"',
      ]);
      expect(lines).to.have.length(3);
    });

    it('the error carries the file and the issues as data', () => {
      try {
        parseTopology(variantText('dr', (d) => (d.services[0].scheduler = 'wrrr')), 'topologies/dr.yaml');
        expect.fail('expected a rejection');
      } catch (e) {
        expect((e as HarnessError).details).to.deep.equal({
          file: 'topologies/dr.yaml',
          issues: [{ path: 'services[0].scheduler', message: '"wrrr" is not a scheduler (rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)' }],
        });
      }
    });
  });

  describe('semantic errors', () => {
    it('a VIP outside every subnet lists the subnets', () => {
      expect(dr((d) => (d.services[0].vip = '10.99.0.100'))).to.deep.equal([
        'topologies/dr.yaml: services[0].vip: "10.99.0.100" is outside every subnet (10.89.30.0/24); clients reach the VIP on a shared network',
      ]);
    });

    it('a VIP on the gateway, or on a node address, is refused', () => {
      expect(dr((d) => (d.services[0].vip = '10.89.30.1'))).to.deep.equal([
        'topologies/dr.yaml: services[0].vip: "10.89.30.1" is the network, gateway or broadcast address of 10.89.30.0/24',
      ]);
      expect(dr((d) => (d.services[0].vip = '10.89.30.11'))).to.deep.equal([
        'topologies/dr.yaml: services[0].vip: "10.89.30.11" is already the address of real_servers[0].networks.lan',
      ]);
    });

    it("a lone director may balance on its own address (seed 003); a keepalived pair's VIPs must float", () => {
      const own = plan(parseTopology(variantText('dr', (d) => (d.services[0].vip = '10.89.30.2')), 'dr.yaml'));
      // the director already holds it: the planner adds no second copy
      expect(own.nodes.find((n) => n.name === 'director')!.addresses.map((a) => a.address)).not.to.include('10.89.30.2');
      const pair = problems(variantText('dr-ha', (d) => (d.services[0].vip = d.directors[0].networks.lan)), 'topologies/dr-ha.yaml');
      expect(pair.some((p) => /is already the address of directors\[0\]\.networks\.lan \(a keepalived pair moves its VIPs/.test(p)), pair.join('\n')).to.equal(true);
    });

    it('a duplicate address names both places', () => {
      expect(dr((d) => (d.real_servers[1].networks.lan = '10.89.30.11'))).to.deep.equal([
        'topologies/dr.yaml: real_servers[1].networks.lan: "10.89.30.11" is already used by real_servers[0].networks.lan',
      ]);
      expect(dr((d) => (d.real_servers[0].networks.lan = '10.89.30.2'))).to.deep.equal([
        'topologies/dr.yaml: real_servers[0].networks.lan: "10.89.30.2" is already used by directors[0].networks.lan',
      ]);
    });

    it('a duplicate node name names the first holder', () => {
      const lines = dr((d) => (d.clients[0].name = 'rs2'));
      expect(lines).to.deep.equal(['topologies/dr.yaml: clients[0].name: "rs2" is already the name of real_servers[1]']);
    });

    it('client names expanded from count collide too', () => {
      const lines = dr((d) => {
        d.clients[0].count = 2;
        d.clients.push({ name: 'client-2', networks: { lan: 'auto' } });
      });
      expect(lines).to.deep.equal(['topologies/dr.yaml: clients[1].name: "client-2" is already the name of clients[0]']);
    });

    it('a node on an unknown network lists the networks', () => {
      const lines = dr((d) => (d.directors[0].networks = { lan: '10.89.30.2', wan: 'auto' }));
      expect(lines).to.deep.equal(['topologies/dr.yaml: directors[0].networks.wan: "wan" is not a network of this topology (lan)']);
    });

    it('an address outside its subnet names the subnet', () => {
      expect(dr((d) => (d.real_servers[1].networks.lan = '10.89.31.12'))).to.deep.equal([
        'topologies/dr.yaml: real_servers[1].networks.lan: "10.89.31.12" is outside 10.89.30.0/24',
      ]);
    });

    it('an address equal to the gateway (.1) says the bridge holds it', () => {
      expect(dr((d) => (d.real_servers[1].networks.lan = '10.89.30.1'))).to.deep.equal([
        "topologies/dr.yaml: real_servers[1].networks.lan: \"10.89.30.1\" is the gateway of 10.89.30.0/24 (the engine's bridge)",
      ]);
      expect(dr((d) => (d.real_servers[1].networks.lan = '10.89.30.255'))).to.deep.equal([
        'topologies/dr.yaml: real_servers[1].networks.lan: "10.89.30.255" is the network or broadcast address of 10.89.30.0/24',
      ]);
    });

    it('a subnet with host bits set, or overlapping another, is refused', () => {
      expect(dr((d) => (d.networks[0].subnet = '10.89.30.5/24'))).to.deep.equal([
        'topologies/dr.yaml: networks[0].subnet: "10.89.30.5/24" has host bits set (the network is 10.89.30.0/24)',
      ]);
      expect(nat((d) => (d.networks[1].subnet = '10.89.10.0/25'))).to.include(
        'topologies/nat.yaml: networks[1].subnet: "10.89.10.0/25" overlaps networks[0] (10.89.10.0/24)',
      );
    });

    it('a fixed address cannot be shared by several clients', () => {
      expect(dr((d) => Object.assign(d.clients[0], { count: 2, networks: { lan: '10.89.30.50' } }))).to.deep.equal([
        'topologies/dr.yaml: clients[0].networks.lan: a fixed address cannot be shared by 2 clients; use auto',
      ]);
    });

    it('a droute real server must be on the network that holds the VIP', () => {
      expect(nat((d) => (d.services[0].real_servers[0].method = 'droute'))).to.deep.equal([
        "topologies/nat.yaml: services[0].real_servers[0].method: droute needs rs1 on the director's segment that holds the VIP (public); it is on private",
      ]);
    });

    it('a masq real server on the clients’ network would bypass the director', () => {
      const lines = nat((d) => (d.real_servers[0].networks = { private: '10.89.20.11', public: '10.89.10.11' }));
      // every service of the file has rs1 as a masq real server
      expect(lines).to.deep.equal([
        "topologies/nat.yaml: services[0].real_servers[0].method: masq needs rs1 off the clients' network public: it would answer them directly, bypassing the director",
        "topologies/nat.yaml: services[1].real_servers[0].method: masq needs rs1 off the clients' network public: it would answer them directly, bypassing the director",
        "topologies/nat.yaml: services[2].real_servers[0].method: masq needs rs1 off the clients' network public: it would answer them directly, bypassing the director",
        "topologies/nat.yaml: services[3].real_servers[0].method: masq needs rs1 off the clients' network public: it would answer them directly, bypassing the director",
      ]);
    });

    it('a masq real server only on the clients’ network has no way back through the director', () => {
      const lines = dr((d) => (d.services[0].real_servers[0].method = 'masq'));
      expect(lines).to.include(
        "topologies/dr.yaml: services[0].real_servers[0].method: masq needs rs1 on a director network other than the clients' (lan), so its replies return through the director",
      );
    });

    it('full-NAT services forward with masq', () => {
      const lines = problems(
        variantText('fullnat', (d) => (d.services[0].real_servers[2].method = 'tunnel')),
        'topologies/fullnat.yaml',
      );
      expect(lines).to.deep.equal(['topologies/fullnat.yaml: services[0].real_servers[2].method: "tunnel": full-NAT services forward with masq']);
    });

    it('a service naming an unknown real server lists the real servers', () => {
      expect(dr((d) => (d.services[0].real_servers[2].name = 'rs9'))).to.deep.equal([
        'topologies/dr.yaml: services[0].real_servers[2].name: "rs9" is not a real server of this topology (rs1, rs2, rs3)',
      ]);
    });

    it('several semantic errors are reported together in one error, in file order', () => {
      const lines = dr((d) => {
        d.services = d.services.slice(0, 1);
        d.real_servers[1].networks.lan = '10.89.30.1';
        d.real_servers[2].name = 'rs1';
        d.services[0].vip = '10.99.0.100';
      });
      expect(lines).to.deep.equal([
        "topologies/dr.yaml: real_servers[1].networks.lan: \"10.89.30.1\" is the gateway of 10.89.30.0/24 (the engine's bridge)",
        'topologies/dr.yaml: real_servers[2].name: "rs1" is already the name of real_servers[0]',
        'topologies/dr.yaml: services[0].vip: "10.99.0.100" is outside every subnet (10.89.30.0/24); clients reach the VIP on a shared network',
      ]);
    });
  });
});
