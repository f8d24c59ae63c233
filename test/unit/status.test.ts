import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labPaths } from '../../harness/lab/paths.js';
import { labDown, labStatus } from '../../harness/lab/vm.js';

describe('lab status from state', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'lvs-lab-'));
  });
  afterEach(() => rm(home, { recursive: true, force: true }));

  it('reports not running when there is no state', async () => {
    expect(await labStatus({ paths: labPaths(home) })).to.deep.equal({ running: false, pid: null, endpoint: null, kernel: null, ipvs: null, uptimeSeconds: null });
  });

  it('does not mistake a live process that reused the pid for the lab, and down clears the stale state', async () => {
    const p = labPaths(home);
    await mkdir(p.run, { recursive: true });
    await writeFile(p.state, JSON.stringify({ pid: process.pid, port: 1, startedAt: new Date().toISOString(), rootImage: '/x/root.img', tlsDir: '/x' }));
    await writeFile(p.console, 'lab: ready kernel=6.1.0 ipvs=yes\n');
    expect((await labStatus({ paths: p })).running).to.equal(false);
    const r = await labDown({ paths: p, log: () => {} });
    expect(r.stopped).to.deep.equal([]);
    expect(await labStatus({ paths: p })).to.include({ running: false });
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(home)).to.deep.equal(['last-console.log']);
  });
});
