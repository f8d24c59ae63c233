import { expect } from 'chai';
import { servingDirector } from '../../harness/observe/modes.js';
import { topologyFile } from '../../harness/topology/commands.js';
import { loadTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';

const planOf = async (name: string) => plan(await loadTopology(topologyFile(name)));

describe('modes: the director whose counters are read for a service', () => {
  it('in active-active, each VIP on the director that is MASTER for it (its counters carry the traffic)', async () => {
    const p = await planOf('active-active');
    const byVip = Object.fromEntries(p.services.map((s) => [s.vip, servingDirector(p, s)]));
    for (const v of p.vrrp ?? []) for (const x of v.vips) if (byVip[x.address]) expect(byVip[x.address], x.address).to.equal(v.master);
    expect(new Set(Object.values(byVip)).size, 'both directors serve').to.equal(2);
  });

  it('on a pair, the planned MASTER; without keepalived, the director on the VIP network', async () => {
    const ha = await planOf('nat-ha');
    for (const s of ha.services) expect(servingDirector(ha, s)).to.equal(ha.vrrp![0]!.master);
    const nat = await planOf('nat');
    for (const s of nat.services) expect(servingDirector(nat, s)).to.equal(nat.nodes.find((n) => n.role === 'director')!.name);
  });
});
