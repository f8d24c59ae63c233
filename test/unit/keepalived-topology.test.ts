import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { referencedInterfaces, type KeepalivedConfig, type VrrpInstance } from '../../harness/keepalived/model.js';
import { renderKeepalivedConf } from '../../harness/keepalived/render.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { bindInterfaces } from '../../harness/topology/builder.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';
import { expectConfigTestClean, problems, shippedText, variantText, type Doc } from '../topology-helpers.js';

/** The keepalived topologies the lead shipped, and the broken-on-purpose ones built from them. */
const HA = ['nat-ha', 'dr-ha', 'tun-ha'] as const;
const brokenText = (name: string) => readFileSync(path.join(REPO_ROOT, 'test', 'fixtures', 'broken', `${name}.yaml`), 'utf8');
const planOf = (text: string, file: string): Plan => plan(parseTopology(text, file));
const shipped = (name: string): Plan => planOf(shippedText(name), `topologies/${name}.yaml`);
const planVariant = (name: string, change: (doc: Doc) => void): Plan => planOf(variantText(name, change), `topologies/${name}.yaml`);

const natHa = (change: (doc: Doc) => void) => problems(variantText('nat-ha', change), 'topologies/nat-ha.yaml');
const drHa = (change: (doc: Doc) => void) => problems(variantText('dr-ha', change), 'topologies/dr-ha.yaml');
const accepts = (name: string, change: (doc: Doc) => void) => parseTopology(variantText(name, change), `topologies/${name}.yaml`);

