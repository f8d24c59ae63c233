import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfText } from '../../harness/keepalived/conf/parse.js';
import { editDistance, nearest } from '../../harness/keepalived/conf/nearest.js';
import { typeConf } from '../../harness/keepalived/conf/typed-build.js';
import { tableAt } from '../../harness/keepalived/conf/keywords.js';

const typed = (t: string, release: '2.2.7' | '2.3.3' = '2.2.7') => typeConf(parseConfText(t, 'k.conf'), release);

describe('keepalived.conf typed model', () => {
  it('types an instance and a virtual server, every value with its line', () => {
    const { typed: t } = typed(`global_defs {
  vrrp_version 3
}
vrrp_instance VI_1 {
  state BACKUP
  priority 120
  virtual_ipaddress {
    192.0.2.1/24 dev eth0 label eth0:1 brd 192.0.2.255 scope global
  }
  track_interface {
    eth1 weight -30
  }
  nopreempt
}
virtual_server fwmark 7 {
  lvs_sched sh
  real_server 10.0.0.1 {
    SSL_GET {
      url {
        path /h
        digest 0123abcd
        status_code 200-299
      }
      nb_get_retry 4
    }
  }
}`);
    const i = t.vrrpInstances[0]!;
    expect(t.globalDefs!.vrrpVersion!.value).to.equal(3);
    expect(i.priority).to.include({ value: 120, line: 6 });
    expect(i.virtualIpaddress[0]).to.include({ address: '192.0.2.1', prefix: 24, dev: 'eth0', label: 'eth0:1', brd: '192.0.2.255', scope: 'global', line: 8 });
    expect(i.trackInterfaces[0]).to.include({ name: 'eth1', weight: -30 });
    expect(i.nopreempt!.line).to.equal(13);
    const vs = t.virtualServers[0]!;
    expect(vs).to.include({ kind: 'fwmark', fwmark: 7 });
    expect(vs.lbAlgo!.value).to.equal('sh');
    const c = vs.realServers[0]!.checkers[0]!;
    expect(c.type).to.equal('SSL_GET');
    expect(c.nbGetRetry!.value).to.equal(4);
    expect(c.urls[0]!.statusCode!.value).to.equal('200-299');
  });

  it('keeps unknown keywords, located, with the nearest known keyword of their block', () => {
    const { typed: t } = typed('vrrp_instance V {\n  priorty 100\n}\n');
    expect(t.unknown).to.deep.equal([{ file: 'k.conf', line: 2, keyword: 'priorty', block: ['vrrp_instance'], suggestion: 'priority' }]);
    expect(nearest('weigth', ['weight', 'width'])).to.equal('weight');
    expect(nearest('zzzzzz', ['weight'])).to.equal(undefined);
    expect(editDistance('weigth', 'weight')).to.equal(1);
  });

  it('reads as keepalived does: an unknown block keyword\u2019s `}` ends the enclosing block', () => {
    // virtual_ipadress (typo) is unknown: its `}` closes vrrp_instance, and priority 90 lands at the top level
    const { typed: t, reading } = typed('vrrp_instance V {\n  virtual_ipadress {\n    192.0.2.1\n  }\n  priority 90\n}\n');
    expect(t.vrrpInstances[0]!.priority).to.equal(undefined);
    expect(reading.issues.map((i) => i.code)).to.include('unknown-keyword');
  });

  it('keyword tables per release: 2.3.3 adds, 2.2.7 lacks', () => {
    expect(tableAt(['vrrp_instance'], '2.2.7')!.has('no_virtual_ipaddress')).to.equal(false);
    expect(tableAt(['vrrp_instance'], '2.3.3')!.has('no_virtual_ipaddress')).to.equal(true);
    expect(tableAt(['virtual_server', 'real_server', 'HTTP_GET'])!.has('nb_get_retry')).to.equal(true);
    expect(tableAt(['virtual_server', 'real_server', 'TCP_CHECK'])!.has('nb_get_retry')).to.equal(false);
    // tls_compliant is SSL_GET's (keepalived/check/check_http.c@v2.3.3), not HTTP_GET's
    expect(tableAt(['virtual_server', 'real_server', 'SSL_GET', 'url'], '2.3.3')!.has('tls_compliant')).to.equal(true);
    expect(tableAt(['virtual_server', 'real_server', 'HTTP_GET'], '2.3.3')!.has('tls_compliant')).to.equal(false);
  });

  describe('a mail and DNS director (fixture typed/mail-dns.conf): sync group, server groups and the other checkers', () => {
    const FILE = path.join(import.meta.dirname, '../fixtures/keepalived-conf/typed/mail-dns.conf');
    const TEXT = readFileSync(FILE, 'utf8');
    const read = (text = TEXT) => typeConf(parseConfText(text, 'mail-dns.conf'), '2.2.7');
    const { typed: t, reading } = read();
    /** the line of the first line of the fixture that starts with `s` (after its indent), so the fixture can be edited */
    const lineOf = (s: string, after = 0) => TEXT.split('\n').findIndex((l, i) => i >= after && l.trim().startsWith(s)) + 1;

    it('reads every keyword as keepalived 2.2.7 does: no unknown keyword, no issue', () => {
      expect(reading.issues).to.deep.equal([]);
      expect(t.unknown).to.deep.equal([]);
    });

    it('vrrp_sync_group: its members, its track_script and notify_master, and each member instance knows its group', () => {
      expect(t.vrrpSyncGroups).to.have.length(1);
      const g = t.vrrpSyncGroups[0]!;
      expect(g).to.include({ name: 'SG_MAIL', line: lineOf('vrrp_sync_group') });
      expect(g.group.map((m) => [m.value, m.line])).to.deep.equal([
        ['VI_PUB', lineOf('VI_PUB')],
        ['VI_INT', lineOf('VI_INT')],
      ]);
      expect(g.trackScripts.map((x) => x.name)).to.deep.equal(['chk_ipvs_loaded']);
      expect(g.trackScripts[0]!.weight).to.equal(undefined);
      expect(g.notify.master).to.include({ value: '/etc/keepalived/mail-master.sh SG_MAIL', line: lineOf('notify_master') });
      expect(t.vrrpInstances.map((i) => [i.name, i.syncGroup, i.virtualRouterId?.value])).to.deep.equal([
        ['VI_PUB', 'SG_MAIL', 61],
        ['VI_INT', 'SG_MAIL', 62],
      ]);
    });

    it('an instance no sync group names has no syncGroup', () => {
      const { typed: u } = read(TEXT.replace(/^\s+VI_INT\n/m, ''));
      expect(u.vrrpSyncGroups[0]!.group.map((m) => m.value)).to.deep.equal(['VI_PUB']);
      expect(u.vrrpInstances.map((i) => i.syncGroup ?? null)).to.deep.equal(['SG_MAIL', null]);
    });

    it('virtual_server_group: an address range with a port, an address with a port and a fwmark, each located', () => {
      expect(t.virtualServerGroups.map((g) => g.name)).to.deep.equal(['MAIL_VIPS', 'DNS_VIPS']);
      const [mail, dns] = t.virtualServerGroups;
      expect(mail!.line).to.equal(lineOf('virtual_server_group MAIL_VIPS'));
      expect(mail!.entries.map((e) => ({ text: e.text, address: e.address, port: e.port, fwmark: e.fwmark, line: e.line }))).to.deep.equal([
        { text: '203.0.113.25-26 25', address: '203.0.113.25-26', port: 25, fwmark: undefined, line: lineOf('203.0.113.25-26 25') },
        { text: '203.0.113.25 587', address: '203.0.113.25', port: 587, fwmark: undefined, line: lineOf('203.0.113.25 587') },
        { text: 'fwmark 25', address: undefined, port: undefined, fwmark: 25, line: lineOf('fwmark 25') },
      ]);
      expect(dns!.entries.map((e) => [e.address, e.port])).to.deep.equal([['203.0.113.26', 53]]);
    });

    it('virtual_server group NAME: the group it serves, persistence_timeout and persistence_granularity, scheduler, method, protocol', () => {
      const [mail, dns] = t.virtualServers;
      expect(mail).to.include({ kind: 'group', group: 'MAIL_VIPS', text: 'group MAIL_VIPS' });
      expect([mail!.address, mail!.port, mail!.fwmark]).to.deep.equal([undefined, undefined, undefined]);
      expect(mail!.persistenceTimeout).to.include({ value: 600, line: lineOf('persistence_timeout') });
      expect(mail!.persistenceGranularity).to.include({ value: '255.255.255.0', text: '255.255.255.0', line: lineOf('persistence_granularity') });
      expect([mail!.lbAlgo?.value, mail!.lbKind?.value, mail!.protocol?.value, mail!.delayLoop?.value]).to.deep.equal(['wlc', 'NAT', 'TCP', 15]);
      expect(dns).to.include({ kind: 'group', group: 'DNS_VIPS' });
      expect([dns!.lbAlgo?.value, dns!.lbKind?.value, dns!.protocol?.value]).to.deep.equal(['rr', 'NAT', 'UDP']);
      // no persistence written: none read, not a default
      expect(dns!.persistenceTimeout).to.equal(undefined);
      expect(dns!.persistenceGranularity).to.equal(undefined);
    });

    it('SMTP_CHECK, DNS_CHECK and UDP_CHECK: typed as such, with their timing and connect address, each on its line', () => {
      const rs = t.virtualServers.flatMap((v) => v.realServers);
      expect(rs.map((r) => [r.address, r.port, r.weight?.value, r.checkers.map((c) => c.type)])).to.deep.equal([
        ['10.77.0.21', 25, 3, ['SMTP_CHECK']],
        ['10.77.0.22', 25, 1, ['SMTP_CHECK']],
        ['10.77.0.31', 53, undefined, ['DNS_CHECK']],
        ['10.77.0.32', 53, undefined, ['UDP_CHECK']],
      ]);
      const [smtp1, smtp2, dnsCheck, udp] = rs.map((r) => r.checkers[0]!);
      expect(smtp1!.line).to.equal(lineOf('SMTP_CHECK'));
      expect(smtp1!.connectTimeout).to.include({ value: 8, line: lineOf('connect_timeout 8') });
      expect(smtp1!.retry).to.include({ value: 2, line: lineOf('retry 2') });
      expect(smtp1!.delayBeforeRetry).to.include({ value: 4, line: lineOf('delay_before_retry 4') });
      expect(smtp2!.connectIp).to.include({ value: '10.77.0.122', line: lineOf('connect_ip 10.77.0.122') });
      expect(smtp2!.connectPort).to.include({ value: 2525, line: lineOf('connect_port 2525') });
      expect(smtp2!.connectTimeout).to.equal(undefined);
      expect(dnsCheck!.line).to.equal(lineOf('DNS_CHECK'));
      expect([dnsCheck!.connectTimeout?.value, dnsCheck!.retry?.value]).to.deep.equal([2, 1]);
      expect(udp!.line).to.equal(lineOf('UDP_CHECK'));
      expect(udp!.connectPort).to.include({ value: 5353, line: lineOf('connect_port 5353') });
      for (const c of [smtp1, smtp2, dnsCheck, udp]) expect(c!.urls).to.deep.equal([]);
    });

    it('each checker has its own keywords: DNS_CHECK\u2019s `type` in SMTP_CHECK, or persistence_granularity in a real_server, is unknown there', () => {
      const { typed: u } = read(TEXT.replace('helo_name probe.mx-lb-a.example.org', 'type MX').replace('weight 1\n', 'weight 1\n        persistence_granularity 255.255.255.0\n'));
      expect(u.unknown.map((x) => [x.keyword, x.block.join('.'), x.line])).to.deep.equal([
        ['type', 'virtual_server.real_server.SMTP_CHECK', lineOf('helo_name')],
        ['persistence_granularity', 'virtual_server.real_server', lineOf('weight 1') + 1],
      ]);
      // the checker and the service around them are still read
      expect(u.virtualServers[0]!.realServers[0]!.checkers[0]!.connectTimeout?.value).to.equal(8);
      expect(u.virtualServers[0]!.persistenceGranularity?.value).to.equal('255.255.255.0');
    });
  });
});
