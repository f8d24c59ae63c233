import { expect } from 'chai';
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
});
