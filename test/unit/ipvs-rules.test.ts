import { expect } from 'chai';
import { diffRules, normalize, parseSave, renderRestore, RulesParseError, type VirtualServiceRule } from '../../harness/ipvs/rules.js';

/** The model survives ipvsadm -R then -S: what we render parses back to the same rules. */
function roundTrip(model: VirtualServiceRule[]): VirtualServiceRule[] {
  const parsed = parseSave(renderRestore(model));
  expect(normalize(parsed)).to.deep.equal(normalize(model));
  expect(diffRules(model, parsed)).to.deep.equal([]);
  return parsed;
}

function parseError(text: string): RulesParseError {
  try {
    parseSave(text);
  } catch (e) {
    expect(e).to.be.instanceOf(RulesParseError);
    return e as RulesParseError;
  }
  throw new Error('expected parseSave to throw');
}

const web = (realServers: VirtualServiceRule['realServers'], extra: Partial<VirtualServiceRule> = {}): VirtualServiceRule => ({
  protocol: 'tcp',
  address: '10.0.0.1',
  port: 80,
  scheduler: 'rr',
  realServers,
  ...extra,
});

describe('IPVS rules: render for ipvsadm -R, parse ipvsadm -S', () => {
  describe('round trips', () => {
    it('IPv6 addresses are written in brackets', () => {
      const model: VirtualServiceRule[] = [
        {
          protocol: 'tcp',
          address: '2001:db8::80',
          port: 80,
          scheduler: 'wrr',
          realServers: [
            { address: '2001:db8::11', port: 8080, method: 'masq', weight: 3 },
            { address: '2001:db8::12', port: 8080, method: 'masq', weight: 1 },
          ],
        },
      ];
      expect(renderRestore(model)).to.equal(
        '-A -t [2001:db8::80]:80 -s wrr\n-a -t [2001:db8::80]:80 -r [2001:db8::11]:8080 -m -w 3\n-a -t [2001:db8::80]:80 -r [2001:db8::12]:8080 -m -w 1\n',
      );
      const parsed = roundTrip(model);
      expect(parsed[0]!.address).to.equal('2001:db8::80');
      expect(parsed[0]!.realServers[0]!.address).to.equal('2001:db8::11');
    });

    it('IPv6 persistence: a /128 netmask is the default and is omitted, a /64 is kept', () => {
      const svc = (netmask: string): VirtualServiceRule => ({
        protocol: 'udp',
        address: '2001:db8::53',
        port: 53,
        scheduler: 'sh',
        persistence: { timeout: 60, netmask },
        realServers: [{ address: '2001:db8::11', port: 53, method: 'droute', weight: 1 }],
      });
      expect(renderRestore([svc('128')]).split('\n')[0]).to.equal('-A -u [2001:db8::53]:53 -s sh -p 60');
      expect(renderRestore([svc('64')]).split('\n')[0]).to.equal('-A -u [2001:db8::53]:53 -s sh -p 60 -M 64');
      roundTrip([svc('128')]);
      roundTrip([svc('64')]);
    });

    it('fwmark services: -A -f 1 -s rr, real servers on port 0', () => {
      const model: VirtualServiceRule[] = [
        {
          fwmark: 1,
          scheduler: 'rr',
          realServers: [
            { address: '10.0.0.2', port: 0, method: 'droute', weight: 1 },
            { address: '10.0.0.3', port: 0, method: 'droute', weight: 2 },
          ],
        },
      ];
      expect(renderRestore(model)).to.equal('-A -f 1 -s rr\n-a -f 1 -r 10.0.0.2:0 -g -w 1\n-a -f 1 -r 10.0.0.3:0 -g -w 2\n');
      const parsed = roundTrip(model);
      expect(parsed[0]).to.not.have.property('protocol');
      expect(parsed[0]!.fwmark).to.equal(1);
    });

    it('IPv6 fwmark services carry -6 on every line, as ipvsadm -S prints them', () => {
      const model: VirtualServiceRule[] = [
        { fwmark: 2, ipv6: true, scheduler: 'rr', realServers: [{ address: '2001:db8::11', port: 0, method: 'droute', weight: 1 }] },
      ];
      expect(renderRestore(model)).to.equal('-A -f 2 -6 -s rr\n-a -f 2 -6 -r [2001:db8::11]:0 -g -w 1\n');
      roundTrip(model);
      // and a v4 and a v6 service with the same mark are different services
      const both: VirtualServiceRule[] = [{ fwmark: 2, scheduler: 'wlc', realServers: [{ address: '10.0.0.2', port: 0, method: 'droute', weight: 1 }] }, ...model];
      expect(roundTrip(both)).to.have.length(2);
    });

    it('persistence with a netmask: -p 300 -M 255.255.255.0; a /32 netmask is omitted', () => {
      const masked = web([{ address: '10.0.0.2', port: 80, method: 'masq', weight: 1 }], { persistence: { timeout: 300, netmask: '255.255.255.0' } });
      expect(renderRestore([masked]).split('\n')[0]).to.equal('-A -t 10.0.0.1:80 -s rr -p 300 -M 255.255.255.0');
      expect(roundTrip([masked])[0]!.persistence).to.deep.equal({ timeout: 300, netmask: '255.255.255.0' });

      const host = web([{ address: '10.0.0.2', port: 80, method: 'masq', weight: 1 }], { persistence: { timeout: 300, netmask: '255.255.255.255' } });
      expect(renderRestore([host]).split('\n')[0]).to.equal('-A -t 10.0.0.1:80 -s rr -p 300');
      roundTrip([host]);
      expect(normalize([host])[0]!.persistence).to.deep.equal({ timeout: 300 });
    });

    it('-p without a timeout means 300 s, as in ipvsadm', () => {
      expect(parseSave('-A -t 10.0.0.1:80 -s rr -p\n')[0]!.persistence).to.deep.equal({ timeout: 300 });
      expect(parseSave('-A -t 10.0.0.1:80 -s rr -p -M 255.255.0.0\n')[0]!.persistence).to.deep.equal({ timeout: 300, netmask: '255.255.0.0' });
    });

    it('upper and lower connection thresholds: -x and -y', () => {
      const model = [web([{ address: '10.0.0.2', port: 80, method: 'masq', weight: 2, upperThreshold: 100, lowerThreshold: 10 }])];
      expect(renderRestore(model).split('\n')[1]).to.equal('-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 2 -x 100 -y 10');
      expect(roundTrip(model)[0]!.realServers[0]).to.deep.equal({ address: '10.0.0.2', port: 80, method: 'masq', weight: 2, upperThreshold: 100, lowerThreshold: 10 });
    });

    it('weights 0 (quiesced) and 65535 (the maximum)', () => {
      const model = [
        web([
          { address: '10.0.0.2', port: 80, method: 'masq', weight: 0 },
          { address: '10.0.0.3', port: 80, method: 'masq', weight: 65535 },
        ]),
      ];
      expect(renderRestore(model)).to.contain('-r 10.0.0.2:80 -m -w 0\n').and.contain('-r 10.0.0.3:80 -m -w 65535\n');
      expect(roundTrip(model)[0]!.realServers.map((r) => r.weight)).to.deep.equal([0, 65535]);
    });

    it('tunnel servers: ipvsadm -S prints --tun-type ipip, which parses and normalizes away', () => {
      const model = [web([{ address: '10.0.0.2', port: 80, method: 'tunnel', weight: 1 }])];
      expect(renderRestore(model)).to.equal('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 1\n');
      roundTrip(model);
      const saved = parseSave('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 1 --tun-type ipip\n');
      expect(saved[0]!.realServers[0]).to.deep.equal({ address: '10.0.0.2', port: 80, method: 'tunnel', weight: 1 });
      expect(diffRules(model, saved)).to.deep.equal([]);
      expect(diffRules([web([{ address: '10.0.0.2', port: 80, method: 'tunnel', weight: 1, tunType: 'ipip' }])], saved)).to.deep.equal([]);
    });

    it('a GUE tunnel is kept, so it differs from plain ipip', () => {
      const gue = [web([{ address: '10.0.0.2', port: 80, method: 'tunnel', weight: 1, tunType: 'gue' }])];
      expect(renderRestore(gue).split('\n')[1]).to.equal('-a -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 1 --tun-type gue');
      const ipip = parseSave('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 1 --tun-type ipip\n');
      expect(diffRules(gue, ipip)).to.have.length(1);
    });

    it('several services, each with its own real servers, and sched flags', () => {
      const model: VirtualServiceRule[] = [
        web([{ address: '10.0.0.2', port: 80, method: 'masq', weight: 1 }], { scheduler: 'mh', schedFlags: 'mh-port' }),
        { protocol: 'udp', address: '10.0.0.1', port: 53, scheduler: 'lc', realServers: [{ address: '10.0.0.2', port: 5353, method: 'masq', weight: 1 }] },
      ];
      expect(renderRestore(model).split('\n')[0]).to.equal('-A -t 10.0.0.1:80 -s mh -b mh-port');
      expect(roundTrip(model).map((s) => s.protocol)).to.deep.equal(['tcp', 'udp']);
    });

    it('an empty table renders to nothing and parses to nothing', () => {
      expect(renderRestore([])).to.equal('');
      expect(parseSave('')).to.deep.equal([]);
      expect(parseSave('\n# a comment\n\n')).to.deep.equal([]);
    });
  });

  describe('parsing ipvsadm -S without -n', () => {
    it('keeps host and service names as printed (the seed article’s table)', () => {
      const saved = [
        '-A -t localhost.localdomain:http -s rr',
        '-a -t localhost.localdomain:http -r 10.18.42.45:http -i -w 1',
        '-a -t localhost.localdomain:http -r 10.18.42.164:http -i -w 1',
        '',
      ].join('\n');
      expect(parseSave(saved)).to.deep.equal([
        {
          protocol: 'tcp',
          address: 'localhost.localdomain',
          port: 'http',
          scheduler: 'rr',
          realServers: [
            { address: '10.18.42.45', port: 'http', method: 'tunnel', weight: 1 },
            { address: '10.18.42.164', port: 'http', method: 'tunnel', weight: 1 },
          ],
        },
      ]);
    });

    it('reads the long option spellings, and defaults an -A without -s to wlc', () => {
      const saved = parseSave('-A --tcp-service 10.0.0.1:80\n-a --tcp-service 10.0.0.1:80 --real-server 10.0.0.2:80 --masquerading --weight 4\n');
      expect(saved).to.deep.equal([
        { protocol: 'tcp', address: '10.0.0.1', port: 80, scheduler: 'wlc', realServers: [{ address: '10.0.0.2', port: 80, method: 'masq', weight: 4 }] },
      ]);
    });
  });

  describe('diffRules', () => {
    const a = web([
      { address: '10.0.0.2', port: 80, method: 'masq', weight: 1 },
      { address: '10.0.0.3', port: 80, method: 'masq', weight: 2 },
    ]);
    const dns: VirtualServiceRule = { protocol: 'udp', address: '10.0.0.1', port: 53, scheduler: 'rr', realServers: [{ address: '10.0.0.2', port: 53, method: 'masq', weight: 1 }] };

    it('is empty for equal sets, whatever the order of services and real servers', () => {
      const reordered: VirtualServiceRule[] = [dns, { ...a, realServers: [...a.realServers].reverse() }];
      expect(diffRules([a, dns], reordered)).to.deep.equal([]);
      expect(diffRules(reordered, [a, dns])).to.deep.equal([]);
    });

    it('names a missing service', () => {
      expect(diffRules([a, dns], [a])).to.deep.equal(['service udp:10.0.0.1:53 is missing from the kernel']);
    });

    it('names a missing real server', () => {
      expect(diffRules([a], [web([a.realServers[1]!])])).to.deep.equal(['service tcp:10.0.0.1:80: real server 10.0.0.2:80 is missing from the kernel']);
    });

    it('names a wrong weight, with both values', () => {
      const kernel = web([a.realServers[0]!, { ...a.realServers[1]!, weight: 5 }]);
      expect(diffRules([a], [kernel])).to.deep.equal([
        'service tcp:10.0.0.1:80: real server 10.0.0.3:80: expected {"address":"10.0.0.3","port":80,"method":"masq","weight":2}, kernel has {"address":"10.0.0.3","port":80,"method":"masq","weight":5}',
      ]);
    });

    it('names an unexpected extra service and an unexpected real server', () => {
      expect(diffRules([a], [a, dns])).to.deep.equal(['the kernel has an unexpected service udp:10.0.0.1:53']);
      const extra = web([...a.realServers, { address: '10.0.0.4', port: 80, method: 'masq', weight: 1 }]);
      expect(diffRules([a], [extra])).to.deep.equal(['service tcp:10.0.0.1:80: the kernel has an unexpected real server 10.0.0.4:80']);
    });

    it('names a different scheduler or persistence on the service', () => {
      expect(diffRules([a], [{ ...a, scheduler: 'wlc' }])).to.deep.equal([
        'service tcp:10.0.0.1:80: expected {"protocol":"tcp","address":"10.0.0.1","port":80,"scheduler":"rr"}, kernel has {"protocol":"tcp","address":"10.0.0.1","port":80,"scheduler":"wlc"}',
      ]);
      expect(diffRules([{ ...a, persistence: { timeout: 300 } }], [a])).to.have.length(1);
    });
  });

  describe('malformed input', () => {
    it('a line that is not -A or -a names its line number', () => {
      const e = parseError('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n-X -t 10.0.0.1:80\n');
      expect(e.line).to.equal(3);
      expect(e.message).to.equal('line 3: expected -A or -a: -X -t 10.0.0.1:80');
    });

    it('an option without its value, an unknown option, a bad address', () => {
      expect(parseError('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w\n').message).to.equal('line 2: -w needs a value: -a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w');
      expect(parseError('-A -t 10.0.0.1:80 -s rr --bogus\n').message).to.equal('line 1: unknown option --bogus: -A -t 10.0.0.1:80 -s rr --bogus');
      expect(parseError('\n-A -t 10.0.0.1 -s rr\n').message).to.equal('line 2: "10.0.0.1" is not address:port: -A -t 10.0.0.1 -s rr');
      expect(parseError('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -i --tun-type vxlan\n').message).to.equal(
        'line 2: unknown tunnel type vxlan: -a -t 10.0.0.1:80 -r 10.0.0.2:80 -i --tun-type vxlan',
      );
    });

    it('a real server of a service not defined above, or a line without a service', () => {
      const e = parseError('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:81 -r 10.0.0.2:80 -m -w 1\n');
      expect(e.line).to.equal(2);
      expect(e.message).to.equal('line 2: real server of a service not defined above: -a -t 10.0.0.1:81 -r 10.0.0.2:80 -m -w 1');
      expect(parseError('-A -s rr\n').message).to.equal('line 1: no service (-t, -u, -f): -A -s rr');
      expect(parseError('-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -m\n').message).to.equal('line 2: no real server (-r): -a -t 10.0.0.1:80 -m');
    });
  });
});
