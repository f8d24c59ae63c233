import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findHostNode, hostNodeOptions } from '../../harness/topology/hosts.js';
import type { SshNodeOptions } from '../../harness/runtime/ssh-node.js';
import type { Node } from '../../harness/runtime/node.js';

// `lvs-harness exec` and `ipvs` on a real host: the node found in the nodes.json a build wrote
describe('exec and ipvs on an SSH host: finding the node', () => {
  let root: string;
  const saved = process.env.LVS_HARNESS_HOST_STATE;
  const made: SshNodeOptions[] = [];
  const make = (o: SshNodeOptions) => (made.push(o), { name: o.name } as unknown as Node);
  const nodesJson = async (topology: string, nodes: unknown) => {
    await mkdir(path.join(root, topology), { recursive: true });
    await writeFile(path.join(root, topology, 'nodes.json'), typeof nodes === 'string' ? nodes : JSON.stringify({ version: 1, topology, nodes }));
  };
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'lvsh-hosts-'));
    process.env.LVS_HARNESS_HOST_STATE = root;
    await nodesJson('staging', { director: { name: 'director', host: '192.0.2.10', port: 22, user: 'ops', sudo: true, keyFile: '/k' }, rs1: { name: 'rs1', host: '192.0.2.11', user: 'root' } });
    await nodesJson('edge', { director: { name: 'director', host: '198.51.100.5', user: 'root' } });
    await nodesJson('broken', '{not json');
    await nodesJson('odd', { rs9: 'not an object', rs8: { port: 22 } });
  });
  after(async () => {
    if (saved === undefined) delete process.env.LVS_HARNESS_HOST_STATE;
    else process.env.LVS_HARNESS_HOST_STATE = saved;
    await rm(root, { recursive: true, force: true });
  });

  it('finds a host by name across the topologies built here, with how to reach it', async () => {
    made.length = 0;
    const n = await findHostNode('rs1', undefined, make);
    expect(n?.name).to.equal('rs1');
    expect(made).to.deep.equal([{ name: 'rs1', host: '192.0.2.11', user: 'root' }]);
  });

  it('asks for --topology when two topologies have a host of that name, and takes the one named', async () => {
    let err: Error | undefined;
    await findHostNode('director', undefined, make).catch((e: Error) => (err = e));
    expect(err?.message).to.equal('node "director" is a host of several topologies (edge, staging)');
    made.length = 0;
    await findHostNode('director', 'edge', make);
    expect(made[0]!.host).to.equal('198.51.100.5');
  });

  it('is silent (the lab is asked next) for a name no host has, an unknown topology, and unreadable or odd files', async () => {
    expect(await findHostNode('client', undefined, make)).to.equal(undefined);
    expect(await findHostNode('rs1', 'nowhere', make)).to.equal(undefined);
    expect(await hostNodeOptions('broken')).to.deep.equal({});
    expect(await hostNodeOptions('odd')).to.deep.equal({});
    expect(await findHostNode('rs9', undefined, make)).to.equal(undefined);
  });
});
