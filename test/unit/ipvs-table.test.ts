import { expect } from 'chai';
import { formatTable, mergeTable, parseList, parseStats } from '../../harness/ipvs/table.js';

// As ipvsadm prints them: services "%s %s", real servers "  -> %-28s %-7s %-6d %-10u %-10u"
// (trailing blanks included), stats "%-33s" then "%9llu" per counter (wider with --exact).
const LIST = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
  'TCP  10.89.10.100:80 rr persistent 300 mask 255.255.255.0',
  '  -> 10.89.20.11:80               Masq    1      2          5         ',
  '  -> 10.89.20.12:80               Masq    3      0          1         ',
  'FWM  7 wlc',
  '  -> 10.89.30.11:0                Route   1      0          0         ',
  '  -> 10.89.30.12:0                Route   0      4          17        ',
  'UDP  [2001:db8::100]:53 rr',
  '  -> [2001:db8::11]:53            Tunnel  65535  0          12        ',
  '',
].join('\n');

const STATS = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes',
  '  -> RemoteAddress:Port',
  'TCP  10.89.10.100:80                    12       72       60     4800     9600',
  '  -> 10.89.20.11:80                      8       48       40     3200     6400',
  '  -> 10.89.20.12:80                      4       24       20     1600     3200',
  'FWM  7                                   3        9        0      540 1234567890',
  '  -> 10.89.30.11:0                       3        9        0      540 1234567890',
  '  -> 10.89.30.12:0                       0        0        0        0        0',
  'UDP  [2001:db8::100]:53                  5        5        5      320      640',
  '  -> [2001:db8::11]:53                   5        5        5      320      640',
  '',
].join('\n');