function node(p: Plan, name: string): PlannedNode {
  const n = p.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in plan ${p.topology} (${p.nodes.map((x) => x.name).join(', ')})`);
  return n;
}
const ka = (p: Plan, name: string): KeepalivedConfig => {
  const k = node(p, name).keepalived;
  if (!k) throw new Error(`${name} has no keepalived model in plan ${p.topology}`);
  return k;
};
const instance = (p: Plan, director: string, i = 0): VrrpInstance => ka(p, director).vrrpInstances![i]!;
const directors = (p: Plan) => p.nodes.filter((n) => n.role === 'director');

/** A director's networks as the lab names their devices: eth0, eth1, ... in attach order. */
const devOfNode = (n: PlannedNode) => (network: string) => {
  const i = n.interfaces.findIndex((x) => x.network === network);
  if (i < 0) throw new Error(`${n.name} is not on ${network}`);
  return `eth${i}`;
};

describe('keepalived topologies', () => {
  describe('the shipped keepalived topologies', () => {
    for (const name of HA)
      it(`topologies/${name}.yaml parses and plans, with the keepalived defaults filled in`, () => {
        const t = parseTopology(shippedText(name), `topologies/${name}.yaml`);
        expect(t.name).to.equal(name);
        const v = t.keepalived!.vrrp[0]!;
        expect(t.keepalived!.sync_daemon).to.equal(true);
        expect(v.nopreempt).to.equal(false);
        expect(v.unicast).to.equal(false);
        expect(v.preempt_delay).to.equal(undefined);
        const h = t.services[0]!.health_check!;
        expect(h.status_code).to.equal(200);
        expect(h.inhibit_on_failure).to.equal(false);
        expect(h.path).to.equal('/health');
        expect(h.type).to.equal(name === 'nat-ha' ? 'http' : 'tcp');
        expect(plan(t).vrrp).to.have.length(1);
      });

    it('a bare health check and a bare instance get their defaults', () => {
      const t = accepts('dr-ha', (d) => {
        d.services[0].health_check = { type: 'tcp' };
        d.keepalived = { vrrp: [{ name: 'VI_1', network: 'lan', virtual_router_id: 9, priorities: { director1: 2, director2: 1 }, vips: [{ address: '10.89.130.100', network: 'lan' }] }] };
      });
      expect(t.services[0]!.health_check).to.deep.equal({ type: 'tcp', delay_loop: 2, connect_timeout: 1, retry: 1, delay_before_retry: 1, path: '/health', status_code: 200, inhibit_on_failure: false });
      expect(t.keepalived).to.deep.equal({
        sync_daemon: false,
        vrrp: [{ name: 'VI_1', network: 'lan', virtual_router_id: 9, priorities: { director1: 2, director2: 1 }, advert_int: 1, version: 2, vips: [{ address: '10.89.130.100', network: 'lan' }], nopreempt: false, unicast: false }],
      });
    });

    it('the broken-on-purpose pairs parse (they break at run time, not in the file)', () => {
      expect(parseTopology(brokenText('nat-ha-auth'), 'test/fixtures/broken/nat-ha-auth.yaml').directors[1]!.keepalived).to.deep.equal({ auth_pass: 'other51' });
      expect(parseTopology(brokenText('dr-ha-wrongport'), 'test/fixtures/broken/dr-ha-wrongport.yaml').services[0]!.health_check!.port).to.equal(8099);
    });
  });

  describe('schema errors in the keepalived parts', () => {
    it('a per-director auth_pass longer than 8 characters', () => {
      expect(natHa((d) => (d.directors[1].keepalived = { auth_pass: 'other5152' }))).to.deep.equal([
        'topologies/nat-ha.yaml: directors[1].keepalived.auth_pass: "other5152" is not one word of at most 8 characters',
      ]);
    });

    it('an unknown field in a director\'s keepalived overrides', () => {
      expect(natHa((d) => (d.directors[1].keepalived = { priority: 200 }))).to.deep.equal(['topologies/nat-ha.yaml: directors[1].keepalived: unknown field "priority"']);
    });

    it('an unknown health check type lists the types', () => {
      expect(natHa((d) => (d.services[0].health_check.type = 'smtp'))).to.deep.equal([
        'topologies/nat-ha.yaml: services[0].health_check.type: "smtp" is not allowed (tcp, http, misc, ping)',
      ]);
    });

    it('an unknown field in a health check', () => {
      expect(natHa((d) => (d.services[0].health_check.url = '/health'))).to.deep.equal(['topologies/nat-ha.yaml: services[0].health_check: unknown field "url"']);
    });

    it('an instance name keepalived cannot take', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].name = 'VI-NAT'))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].name: "VI-NAT" is not an instance name of letters, digits and "_" such as VI_1',
      ]);
    });

    it('a priority of 255 (the address owner) is out of range', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].priorities.director1 = 255))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities.director1: 255 is out of range (at most 254)',
      ]);
    });

    it('an instance with no VIPs', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].vips = []))).to.deep.equal(['topologies/nat-ha.yaml: keepalived.vrrp[0].vips: 0 entries is out of range (at least 1 entry)']);
    });

    it('a keepalived section with no instances on a pair: nothing would move the VIPs', () => {
      expect(natHa((d) => (d.keepalived.vrrp = []))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp: empty, so nothing moves the VIPs, but there are 2 directors: keepalived without VRRP runs on one director (list the instances of a pair)',
      ]);
    });
  });

  describe('keepalived without VRRP on a lone director (validate of one keepalived.conf)', () => {
    // nat-ha with director2 gone and no instance: keepalived programs IPVS and checks the real servers
    const lone = (d: Doc) => {
      d.directors = d.directors.filter((x: { name: string }) => x.name === 'director1');
      d.keepalived.vrrp = [];
    };

    it('is accepted, and the director runs keepalived with the virtual servers and no VRRP instance', () => {
      const p = planVariant('nat-ha', lone);
      expect(p.vrrp).to.deep.equal([]);
      const k = ka(p, 'director1');
      expect(k.vrrpInstances ?? []).to.deep.equal([]);
      expect(k.virtualServers?.map((v) => ('vip' in v ? `${v.vip}:${v.port}` : `fwm ${v.fwmark}`))).to.deep.equal(p.services.map((s) => `${s.vip}:${s.port}`));
      expect(k.virtualServers![0]!.realServers.every((r) => r.check)).to.equal(true);
    });

    it("keeps the VIPs on the director (nothing moves them) and routes NAT replies through the director's own address", () => {
      const p = planVariant('nat-ha', lone);
      const d = node(p, 'director1');
      for (const s of p.services) expect(d.addresses.map((a) => a.address), s.vip).to.include(s.vip);
      const rs1 = node(p, 'rs1');
      const dip = d.interfaces.find((i) => i.network === rs1.interfaces[0]!.network)!.address;
      expect(rs1.routes.find((r) => r.to === 'default' && !r.family)?.via).to.equal(dip);
    });
  });

  describe('what a keepalived pair needs (checkKeepalived)', () => {
    it('an instance on a network the topology does not have', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].network = 'dmz'))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].network: "dmz" is not a network of this topology (public, private)',
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities.director1: director1 is not on dmz, where this instance sends its adverts',
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities.director2: director2 is not on dmz, where this instance sends its adverts',
      ]);
    });

    it('an instance with fewer than two directors', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].priorities = { director1: 150 }))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities: 1 director(s): a VRRP pair needs at least two',
      ]);
      expect(natHa((d) => (d.keepalived.vrrp[0].priorities = {}))).to.deep.equal(['topologies/nat-ha.yaml: keepalived.vrrp[0].priorities: 0 director(s): a VRRP pair needs at least two']);
    });

    it('a priority for a node that is not a director', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].priorities = { director1: 150, rs1: 100 }))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities.rs1: "rs1" is not a director (director1, director2)',
      ]);
    });

    it('a director that is not on the instance\'s network', () => {
      const lines = natHa((d) => {
        d.directors.push({ name: 'director3', networks: { private: '10.89.120.4' } });
        d.keepalived.vrrp[0].priorities.director3 = 50;
      });
      expect(lines).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities.director3: director3 is not on public, where this instance sends its adverts',
        'topologies/nat-ha.yaml: keepalived.vrrp[0].vips[0]: director3 is not on public, so it cannot hold 10.89.110.100',
      ]);
    });

    it('two directors with the same priority', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].priorities = { director1: 100, director2: 100 }))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities: two directors share a priority: the MASTER would be decided by address, not by the file',
      ]);
    });

    it('a fractional advert_int with VRRPv2, also when version 2 is the default', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].advert_int = 1.5))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].advert_int: 1.5 is not whole seconds, which VRRPv2 needs (use version: 3 for sub-second adverts)',
      ]);
      expect(drHa((d) => delete d.keepalived.vrrp[0].version)).to.deep.equal([
        'topologies/dr-ha.yaml: keepalived.vrrp[0].advert_int: 0.2 is not whole seconds, which VRRPv2 needs (use version: 3 for sub-second adverts)',
      ]);
    });

    it('auth_pass with VRRPv3', () => {
      expect(drHa((d) => (d.keepalived.vrrp[0].auth_pass = 'lvsdr52'))).to.deep.equal(['topologies/dr-ha.yaml: keepalived.vrrp[0].auth_pass: VRRPv3 has no authentication (RFC 5798)']);
      expect(natHa((d) => (d.keepalived.vrrp[0].version = 3))).to.deep.equal(['topologies/nat-ha.yaml: keepalived.vrrp[0].auth_pass: VRRPv3 has no authentication (RFC 5798)']);
    });

    it('a virtual_router_id used twice on one network', () => {
      const second = { name: 'VI_2', network: 'public', virtual_router_id: 51, priorities: { director1: 100, director2: 150 }, vips: [{ address: '10.89.110.101', network: 'public' }] };
      expect(natHa((d) => d.keepalived.vrrp.push(second))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[1].virtual_router_id: 51 is already used on public by keepalived.vrrp[0]',
      ]);
    });

    it('accepts the same virtual_router_id on two different networks', () => {
      const t = accepts('nat-ha', (d) =>
        d.keepalived.vrrp.push({ name: 'VI_2', network: 'private', virtual_router_id: 51, priorities: { director1: 100, director2: 150 }, vips: [{ address: '10.89.120.253', network: 'private' }] }),
      );
      expect(t.keepalived!.vrrp.map((v) => `${v.network}/${v.virtual_router_id}`)).to.deep.equal(['public/51', 'private/51']);
    });

    it('a VIP outside the network it is listed on', () => {
      expect(natHa((d) => (d.keepalived.vrrp[0].vips[1].address = '10.89.110.254'))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].vips[1].address: "10.89.110.254" is outside private (10.89.120.0/24)',
      ]);
    });

    it('a director of the instance that is not on a VIP\'s network', () => {
      expect(natHa((d) => (d.directors[1].networks = { public: '10.89.110.3' }))).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].vips[1]: director2 is not on private, so it cannot hold 10.89.120.254',
      ]);
    });

    it('a service VIP that no instance holds', () => {
      expect(natHa((d) => (d.services[0].vip = '10.89.110.101'))).to.deep.equal([
        'topologies/nat-ha.yaml: services[0].vip: "10.89.110.101" is held by no VRRP instance (list it in keepalived.vrrp[].vips)',
      ]);
    });

    it('an IPv6 VIP on a dual-stack network', () => {
      const dualStack = (d: Doc) => {
        d.networks[0].subnet6 = 'fd89:110::/64';
        d.networks[1].subnet6 = 'fd89:120::/64';
      };
      // without it nat-ha rejects the VIP for another reason first
      expect(natHa((d) => (d.services[0].vip = 'fd89:110::100'))[0]).to.equal(
        'topologies/nat-ha.yaml: services[0].vip: "fd89:110::100" is outside every IPv6 subnet (no network has a subnet6); an IPv6 VIP needs a dual-stack network',
      );
      expect(natHa((d) => (dualStack(d), (d.services[0].vip = 'fd89:110::100')))).to.deep.equal([
        'topologies/nat-ha.yaml: services[0].vip: "fd89:110::100": keepalived topologies hold IPv4 VIPs only here',
      ]);
      // the same topology with an IPv4 VIP is fine
      expect(accepts('nat-ha', dualStack).networks.map((n) => n.subnet6)).to.deep.equal(['fd89:110::/64', 'fd89:120::/64']);
    });

    it('two forwarding methods in one service', () => {
      expect(drHa((d) => (d.services[0].real_servers[2].method = 'tunnel'))).to.deep.equal([
        'topologies/dr-ha.yaml: services[0].real_servers: a keepalived virtual_server has one lvs_method: use one forwarding method per service',
      ]);
    });

    it('thresholds on a real server', () => {
      expect(natHa((d) => (d.services[0].real_servers[1].u_threshold = 100))).to.deep.equal([
        'topologies/nat-ha.yaml: services[0].real_servers[1]: thresholds are not rendered into keepalived.conf; set them with ipvsadm in a suite',
      ]);
      expect(natHa((d) => (d.services[0].real_servers[2].l_threshold = 5))).to.deep.equal([
        'topologies/nat-ha.yaml: services[0].real_servers[2]: thresholds are not rendered into keepalived.conf; set them with ipvsadm in a suite',
      ]);
    });

    it('NAT real servers with no floating gateway on their network', () => {
      expect(natHa((d) => d.keepalived.vrrp[0].vips.pop())).to.deep.equal(
        [1, 2, 3].map(
          (i) =>
            `topologies/nat-ha.yaml: services[0].real_servers[${i - 1}].method: NAT behind keepalived needs a floating gateway on private in keepalived.vrrp[].vips: rs${i} routes its replies through whichever director is MASTER`,
        ),
      );
    });

    it('accepts full-NAT without a floating gateway (the real servers keep their own route)', () => {
      const t = accepts('nat-ha', (d) => {
        d.keepalived.vrrp[0].vips.pop();
        d.services[0].fullnat = true;
      });
      expect(t.services[0]!.fullnat).to.equal(true);
    });

    it('a health check without a keepalived section', () => {
      expect(natHa((d) => delete d.keepalived)).to.deep.equal(["topologies/nat-ha.yaml: services[0].health_check: health checks of an IPVS service are keepalived's: add a keepalived section"]);
      expect(drHa((d) => delete d.keepalived)).to.deep.equal(["topologies/dr-ha.yaml: services[0].health_check: health checks of an IPVS service are keepalived's: add a keepalived section"]);
    });

    it('lists every problem at once', () => {
      expect(
        natHa((d) => {
          d.keepalived.vrrp[0].priorities = { director1: 100, director2: 100 };
          d.keepalived.vrrp[0].advert_int = 0.5;
          d.services[0].real_servers[0].u_threshold = 9;
        }),
      ).to.deep.equal([
        'topologies/nat-ha.yaml: keepalived.vrrp[0].priorities: two directors share a priority: the MASTER would be decided by address, not by the file',
        'topologies/nat-ha.yaml: keepalived.vrrp[0].advert_int: 0.5 is not whole seconds, which VRRPv2 needs (use version: 3 for sub-second adverts)',
        'topologies/nat-ha.yaml: services[0].real_servers[0]: thresholds are not rendered into keepalived.conf; set them with ipvsadm in a suite',
      ]);
    });
  });

  describe('the planner with keepalived', () => {
    describe('NAT pair (topologies/nat-ha.yaml)', () => {
      const p = shipped('nat-ha');

      it('plans the VRRP instance with the highest priority as MASTER', () => {
        expect(p.vrrp).to.have.length(1);
        expect(p.vrrp![0]).to.deep.include({
          name: 'VI_NAT',
          network: 'public',
          virtualRouterId: 51,
          advertInt: 1,
          version: 2,
          priorities: { director1: 150, director2: 100 },
          master: 'director1',
          vips: [
            { address: '10.89.110.100', network: 'public' },
            { address: '10.89.120.254', network: 'private' },
          ],
          nopreempt: false,
        });
        expect(p.vrrp![0]!.preemptDelay).to.equal(undefined);
        expect(p.syncDaemon).to.equal(true);
      });

      it('the directors get no static VIP: VRRP puts the VIPs on the MASTER', () => {
        for (const d of directors(p)) expect(d.addresses, d.name).to.deep.equal([]);
        // the same directors without keepalived hold the VIP themselves
        const plain = planVariant('nat-ha', (d) => {
          delete d.keepalived;
          delete d.services[0].health_check;
        });
        expect(node(plain, 'director1').addresses.map((a) => a.address)).to.deep.equal(['10.89.110.100']);
        expect(node(plain, 'director1').keepalived).to.equal(undefined);
        expect(plain.vrrp).to.equal(undefined);
        expect(plain.syncDaemon).to.equal(undefined);
      });

      it('the directors still forward for NAT', () => {
        for (const d of directors(p)) expect(d.sysctls, d.name).to.deep.equal({ 'net.ipv4.ip_forward': '1' });
      });

      it('director1 (the MASTER) gets the whole keepalived model', () => {
        const check = (rip: string) => ({
          address: rip,
          port: 80,
          weight: 1,
          check: { type: 'HTTP_GET', url: { path: '/health', statusCode: 200 }, connectPort: 80, connectTimeout: 1, retry: 1, delayBeforeRetry: 1 },
        });
        expect(ka(p, 'director1')).to.deep.equal({
          globalDefs: {
            routerId: 'director1',
            scriptUser: { user: 'root' },
            enableScriptSecurity: true,
            garp: { masterDelay: 1, masterRepeat: 3, interval: 0.001 },
            lvsSyncDaemon: { interface: '@net:public', instance: 'VI_NAT' },
          },
          vrrpInstances: [
            {
              name: 'VI_NAT',
              state: 'MASTER',
              interface: '@net:public',
              virtualRouterId: 51,
              priority: 150,
              advertInt: 1,
              version: 2,
              authentication: { type: 'PASS', pass: 'lvsnat51' },
              virtualIpaddress: [
                { address: '10.89.110.100', prefix: 32, dev: '@net:public' },
                { address: '10.89.120.254', prefix: 32, dev: '@net:private' },
              ],
              notify: { all: ['/opt/lvs-harness/vrrp-notify'] },
            },
          ],
          virtualServers: [
            {
              delayLoop: 2,
              lbAlgo: 'rr',
              lbKind: 'NAT',
              vip: '10.89.110.100',
              port: 80,
              protocol: 'TCP',
              realServers: [check('10.89.120.11'), check('10.89.120.12'), check('10.89.120.13')],
            },
          ],
        });
      });

      it('director2 differs only in its router_id, state and priority', () => {
        const d1 = structuredClone(ka(p, 'director1'));
        d1.globalDefs!.routerId = 'director2';
        d1.vrrpInstances![0]!.state = 'BACKUP';
        d1.vrrpInstances![0]!.priority = 100;
        expect(ka(p, 'director2')).to.deep.equal(d1);
      });

      it('the real servers route their replies through the floating gateway, not a DIP', () => {
        for (const rs of p.nodes.filter((n) => n.role === 'real-server'))
          expect(rs.routes, rs.name).to.deep.equal([
            { to: 'default', via: '10.89.120.254', why: 'NAT behind a keepalived pair: replies return through the floating gateway 10.89.120.254, held by the MASTER' },
          ]);
        // without keepalived they would use director1's DIP
        const plain = planVariant('nat-ha', (d) => {
          delete d.keepalived;
          delete d.services[0].health_check;
        });
        expect(node(plain, 'rs1').routes.map((r) => r.via)).to.deep.equal(['10.89.120.2']);
      });

      it('the client auto addresses are unaffected', () => {
        expect(node(p, 'client').interfaces.map((i) => i.address)).to.deep.equal(['10.89.110.4']);
      });
    });

    describe('DR pair (topologies/dr-ha.yaml)', () => {
      const p = shipped('dr-ha');

      it('plans a VRRPv3 instance with 0.2 s adverts', () => {
        expect(p.vrrp!.map((v) => [v.name, v.version, v.advertInt, v.master, v.network])).to.deep.equal([['VI_DR', 3, 0.2, 'director1', 'lan']]);
        expect(p.syncDaemon).to.equal(true);
      });

      it('each director: instance without authentication, a DR virtual server with TCP checks', () => {
        for (const [name, state, priority] of [
          ['director1', 'MASTER', 150],
          ['director2', 'BACKUP', 100],
        ] as const) {
          const k = ka(p, name);
          expect(k.globalDefs!.routerId).to.equal(name);
          expect(k.globalDefs!.lvsSyncDaemon).to.deep.equal({ interface: '@net:lan', instance: 'VI_DR' });
          expect(k.vrrpInstances).to.deep.equal([
            {
              name: 'VI_DR',
              state,
              interface: '@net:lan',
              virtualRouterId: 52,
              priority,
              advertInt: 0.2,
              version: 3,
              virtualIpaddress: [{ address: '10.89.130.100', prefix: 32, dev: '@net:lan' }],
              notify: { all: ['/opt/lvs-harness/vrrp-notify'] },
            },
          ]);
          expect(k.virtualServers).to.deep.equal([
            {
              delayLoop: 2,
              lbAlgo: 'rr',
              lbKind: 'DR',
              vip: '10.89.130.100',
              port: 80,
              protocol: 'TCP',
              realServers: [11, 12, 13].map((h) => ({
                address: `10.89.130.${h}`,
                port: 80,
                weight: 1,
                check: { type: 'TCP_CHECK', connectPort: 80, connectTimeout: 1, retry: 1, delayBeforeRetry: 1 },
              })),
            },
          ]);
          expect(node(p, name).addresses).to.deep.equal([]);
        }
      });

      it('the real servers still hold the VIP on lo and route by themselves', () => {
        expect(node(p, 'rs1').addresses.map((a) => [a.address, a.on])).to.deep.equal([['10.89.130.100', { dev: 'lo' }]]);
        expect(node(p, 'rs1').routes).to.deep.equal([]);
      });
    });

    describe('VRRP variants', () => {
      it('the MASTER follows the priorities, whatever the file order', () => {
        const p = planVariant('nat-ha', (d) => (d.keepalived.vrrp[0].priorities = { director1: 100, director2: 200 }));
        expect(p.vrrp![0]!.master).to.equal('director2');
        expect([instance(p, 'director1').state, instance(p, 'director2').state]).to.deep.equal(['BACKUP', 'MASTER']);
        expect([instance(p, 'director1').priority, instance(p, 'director2').priority]).to.deep.equal([100, 200]);
      });

      it('nopreempt: every director starts BACKUP, the plan still names the master', () => {
        const p = planVariant('nat-ha', (d) => (d.keepalived.vrrp[0].nopreempt = true));
        expect(p.vrrp![0]!.master).to.equal('director1');
        expect(p.vrrp![0]!.nopreempt).to.equal(true);
        for (const d of ['director1', 'director2']) {
          expect(instance(p, d).state, d).to.equal('BACKUP');
          expect(instance(p, d).nopreempt, d).to.equal(true);
        }
        expect(instance(shipped('nat-ha'), 'director2')).to.not.have.property('nopreempt');
      });

      it('preempt_delay reaches the plan and the instances', () => {
        const p = planVariant('dr-ha', (d) => (d.keepalived.vrrp[0].preempt_delay = 5));
        expect(p.vrrp![0]!.preemptDelay).to.equal(5);
        expect(instance(p, 'director2').preemptDelay).to.equal(5);
      });

      it('unicast: each director sends from its own address to the others', () => {
        const p = planVariant('nat-ha', (d) => (d.keepalived.vrrp[0].unicast = true));
        expect([instance(p, 'director1').unicastSrcIp, instance(p, 'director1').unicastPeers]).to.deep.equal(['10.89.110.2', ['10.89.110.3']]);
        expect([instance(p, 'director2').unicastSrcIp, instance(p, 'director2').unicastPeers]).to.deep.equal(['10.89.110.3', ['10.89.110.2']]);
        expect(instance(shipped('nat-ha'), 'director1')).to.not.have.any.keys('unicastSrcIp', 'unicastPeers');
      });

      it('a director\'s auth_pass overrides the instance\'s (how a broken pair is built)', () => {
        const p = planOf(brokenText('nat-ha-auth'), 'test/fixtures/broken/nat-ha-auth.yaml');
        expect(instance(p, 'director1').authentication).to.deep.equal({ type: 'PASS', pass: 'lvsnat51' });
        expect(instance(p, 'director2').authentication).to.deep.equal({ type: 'PASS', pass: 'other51' });
        // an override alone turns authentication on for that director
        const q = planVariant('nat-ha', (d) => (delete d.keepalived.vrrp[0].auth_pass, (d.directors[0].keepalived = { auth_pass: 'only1' })));
        expect(instance(q, 'director1').authentication).to.deep.equal({ type: 'PASS', pass: 'only1' });
        expect(instance(q, 'director2')).to.not.have.property('authentication');
      });

      it('VRRPv3 never authenticates, not even with a director override', () => {
        const p = planVariant('dr-ha', (d) => (d.directors[1].keepalived = { auth_pass: 'other52' }));
        for (const d of ['director1', 'director2']) expect(instance(p, d), d).to.not.have.property('authentication');
      });

      it('no sync daemon unless asked for', () => {
        const p = planVariant('nat-ha', (d) => delete d.keepalived.sync_daemon);
        expect(p.syncDaemon).to.equal(false);
        for (const d of directors(p)) expect(ka(p, d.name).globalDefs, d.name).to.not.have.property('lvsSyncDaemon');
      });

      it('the sync daemon follows the director\'s first instance', () => {
        const p = planVariant('nat-ha', (d) =>
          d.keepalived.vrrp.unshift({ name: 'VI_GW', network: 'private', virtual_router_id: 61, priorities: { director1: 120, director2: 110 }, vips: [{ address: '10.89.120.253', network: 'private' }] }),
        );
        expect(ka(p, 'director1').globalDefs!.lvsSyncDaemon).to.deep.equal({ interface: '@net:private', instance: 'VI_GW' });
        expect(ka(p, 'director1').vrrpInstances!.map((i) => [i.name, i.interface])).to.deep.equal([
          ['VI_GW', '@net:private'],
          ['VI_NAT', '@net:public'],
        ]);
      });

      it('the plan hash changes when a priority changes, and only then', () => {
        const base = shipped('nat-ha').hash;
        expect(planVariant('nat-ha', () => {}).hash).to.equal(base);
        expect(planVariant('nat-ha', (d) => (d.keepalived.vrrp[0].priorities.director2 = 101)).hash).to.not.equal(base);
        expect(planVariant('nat-ha', (d) => (d.keepalived.vrrp[0].advert_int = 2)).hash).to.not.equal(base);
      });
    });

    describe('health checks as keepalived checks', () => {
      /** dr-ha's first real server's check with the service's health_check replaced */
      const rsCheck = (hc: Doc | undefined, more: (d: Doc) => void = () => {}) => {
        const p = planVariant('dr-ha', (d) => {
          if (hc === undefined) delete d.services[0].health_check;
          else d.services[0].health_check = hc;
          more(d);
        });
        return ka(p, 'director1').virtualServers![0]!;
      };

      it('tcp: TCP_CHECK on the service port, or on health_check.port', () => {
        expect(rsCheck({ type: 'tcp' }).realServers[0]!.check).to.deep.equal({ type: 'TCP_CHECK', connectPort: 80, connectTimeout: 1, retry: 1, delayBeforeRetry: 1 });
        expect(rsCheck({ type: 'tcp', port: 8099, connect_timeout: 0.5, retry: 3, delay_before_retry: 2 }).realServers[2]!.check).to.deep.equal({
          type: 'TCP_CHECK',
          connectPort: 8099,
          connectTimeout: 0.5,
          retry: 3,
          delayBeforeRetry: 2,
        });
        const broken = planOf(brokenText('dr-ha-wrongport'), 'test/fixtures/broken/dr-ha-wrongport.yaml');
        expect(ka(broken, 'director2').virtualServers![0]!.realServers.map((r) => [r.port, (r.check as { connectPort?: number }).connectPort])).to.deep.equal([
          [80, 8099],
          [80, 8099],
          [80, 8099],
        ]);
      });

      it('a real server on its own port is checked on that port', () => {
        const vs = rsCheck({ type: 'tcp' }, (d) => (d.services[0].real_servers[1].port = 8080));
        expect(vs.realServers.map((r) => [r.port, (r.check as { connectPort?: number }).connectPort])).to.deep.equal([
          [80, 80],
          [8080, 8080],
          [80, 80],
        ]);
      });

      it('http: HTTP_GET on the URL path with the healthy status', () => {
        expect(rsCheck({ type: 'http', path: '/status', status_code: 204, port: 8081 }).realServers[1]!.check).to.deep.equal({
          type: 'HTTP_GET',
          url: { path: '/status', statusCode: 204 },
          connectPort: 8081,
          connectTimeout: 1,
          retry: 1,
          delayBeforeRetry: 1,
        });
      });

      it('misc: MISC_CHECK running the harness script with the real server, port and path', () => {
        expect(rsCheck({ type: 'misc', path: '/ready', connect_timeout: 2.5, retry: 2, delay_before_retry: 0.5 }).realServers[1]!.check).to.deep.equal({
          type: 'MISC_CHECK',
          miscPath: ['/opt/lvs-harness/misc-check', '10.89.130.12', '80', '/ready'],
          miscTimeout: 3,
          retry: 2,
          delayBeforeRetry: 0.5,
        });
        expect(rsCheck({ type: 'misc', port: 8082, connect_timeout: 0.2 }).realServers[0]!.check).to.deep.equal({
          type: 'MISC_CHECK',
          miscPath: ['/opt/lvs-harness/misc-check', '10.89.130.11', '8082', '/health'],
          miscTimeout: 1,
          retry: 1,
          delayBeforeRetry: 1,
        });
      });

      it('ping: PING_CHECK with the timings only', () => {
        expect(rsCheck({ type: 'ping', connect_timeout: 3 }).realServers[0]!.check).to.deep.equal({ type: 'PING_CHECK', connectTimeout: 3, retry: 1, delayBeforeRetry: 1 });
      });

      it('delay_loop and inhibit_on_failure', () => {
        const vs = rsCheck({ type: 'tcp', delay_loop: 7, inhibit_on_failure: true });
        expect(vs.delayLoop).to.equal(7);
        expect(vs.realServers.map((r) => r.inhibitOnFailure)).to.deep.equal([true, true, true]);
        expect(rsCheck({ type: 'tcp' }).realServers[0]).to.not.have.property('inhibitOnFailure');
      });

      it('a service without a health_check gets a TCP check every 2 s', () => {
        const vs = rsCheck(undefined);
        expect(vs.delayLoop).to.equal(2);
        expect(vs.realServers[0]!.check).to.deep.equal({ type: 'TCP_CHECK', connectPort: 80, connectTimeout: 1, retry: 1, delayBeforeRetry: 1 });
      });

      it('scheduler, weights, persistence and UDP reach the virtual server', () => {
        const vs = rsCheck({ type: 'ping' }, (d) => {
          d.services[0].scheduler = 'wlc';
          d.services[0].protocol = 'udp';
          d.services[0].persistence = { timeout: 300 };
          d.services[0].real_servers[0].weight = 3;
        });
        expect([vs.lbAlgo, vs.lbKind, vs.protocol, vs.persistenceTimeout]).to.deep.equal(['wlc', 'DR', 'UDP', 300]);
        expect(vs.realServers.map((r) => r.weight)).to.deep.equal([3, 1, 1]);
      });

      it('a firewall-mark service: no VIP, port or protocol; checks on the first marked port', () => {
        const vs = rsCheck({ type: 'tcp' }, (d) => {
          delete d.services[0].port;
          d.services[0].fwmark = { mark: 7, ports: [8080, 8443] };
        });
        expect(vs.fwmark).to.equal(7);
        expect(vs).to.not.have.any.keys('vip', 'port', 'protocol');
        expect(vs.realServers[0]).to.deep.equal({ address: '10.89.130.11', weight: 1, check: { type: 'TCP_CHECK', connectPort: 8080, connectTimeout: 1, retry: 1, delayBeforeRetry: 1 } });
      });
    });
  });

  describe('bindInterfaces', () => {
    const p = shipped('nat-ha');
    const model = ka(p, 'director1');
    const devs: Record<string, string> = { public: 'eth0', private: 'eth1' };

    it('replaces every @net:<network> by the device and leaves the rest equal', () => {
      const before = JSON.stringify(model);
      const asked: string[] = [];
      const bound = bindInterfaces(model, (n) => (asked.push(n), devs[n]!));
      const want = structuredClone(model);
      want.globalDefs!.lvsSyncDaemon!.interface = 'eth0';
      want.vrrpInstances![0]!.interface = 'eth0';
      want.vrrpInstances![0]!.virtualIpaddress[0]!.dev = 'eth0';
      want.vrrpInstances![0]!.virtualIpaddress[1]!.dev = 'eth1';
      expect(bound).to.deep.equal(want);
      expect([...new Set(asked)].sort()).to.deep.equal(['private', 'public']);
      // the plan's model is left alone
      expect(JSON.stringify(model)).to.equal(before);
    });

    it('leaves names that are not @net references alone, and adds no dev', () => {
      const m = structuredClone(model);
      m.vrrpInstances![0]!.virtualIpaddress = [{ address: '10.89.110.100', prefix: 32, dev: 'lo' }, { address: '10.89.120.254', prefix: 32 }];
      m.vrrpInstances![0]!.interface = 'bond0';
      m.globalDefs!.lvsSyncDaemon!.interface = 'bond0';
      const bound = bindInterfaces(m, (n) => {
        throw new Error(`devOf(${n}) called for a name that is not a @net reference`);
      });
      expect(bound.vrrpInstances![0]!.virtualIpaddress).to.deep.equal([{ address: '10.89.110.100', prefix: 32, dev: 'lo' }, { address: '10.89.120.254', prefix: 32 }]);
      expect(bound.vrrpInstances![0]!.interface).to.equal('bond0');
      expect(bound).to.deep.equal(m);
    });

    for (const name of HA)
      it(`leaves no @net reference in the rendered ${name} configs`, () => {
        const q = shipped(name);
        for (const d of directors(q)) {
          const bound = bindInterfaces(d.keepalived!, devOfNode(d));
          expect(referencedInterfaces(d.keepalived!).every((x) => x.startsWith('@net:'))).to.equal(true);
          expect(referencedInterfaces(bound), d.name).to.deep.equal(name === 'nat-ha' ? ['eth0', 'eth1'] : ['eth0']);
          const conf = renderKeepalivedConf(bound);
          expect(conf, d.name).to.not.contain('@net:');
          if (name === 'nat-ha') {
            expect(conf).to.contain('  lvs_sync_daemon eth0 inst VI_NAT\n');
            expect(conf).to.contain('  interface eth0\n');
            expect(conf).to.contain('    10.89.110.100/32 dev eth0\n    10.89.120.254/32 dev eth1\n');
          } else {
            expect(conf).to.contain(`  lvs_sync_daemon eth0 inst ${name === 'dr-ha' ? 'VI_DR' : 'VI_TUN'}\n`);
            expect(conf).to.contain('  version 3\n');
          }
        }
      });
  });

  // Declared only where keepalived is installed (not on CI; the e2e tests run the same check
  // inside the lab). As root with unshare, each config is tested in a fresh network namespace
  // holding the interfaces it names, so keepalived checks the whole file; the harness's scripts
  // are not on this machine, so only 'script' diagnostics may remain.
  const keepalived = spawnSync('keepalived', ['--version'], { encoding: 'utf8' });
  if (!keepalived.error) {
    const netns = spawnSync('unshare', ['--net', '--', 'ip', 'link', 'add', 'kpt0', 'type', 'veth', 'peer', 'name', 'kpt1'], { encoding: 'utf8' }).status === 0;
    describe(`keepalived -t on the planned configs (${(keepalived.stderr || keepalived.stdout).split('\n')[0]}${netns ? ', in a network namespace' : ''})`, function () {
      this.timeout(30_000);
      let dir: string;
      before(() => (dir = mkdtempSync(path.join(tmpdir(), 'lvsh-ka-'))));
      after(() => rmSync(dir, { recursive: true, force: true }));

      const cases: [string, string, (d: Doc) => void][] = [
        ['nat-ha', 'as shipped', () => {}],
        ['dr-ha', 'as shipped', () => {}],
        ['nat-ha', 'with unicast and nopreempt', (d) => ((d.keepalived.vrrp[0].unicast = true), (d.keepalived.vrrp[0].nopreempt = true))],
        ['dr-ha', 'with a MISC_CHECK', (d) => (d.services[0].health_check = { type: 'misc', path: '/ready' })],
        ['dr-ha', 'with a PING_CHECK and inhibit_on_failure', (d) => (d.services[0].health_check = { type: 'ping', inhibit_on_failure: true })],
        ['active-active', 'as shipped (two instances, crossed priorities)', () => {}],
        ['haproxy-ha', 'as shipped (a vrrp_script tracking HAProxy, no virtual_server)', () => {}],
      ];
      for (const [name, what, change] of cases) {
        const p = planVariant(name, change);
        for (const d of directors(p))
          it(`accepts ${d.name}'s keepalived.conf of ${name} ${what}`, () => {
            const bound = bindInterfaces(d.keepalived!, devOfNode(d));
            const file = path.join(dir, `${name}-${d.name}.conf`);
            writeFileSync(file, renderKeepalivedConf(bound));
            expectConfigTestClean(file, referencedInterfaces(bound), netns);
          });
      }
    });
  }
});
