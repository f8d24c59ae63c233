import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRulesFile } from '../../harness/ipvs/parse-rules.js';
import { derive, type Derived } from '../../harness/validate/derive.js';
import { planDerived } from '../../harness/validate/plan.js';
import { leftovers, rewriteConf } from '../../harness/validate/rewrite.js';
import { keepalivedSource } from '../../harness/validate/sources.js';
import { translationTable } from '../../harness/validate/table.js';
import { confTokens } from '../../harness/validate/tokens.js';

const V = 'test/fixtures/validate';
const L = 'test/fixtures/lint';
const pairOf = (a: string, b: string) => derive({ keepalived: [keepalivedSource(a), keepalivedSource(b)] });
const scriptOf = (file: string) => derive({ keepalived: [], rules: { file, rules: parseRulesFile(file) } });
const devOf = (net: string) => `lab-${net}`;

/** each line's comment (from the first `!`/`#` outside quotes), which translation must leave alone */
const comments = (text: string) =>
  text.split('\n').map((line) => {
    const toks = confTokens(line);
    const end = toks.length ? toks[toks.length - 1]!.end : 0;
    const m = /[!#]/.exec(line.slice(end));
    return m ? line.slice(end + m.index) : '';
  });

/** every file each director runs, translated, checked for their words and for untouched comments */
function checkTranslated(d: Derived): void {
  d.directors.forEach((dir) => {
    const src = keepalivedSource(dir.file!);
    for (const [file, text] of src.texts) {
      const r = rewriteConf(text, d.translation, dir.name, devOf);
      expect(r.untranslated, file).to.deep.equal([]);
      expect(leftovers(r.text, d.translation, dir.name), file).to.deep.equal([]);
      expect(comments(r.text), file).to.deep.equal(comments(text));
      expect(r.text.split('\n').length).to.equal(text.split('\n').length);
      // apart from the translated words, byte for byte the same
      const strip = (s: string) => s.replace(/\b\d+\.\d+\.\d+\.\d+\b/g, 'A').replace(/\b(lab-[a-z0-9-]+|eth\d|ens\d+|bond\d)\b/g, 'I');
      expect(strip(r.text)).to.equal(strip(text));
    }
  });
}

describe('validate: deriving a lab from an operator\'s files', () => {
  it('a DR pair (VRRP, unicast, a shared include with TCP_CHECK) plans, with its addresses kept by host number', () => {
    const d = pairOf(`${V}/dr-a.conf`, `${V}/dr-b.conf`);
    const { plan } = planDerived(d);
    expect(plan.nodes.map((n) => n.name)).to.include.members(['director1', 'director2', 'rs1', 'rs2', 'client']);
    expect(d.topology.directors.map((x) => x.networks)).to.deep.equal([{ ens192: '10.89.200.11' }, { ens192: '10.89.200.12' }]);
    const s = d.topology.services[0]!;
    expect(s).to.deep.include({ vip: '10.89.200.100', port: 80, scheduler: 'wlc', persistence: { timeout: 120 } });
    expect(s.health_check).to.deep.equal({ type: 'tcp', delay_loop: 3, connect_timeout: 2, retry: 2, delay_before_retry: 1 });
    expect(s.real_servers).to.deep.equal([
      { name: 'rs1', method: 'droute', weight: 2 },
      { name: 'rs2', method: 'droute', weight: 1 },
    ]);
    expect(d.topology.keepalived).to.deep.equal({
      sync_daemon: true,
      vrrp: [{ name: 'VI_SHOP', network: 'ens192', virtual_router_id: 60, priorities: { director1: 150, director2: 100 }, advert_int: 1, version: 2, auth_pass: 'shop60', vips: [{ address: '10.89.200.100', network: 'ens192' }], nopreempt: false, unicast: true }],
    });
    // the mail relay is on no network the lab builds
    expect(d.translation.addresses.get('172.20.9.25')).to.equal('192.0.2.25');
    checkTranslated(d);
    const table = translationTable(d.translation);
    expect(table).to.match(/172\.20\.0\.0\/24\s+ens192\s+10\.89\.200\.0\/24/);
    expect(table).to.match(/172\.20\.9\.25\s+192\.0\.2\.25\s+outside the lab/);
  });

  it('the translated text puts the lab device where their interface was, label suffix kept', () => {
    const d = pairOf(`${V}/dr-a.conf`, `${V}/dr-b.conf`);
    const text = readFileSync(`${V}/dr-a.conf`, 'utf8');
    const r = rewriteConf(text, d.translation, 'director1', () => 'eth7').text;
    expect(r).to.include('10.89.200.100/24 dev eth7 label eth7:shop');
    expect(r).to.include('lvs_sync_daemon eth7 VI_SHOP');
    expect(r).to.include('smtp_server 192.0.2.25   # the mail relay, on another network');
    expect(r).to.include('! shop front end, director A (lvs-a, 172.20.0.11 on ens192): MASTER of VI_SHOP');
  });

  it('a NAT pair: the floating gateway on the inside network, the client outside only, the check mapped and the unmapped one listed', () => {
    const d = pairOf(`${V}/nat-a.conf`, `${V}/nat-b.conf`);
    planDerived(d);
    expect(d.topology.networks).to.deep.equal([
      { name: 'bond0', subnet: '10.89.200.0/24' },
      { name: 'eth1', subnet: '10.89.201.0/24' },
    ]);
    expect(d.topology.clients[0]!.networks).to.deep.equal({ bond0: 'auto' });
    expect(d.topology.keepalived!.vrrp[0]!.vips).to.deep.equal([
      { address: '10.89.200.10', network: 'bond0' },
      { address: '10.89.201.254', network: 'eth1' },
    ]);
    const s = d.topology.services[0]!;
    expect(s.health_check).to.deep.include({ type: 'http', path: '/status', status_code: 200, retry: 3 });
    expect(s.real_servers.map((r) => [r.method, r.port])).to.deep.equal([
      ['masq', 8443],
      ['masq', 8443],
      ['masq', 8443],
    ]);
    const unjudged = d.notes.filter((n) => n.severity === 'not-exercised');
    expect(unjudged).to.have.length(1);
    expect(unjudged[0]).to.deep.include({ file: `${V}/nat-a.conf`, line: 51 });
    expect(unjudged[0]!.message).to.match(/SSL_GET/);
    checkTranslated(d);
  });

  it("seed 002's VI_141/VI_142 pair: crossed priorities, the /26 kept in the text, a stand-in service said as a warning", () => {
    const d = pairOf(`${L}/seed002-vi14x-a.conf`, `${L}/seed002-vi14x-b.conf`);
    planDerived(d);
    const vrrp = d.topology.keepalived!.vrrp;
    expect(vrrp.map((v) => [v.name, v.virtual_router_id, v.priorities, v.auth_pass, v.vips[0]!.address])).to.deep.equal([
      ['VI_141', 141, { director1: 50, director2: 100 }, '141', '10.89.200.141'],
      ['VI_142', 142, { director1: 100, director2: 50 }, '142', '10.89.200.142'],
    ]);
    expect(d.topology.services.map((s) => [s.vip, s.balancer])).to.deep.equal([
      ['10.89.200.141', 'haproxy'],
      ['10.89.200.142', 'haproxy'],
    ]);
    expect(d.notes.filter((n) => n.severity === 'warning').map((n) => n.message)).to.satisfy((m: string[]) => m.some((x) => /stands HAProxy/.test(x)));
    const r = rewriteConf(readFileSync(`${L}/seed002-vi14x-a.conf`, 'utf8'), d.translation, 'director1', devOf).text;
    expect(r).to.include('10.89.200.141/26 dev lab-eth0');
    checkTranslated(d);
  });

  it('an ipvsadm-only NAT director from a script: VIP outside, real servers inside, weights kept', () => {
    const d = scriptOf(`${V}/nat-director.sh`);
    const { plan } = planDerived(d);
    expect(plan.nodes.filter((n) => n.role === 'director').map((n) => n.name)).to.deep.equal(['director1']);
    expect(d.topology.keepalived).to.equal(undefined);
    const s = d.topology.services[0]!;
    expect(s).to.deep.include({ vip: '10.89.200.151', port: 80, scheduler: 'rr' });
    expect(s.real_servers).to.deep.equal([
      { name: 'rs1', method: 'masq', weight: 1 },
      { name: 'rs2', method: 'masq', weight: 2 },
    ]);
    expect(d.topology.real_servers.map((r) => Object.values(r.networks)[0])).to.deep.equal(['10.89.201.110', '10.89.201.111']);
    expect(Object.keys(d.topology.clients[0]!.networks)).to.deep.equal([d.translation.networkOf('10.89.200.151')]);
  });

  it('one keepalived.conf without --peer: keepalived runs alone on the director, programs IPVS and runs the file\'s checks', () => {
    const d = derive({ keepalived: [keepalivedSource(`${V}/lone-nat.conf`)] });
    expect(d.topology.keepalived).to.deep.equal({ vrrp: [], sync_daemon: false });
    expect(d.topology.services[0]).to.deep.include({ vip: '10.89.200.80', port: 80, scheduler: 'wlc' });
    // the file's HTTP_GET, as the lab runs it (not dropped as it is for an ipvsadm-only director)
    expect(d.topology.services[0]!.health_check).to.deep.include({ type: 'http', path: '/health', status_code: 200, delay_loop: 3 });
    const { plan } = planDerived(d);
    const dir = plan.nodes.find((n) => n.name === 'director1')!;
    expect(dir.keepalived?.virtualServers).to.have.length(1);
    expect(dir.keepalived?.vrrpInstances ?? []).to.deep.equal([]);
    // nothing moves the VIP: it is the director's, put there by the builder
    expect(dir.addresses.map((a) => a.address)).to.deep.equal(['10.89.200.80']);
    expect(plan.vrrp).to.deep.equal([]);
  });

  it("seed 003: a VIP that is the director's own address is derived and planned as such", () => {
    const d = scriptOf(`${V}/own-vip-director.sh`);
    expect(d.topology.directors[0]!.networks).to.deep.equal({ ens256: '10.89.200.151', ens160: '10.89.201.222' });
    expect(d.topology.services[0]!.vip).to.equal('10.89.200.151');
    const { plan } = planDerived(d);
    expect(plan.services[0]!.vip).to.equal('10.89.200.151');
  });

  describe('what cannot be derived is a located error, never a crash', () => {
    const memory = (files: Record<string, string>) => ({ readFile: (p: string) => files[p] ?? (() => { throw new Error('ENOENT'); })(), glob: (p: string) => (p in files ? [p] : []) });

    it('an include that matches nothing names the including file and line', () => {
      const files = { 'a.conf': 'vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 10.1.1.1\n }\n}\ninclude services/*.conf\n' };
      const src = keepalivedSource('a.conf', memory(files));
      expect(() => derive({ keepalived: [src] })).to.throw(/a\.conf:8: error: .*services/);
    });

    it('no real server anywhere and no VRRP pair to stand in', () => {
      const files = { 'a.conf': 'global_defs {\n router_id a\n}\n' };
      try {
        derive({ keepalived: [keepalivedSource('a.conf', memory(files))] });
        expect.fail('derived');
      } catch (e) {
        expect((e as { code: string }).code).to.equal('ERR_LVS_VALIDATE');
        expect((e as Error).message).to.match(/no real server anywhere/);
      }
    });

    it('an lb_algo that is no scheduler is an error at its line', () => {
      const files = { 'a.conf': 'virtual_server 10.1.1.1 80 {\n lb_algo roundrobin\n real_server 10.1.1.11 80 {\n }\n}\n' };
      expect(() => derive({ keepalived: [keepalivedSource('a.conf', memory(files))] })).to.throw(/a\.conf:2: error: lb_algo roundrobin/);
    });

    it('arbitrary bytes derive or fail with a coded error', () => {
      const seedTexts = ['vrrp_instance {', '}}}', 'virtual_server fwmark x {\nreal_server\n}', 'vrrp_instance V { interface\nvirtual_ipaddress { 300.1.1.1 }\n}', '\u0000\u00ff{'];
      for (const text of seedTexts) {
        try {
          derive({ keepalived: [keepalivedSource('x.conf', { text, readFile: () => text })] });
        } catch (e) {
          expect((e as { code?: string }).code, text).to.equal('ERR_LVS_VALIDATE');
        }
      }
    });
  });

  it('lower-case lb_kind is taken as keepalived takes it (NAT), with a warning', () => {
    const a = readFileSync(`${V}/nat-a.conf`, 'utf8').replace('lb_kind NAT', 'lb_kind nat');
    const b = readFileSync(`${V}/nat-b.conf`, 'utf8').replace('lb_kind NAT', 'lb_kind nat');
    const d = derive({ keepalived: [keepalivedSource(path.join(V, 'nat-a.conf'), { text: a }), keepalivedSource(path.join(V, 'nat-b.conf'), { text: b })] });
    expect(d.topology.services[0]!.real_servers[0]!.method).to.equal('masq');
    expect(d.notes.some((n) => n.severity === 'warning' && /lb_kind nat/.test(n.message))).to.equal(true);
  });
});
