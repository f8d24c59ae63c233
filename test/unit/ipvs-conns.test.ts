import { expect } from 'chai';
import { parseConnections, parseTimeouts } from '../../harness/ipvs/table.js';

// `ipvsadm -Lnc` as captured in the lab: a TCP TIME_WAIT entry, a UDP flow, an IPv6 entry
// ([addr]:port) and a persistence template (client port 0)
const CONNS = [
  'IPVS connection entries',
  'pro expire state       source             virtual            destination',
  'TCP 00:08  TIME_WAIT   10.89.10.18:49908  10.89.10.100:80    10.89.20.13:80',
  'UDP 03:51  UDP         10.89.10.18:51274  10.89.10.100:53    10.89.20.12:53',
  'TCP 01:20  TIME_WAIT   [fd89:10::7]:36466 [fd89:10::100]:80  [fd89:20::11]:80',
  'UDP 00:05  UDP         10.89.10.3:0       10.89.10.100:53    10.89.20.11:53',
  '',
].join('\n');

describe('ipvsadm connection listing', () => {
  describe('parseConnections (ipvsadm -Lnc)', () => {
    it('reads every entry of the real listing, skipping the headers', () => {
      expect(parseConnections(CONNS)).to.deep.equal([
        { protocol: 'TCP', expiresS: 8, state: 'TIME_WAIT', source: '10.89.10.18:49908', virtual: '10.89.10.100:80', destination: '10.89.20.13:80', template: false },
        { protocol: 'UDP', expiresS: 231, state: 'UDP', source: '10.89.10.18:51274', virtual: '10.89.10.100:53', destination: '10.89.20.12:53', template: false },
        { protocol: 'TCP', expiresS: 80, state: 'TIME_WAIT', source: '[fd89:10::7]:36466', virtual: '[fd89:10::100]:80', destination: '[fd89:20::11]:80', template: false },
        { protocol: 'UDP', expiresS: 5, state: 'UDP', source: '10.89.10.3:0', virtual: '10.89.10.100:53', destination: '10.89.20.11:53', template: true },
      ]);
    });

    it('reads mm:ss as seconds, minutes beyond 99 included', () => {
      const line = (expire: string) => `TCP ${expire}  ESTABLISHED 10.89.10.18:49908  10.89.10.100:80    10.89.20.13:80`;
      expect(parseConnections(line('00:00'))[0]!.expiresS).to.equal(0);
      expect(parseConnections(line('15:00'))[0]!.expiresS).to.equal(900);
      expect(parseConnections(line('59:59'))[0]!.expiresS).to.equal(3599);
      expect(parseConnections(line('120:01'))[0]!.expiresS).to.equal(7201);
    });

    it('a template is a source port of exactly 0, IPv4 or IPv6', () => {
      const src = (s: string) => parseConnections(`TCP 04:59  NONE        ${s}  10.89.10.100:80    10.89.20.13:80`)[0]!.template;
      expect(src('10.89.10.3:0')).to.equal(true);
      expect(src('[fd89:10::7]:0')).to.equal(true);
      expect(src('10.89.10.3:10')).to.equal(false);
      expect(src('10.89.10.3:100')).to.equal(false);
      expect(src('10.89.10.3:50000')).to.equal(false);
      expect(src('[fd89:10::7]:20')).to.equal(false);
      // an IPv6 address ending in a 0 group is not port 0
      expect(src('[fd89:10::7:0]:80')).to.equal(false);
    });

    it('reads a fwmark template (protocol IP)', () => {
      expect(parseConnections('IP  05:00  NONE        10.89.10.3:0       0.0.0.1:0          10.89.20.11:0')).to.deep.equal([
        { protocol: 'IP', expiresS: 300, state: 'NONE', source: '10.89.10.3:0', virtual: '0.0.0.1:0', destination: '10.89.20.11:0', template: true },
      ]);
    });

    it('tolerates CRLF line ends and surrounding blanks', () => {
      const got = parseConnections(CONNS.split('\n').map((l) => `  ${l}  `).join('\r\n'));
      expect(got.map((c) => [c.protocol, c.expiresS, c.source])).to.deep.equal([
        ['TCP', 8, '10.89.10.18:49908'],
        ['UDP', 231, '10.89.10.18:51274'],
        ['TCP', 80, '[fd89:10::7]:36466'],
        ['UDP', 5, '10.89.10.3:0'],
      ]);
    });

    it('an empty table (headers only) has no entries; lines that are not entries are skipped', () => {
      expect(parseConnections('IPVS connection entries\npro expire state       source             virtual            destination\n')).to.deep.equal([]);
      expect(parseConnections('')).to.deep.equal([]);
      expect(parseConnections('ICMP 00:08 X 1.1.1.1:0 2.2.2.2:0 3.3.3.3:0\nTCP 0008 X 1.1.1.1:1 2.2.2.2:2 3.3.3.3:3\nTCP 00:08 X 1.1.1.1:1 2.2.2.2:2')).to.deep.equal([]);
    });
  });

  describe('parseTimeouts (ipvsadm -L --timeout)', () => {
    it('reads tcp, tcpfin and udp seconds', () => {
      expect(parseTimeouts('Timeout (tcp tcpfin udp): 900 120 300')).to.deep.equal({ tcp: 900, tcpfin: 120, udp: 300 });
      expect(parseTimeouts('Timeout (tcp tcpfin udp): 7200 15 60\n')).to.deep.equal({ tcp: 7200, tcpfin: 15, udp: 60 });
    });

    it('is undefined for anything else', () => {
      expect(parseTimeouts('')).to.equal(undefined);
      expect(parseTimeouts('IP Virtual Server version 1.2.1 (size=4096)')).to.equal(undefined);
      expect(parseTimeouts('Timeout (tcp tcpfin udp): 900 120')).to.equal(undefined);
    });
  });
});
