import { expect } from 'chai';
import { bigIntToIp6, cidr6Contains, gateway6Of, hostNumberOf6, intToIp, ip6For, ip6ToBigInt, ipToInt, isIPv6, parseCidr, parseCidr6 } from '../../harness/topology/net.js';

/** eight 16-bit groups, most significant first, as one 128-bit number */
const fromGroups = (...g: number[]) => g.reduce((acc, x) => (acc << 16n) + BigInt(x), 0n);

describe('IPv6 arithmetic (harness/topology/net.ts)', () => {
  describe('ip6ToBigInt', () => {
    it('reads compressed, full and mixed-case forms', () => {
      expect(ip6ToBigInt('::')).to.equal(0n);
      expect(ip6ToBigInt('::1')).to.equal(1n);
      expect(ip6ToBigInt('fd89:10::100')).to.equal(fromGroups(0xfd89, 0x10, 0, 0, 0, 0, 0, 0x100));
      expect(ip6ToBigInt('fd89::')).to.equal(fromGroups(0xfd89, 0, 0, 0, 0, 0, 0, 0));
      expect(ip6ToBigInt('2001:db8:0:0:0:0:0:1')).to.equal(fromGroups(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
      expect(ip6ToBigInt('FD89:0010:0000:0000:0000:0000:0000:0100')).to.equal(ip6ToBigInt('fd89:10::100'));
      expect(ip6ToBigInt('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')).to.equal((1n << 128n) - 1n);
    });

    it('refuses what is not an IPv6 address, naming it', () => {
      expect(() => ip6ToBigInt('10.0.0.1')).to.throw('"10.0.0.1" is not an IPv6 address');
      expect(() => ip6ToBigInt('1:2:3:4:5:6:7:8:9')).to.throw('"1:2:3:4:5:6:7:8:9" is not an IPv6 address');
    });
  });

  describe('bigIntToIp6: RFC 5952 canonical text', () => {
    it('writes lower case without leading zeros', () => {
      expect(bigIntToIp6(ip6ToBigInt('FD89:0010:0000:0000:0000:0000:0000:0100'))).to.equal('fd89:10::100');
      expect(bigIntToIp6(fromGroups(0xabcd, 0xef01, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f))).to.equal('abcd:ef01:a:b:c:d:e:f');
    });

    it('compresses the all-zero address, a leading and a trailing run', () => {
      expect(bigIntToIp6(0n)).to.equal('::');
      expect(bigIntToIp6(1n)).to.equal('::1');
      expect(bigIntToIp6(fromGroups(0xfd89, 0, 0, 0, 0, 0, 0, 0))).to.equal('fd89::');
      expect(bigIntToIp6(fromGroups(0xfd89, 0x20, 0, 0, 0, 0, 0, 0))).to.equal('fd89:20::');
    });

    it('does not compress a single zero group', () => {
      expect(bigIntToIp6(fromGroups(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1))).to.equal('2001:db8:0:1:1:1:1:1');
      expect(bigIntToIp6(fromGroups(1, 2, 3, 4, 5, 6, 7, 0))).to.equal('1:2:3:4:5:6:7:0');
      expect(bigIntToIp6(fromGroups(0, 2, 3, 4, 5, 6, 7, 8))).to.equal('0:2:3:4:5:6:7:8');
    });

    it('compresses the longest run of zero groups', () => {
      expect(bigIntToIp6(fromGroups(0x2001, 0, 0, 1, 0, 0, 0, 1))).to.equal('2001:0:0:1::1');
      expect(bigIntToIp6(fromGroups(0x2001, 0, 0, 0, 1, 0, 0, 1))).to.equal('2001::1:0:0:1');
    });

    it('compresses the leftmost run when two runs are equally long', () => {
      expect(bigIntToIp6(fromGroups(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1))).to.equal('2001:db8::1:0:0:1');
      expect(bigIntToIp6(fromGroups(1, 0, 0, 2, 3, 0, 0, 4))).to.equal('1::2:3:0:0:4');
    });

    it('round-trips text through the number and back (canonical text is a fixed point)', () => {
      for (const s of ['::', '::1', 'fd89:10::100', 'fd89:20::1:2345', '2001:db8::1:0:0:1', '2001:db8:0:1:1:1:1:1', 'fe80::1', '1:2:3:4:5:6:7:8', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'])
        expect(bigIntToIp6(ip6ToBigInt(s))).to.equal(s);
      // numbers with every pattern of zero groups survive text and back
      for (let mask = 0; mask < 256; mask++) {
        const n = fromGroups(...Array.from({ length: 8 }, (_, i) => (mask & (1 << i) ? 0 : 0x1000 + i)));
        expect(ip6ToBigInt(bigIntToIp6(n))).to.equal(n, `groups mask ${mask.toString(2)}: ${bigIntToIp6(n)}`);
      }
    });
  });

  describe('isIPv6', () => {
    it('accepts compressed and full forms', () => {
      for (const s of ['fd89:10::100', '::1', '::', 'fd89::', '2001:db8:0:0:0:0:0:1', 'FD89:0010:0000:0000:0000:0000:0000:0100', '1:2:3:4::5:6:7', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7::'])
        expect(isIPv6(s)).to.equal(true, s);
    });

    it('rejects IPv4 and non-addresses', () => {
      for (const s of ['10.0.0.1', '', 'banana', 'fd89:10::g', '12', 'fd89:10::100/64']) expect(isIPv6(s)).to.equal(false, s);
    });

    it('rejects more than eight groups', () => {
      expect(isIPv6('1:2:3:4:5:6:7:8:9')).to.equal(false);
      expect(isIPv6('1:2:3:4::5:6:7:8')).to.equal(false);
    });

    it('rejects a group of five hex digits', () => {
      expect(isIPv6('fd89:10::12345')).to.equal(false);
      expect(isIPv6('fd890:10::1')).to.equal(false);
    });

    it('rejects fewer than eight groups without "::" and a second "::"', () => {
      expect(isIPv6('1:2:3:4:5:6:7')).to.equal(false);
      expect(isIPv6('fd89::10::1')).to.equal(false);
    });

    it('rejects a triple colon (fd89:::1)', () => {
      expect(isIPv6('fd89:::1')).to.equal(false);
    });

    it('rejects a single colon at either end, and empty groups', () => {
      expect(isIPv6('1:2:3:4:5:6:7:')).to.equal(false);
      expect(isIPv6(':1:2:3:4:5:6:7')).to.equal(false);
      expect(isIPv6('1::2:')).to.equal(false);
      expect(isIPv6(':')).to.equal(false);
    });

    it('ip6ToBigInt reads every form it accepts: "::" standing for one zero group', () => {
      expect(ip6ToBigInt('::1:2:3:4:5:6:7')).to.equal(fromGroups(0, 1, 2, 3, 4, 5, 6, 7));
      expect(ip6ToBigInt('1:2:3:4:5:6:7::')).to.equal(fromGroups(1, 2, 3, 4, 5, 6, 7, 0));
      expect(() => ip6ToBigInt('fd89:::1')).to.throw('"fd89:::1" is not an IPv6 address');
    });
  });

  describe('parseCidr6', () => {
    it('keeps a clean prefix and its canonical text', () => {
      const c = parseCidr6('fd89:10::/64');
      expect(c).to.deep.equal({ network: fromGroups(0xfd89, 0x10, 0, 0, 0, 0, 0, 0), prefix: 64, text: 'fd89:10::/64' });
    });

    it('masks host bits off', () => {
      expect(parseCidr6('fd89:10::1/64')).to.deep.equal({ network: ip6ToBigInt('fd89:10::'), prefix: 64, text: 'fd89:10::/64' });
      expect(parseCidr6('fd89:10:0:0:abcd:ef01:2345:6789/96').text).to.equal('fd89:10::abcd:ef01:0:0/96');
      expect(parseCidr6('fd89:10:ffff:ffff::1/48').text).to.equal('fd89:10:ffff::/48');
      expect(parseCidr6('fd89:10:ffff:ffff::1/32').text).to.equal('fd89:10::/32');
      expect(parseCidr6('2001:db8::1/128').text).to.equal('2001:db8::1/128');
      expect(parseCidr6('2001:db8::1/0')).to.deep.equal({ network: 0n, prefix: 0, text: '::/0' });
    });

    it('writes the text canonically whatever the input spelling', () => {
      expect(parseCidr6('FD89:0020:0000:0000:0000:0000:0000:0000/64').text).to.equal('fd89:20::/64');
    });
  });

  describe('cidr6Contains', () => {
    const c64 = parseCidr6('fd89:10::/64');
    const c96 = parseCidr6('fd89:10::/96');

    it('contains the first, a middle and the last address of the prefix', () => {
      expect(cidr6Contains(c64, 'fd89:10::')).to.equal(true);
      expect(cidr6Contains(c64, 'fd89:10::100')).to.equal(true);
      expect(cidr6Contains(c64, 'fd89:10::ffff:ffff:ffff:ffff')).to.equal(true);
      expect(cidr6Contains(c96, 'fd89:10::ffff:ffff')).to.equal(true);
    });

    it('does not contain addresses just outside', () => {
      expect(cidr6Contains(c64, 'fd89:11::1')).to.equal(false);
      expect(cidr6Contains(c64, 'fd89:10:0:1::')).to.equal(false);
      expect(cidr6Contains(c64, 'fd89:f::ffff:ffff:ffff:ffff')).to.equal(false);
      expect(cidr6Contains(c96, 'fd89:10::1:0:0')).to.equal(false);
    });

    it('a /0 contains everything', () => {
      expect(cidr6Contains(parseCidr6('::/0'), 'ffff::1')).to.equal(true);
    });
  });

  describe('ip6For: prefix + the IPv4 host number in decimal digits', () => {
    const c6 = parseCidr6('fd89:20::/64');

    it('10.89.20.11 on fd89:20::/64 with 10.89.20.0/24 is fd89:20::11', () => {
      expect(ip6For(c6, parseCidr('10.89.20.0/24'), '10.89.20.11')).to.equal('fd89:20::11');
    });

    it('writes the decimal digits of the host number as hex digits', () => {
      const c4 = parseCidr('10.89.20.0/24');
      expect(ip6For(c6, c4, '10.89.20.2')).to.equal('fd89:20::2');
      expect(ip6For(c6, c4, '10.89.20.100')).to.equal('fd89:20::100');
      expect(ip6For(c6, c4, '10.89.20.254')).to.equal('fd89:20::254');
    });

    it('host 12345 of a /16 is ::1:2345 (four digits a group, from the right)', () => {
      const c4 = parseCidr('10.89.0.0/16');
      expect(ipToInt('10.89.48.57') - c4.network).to.equal(12345);
      expect(ip6For(c6, c4, '10.89.48.57')).to.equal('fd89:20::1:2345');
      expect(ip6For(c6, c4, '10.89.39.16')).to.equal('fd89:20::1:0'); // 10000
      expect(ip6For(c6, c4, '10.89.255.254')).to.equal('fd89:20::6:5534'); // 65534
      expect(ip6For(c6, c4, '10.89.3.232')).to.equal('fd89:20::1000'); // 1000
    });

    it('works on a /96 prefix too', () => {
      expect(ip6For(parseCidr6('fd89:30::aaaa:0:0/96'), parseCidr('10.89.30.0/24'), '10.89.30.7')).to.equal('fd89:30::aaaa:0:7');
    });
  });

  describe('hostNumberOf6: the inverse of ip6For', () => {
    const c6 = parseCidr6('fd89:20::/64');

    it('reads the decimal host number back', () => {
      expect(hostNumberOf6(c6, 'fd89:20::11')).to.equal(11);
      expect(hostNumberOf6(c6, 'fd89:20::1:2345')).to.equal(12345);
      expect(hostNumberOf6(c6, 'fd89:20::1:0')).to.equal(10000);
      expect(hostNumberOf6(c6, 'fd89:20::1:99')).to.equal(10099);
      expect(hostNumberOf6(c6, 'fd89:20::100')).to.equal(100);
    });

    it('is undefined when a group holds a hex letter', () => {
      expect(hostNumberOf6(c6, 'fd89:20::ab')).to.equal(undefined);
      expect(hostNumberOf6(c6, 'fd89:20::1:a')).to.equal(undefined);
      expect(hostNumberOf6(c6, 'fd89:20::f:1')).to.equal(undefined);
    });

    it('undoes ip6For for every host number of a /16', () => {
      const c4 = parseCidr('10.89.0.0/16');
      for (let h = 1; h < 65535; h++) {
        const got = hostNumberOf6(c6, ip6For(c6, c4, intToIp(c4.network + h)));
        if (got !== h) expect(got).to.equal(h, `host ${h}`);
      }
    });
  });

  describe('gateway6Of', () => {
    it('is the first address after the prefix', () => {
      expect(gateway6Of(parseCidr6('fd89:20::/64'))).to.equal('fd89:20::1');
      expect(gateway6Of(parseCidr6('fd89:10::aaaa:0:0/96'))).to.equal('fd89:10::aaaa:0:1');
      expect(gateway6Of(parseCidr6('fd89:10::77/64'))).to.equal('fd89:10::1');
    });
  });
});
