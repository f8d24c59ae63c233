import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gratuitousArpSeen } from '../../harness/checkers/garp.js';
import { parseGarp, parseVrrpLog } from '../../harness/observe/vrrp.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/vrrp');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

const D1 = '02:42:0a:59:6e:02';
const D2 = '02:42:0a:59:6e:03';
const VIP = '10.89.110.100';

describe('VRRP observations', () => {
  describe('parseVrrpLog (the notify script\'s log)', () => {
    it('reads "<ms> <instance> <state> <priority>" lines, attributed to the node', () => {
      const text = ['1795250863005 VI_NAT BACKUP 150', '1795250866423 VI_NAT MASTER 150', '1795250869950 VI_GW FAULT 150', '1795250869951 VI_NAT STOP 150', ''].join('\n');
      expect(parseVrrpLog(text, 'director1')).to.deep.equal([
        { t: 1795250863005, node: 'director1', instance: 'VI_NAT', state: 'BACKUP', priority: 150 },
        { t: 1795250866423, node: 'director1', instance: 'VI_NAT', state: 'MASTER', priority: 150 },
        { t: 1795250869950, node: 'director1', instance: 'VI_GW', state: 'FAULT', priority: 150 },
        { t: 1795250869951, node: 'director1', instance: 'VI_NAT', state: 'STOP', priority: 150 },
      ]);
    });

    it('keeps the file order (it does not sort)', () => {
      expect(parseVrrpLog('1795250870000 VI_1 MASTER 100\n1795250860000 VI_1 BACKUP 100\n', 'd').map((c) => c.t)).to.deep.equal([1795250870000, 1795250860000]);
    });

    it('a line without a priority (the notify script\'s empty $4) has none, and priority 0 is kept', () => {
      // echo "$(date +%s%3N) $2 $3 $4" with an empty $4 leaves a trailing space
      expect(parseVrrpLog('1795250863005 VI_NAT BACKUP \n1795250863006 VI_NAT FAULT 0\n', 'director2')).to.deep.equal([
        { t: 1795250863005, node: 'director2', instance: 'VI_NAT', state: 'BACKUP' },
        { t: 1795250863006, node: 'director2', instance: 'VI_NAT', state: 'FAULT', priority: 0 },
      ]);
    });

    it('copes with CRLF and surrounding blanks', () => {
      expect(parseVrrpLog('  1795250863005 VI_NAT MASTER 150\r\n\r\n', 'd')).to.deep.equal([{ t: 1795250863005, node: 'd', instance: 'VI_NAT', state: 'MASTER', priority: 150 }]);
    });

    it('ignores junk lines', () => {
      const junk = [
        '',
        'sh: 1: cannot create /run/lvs-harness/vrrp.log: Directory nonexistent',
        '179525086300 VI_NAT MASTER 150', // 12 digits: not a lab ms
        '17952508630050 VI_NAT MASTER 150', // 14 digits
        '1795250863005 VI_NAT master 150', // keepalived writes states in capitals
        '1795250863005 VI_NAT DELETED 150',
        '1795250863005 VI_NAT MASTER 150 extra',
        '1795250863005  VI_NAT MASTER 150',
        '1795250863005 VI_NAT MASTER high',
        'VI_NAT MASTER 150',
        '1795250863.005 VI_NAT MASTER 150',
      ];
      expect(parseVrrpLog(junk.join('\n'), 'd')).to.deep.equal([]);
      // and a good line among them still counts
      expect(parseVrrpLog([...junk, '1795250863005 VI_NAT MASTER 150'].join('\n'), 'd')).to.have.length(1);
    });

    it('reads the logs keepalived 2.2.7 wrote in a recorded failover (test/fixtures/vrrp)', () => {
      const d1 = parseVrrpLog(fixture('nat-ha-director1.vrrp.log'), 'director1');
      const d2 = parseVrrpLog(fixture('nat-ha-director2.vrrp.log'), 'director2');
      expect(d1.map((c) => [c.t, c.state, c.priority])).to.deep.equal([
        [1795250863005, 'BACKUP', 150],
        [1795250866423, 'MASTER', 150],
        [1795250869950, 'STOP', 150],
        [1795250874986, 'BACKUP', 150],
        [1795250878415, 'MASTER', 150],
        [1795250880970, 'STOP', 150],
      ]);
      expect(d2.map((c) => [c.t, c.state, c.priority])).to.deep.equal([
        [1795250862959, 'BACKUP', 100],
        [1795250870566, 'MASTER', 100],
        [1795250878415, 'BACKUP', 100],
        [1795250880970, 'STOP', 100],
      ]);
      expect(new Set([...d1, ...d2].map((c) => c.instance))).to.deep.equal(new Set(['VI_NAT']));
      // who was MASTER, in time order: director1, then director2 after director1 stopped, then director1 preempting
      const masters = [...d1, ...d2].filter((c) => c.state === 'MASTER').sort((a, b) => a.t - b.t);
      expect(masters.map((c) => c.node)).to.deep.equal(['director1', 'director2', 'director1']);
    });
  });

  describe('parseGarp (tcpdump -l -n -e -tt arp)', () => {
    const line = (t: string, src: string, dst: string, arp: string) => `${t} ${src} > ${dst}, ethertype ARP (0x0806), length 42: ${arp}, length 28`;
    const BCAST = 'ff:ff:ff:ff:ff:ff';

    it('a gratuitous request (who-has X tell X): the time in ms, the VIP and the source MAC', () => {
      expect(parseGarp(line('1795250679.170123', '02:42:0a:59:6e:02', BCAST, 'Request who-has 10.89.110.100 tell 10.89.110.100'))).to.deep.equal([
        { t: 1795250679170, vip: VIP, mac: D1 },
      ]);
    });

    it('an ordinary request (who-has X tell Y) is not gratuitous', () => {
      expect(parseGarp(line('1795250679.170123', '02:42:0a:59:6e:04', BCAST, 'Request who-has 10.89.110.2 tell 10.89.110.4'))).to.deep.equal([]);
      expect(parseGarp(line('1795250679.170123', '02:42:0a:59:6e:04', BCAST, 'Request who-has 10.89.110.100 (ff:ff:ff:ff:ff:ff) tell 10.89.110.4'))).to.deep.equal([]);
    });

    it('a reply counts, with the MAC it announces (is-at), not the frame\'s source', () => {
      expect(parseGarp(line('1795250679.170123', '02:42:0a:59:6e:02', BCAST, `Reply 10.89.110.100 is-at ${D2}`))).to.deep.equal([{ t: 1795250679170, vip: VIP, mac: D2 }]);
    });

    it('reads the request\'s target MAC tcpdump shows when it is not zero', () => {
      expect(parseGarp(line('1795250679.000999', D2, BCAST, 'Request who-has 10.89.110.100 (ff:ff:ff:ff:ff:ff) tell 10.89.110.100'))).to.deep.equal([{ t: 1795250679001, vip: VIP, mac: D2 }]);
    });

    it('rounds the microsecond stamp to the nearest ms and lower-cases MACs', () => {
      const text = [
        line('1795250679.000499', '02:42:0A:59:6E:02', BCAST, 'Request who-has 10.89.110.100 tell 10.89.110.100'),
        line('1795250679.000501', '02:42:0a:59:6e:02', BCAST, 'Reply 10.89.110.100 is-at 02:42:0A:59:6E:03'),
      ].join('\n');
      expect(parseGarp(text)).to.deep.equal([
        { t: 1795250679000, vip: VIP, mac: D1 },
        { t: 1795250679001, vip: VIP, mac: D2 },
      ]);
    });

    it('ignores what is not an ARP line: tcpdump\'s banner and summary, other frames, blanks', () => {
      const text = [
        'tcpdump: verbose output suppressed, use -v[v]... for full protocol decode',
        'listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes',
        '1795250679.170123 02:42:0a:59:6e:02 > 02:42:0a:59:6e:04, ethertype IPv4 (0x0800), length 98: 10.89.110.2 > 10.89.110.4: ICMP echo request, id 1, seq 1, length 64',
        '',
        'who-has 10.89.110.100 tell 10.89.110.100',
        '15 packets captured',
      ].join('\n');
      expect(parseGarp(text)).to.deep.equal([]);
    });

    it('copes with CRLF', () => {
      expect(parseGarp(`${line('1795250679.170123', D1, BCAST, 'Request who-has 10.89.110.100 tell 10.89.110.100')}\r\n`)).to.deep.equal([{ t: 1795250679170, vip: VIP, mac: D1 }]);
    });

    it('reads arping -U and -A as recorded on a veth pair (test/fixtures/vrrp/arping.tcpdump)', () => {
      expect(parseGarp(fixture('arping.tcpdump'))).to.deep.equal([
        { t: 1795250810090, vip: VIP, mac: D1 },
        { t: 1795250811090, vip: VIP, mac: D1 },
        { t: 1795250812098, vip: VIP, mac: D1 },
        { t: 1795250813099, vip: VIP, mac: D1 },
      ]);
    });

    describe('a recorded keepalived failover (test/fixtures/vrrp/nat-ha-failover.tcpdump)', () => {
      const garps = parseGarp(fixture('nat-ha-failover.tcpdump'));
      // keepalived 2.2.7's gratuitous ARPs: broadcast requests who-has VIP tell VIP
      const director1First = [1795250866416, 1795250866425, 1795250867420, 1795250867424, 1795250867425].map((t) => ({ t, vip: VIP, mac: D1 }));
      const director2 = [1795250870556, 1795250870558, 1795250871557, 1795250871562].map((t) => ({ t, vip: VIP, mac: D2 }));
      const director1Again = [1795250878407, 1795250878408, 1795250879408, 1795250879409].map((t) => ({ t, vip: VIP, mac: D1 }));

      it('finds every gratuitous ARP keepalived sent, in order', () => {
        expect(garps).to.deep.include.members([...director1First, ...director2, ...director1Again]);
        expect(garps.slice(0, 5)).to.deep.equal(director1First);
        expect(garps.slice(-8)).to.deep.equal([...director2, ...director1Again]);
      });

      it('director2\'s takeover: exactly its four, with its MAC', () => {
        expect(garps.filter((g) => g.mac === D2)).to.deep.equal(director2);
      });

      it('the client\'s own request for the VIP is not taken for one', () => {
        expect(garps.filter((g) => g.t === 1795250868937)).to.deep.equal([]);
      });

      it('every VRRP takeover in the recorded logs passes the gratuitous-ARP check', () => {
        const log = [...parseVrrpLog(fixture('nat-ha-director1.vrrp.log'), 'director1'), ...parseVrrpLog(fixture('nat-ha-director2.vrrp.log'), 'director2')];
        const macOf: Record<string, string> = { director1: D1, director2: D2 };
        const takeovers = log.filter((c) => c.state === 'MASTER').sort((a, b) => a.t - b.t);
        expect(takeovers).to.have.length(3);
        for (const c of takeovers) {
          const r = gratuitousArpSeen(garps, { t: c.t, node: c.node, mac: macOf[c.node]! }, { vips: [VIP] });
          expect(r.valid, `${c.node} at ${c.t}: ${r.detail}`).to.equal(true);
        }
        // and director1's MAC does not pass for director2's takeover
        const wrong = gratuitousArpSeen(garps, { t: 1795250870566, node: 'director2', mac: D1 }, { vips: [VIP] });
        expect(wrong.valid).to.equal(false);
      });
    });
  });
});
