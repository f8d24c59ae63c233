import { access, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import type { Logger } from '../util/log.js';
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

async function readAptSources(root: string): Promise<{ name: string; text: string }[]> {
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
  return files;
}

export async function debianMirror(suite: string, root = '/etc/apt'): Promise<string> {
  const uri = parseAptSources(await readAptSources(root), suite);
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

/**
 * Where a suite's packages come from. A suite the host's apt is configured with is resolved and
 * downloaded with the host's apt as it is (`args` empty). Any other suite (trixie on a bookworm
 * host) gets an apt of its own under the lab home: its own sources list naming the archive the
 * host already uses, its own package lists, cache and (empty) status, so the host's apt setup is
 * never read for sources nor written. The host's apt.conf.d (a proxy, say) still applies.
 */
export interface AptSource {
  suite: string;
  /** the archive, as the host's apt names it (debootstrap fetches from it too) */
  mirror: string;
  /** options given to every apt-get / apt-cache call for this suite */
  args: string[];
  /** the private apt's directory, when the host's apt does not know the suite */
  dir?: string;
}

/** The keyring Debian's archive is signed with (package debian-archive-keyring). */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The lines of a private apt's sources.list: the suite's main component, nothing else. */
export function privateSourcesList(mirror: string, suite: string, keyring?: string): string {
  return `deb ${keyring ? `[signed-by=${keyring}] ` : ''}${mirror} ${suite} main\n`;
}

/** apt options that confine apt to a private directory (see AptSource). */
export function privateAptArgs(dir: string, arch: string): string[] {
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  return [
    ...o('Dir::Etc::SourceList', path.join(dir, 'etc', 'sources.list')),
    ...o('Dir::Etc::SourceParts', path.join(dir, 'etc', 'sources.list.d')),
    ...o('Dir::Etc::Preferences', path.join(dir, 'etc', 'preferences')),
    ...o('Dir::Etc::PreferencesParts', path.join(dir, 'etc', 'preferences.d')),
    ...o('Dir::State::Lists', path.join(dir, 'lists')),
    ...o('Dir::Cache', path.join(dir, 'cache')),
    // what the host has installed says nothing about another release's candidates
    ...o('Dir::State::status', '/dev/null'),
    ...o('APT::Architecture', arch),
    ...o('APT::Architectures', arch),
    // the lab home may not be reachable by the _apt user that downloads by default
    ...o('APT::Sandbox::User', 'root'),
  ];
}

/** The Debian archive the host's apt uses for a suite, else the one it uses for any of `others`. */
export async function hostArchive(suite: string, others: readonly string[], root = '/etc/apt'): Promise<{ mirror: string; hostKnows: boolean } | undefined> {
  const files = await readAptSources(root);
  const own = parseAptSources(files, suite);
  if (own) return { mirror: own, hostKnows: true };
  for (const o of others) {
    const m = parseAptSources(files, o);
    if (m) return { mirror: m, hostKnows: false };
  }
  return undefined;
}

/** How long a private apt's package lists are used before `apt-get update` runs again. */
export const PRIVATE_LISTS_MAX_AGE_MS = 6 * 3600_000;

/**
 * The apt to use for `suite` (see AptSource); a private one is brought up to date here when its
 * lists are older than PRIVATE_LISTS_MAX_AGE_MS, or `refresh` (every `lab up` builds, and an
 * update each time would cost seconds and the network). A failed update over lists that an
 * earlier build fetched goes on with those lists, with a warning.
 */
export async function aptFor(suite: string, o: { home: string; arch: string; others: readonly string[]; log: Logger; root?: string; refresh?: boolean }): Promise<AptSource> {
  const found = await hostArchive(suite, o.others, o.root);
  if (!found)
    throw new HarnessError('ERR_LVS_NO_ARCHIVE', `no Debian archive is configured in ${o.root ?? '/etc/apt'}/sources.list(.d)`, {
      hint: `add a "deb <archive> ${suite} main" source, then apt-get update`,
    });
  if (found.hostKnows) return { suite, mirror: found.mirror, args: [] };
  const dir = path.join(o.home, `apt-${suite}`);
  for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'lists/partial', 'cache/archives/partial']) await mkdir(path.join(dir, d), { recursive: true });
  const keyring = await access(DEBIAN_KEYRING).then(
    () => DEBIAN_KEYRING,
    () => undefined,
  );
  await writeFile(path.join(dir, 'etc', 'sources.list'), privateSourcesList(found.mirror, suite, keyring));
  const args = privateAptArgs(dir, o.arch);
  const stamp = path.join(dir, 'updated-at');
  const age = await stat(stamp).then((st) => Date.now() - st.mtimeMs, () => Infinity);
  if (!o.refresh && age < PRIVATE_LISTS_MAX_AGE_MS) return { suite, mirror: found.mirror, args, dir };
  o.log(`apt for ${suite}: ${found.mirror} with its own lists in ${dir} (apt-get update)`);
  const r = await run(['apt-get', ...args, '-q', 'update'], { allowFailure: true, timeoutMs: 10 * 60_000, pkg: 'apt' });
  // apt-get update exits 0 on some fetch failures and says so with W:/E: lines
  const failed = r.code !== 0 || /^(E:|W: Failed to fetch|Err:)/m.test(r.stdout + r.stderr);
  if (failed) {
    const lists = await readdir(path.join(dir, 'lists')).catch(() => [] as string[]);
    const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ');
    if (!lists.some((n) => n.endsWith('_InRelease') || n.endsWith('_Release')))
      throw new HarnessError('ERR_LVS_APT_UPDATE', `apt-get update for ${suite} (${found.mirror}) failed: ${why}`, {
        hint: `check that ${found.mirror}/dists/${suite}/ is reachable from here and signed by a key in ${keyring ?? 'apt\'s trusted keys'}`,
      });
    o.log(`apt-get update for ${suite} failed (${why}); going on with the package lists of an earlier build`);
  } else await writeFile(stamp, `${new Date().toISOString()}\n`);
  return { suite, mirror: found.mirror, args, dir };
}

export async function resolveKernelPackage(meta: string, aptArgs: readonly string[] = []): Promise<{ pkg: string; version: string }> {
  const dep = await run(['apt-cache', ...aptArgs, 'depends', meta], { allowFailure: true, pkg: 'apt' });
  const pkg = parseDependsTarget(dep.stdout, 'linux-image-');
  const policy = pkg ? await run(['apt-cache', ...aptArgs, 'policy', pkg], { allowFailure: true }) : undefined;
  const version = policy ? parseCandidate(policy.stdout) : undefined;
  if (!pkg || !version)
    throw new HarnessError('ERR_LVS_KERNEL_UNKNOWN', `apt does not know the kernel package behind ${meta}`, {
      hint: aptArgs.length
        ? 'the private package lists of this release are empty or stale: build again (it runs apt-get update for them)'
        : 'the package lists are empty or stale: run `apt-get update` (as root), then build again',
    });
  return { pkg, version };
}

/** Downloads one .deb from the configured archive into dir; returns its path. */
export async function aptDownload(pkg: string, version: string | undefined, dir: string, aptArgs: readonly string[] = []): Promise<string> {
  const spec = version ? `${pkg}=${version}` : pkg;
  await run(['apt-get', 'download', '-q', '-o', 'APT::Sandbox::User=root', ...aptArgs, spec], { cwd: dir, timeoutMs: 10 * 60_000 });
  const deb = (await readdir(dir)).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  if (!deb) throw new HarnessError('ERR_LVS_DOWNLOAD', `apt-get download ${spec} produced no .deb in ${dir}`);
  return path.join(dir, deb);
}
