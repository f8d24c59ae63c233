import { expect } from 'chai';
import path from 'node:path';
import { lintCommand } from '../../harness/lint/command.js';
import { lint, RULES } from '../../harness/lint/lint.js';
import type { Finding } from '../../harness/lint/types.js';

/** `lint --ipvsadm RULES`: each rule on a fixture it fires on and one it stays silent on. */
const DIR = path.join(import.meta.dirname, '../fixtures/lint');
const rules = (f: string) => path.join(DIR, 'ipvsadm', f);
const GOOD_A = path.join(DIR, 'good-a.conf');

/** the findings on the rules file, with or without good-a.conf beside it */
function run(f: string, withConf = true): Finding[] {
  const r = lint({ files: withConf ? [GOOD_A] : [], ipvsadm: rules(f) });
  return r.find((x) => x.file === rules(f))!.findings;
}
const ids = (fs: Finding[]) => fs.map((f) => `${f.rule}@${f.line}:${f.severity}`);

describe('lint --ipvsadm', () => {
  it('a director script beside the keepalived file that holds its VIP is silent; so is a real server\u2019s script', () => {
    expect(run('good-dr.sh')).to.deep.equal([]);
    expect(run('good-dr.sh', false)).to.deep.equal([]);
    expect(run('realserver.sh')).to.deep.equal([]);
  });

  it('ipvsadm-parse: a refused line is an error with its line and what is allowed; an unevaluated loop a warning', () => {
    const [f] = run('bad-weight.rules', false);
    expect(ids([f!])).to.deep.equal(['ipvsadm-parse@2:error']);
    expect(f!.message).to.include('illegal weight "heavy"');
    expect(f!.hint).to.include('0-65535');
    expect(ids(run('loop.sh', false))).to.deep.equal(['ipvsadm-parse@3:warning']);
  });

  it('dr-port: a -g real server on another port, said once (not again as a parser warning)', () => {
    const fs = run('dr-port.rules', false);
    expect(ids(fs)).to.deep.equal(['dr-port@2:error']);
    expect(fs[0]!.message).to.include('reach 10.0.0.21 on port 443, not 8443');
  });

  it('vip-not-held: a service on an address no instance of the keepalived files holds; silent without keepalived files', () => {
    const fs = run('vip-not-held.rules');
    expect(ids(fs)).to.deep.equal(['vip-not-held@1:error']);
    expect(fs[0]!.message).to.include('10.0.0.200 is not a VIP');
    expect(run('vip-not-held.rules', false)).to.deep.equal([]);
  });

  it('ipvsadm-keepalived-both: error when the virtual_server differs, warning when it is the same service', () => {
    const differ = run('both-differ.rules');
    expect(ids(differ)).to.deep.equal(['ipvsadm-keepalived-both@1:error']);
    expect(differ[0]!.message).to.include('scheduler rr vs wrr').and.include('both would program IPVS').and.include('good-a.conf:39');
    expect(ids(run('both-same.rules'))).to.deep.equal(['ipvsadm-keepalived-both@1:warning']);
    expect(run('both-same.rules', false)).to.deep.equal([]);
  });

  it('host-setup-method: a director putting its VIP on lo with arp_ignore; ip_forward=0 with NAT servers', () => {
    const arp = run('director-arp.sh', false);
    expect(ids(arp)).to.deep.equal(['host-setup-method@3:error']);
    expect(arp[0]!.message).to.include('no ARP answer for the VIP');
    const nat = run('nat-no-forward.sh', false);
    expect(ids(nat)).to.deep.equal(['host-setup-method@3:error']);
    expect(nat[0]!.message).to.include('ip_forward=0');
  });

  it('every ipvsadm rule id is in RULES once (SARIF, README table)', () => {
    for (const id of ['ipvsadm-parse', 'dr-port', 'vip-not-held', 'ipvsadm-keepalived-both', 'host-setup-method']) expect(RULES.filter((r) => r.id === id), id).to.have.length(1);
  });

  it('the command takes --ipvsadm alone, prints the rules file in json, exits 1 on an error', () => {
    const out = lintCommand(['--ipvsadm', rules('dr-port.rules'), '--format', 'json']);
    expect(out.code).to.equal(1);
    const json = JSON.parse(out.text);
    expect(json.map((r: { file: string }) => r.file)).to.deep.equal([rules('dr-port.rules')]);
    expect(json[0].parsed.services).to.have.length(1);
    expect(lintCommand(['--ipvsadm', rules('good-dr.sh'), GOOD_A]).code).to.equal(0);
  });
});