describe('IPVS table listings', () => {
  describe('parseList (ipvsadm -Ln)', () => {
    const t = parseList(LIST);

    it('finds the services, skipping the header lines', () => {
      expect(t.map((s) => `${s.protocol} ${s.key} ${s.scheduler}`)).to.deep.equal(['TCP 10.89.10.100:80 rr', 'FWM 7 wlc', 'UDP [2001:db8::100]:53 rr']);
    });

    it('reads persistence and its mask', () => {
      expect(t[0]!.persistent).to.equal(300);
      expect(t[0]!.mask).to.equal('255.255.255.0');
      expect(t[1]).to.not.have.property('persistent');
      expect(t[1]).to.not.have.property('mask');
    });

    it('reads real servers with forwarding, weight and connection counts', () => {
      expect(t[0]!.realServers).to.deep.equal([
        { address: '10.89.20.11', port: 80, forward: 'Masq', weight: 1, activeConns: 2, inactiveConns: 5 },
        { address: '10.89.20.12', port: 80, forward: 'Masq', weight: 3, activeConns: 0, inactiveConns: 1 },
      ]);
      expect(t[1]!.realServers).to.deep.equal([
        { address: '10.89.30.11', port: 0, forward: 'Route', weight: 1, activeConns: 0, inactiveConns: 0 },
        { address: '10.89.30.12', port: 0, forward: 'Route', weight: 0, activeConns: 4, inactiveConns: 17 },
      ]);
      expect(t[2]!.realServers).to.deep.equal([{ address: '2001:db8::11', port: 53, forward: 'Tunnel', weight: 65535, activeConns: 0, inactiveConns: 12 }]);
    });

    it('an empty table (header only) has no services', () => {
      expect(parseList(LIST.split('\n').slice(0, 3).join('\n'))).to.deep.equal([]);
    });

    it('an IPv6 fwmark service ("FWM  8 IPv6 rr") keeps its scheduler and is told apart from the IPv4 mark', () => {
      const v6 = parseList(
        [
          'IP Virtual Server version 1.2.1 (size=4096)',
          'Prot LocalAddress:Port Scheduler Flags',
          '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
          'FWM  8 rr',
          '  -> 10.89.30.11:0                Route   1      0          0         ',
          'FWM  8 IPv6 sh',
          '  -> [2001:db8::11]:0             Route   2      1          0         ',
        ].join('\n'),
      );
      expect(v6.map((s) => `${s.protocol} ${s.key} ${s.scheduler}`)).to.deep.equal(['FWM 8 rr', 'FWM 8 IPv6 sh']);
      expect(v6[1]!.realServers).to.deep.equal([{ address: '2001:db8::11', port: 0, forward: 'Route', weight: 2, activeConns: 1, inactiveConns: 0 }]);
    });
  });

  describe('parseStats (ipvsadm -Ln --stats --exact)', () => {
    const s = parseStats(STATS);

    it('reads the counters of each service and real server', () => {
      expect(s.map((x) => `${x.protocol} ${x.key}`)).to.deep.equal(['TCP 10.89.10.100:80', 'FWM 7', 'UDP [2001:db8::100]:53']);
      expect(s[0]!.stats).to.deep.equal({ conns: 12, inPkts: 72, outPkts: 60, inBytes: 4800, outBytes: 9600 });
      expect(s[0]!.realServers).to.deep.equal([
        { address: '10.89.20.11', port: 80, stats: { conns: 8, inPkts: 48, outPkts: 40, inBytes: 3200, outBytes: 6400 } },
        { address: '10.89.20.12', port: 80, stats: { conns: 4, inPkts: 24, outPkts: 20, inBytes: 1600, outBytes: 3200 } },
      ]);
      expect(s[1]!.stats!.outBytes).to.equal(1234567890);
      expect(s[2]!.realServers[0]).to.deep.equal({ address: '2001:db8::11', port: 53, stats: { conns: 5, inPkts: 5, outPkts: 5, inBytes: 320, outBytes: 640 } });
    });

    it('counters that are not exact numbers (1234K without --exact) are not taken as numbers', () => {
      const rough = parseStats('TCP  10.89.10.100:80                    12       72       60    4800K    9600K\n');
      expect(rough[0]!.stats).to.equal(undefined);
    });

    it('an IPv6 fwmark service keeps its counters', () => {
      const v6 = parseStats(['FWM  8 IPv6                              3        9        0      540     1000', '  -> [2001:db8::11]:0                   3        9        0      540     1000'].join('\n'));
      expect(v6[0]!.key).to.equal('8 IPv6');
      expect(v6[0]!.stats).to.deep.equal({ conns: 3, inPkts: 9, outPkts: 0, inBytes: 540, outBytes: 1000 });
    });
  });

  describe('mergeTable and formatTable', () => {
    const merged = mergeTable(parseList(LIST), parseStats(STATS));

    it('joins counters to services and real servers by key and address', () => {
      expect(merged[0]).to.deep.include({ protocol: 'TCP', key: '10.89.10.100:80', scheduler: 'rr', persistent: 300, mask: '255.255.255.0' });
      expect(merged[0]!.stats).to.deep.equal({ conns: 12, inPkts: 72, outPkts: 60, inBytes: 4800, outBytes: 9600 });
      expect(merged[0]!.realServers[1]).to.deep.equal({
        address: '10.89.20.12',
        port: 80,
        forward: 'Masq',
        weight: 3,
        activeConns: 0,
        inactiveConns: 1,
        stats: { conns: 4, inPkts: 24, outPkts: 20, inBytes: 1600, outBytes: 3200 },
      });
      expect(merged[1]!.realServers.map((r) => r.stats?.conns)).to.deep.equal([3, 0]);
      expect(merged[2]!.realServers[0]!.stats!.inBytes).to.equal(320);
    });

    it('leaves the counters out where the stats listing lacks the service', () => {
      const partial = mergeTable(parseList(LIST), parseStats(STATS.split('\n').slice(0, 6).join('\n')));
      expect(partial[0]!.stats!.conns).to.equal(12);
      expect(partial[1]!.stats).to.equal(undefined);
      expect(partial[1]!.realServers[0]!.stats).to.equal(undefined);
    });

    it('formats one row per service and real server, with the numbers', () => {
      const text = formatTable(merged);
      const rows = text.split('\n');
      expect(rows).to.have.length(1 + 3 + 5);
      expect(rows[0]!.split(/\s{2,}/)).to.deep.equal(['service / real server', 'sched/fwd', 'weight', 'active', 'inact', 'conns', 'inPkts', 'outPkts', 'inBytes', 'outBytes']);
      expect(rows[4]!.trim().split(/\s+/)).to.deep.equal(['FWM', '7', 'wlc', '3', '9', '0', '540', '1234567890']);
      expect(rows[1]!.split(/\s{2,}/)).to.deep.equal(['TCP 10.89.10.100:80', 'rr persistent 300 mask 255.255.255.0', '12', '72', '60', '4800', '9600']);
      expect(rows[2]!.trim().split(/\s+/)).to.deep.equal(['->', '10.89.20.11:80', 'Masq', '1', '2', '5', '8', '48', '40', '3200', '6400']);
      expect(rows[6]!.trim().split(/\s+/)).to.deep.equal(['->', '10.89.30.12:0', 'Route', '0', '4', '17', '0', '0', '0', '0', '0']);
      expect(rows[5]!.trim().split(/\s+/)).to.deep.equal(['->', '10.89.30.11:0', 'Route', '1', '0', '0', '3', '9', '0', '540', '1234567890']);
      expect(rows[8]!.trim().split(/\s+/)).to.deep.equal(['->', '[2001:db8::11]:53', 'Tunnel', '65535', '0', '12', '5', '5', '5', '320', '640']);
      // numbers are right-aligned under their headers
      const col = rows[0]!.indexOf('outBytes') + 'outBytes'.length;
      expect(rows[5]!.length).to.equal(col);
      expect(rows[5]!.endsWith('1234567890')).to.equal(true);
    });

    it('formats a table without counters, leaving those cells empty', () => {
      const rows = formatTable(parseList(LIST)).split('\n');
      expect(rows[2]!.trim().split(/\s+/)).to.deep.equal(['->', '10.89.20.11:80', 'Masq', '1', '2', '5']);
    });
  });
});
