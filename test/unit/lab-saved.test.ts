import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileSignature, parseClockLine, savedKey } from '../../harness/lab/saved.js';

/** The saved lab's pure parts: its key, the restored guest's clock answer. */
describe('saved lab (key and clock answer)', () => {
  const base = { artifactsKey: 'a1', memoryMiB: 4096, cpus: 2, accel: 'tcg', qemuVersion: '7.2.22', files: { rootImage: '1:2:3', vmlinuz: '4:5:6' } };

  it('the key changes with anything the saved state depends on, and only then', () => {
    const k = savedKey(base);
    expect(savedKey({ ...base, files: { vmlinuz: '4:5:6', rootImage: '1:2:3' } })).to.equal(k);
    for (const changed of [{ artifactsKey: 'a2' }, { memoryMiB: 2048 }, { cpus: 4 }, { accel: 'kvm' }, { qemuVersion: '8.0.0' }, { files: { ...base.files, rootImage: '1:2:4' } }]) expect(savedKey({ ...base, ...changed }), JSON.stringify(changed)).to.not.equal(k);
  });

  it("a file's signature changes when the file is written again, and says missing for none", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lvsh-saved-'));
    try {
      const f = path.join(dir, 'root.img');
      await writeFile(f, 'one');
      const a = await fileSignature(f);
      await new Promise((r) => setTimeout(r, 20));
      await writeFile(f, 'two!');
      expect(await fileSignature(f)).to.not.equal(a);
      expect(await fileSignature(path.join(dir, 'nope'))).to.equal('missing');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the last clock answer on the console, after the saved boot lines', () => {
    const text = 'lab: ipvs loaded\nlab: ready kernel=6.1.0-57-amd64 ipvs=yes\nlab: clock set 1764470000.123456789 ipvs=yes\nlab: clock set 1764470100.5 ipvs=no\n';
    expect(parseClockLine(text)).to.deep.equal({ epoch: 1764470100.5, ipvs: false });
    expect(parseClockLine('lab: ready kernel=6.1.0-57-amd64 ipvs=yes\n')).to.equal(undefined);
    expect(parseClockLine('lab: clock set garbage ipvs=yes\n')).to.equal(undefined);
  });
});
