import { expect } from 'chai';
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StepCache } from '../../harness/lab/cache.js';

describe('step cache', () => {
  let root: string;
  let cache: StepCache;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'lvs-cache-'));
    cache = new StepCache(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const produce = () =>
    cache.produce('kernel', 'k1', async (d) => {
      await writeFile(path.join(d, 'vmlinuz'), 'kernel bytes');
      await mkdir(path.join(d, 'sub'));
      await writeFile(path.join(d, 'sub', 'x'), 'x');
    });

  it('is missing before a build and ok after', async () => {
    expect(await cache.verify('kernel', 'k1')).to.equal('missing');
    await produce();
    expect(await cache.verify('kernel', 'k1', ['vmlinuz', 'sub/x'])).to.equal('ok');
  });

  it('detects a truncated file', async () => {
    await produce();
    await truncate(path.join(cache.dir('kernel', 'k1'), 'vmlinuz'), 3);
    expect(await cache.verify('kernel', 'k1')).to.match(/vmlinuz has 3 bytes, 12 expected/);
  });

  it('detects a file changed in place (same size)', async () => {
    await produce();
    await writeFile(path.join(cache.dir('kernel', 'k1'), 'vmlinuz'), 'kernel BYTES');
    expect(await cache.verify('kernel', 'k1')).to.match(/does not match its checksum/);
  });

  it('detects a deleted file and a lost manifest', async () => {
    await produce();
    await rm(path.join(cache.dir('kernel', 'k1'), 'sub', 'x'));
    expect(await cache.verify('kernel', 'k1')).to.match(/sub\/x is missing/);
    await rm(path.join(cache.dir('kernel', 'k1'), 'manifest.json'));
    expect(await cache.verify('kernel', 'k1')).to.match(/manifest.json is missing/);
  });

  it('samples large files and still notices damage in the middle', async () => {
    const big = Buffer.alloc(80 * 1024 * 1024, 7);
    await cache.produce('root-image', 'r1', (d) => writeFile(path.join(d, 'root.img'), big));
    const m = JSON.parse(await readFile(path.join(cache.dir('root-image', 'r1'), 'manifest.json'), 'utf8'));
    expect(m['root.img'].sampled).to.equal(true);
    expect(await cache.verify('root-image', 'r1')).to.equal('ok');
    const damaged = Buffer.from(big);
    damaged.fill(0, 40 * 1024 * 1024, 41 * 1024 * 1024);
    await writeFile(path.join(cache.dir('root-image', 'r1'), 'root.img'), damaged);
    expect(await cache.verify('root-image', 'r1')).to.match(/does not match its checksum/);
  });

  it('a failed step leaves nothing that looks finished', async () => {
    let err: Error | undefined;
    await cache
      .produce('kernel', 'k2', async (d) => {
        await writeFile(path.join(d, 'half'), 'x');
        throw new Error('download broke');
      })
      .catch((e: Error) => (err = e));
    expect(err?.message).to.equal('download broke');
    expect(await cache.verify('kernel', 'k2')).to.equal('missing');
    expect(await readdir(root)).to.deep.equal([]);
  });

  it('prunes older keys of a step', async () => {
    await produce();
    await cache.produce('kernel', 'k0', async (d) => writeFile(path.join(d, 'a'), 'a'));
    await appendFile(path.join(root, 'other-zz'), '');
    expect(await cache.prune('kernel', 'k1')).to.deep.equal(['kernel-k0']);
    expect((await readdir(root)).sort()).to.deep.equal(['kernel-k1', 'other-zz']);
  });
});
