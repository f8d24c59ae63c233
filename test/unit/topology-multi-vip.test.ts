import { expect } from 'chai';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan } from '../../harness/topology/planner.js';
import { problems, variantText, type Doc } from '../topology-helpers.js';

/**
 * A firewall-mark service over several destination addresses (extra_vips), as a cache cluster
 * has: what the loader refuses, and what the planner puts on the director and real servers.
 */
const dr = (change: (doc: Doc) => void) => problems(variantText('dr', change), 'topologies/dr.yaml');
const planned = (name: string, change: (doc: Doc) => void): Plan => plan(parseTopology(variantText(name, change), `topologies/${name}.yaml`));
/** dr.yaml's mark service (services[2]) with its extra destinations replaced */
const extras = (list: unknown) => (d: Doc) => (d.services[2].extra_vips = list);

describe('firewall-mark services over several destinations (extra_vips)', () => {
  describe('the loader refuses', () => {
    it('extra destinations on a service that is not a firewall-mark service', () => {
      expect(dr((d) => (d.services[0].extra_vips = ['10.89.30.101']))).to.deep.equal([
        'topologies/dr.yaml: services[0].extra_vips: ["10.89.30.101"]: several destination addresses need a firewall-mark service (fwmark): a service on an address and port has one address',
      ]);
    });

    it('an address off the VIP’s network, on its gateway, already a node’s, or given twice', () => {
      expect(dr(extras(['10.89.31.5', '10.89.30.1', '10.89.30.11', '10.89.30.100', '10.89.30.101', '10.89.30.101']))).to.deep.equal([
        'topologies/dr.yaml: services[2].extra_vips[0]: "10.89.31.5" is not on lan (10.89.30.0/24), the network of the VIP 10.89.30.100: every destination of a service is reached where its VIP is',
        'topologies/dr.yaml: services[2].extra_vips[1]: "10.89.30.1" is the network, gateway or broadcast address of 10.89.30.0/24',
        'topologies/dr.yaml: services[2].extra_vips[2]: "10.89.30.11" is already the address of real_servers[0].networks.lan',
        'topologies/dr.yaml: services[2].extra_vips[3]: "10.89.30.100" is already a destination of this service',
        'topologies/dr.yaml: services[2].extra_vips[5]: "10.89.30.101" is already a destination of this service',
      ]);
    });

    it('an IPv6 extra destination (firewall marks are IPv4 here)', () => {
      expect(dr(extras(['fd89:30::101']))[0]).to.match(/^topologies\/dr\.yaml: services\[2\]\.extra_vips\[0\]: "fd89:30::101" is not an IPv4 address/);
    });

    it('on a keepalived pair, an extra destination no VRRP instance holds', () => {
      const lines = problems(
        variantText('dr-ha', (d) => {
          d.services.push({ name: 'mark', vip: '10.89.130.100', extra_vips: ['10.89.130.101'], fwmark: { mark: 1, ports: [8080] }, scheduler: 'dh', real_servers: [{ name: 'rs1', method: 'droute' }, { name: 'rs2', method: 'droute' }] });
        }),
        'topologies/dr-ha.yaml',
      );
      expect(lines).to.deep.equal(['topologies/dr-ha.yaml: services[1].extra_vips[0]: "10.89.130.101" is held by no VRRP instance (list it in keepalived.vrrp[].vips)']);
    });
  });

  describe('the planner', () => {
    it('takes the extra destinations away from auto addresses', () => {
      const p = planned('dr', (d) => {
        d.services[2].extra_vips = ['10.89.30.3', '10.89.30.5'];
        d.clients[0].source_addresses = 4;
      });
      const client = p.nodes.find((n) => n.name === 'client')!;
      expect([client.interfaces[0]!.address, ...client.addresses.map((a) => a.address)]).to.deep.equal(['10.89.30.4', '10.89.30.6', '10.89.30.7', '10.89.30.8']);
    });

    it('on a keepalived pair: VRRP, not the builder, holds every destination; DR real servers hold them all on lo', () => {
      const p = planned('dr-ha', (d) => {
        d.services.push({ name: 'mark', vip: '10.89.130.100', extra_vips: ['10.89.130.101'], fwmark: { mark: 1, ports: [8080] }, scheduler: 'dh', real_servers: [{ name: 'rs1', method: 'droute' }, { name: 'rs2', method: 'droute' }] });
        d.keepalived.vrrp[0].vips.push({ address: '10.89.130.101', network: 'lan' });
      });
      const d1 = p.nodes.find((n) => n.name === 'director1')!;
      expect(d1.addresses).to.deep.equal([]);
      expect(d1.keepalived!.vrrpInstances![0]!.virtualIpaddress.map((v) => v.address)).to.deep.equal(['10.89.130.100', '10.89.130.101']);
      expect(d1.commands.map((c) => c.argv[6])).to.deep.equal(['10.89.130.100/32', '10.89.130.101/32']);
      expect(p.nodes.find((n) => n.name === 'rs1')!.addresses.map((a) => `${a.address} ${'dev' in a.on ? a.on.dev : ''}`)).to.deep.equal(['10.89.130.100 lo', '10.89.130.101 lo']);
      // rs3 is not in the mark service, but serves web on the VIP
      expect(p.nodes.find((n) => n.name === 'rs3')!.addresses.map((a) => a.address)).to.deep.equal(['10.89.130.100']);
    });
  });
});
