import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { diagnose } from '../../harness/diagnose/diagnose.js';
import { formatStaticWarning, staticWarnings } from '../../harness/diagnose/static.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { shippedTopologies } from '../../harness/topology/commands.js';
import { evidenceOf } from '../diagnose-helpers.js';

const load = (file: string, change?: (d: any) => void) => {
  const doc = YAML.parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'));
  change?.(doc);
  const t = parseTopology(YAML.stringify(doc), file);
  return { t, p: plan(t) };
};
const warnings = (file: string, change?: (d: any) => void) => {
  const { t, p } = load(file, change);
  return staticWarnings(t, p);
};

describe('diagnose: load-time warnings from a topology\'s own sysctls', () => {
  it('no shipped topology warns', () => {
    for (const name of shippedTopologies()) expect(warnings(`topologies/${name}.yaml`), name).to.deep.equal([]);
  });

  it('DR real servers with the ARP sysctls overridden: arp-flux, one per server, where the file says it', () => {
    const ws = warnings('test/fixtures/broken/dr-noarp.yaml');
    expect(ws.map((w) => [w.cause, w.node, w.path])).to.deep.equal([
      ['arp-flux', 'rs1', 'real_servers[0].sysctls'],
      ['arp-flux', 'rs2', 'real_servers[1].sysctls'],
      ['arp-flux', 'rs3', 'real_servers[2].sysctls'],
    ]);
    expect(formatStaticWarning('test/fixtures/broken/dr-noarp.yaml', ws[0]!)).to.match(/^test\/fixtures\/broken\/dr-noarp\.yaml: real_servers\[0\]\.sysctls sets net\.ipv4\.conf\.all\.arp_ignore: 0, net\.ipv4\.conf\.lo\.arp_ignore: 0, net\.ipv4\.conf\.all\.arp_announce: 0, net\.ipv4\.conf\.lo\.arp_announce: 0: rs1 answers or announces ARP/);
  });

  it('says the sentence the run would say', () => {
    const w = warnings('test/fixtures/broken/nat-noforward.yaml')[0]!;
    expect(w.cause).to.equal('nat-no-forward');
    const run = diagnose({ plan: load('topologies/nat.yaml').p, evidence: evidenceOf('nat', 'nat-noforward'), check: { name: 'x', valid: false } });
    expect(run[0]!.sentence).to.equal(w.sentence);
    expect(run[0]!.fix).to.equal(w.fix);
  });

  it('TUN real servers with rp_filter strict', () => {
    expect(warnings('test/fixtures/broken/tun-rpfilter.yaml').map((w) => `${w.cause} ${w.node}`)).to.deep.equal(['tun-rp-filter rs1', 'tun-rp-filter rs2', 'tun-rp-filter rs3']);
  });

  it('full-NAT with vs.conntrack off', () => {
    const ws = warnings('topologies/fullnat.yaml', (d) => (d.directors[0].sysctls = { 'net.ipv4.vs.conntrack': 0 }));
    expect(ws.map((w) => [w.cause, w.keys])).to.deep.equal([['fullnat-no-conntrack', { 'net.ipv4.vs.conntrack': '0' }]]);
  });

  it('stays silent where an override does not break the mode', () => {
    // the device facing the clients raises arp_ignore as the kernel's max does; loose rp_filter works for TUN
    expect(warnings('topologies/dr.yaml', (d) => (d.real_servers[0].sysctls = { 'net.ipv4.conf.all.arp_ignore': 0, 'net.ipv4.conf.eth0.arp_ignore': 1 }))).to.deep.equal([]);
    expect(warnings('topologies/tun.yaml', (d) => (d.real_servers[0].sysctls = { 'net.ipv4.conf.all.rp_filter': 2 }))).to.deep.equal([]);
    expect(warnings('topologies/nat.yaml', (d) => (d.real_servers[0].sysctls = { 'net.ipv4.ip_forward': 0 }))).to.deep.equal([]);
    // ARP does not matter for a NAT real server, nor rp_filter for a DR one
    expect(warnings('topologies/nat.yaml', (d) => (d.real_servers[0].sysctls = { 'net.ipv4.conf.all.arp_ignore': 0 }))).to.deep.equal([]);
    expect(warnings('topologies/dr.yaml', (d) => (d.real_servers[0].sysctls = { 'net.ipv4.conf.all.rp_filter': 1 }))).to.deep.equal([]);
  });

  it('never throws', () => {
    expect(staticWarnings({} as never, {} as never)).to.deep.equal([]);
  });
});
