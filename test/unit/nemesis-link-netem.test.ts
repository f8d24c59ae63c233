import { expect } from 'chai';
import { addressArgv, missingAddresses, missingRoutes, routeArgv, type IpAddr, type IpRoute } from '../../harness/nemesis/link-down.js';
import { netemDelay, netemDelayArgs, netemLoss, netemLossArgs } from '../../harness/nemesis/netem.js';

// as `ip -j -4 route show` / `ip -j -6 route show` print them in a dual-stack real server
const before4: IpRoute[] = [
  { dst: 'default', gateway: '10.89.20.2', dev: 'eth0', flags: [] },
  { dst: '10.89.20.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.89.20.11', flags: [] },
  { dst: '10.99.0.0/16', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '10.99.0.5', flags: [] },
];
const before6: IpRoute[] = [
  { dst: 'fd89:20::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [] },
  { dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [] },
  { dst: 'default', gateway: 'fd89:20::2', dev: 'eth0', metric: 1024, flags: [] },
];

describe('nemesis: link-down restores what the kernel dropped', () => {
  it('finds the routes of the downed devices that are missing, prefix routes before gateway routes', () => {
    // after `ip link set eth0 down` and up again: the kernel re-added the connected route only
    const after4 = [before4[1]!, before4[2]!];
    expect(missingRoutes(before4, after4, new Set(['eth0']))).to.deep.equal([before4[0]]);
    expect(missingRoutes(before4, [], new Set(['eth0']))).to.deep.equal([before4[1], before4[0]]);
    // a route on a device that was not downed is not ours to touch
    expect(missingRoutes(before4, [], new Set(['eth1']))).to.deep.equal([before4[2]]);
    expect(missingRoutes(before4, before4, new Set(['eth0', 'eth1']))).to.deep.equal([]);
    expect(missingRoutes(before6, [before6[1]!], new Set(['eth0']))).to.deep.equal([before6[0], before6[2]]);
  });

  it('puts a route back as ip -j route described it', () => {
    expect(routeArgv(before4[0]!, 4)).to.deep.equal(['ip', 'route', 'replace', 'default', 'via', '10.89.20.2', 'dev', 'eth0']);
    expect(routeArgv(before4[1]!, 4)).to.deep.equal(['ip', 'route', 'replace', '10.89.20.0/24', 'dev', 'eth0', 'proto', 'kernel', 'scope', 'link', 'src', '10.89.20.11']);
    expect(routeArgv(before6[2]!, 6)).to.deep.equal(['ip', '-6', 'route', 'replace', 'default', 'via', 'fd89:20::2', 'dev', 'eth0', 'metric', '1024']);
    expect(routeArgv({ dst: '10.1.0.0/16', type: 'blackhole', flags: [] }, 4)).to.deep.equal(['ip', 'route', 'replace', 'blackhole', '10.1.0.0/16']);
    expect(routeArgv({ dst: '10.2.0.0/16', gateway: '192.0.2.1', dev: 'eth0', flags: ['onlink'] }, 4)).to.deep.equal(['ip', 'route', 'replace', '10.2.0.0/16', 'via', '192.0.2.1', 'dev', 'eth0', 'onlink']);
  });

  it('re-adds dropped IPv6 global addresses (without DAD) and leaves link-local ones to the kernel', () => {
    const addrs: IpAddr[] = [
      { family: 'inet', local: '10.89.20.11', prefixlen: 24, scope: 'global', broadcast: '10.89.20.255' },
      { family: 'inet6', local: 'fd89:20::b', prefixlen: 64, scope: 'global' },
      { family: 'inet6', local: 'fe80::42:aff:fe59:140b', prefixlen: 64, scope: 'link' },
    ];
    // IPv4 addresses survive link down; IPv6 ones do not
    const missing = missingAddresses(addrs, [addrs[0]!]);
    expect(missing).to.deep.equal([addrs[1]]);
    expect(addressArgv(addrs[1]!, 'eth0')).to.deep.equal(['ip', 'addr', 'add', 'fd89:20::b/64', 'dev', 'eth0', 'nodad']);
    expect(addressArgv(addrs[0]!, 'eth0')).to.deep.equal(['ip', 'addr', 'add', '10.89.20.11/24', 'brd', '10.89.20.255', 'dev', 'eth0']);
    expect(missingAddresses(addrs, addrs)).to.deep.equal([]);
  });
});

describe('nemesis: netem arguments', () => {
  it('delay D with a 10 % jitter, loss P %', () => {
    expect(netemDelayArgs(300)).to.deep.equal(['delay', '300ms', '30000us']);
    expect(netemDelayArgs(5)).to.deep.equal(['delay', '5ms', '500us']);
    expect(netemLossArgs(30)).to.deep.equal(['loss', '30%']);
    expect(netemLossArgs(0.5)).to.deep.equal(['loss', '0.5%']);
  });
  it('defaults: 200ms delay, 20 % loss; parameters are checked', () => {
    expect(netemDelay.param!.default).to.equal('200ms');
    expect(netemLoss.param!.default).to.equal('20%');
    expect(netemDelay.param!.check('0ms')).to.equal('a delay of 0ms adds nothing (at least 1ms)');
    expect(netemDelay.param!.check('1.5s')).to.equal(undefined);
    expect(netemLoss.param!.check('101%')).to.match(/not a percentage/);
  });
});
