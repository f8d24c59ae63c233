import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * One directory per build step and key. A step writes into `<dir>.tmp`, then a manifest of
 * every file (size + checksum), then renames the directory into place: a half-finished build
 * never looks finished, and a damaged file (truncated, overwritten, missing) is detected on
 * the next use by comparing it with the manifest.
 */
export interface ManifestEntry {
  size: number;
  /** sha256 of the whole file, or of sampled windows for files larger than FULL_HASH_LIMIT */
  sha256: string;
  sampled: boolean;
}
export type Manifest = Record<string, ManifestEntry>;

const FULL_HASH_LIMIT = 64 * 1024 * 1024;
const WINDOW = 64 * 1024;
const WINDOWS = 256;

export async function checksum(file: string): Promise<ManifestEntry> {
  const { size } = await stat(file);
  const h = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    if (size <= FULL_HASH_LIMIT) {
      h.update(await fh.readFile());
      return { size, sha256: h.digest('hex'), sampled: false };
    }
    // large (often sparse) images: hash evenly spaced windows, first and last included
    const buf = Buffer.alloc(WINDOW);
    for (let i = 0; i < WINDOWS; i++) {
      const pos = Math.floor(((size - WINDOW) * i) / (WINDOWS - 1));
      const { bytesRead } = await fh.read(buf, 0, WINDOW, pos);
      h.update(buf.subarray(0, bytesRead));
    }
    return { size, sha256: h.digest('hex'), sampled: true };
  } finally {
    await fh.close();
  }
}

export class StepCache {
  constructor(readonly root: string) {}

  dir(step: string, key: string): string {
    return path.join(this.root, `${step}-${key}`);
  }

  /** 'ok', 'missing', or a sentence saying what is damaged */
  async verify(step: string, key: string, expectFiles: readonly string[] = []): Promise<'ok' | 'missing' | string> {
    const dir = this.dir(step, key);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      try {
        await stat(dir);
      } catch {
        return 'missing';
      }
      return code === 'ENOENT' ? `${dir}: manifest.json is missing` : `${dir}/manifest.json is unreadable`;
    }
    for (const f of expectFiles) if (!manifest[f]) return `${dir}: ${f} is not in the manifest`;
    for (const [name, want] of Object.entries(manifest)) {
      const file = path.join(dir, name);
      let got: ManifestEntry;
      try {
        got = want.sampled ? await checksum(file) : await quickEntry(file, want);
      } catch {
        return `${file} is missing`;
      }
      if (got.size !== want.size) return `${file} has ${got.size} bytes, ${want.size} expected`;
      if (got.sha256 !== want.sha256) return `${file} does not match its checksum`;
    }
    return 'ok';
  }

  /** Runs `produce` into a fresh temporary directory and commits it atomically. */
  async produce(step: string, key: string, produce: (tmpDir: string) => Promise<void>): Promise<string> {
    const dir = this.dir(step, key);
    const tmp = `${dir}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    try {
      await produce(tmp);
      const manifest: Manifest = {};
      for (const name of await listFiles(tmp)) manifest[name] = await checksum(path.join(tmp, name));
      await writeFile(path.join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2));
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    return dir;
  }

  async remove(step: string, key: string): Promise<void> {
    await rm(this.dir(step, key), { recursive: true, force: true });
  }

  /**
   * Removes every other key of the step (older recipes), and leftovers of interrupted builds.
   * `keep` may name several keys: those other releases' last builds still use.
   */
  async prune(step: string, keep: string | readonly string[]): Promise<string[]> {
    const kept = new Set((typeof keep === 'string' ? [keep] : keep).map((k) => `${step}-${k}`));
    const removed: string[] = [];
    let names: string[] = [];
    try {
      names = await readdir(this.root);
    } catch {
      return removed;
    }
    for (const n of names) {
      if (n.startsWith(`${step}-`) && !kept.has(n)) {
        await rm(path.join(this.root, n), { recursive: true, force: true });
        removed.push(n);
      }
    }
    return removed;
  }
}

async function quickEntry(file: string, want: ManifestEntry): Promise<ManifestEntry> {
  // small files: a size mismatch is decided without reading the content
  const { size } = await stat(file);
  if (size !== want.size) return { size, sha256: '', sampled: false };
  return checksum(file);
}

/** Regular files below dir, as relative paths; directories inside step outputs are walked. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = path.join(prefix, ent.name);
    if (ent.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (ent.isFile()) out.push(rel);
  }
  return out.sort();
}
