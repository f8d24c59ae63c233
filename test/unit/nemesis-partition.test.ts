import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { deleteRestore, insertRestore, ownAddresses, partitionComment, partitionRules, planVips, restoreArgv } from '../../harness/nemesis/partition.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan, type PlannedNode } from '../../harness/topology/planner.js';

const shipped = (name: string): Plan => plan(parseTopology(readFileSync(path.join(REPO_ROOT, 'topologies', `${name}.yaml`), 'utf8'), `topologies/${name}.yaml`));
const node = (p: Plan, n: string): PlannedNode => p.nodes.find((x) => x.name === n)!;

describe('nemesis: partition rules', () => {
  it('dr client/rs1: rs1 drops all 16 client source addresses both ways, the client drops rs1\'s RIP, never the VIP', () => {
    const p = shipped('dr');
    const rules = partitionRules(p, node(p, 'client'), node(p, 'rs1'));
    const onClient = rules.filter((r) => r.node === 'client');
    expect(onClient).to.deep.equal([
      { node: 'client', family: 4, chain: 'INPUT', match: ['-s', '10.89.30.11'] },
      { node: 'client', family: 4, chain: 'OUTPUT', match: ['-d', '10.89.30.11'] },
    ]);
    const onRs1 = rules.filter((r) => r.node === 'rs1');
    expect(onRs1).to.have.length(32);
    const clientAddrs = ['10.89.30.3', ...node(p, 'client').addresses.map((a) => a.address)];
    expect(onRs1.filter((r) => r.chain === 'INPUT').map((r) => r.match)).to.deep.equal(clientAddrs.map((a) => ['-s', a]));
    expect(onRs1.filter((r) => r.chain === 'OUTPUT').map((r) => r.match)).to.deep.equal(clientAddrs.map((a) => ['-d', a]));
    // rs1 holds the VIP on lo (DR): dropping it would cut the client off every real server
    expect(rules.some((r) => r.match[1] === '10.89.30.100')).to.equal(false);
  });

  it('a director\'s VIP is shared and left out; IPv6 addresses get ip6tables rules (nat, dual-stack)', () => {
    const p = shipped('nat');
    expect(ownAddresses(node(p, 'director'), planVips(p))).to.deep.equal(['10.89.10.2', 'fd89:10::2', '10.89.20.2', 'fd89:20::2']);
    const rules = partitionRules(p, node(p, 'director'), node(p, 'rs2'));
    expect(rules.filter((r) => r.node === 'rs2').map((r) => `${r.family} ${r.chain} ${r.match.join(' ')}`)).to.deep.equal([
      '4 INPUT -s 10.89.10.2',
      '4 OUTPUT -d 10.89.10.2',
      '6 INPUT -s fd89:10::2',
      '6 OUTPUT -d fd89:10::2',
      '4 INPUT -s 10.89.20.2',
      '4 OUTPUT -d 10.89.20.2',
      '6 INPUT -s fd89:20::2',
      '6 OUTPUT -d fd89:20::2',
    ]);
    expect(rules.filter((r) => r.node === 'director').map((r) => r.match[1])).to.deep.equal(['10.89.20.12', '10.89.20.12', 'fd89:20::12', 'fd89:20::12']);
  });

  it('two keepalived directors drop each other\'s interface address, which VRRP adverts come from, and not the VRRP VIP', () => {
    const p = shipped('dr-ha');
    const rules = partitionRules(p, node(p, 'director1'), node(p, 'director2'));
    expect(rules.map((r) => `${r.node} ${r.chain} ${r.match.join(' ')}`)).to.deep.equal([
      'director1 INPUT -s 10.89.130.3',
      'director1 OUTPUT -d 10.89.130.3',
      'director2 INPUT -s 10.89.130.2',
      'director2 OUTPUT -d 10.89.130.2',
    ]);
    expect(planVips(p).has('10.89.130.100')).to.equal(true);
  });

  it('renders one iptables-restore insert per node and family, and deletes exactly the rules with its comment', () => {
    const p = shipped('dr-ha');
    const rules = partitionRules(p, node(p, 'director1'), node(p, 'director2'));
    const comment = partitionComment('director1', 'director2', '0a1b2c3d');
    expect(restoreArgv(4)).to.deep.equal(['iptables-restore', '-w', '10', '--noflush']);
    expect(restoreArgv(6)[0]).to.equal('ip6tables-restore');
    expect(insertRestore(rules.filter((r) => r.node === 'director1'), comment)).to.equal(
      [
        '*filter',
        '-I INPUT -s 10.89.130.3 -m comment --comment "lvs-harness partition director1/director2 0a1b2c3d" -j DROP',
        '-I OUTPUT -d 10.89.130.3 -m comment --comment "lvs-harness partition director1/director2 0a1b2c3d" -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    );
    // what `iptables -S` lists in director1 with this partition, another one and a planner rule
    const listed = [
      '-P INPUT ACCEPT',
      '-P FORWARD ACCEPT',
      '-P OUTPUT ACCEPT',
      '-A INPUT -s 10.89.130.3/32 -m comment --comment "lvs-harness partition director1/director2 0a1b2c3d" -j DROP',
      '-A INPUT -s 10.89.130.3/32 -m comment --comment "lvs-harness partition director1/director2 ffff0000" -j DROP',
      '-A INPUT -s 10.89.130.5/32 -j DROP',
      '-A OUTPUT -d 10.89.130.3/32 -m comment --comment "lvs-harness partition director1/director2 0a1b2c3d" -j DROP',
    ].join('\n');
    expect(deleteRestore(listed, comment)).to.equal(
      [
        '*filter',
        '-D INPUT -s 10.89.130.3/32 -m comment --comment "lvs-harness partition director1/director2 0a1b2c3d" -j DROP',
        '-D OUTPUT -d 10.89.130.3/32 -m comment --comment "lvs-harness partition director1/director2 0a1b2c3d" -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(deleteRestore('-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n', comment)).to.equal(undefined);
  });
});
