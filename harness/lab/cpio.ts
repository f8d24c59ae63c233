import { gzipSync } from 'node:zlib';

/**
 * A minimal writer for the "newc" cpio format the kernel unpacks as an initramfs,
 * so building the lab needs no cpio binary.
 */
export interface CpioEntry {
  name: string;
  /** file type and permission bits, e.g. 0o100755 for an executable, 0o040755 for a directory */
  mode: number;
  data?: Buffer;
  /** for symlinks: the target */
  link?: string;
}

export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

const hex8 = (n: number) => n.toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, body: Buffer) => {
    const nameBuf = Buffer.from(name + '\0');
    const header =
      '070701' +
      hex8(ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8((mode & 0o170000) === S_IFDIR ? 2 : 1) + // nlink
      hex8(0) + // mtime: fixed, so the archive is reproducible
      hex8(body.length) +
      hex8(0) + hex8(0) + // dev major/minor
      hex8(0) + hex8(0) + // rdev major/minor
      hex8(nameBuf.length) +
      hex8(0); // checksum (unused by newc)
    const head = Buffer.concat([Buffer.from(header, 'ascii'), nameBuf]);
    parts.push(head, Buffer.alloc(pad4(head.length)), body, Buffer.alloc(pad4(body.length)));
  };
  for (const e of entries) {
    const body = e.link !== undefined ? Buffer.from(e.link) : (e.data ?? Buffer.alloc(0));
    push(e.name.replace(/^\/+/, ''), e.mode, body);
  }
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

export const gzipCpio = (entries: readonly CpioEntry[]) => gzipSync(cpioNewc(entries), { level: 6 });
