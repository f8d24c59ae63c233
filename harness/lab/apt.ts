import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { run } from '../util/proc.js';

/**
 * The Debian archive this machine's apt is configured with: the lab is built from the same
 * archive (and so reaches only what apt reaches), never from a hard-coded mirror.
 */
export function parseAptSources(files: { name: string; text: string }[], suite: string): string | undefined {
  for (const f of files) {
    if (f.name.endsWith('.sources')) {
      for (const stanza of f.text.split(/\n\s*\n/)) {
        const field = (k: string) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, 'mi'))?.[1]?.trim();
        if ((field('Enabled') ?? 'yes').toLowerCase() === 'no') continue;
        const types = (field('Types') ?? '').split(/\s+/);
        const suites = (field('Suites') ?? '').split(/\s+/);
        const uris = (field('URIs') ?? '').split(/\s+/).filter(Boolean);
        if (types.includes('deb') && suites.includes(suite) && uris[0]) return uris[0].replace(/\/+$/, '');
      }
    } else {
      for (const raw of f.text.split('\n')) {
        const line = raw.replace(/#.*/, '').trim();
        // deb [options] uri suite components...
        const m = line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/);
        if (m && m[2] === suite) return m[1]!.replace(/\/+$/, '');
      }
    }
  }
  return undefined;
}

export async function debianMirror(suite: string, root = '/etc/apt'): Promise<string> {
  const files: { name: string; text: string }[] = [];
  const tryRead = async (p: string) => {
    try {
      files.push({ name: p, text: await readFile(p, 'utf8') });
    } catch {
      /* absent */
    }
  };
  await tryRead(path.join(root, 'sources.list'));
  try {
    for (const n of (await readdir(path.join(root, 'sources.list.d'))).sort()) await tryRead(path.join(root, 'sources.list.d', n));
  } catch {
    /* absent */
  }
  const uri = parseAptSources(files, suite);
  if (!uri)
    throw new HarnessError('ERR_LVS_NO_ARCHIVE', `no Debian archive for "${suite}" is configured in ${root}/sources.list(.d)`, {
      hint: `add a "deb <archive> ${suite} main" source, then apt-get update`,
    });
  return uri;
}

/** Parses `apt-cache depends <meta>` output for the package a metapackage depends on. */
export function parseDependsTarget(output: string, prefix: string): string | undefined {
  for (const line of output.split('\n')) {
    const m = line.match(/^\s*Depends:\s*(\S+)/);
    if (m && m[1]!.startsWith(prefix)) return m[1];
  }
  return undefined;
}

/** Parses `apt-cache policy <pkg>` for the candidate version. */
export function parseCandidate(output: string): string | undefined {
  const v = output.match(/^\s*Candidate:\s*(\S+)/m)?.[1];
  return v && v !== '(none)' ? v : undefined;
}

export async function resolveKernelPackage(meta: string): Promise<{ pkg: string; version: string }> {
  const dep = await run(['apt-cache', 'depends', meta], { allowFailure: true, pkg: 'apt' });
  const pkg = parseDependsTarget(dep.stdout, 'linux-image-');
  const policy = pkg ? await run(['apt-cache', 'policy', pkg], { allowFailure: true }) : undefined;
  const version = policy ? parseCandidate(policy.stdout) : undefined;
  if (!pkg || !version)
    throw new HarnessError('ERR_LVS_KERNEL_UNKNOWN', `apt does not know the kernel package behind ${meta}`, {
      hint: 'the package lists are empty or stale: run `apt-get update` (as root), then build again',
    });
  return { pkg, version };
}

/** Downloads one .deb from the configured archive into dir; returns its path. */
export async function aptDownload(pkg: string, version: string | undefined, dir: string): Promise<string> {
  const spec = version ? `${pkg}=${version}` : pkg;
  await run(['apt-get', 'download', '-q', '-o', 'APT::Sandbox::User=root', spec], { cwd: dir, timeoutMs: 10 * 60_000 });
  const deb = (await readdir(dir)).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  if (!deb) throw new HarnessError('ERR_LVS_DOWNLOAD', `apt-get download ${spec} produced no .deb in ${dir}`);
  return path.join(dir, deb);
}
