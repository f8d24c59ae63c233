import { expect } from 'chai';
import { gunzipSync } from 'node:zlib';
import { S_IFDIR, S_IFLNK, S_IFREG, cpioNewc, gzipCpio } from '../../harness/lab/cpio.js';

/** An independent reader of the newc format, to check the writer against the spec. */
function readNewc(buf: Buffer) {
  const out: { name: string; mode: number; data: Buffer }[] = [];
  let off = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    const h = buf.subarray(off, off + 110).toString('ascii');
    expect(h.slice(0, 6)).to.equal('070701');
    const field = (i: number) => parseInt(h.slice(6 + i * 8, 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = buf.subarray(off + 110, off + 110 + nameSize - 1).toString();
    off = align(off + 110 + nameSize);
    const data = buf.subarray(off, off + size);
    off = align(off + size);
    if (name === 'TRAILER!!!') break;
    out.push({ name, mode, data });
  }
  expect(off).to.equal(buf.length);
  return out;
}

describe('initramfs cpio writer', () => {
  it('writes entries the newc way: names, modes, data, 4-byte alignment, trailer', () => {
    const entries = [
      { name: '/bin', mode: S_IFDIR | 0o755 },
      { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
      { name: 'bin/sh', mode: S_IFLNK | 0o777, link: 'busybox' },
      { name: 'odd', mode: S_IFREG | 0o644, data: Buffer.from('abcde') },
    ];
    const got = readNewc(cpioNewc(entries));
    expect(got.map((e) => e.name)).to.deep.equal(['bin', 'init', 'bin/sh', 'odd']);
    expect(got[1]!.mode).to.equal(S_IFREG | 0o755);
    expect(got[1]!.data.toString()).to.equal('#!/bin/sh\necho hi\n');
    expect(got[2]!.data.toString()).to.equal('busybox');
    expect(got[3]!.data.toString()).to.equal('abcde');
  });

  it('is reproducible and gzip-wrapped', () => {
    const e = [{ name: 'a', mode: S_IFREG | 0o644, data: Buffer.from('x') }];
    expect(gzipCpio(e).equals(gzipCpio(e))).to.equal(true);
    expect(readNewc(gunzipSync(gzipCpio(e)))[0]!.name).to.equal('a');
  });
});
