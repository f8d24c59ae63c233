import { expect } from 'chai';
import type Docker from 'dockerode';
import { adoptable, L, teardown } from '../../harness/topology/builder.js';

/**
 * dockerd's stale endpoint count (a network that says "has active endpoints" with nothing
 * attached) cannot be made on purpose in the lab, so teardown's and the build's handling of it
 * are tested here on a stand-in engine that answers as dockerd 20.10 did in CI.
 */
interface FakeNet {
  Id: string;
  Name: string;
  Labels: Record<string, string>;
  IPAM: { Config: { Subnet: string }[] };
  Containers: Record<string, { Name: string }>;
  /** endpoints dockerd counts; above the attached ones, the network cannot go */
  count: number;
}

function engine(nets: FakeNet[], containers: { Id: string; Names: string[]; Labels: Record<string, string> }[] = []) {
  const calls: string[] = [];
  const docker = {
    listContainers: async () => containers.map((c) => ({ ...c })),
    listNetworks: async () => nets.map((n) => ({ Id: n.Id, Name: n.Name, Labels: n.Labels })),
    getContainer: (id: string) => ({
      remove: async () => {
        calls.push(`rm ${id}`);
        const i = containers.findIndex((c) => c.Id === id);
        if (i >= 0) {
          for (const n of nets) if (n.Containers[id]) (delete n.Containers[id], n.count--);
          containers.splice(i, 1);
        }
      },
    }),
    getNetwork: (id: string) => {
      const find = () => nets.find((n) => n.Id === id || n.Name === id);
      return {
        inspect: async () => {
          const n = find();
          if (!n) throw new Error(`network ${id} not found`);
          return JSON.parse(JSON.stringify(n));
        },
        disconnect: async (o: { Container: string }) => {
          calls.push(`disconnect ${o.Container}`);
          throw new Error(`endpoint ${o.Container} not found`);
        },
        remove: async () => {
          const n = find();
          if (!n) throw new Error('no such network');
          if (n.count > 0) throw new Error(`(HTTP code 403) unexpected - error while removing network: network ${n.Name} id ${n.Id} has active endpoints`);
          nets.splice(nets.indexOf(n), 1);
        },
      };
    },
  };
  return { docker: docker as unknown as Docker, calls, nets };
}

const net = (o: Partial<FakeNet> = {}): FakeNet => ({ Id: 'n1', Name: 'lvsh-dr-lan', Labels: { [L.topology]: 'dr', [L.base]: 'true' }, IPAM: { Config: [{ Subnet: '10.89.30.0/24' }] }, Containers: {}, count: 0, ...o });

describe('a network dockerd will not let go (stale endpoint count)', function () {
  this.timeout(20_000);

  it('teardown leaves it in place after three refusals with nothing attached, says so once, and does not fail', async () => {
    const e = engine([net({ count: 1 })]);
    const logs: string[] = [];
    const n = await teardown(e.docker, { topology: 'dr' }, (m) => logs.push(m));
    expect(n).to.equal(0);
    expect(logs.filter((l) => l.includes('left in place'))).to.have.length(1);
    expect(logs[0]).to.contain('network lvsh-dr-lan left in place: dockerd still counts an endpoint on it though nothing is attached');
    expect(e.nets).to.have.length(1);
  });

  it('a network with a container still attached is no stale one: teardown fails naming it, and leaves nothing unsaid', async () => {
    const e = engine([net({ count: 1, Containers: { c9: { Name: 'elsewhere' } } })]);
    const logs: string[] = [];
    const err = await teardown(e.docker, { topology: 'dr' }, (m) => logs.push(m), { deadlineMs: 3_000 }).then(
      () => undefined,
      (x: Error) => x,
    );
    expect(err?.message).to.contain('could not remove everything of dr').and.contain('network lvsh-dr-lan').and.contain('has active endpoints');
    expect(logs.join('\n')).to.not.contain('left in place');
  });

  it('a network that goes normally is removed and counted', async () => {
    const e = engine([net()], [{ Id: 'c1', Names: ['/lvsh-dr-rs1'], Labels: { [L.topology]: 'dr' } }]);
    e.nets[0]!.Containers.c1 = { Name: 'lvsh-dr-rs1' };
    e.nets[0]!.count = 1;
    const logs: string[] = [];
    expect(await teardown(e.docker, { topology: 'dr' }, (m) => logs.push(m))).to.equal(2);
    expect(e.nets).to.have.length(0);
    expect(logs).to.deep.equal(['removed 1 containers and 1 networks of dr']);
  });

  describe('the build adopts it only when it is the planned network', () => {
    const planned = { name: 'lan', dockerName: 'lvsh-dr-lan', subnet: '10.89.30.0/24' } as Parameters<typeof adoptable>[1];
    it('same name, topology and subnet, nothing attached: adopted', async () => {
      expect(await adoptable(engine([net({ count: 1 })]).docker, planned, 'dr')).to.equal('subnets 10.89.30.0/24, nothing attached');
    });
    it('another subnet, another topology, something attached, or no such network: not adopted', async () => {
      expect(await adoptable(engine([net({ IPAM: { Config: [{ Subnet: '10.89.31.0/24' }] } })]).docker, planned, 'dr')).to.equal(undefined);
      expect(await adoptable(engine([net()]).docker, planned, 'dr-twin')).to.equal(undefined);
      expect(await adoptable(engine([net({ Containers: { c1: { Name: 'x' } } })]).docker, planned, 'dr')).to.equal(undefined);
      expect(await adoptable(engine([]).docker, planned, 'dr')).to.equal(undefined);
      expect(await adoptable(engine([net()]).docker, { ...planned, subnet6: 'fd89:30::/64' } as typeof planned, 'dr')).to.equal(undefined);
    });
  });
});
