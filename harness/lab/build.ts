import { chmod, copyFile, mkdir, mkdtemp, open, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { run } from '../util/proc.js';
import { aptDownload, aptFor, hostArchive, resolveKernelPackage } from './apt.js';
import { StepCache } from './cache.js';
import { gzipCpio, S_IFDIR, S_IFREG, type CpioEntry } from './cpio.js';
import { artifactsPath, labPaths, type LabPaths } from './paths.js';
import { ASSETS, DEFAULT_RELEASE, assetPath, LAB_RELEASES, RECIPE, RECIPES, labInitFor, nodeImageTag, readAsset, recipeFor, stepKeys, type LabRelease, type Recipe, type ResolvedInputs } from './recipe.js';
import { ensureTls } from './tls.js';

/** What a finished build hands to `lab up`. */
export interface LabArtifacts {
  key: string;
  /** the Debian release built (absent in a lab.json written before releases: bookworm) */
  release?: LabRelease;
  /** the cache key of each step (`<step>-<key>` under cache/): what other releases' builds must not prune */
  stepKeys?: Record<string, string>;
  kernelVersion: string;
  kernelPackage: string;
  vmlinuz: string;
  initrd: string;
  rootImage: string;
  nodeImageTag: string;
  /** the node image's root file system, for loading into a local engine */
  nodeRootfsTar: string;
  tlsDir: string;
}

export interface BuildOptions {
  paths?: LabPaths;
  log?: Logger;
  /** rebuild every step even when its cache is intact */
  force?: boolean;
  /** the Debian release to build (default bookworm); ignored when `recipe` is given */
  release?: LabRelease;
  recipe?: Recipe;
}

export interface BuildReport {
  release: LabRelease;
  artifacts: LabArtifacts;
  /** per step: 'cached' or the seconds it took */
  steps: Record<string, 'cached' | number>;
  seconds: number;
}

export async function resolveInputs(recipe: Recipe = RECIPE, aptArgs: readonly string[] = []): Promise<ResolvedInputs> {
  const k = await resolveKernelPackage(recipe.kernelMeta, aptArgs);
  const assets: Record<string, string> = {};
  for (const a of ASSETS) assets[a] = readAsset(a);
  return { recipe, kernelPackage: k.pkg, kernelPackageVersion: k.version, nodeVersion: process.version, assets };
}

const kernelVersionOf = (pkg: string) => pkg.replace(/^linux-image-/, '');

/** The cache directory names of LabArtifacts' files, per step (a lab.json of before releases has no stepKeys). */
const ARTIFACT_STEPS: [keyof LabArtifacts, string][] = [
  ['vmlinuz', 'kernel'],
  ['initrd', 'initramfs'],
  ['rootImage', 'root-image'],
  ['nodeRootfsTar', 'node-rootfs'],
];

/**
 * The keys of `step` that these builds (the other releases' last ones) use: a build of one
 * release prunes its own older keys, never these.
 */
export function keysInUse(builds: readonly Partial<LabArtifacts>[], step: string): string[] {
  const keys = new Set<string>();
  for (const b of builds) {
    const recorded = b.stepKeys?.[step];
    if (recorded) keys.add(recorded);
    for (const [field, s] of ARTIFACT_STEPS) {
      const file = b[field];
      if (s !== step || typeof file !== 'string') continue;
      const m = path.basename(path.dirname(file)).match(new RegExp(`^${step}-([0-9a-f]+)$`));
      if (m) keys.add(m[1]!);
    }
  }
  return [...keys];
}

/** Every release's last build record other than `release`'s, as written (files not checked). */
async function otherBuilds(paths: LabPaths, release: LabRelease): Promise<Partial<LabArtifacts>[]> {
  const out: Partial<LabArtifacts>[] = [];
  for (const r of LAB_RELEASES) {
    if (r === release) continue;
    try {
      out.push(JSON.parse(await readFile(artifactsPath(paths, r), 'utf8')) as Partial<LabArtifacts>);
    } catch {
      /* never built */
    }
  }
  return out;
}

/**
 * Builds (or finds in the cache) every lab artefact. Steps whose inputs did not change are
 * verified against their manifests and reused; damaged ones are rebuilt.
 */
export async function buildLab(opts: BuildOptions = {}): Promise<BuildReport> {
  const started = Date.now();
  const paths = opts.paths ?? labPaths();
  const log = opts.log ?? defaultLog;
  const recipe = opts.recipe ?? recipeFor(opts.release);
  const release = recipe.release;
  await requireRoot('lab build');
  await mkdir(paths.cache, { recursive: true });
  // every release's suite is looked up in the archive the host already uses
  const otherSuites = Object.values(RECIPES).map((r) => r.suite).filter((x) => x !== recipe.suite);
  const apt = await aptFor(recipe.suite, { home: paths.home, arch: recipe.arch, others: otherSuites, log, refresh: opts.force });
  const labSuite = recipe.labSuite ?? recipe.suite;
  const labMirror = labSuite === recipe.suite ? apt.mirror : (await hostArchive(labSuite, [recipe.suite, ...otherSuites]))?.mirror ?? apt.mirror;
  const inputs = await resolveInputs(recipe, apt.args);
  const keys = stepKeys(inputs);
  const labInit = labInitFor(recipe, inputs.assets['lab-init.sh']!, inputs.assets['lab-init-cgroup-v2.sh']!);
  const cache = new StepCache(paths.cache);
  const steps: BuildReport['steps'] = {};
  const kver = kernelVersionOf(inputs.kernelPackage);
  const others = await otherBuilds(paths, release);

  const step = async (name: string, key: string, expect: string[], produce: (dir: string) => Promise<void>) => {
    const state = opts.force ? 'missing' : await cache.verify(name, key, expect);
    if (state === 'ok') {
      steps[name] = 'cached';
      return cache.dir(name, key);
    }
    if (state !== 'missing') log(`cache damaged, rebuilding ${name}: ${state}`);
    log(`building ${name} (${key})`);
    const t0 = Date.now();
    const dir = await cache.produce(name, key, produce);
    steps[name] = Math.round((Date.now() - t0) / 100) / 10;
    log(`built ${name} in ${steps[name]} s`);
    // older keys of this release go; keys another release's last build uses stay (lab-base is shared)
    const pruned = await cache.prune(name, [key, ...keysInUse(others, name)]);
    if (pruned.length) log(`removed older ${name} build${pruned.length > 1 ? 's' : ''}: ${pruned.join(', ')}`);
    return dir;
  };

  const tlsDir = await ensureTls(paths.tls, log);

  // the two debootstraps are the slow part and independent: run them side by side
  const [kernelDir, nodeDir, labBaseDir] = await allSteps([
    step('kernel', keys.kernel, ['vmlinuz', 'modules.tar'], (d) => buildKernel(d, inputs, kver, apt.args, log)),
    step('node-rootfs', keys.nodeRootfs, ['rootfs.tar'], (d) => buildRootfs(d, { ...recipe, mirror: apt.mirror }, recipe.nodePackages, true, log)),
    step('lab-base', keys.labBase, ['rootfs.tar'], (d) => buildRootfs(d, { ...recipe, suite: labSuite, mirror: labMirror }, recipe.labPackages, false, log)),
  ]);
  const tag = nodeImageTag(keys.nodeRootfs);
  const [initrdDir, rootDir] = await allSteps([
    step('initramfs', keys.initramfs, ['initrd.img'], (d) => buildInitramfs(d, kernelDir, kver, recipe, apt.args)),
    step('root-image', keys.rootImage, ['root.img'], (d) =>
      buildRootImage(d, { recipe, kver, kernelDir, nodeDir, labBaseDir, tag, labInit }),
    ),
  ]);

  const artifacts: LabArtifacts = {
    key: keys.lab,
    release,
    stepKeys: { kernel: keys.kernel, initramfs: keys.initramfs, 'node-rootfs': keys.nodeRootfs, 'lab-base': keys.labBase, 'root-image': keys.rootImage },
    kernelVersion: kver,
    kernelPackage: `${inputs.kernelPackage}=${inputs.kernelPackageVersion}`,
    vmlinuz: path.join(kernelDir, 'vmlinuz'),
    initrd: path.join(initrdDir, 'initrd.img'),
    rootImage: path.join(rootDir, 'root.img'),
    nodeImageTag: tag,
    nodeRootfsTar: path.join(nodeDir, 'rootfs.tar'),
    tlsDir,
  };
  await writeFile(artifactsPath(paths, release), JSON.stringify(artifacts, null, 2));
  return { release, artifacts, steps, seconds: Math.round((Date.now() - started) / 100) / 10 };
}

/** The artefacts of a release's last build, if that build is still intact. */
export async function readArtifacts(release: LabRelease = DEFAULT_RELEASE, paths: LabPaths = labPaths()): Promise<LabArtifacts | undefined> {
  try {
    const a = JSON.parse(await readFile(artifactsPath(paths, release), 'utf8')) as LabArtifacts;
    for (const f of [a.vmlinuz, a.initrd, a.rootImage]) await stat(f);
    return { ...a, release: a.release ?? DEFAULT_RELEASE };
  } catch {
    return undefined;
  }
}

/**
 * Steps side by side: when one fails, the others still end (committed to the cache, or cleaned
 * up) before the error is thrown, so that no half-written step is left behind.
 */
async function allSteps<T extends unknown[]>(steps: [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(steps);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as T;
}

async function requireRoot(what: string) {
  if (process.getuid && process.getuid() !== 0)
    throw new HarnessError('ERR_LVS_NOT_ROOT', `${what} needs root (debootstrap, mkfs with root-owned files)`, {
      hint: `run it as root, e.g. sudo npx lvs-harness ${what}`,
    });
}

async function withTemp<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), `lvs-harness-${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Debian's kernel, and the module trees the lab uses, with their dependency index. */
async function buildKernel(out: string, inp: ResolvedInputs, kver: string, aptArgs: readonly string[], log: Logger) {
  await withTemp('kernel', async (tmp) => {
    log(`downloading ${inp.kernelPackage}=${inp.kernelPackageVersion}`);
    const deb = await aptDownload(inp.kernelPackage, inp.kernelPackageVersion, tmp, aptArgs);
    const x = path.join(tmp, 'x');
    await run(['dpkg-deb', '-x', deb, x], { pkg: 'dpkg' });
    await copyFile(path.join(x, 'boot', `vmlinuz-${kver}`), path.join(out, 'vmlinuz'));
    // bookworm's package ships /lib/modules, trixie's (merged /usr) /usr/lib/modules
    const src = await firstExisting([path.join(x, 'lib', 'modules', kver), path.join(x, 'usr', 'lib', 'modules', kver)]);
    const kroot = path.join(tmp, 'k');
    const dst = path.join(kroot, 'lib', 'modules', kver);
    await mkdir(dst, { recursive: true });
    for (const f of await readdir(src)) if (f.startsWith('modules.')) await copyFile(path.join(src, f), path.join(dst, f));
    for (const d of inp.recipe.moduleDirs) {
      await mkdir(path.dirname(path.join(dst, d)), { recursive: true });
      await run(['cp', '-a', path.join(src, d), path.join(dst, d)]);
    }
    const n = await decompressModules(dst);
    if (n) log(`decompressed ${n} kernel modules`);
    await run(['depmod', '-b', kroot, kver], { pkg: 'kmod' });
    await run(['tar', '-C', path.join(kroot, 'lib', 'modules'), '--numeric-owner', '-cf', path.join(out, 'modules.tar'), kver]);
    await writeFile(path.join(out, 'kernel-version'), kver + '\n');
  });
}

async function firstExisting(candidates: string[]): Promise<string> {
  for (const c of candidates) if (await stat(c).then(() => true, () => false)) return c;
  throw new HarnessError('ERR_LVS_PACKAGE_LAYOUT', `the unpacked package has none of ${candidates.join(', ')}`);
}

/** Compressed module files and the command that decompresses them in place. */
const MODULE_DECOMPRESSORS: [RegExp, string[], string][] = [
  [/\.ko\.xz$/, ['xz', '-d', '-f'], 'xz-utils'],
  [/\.ko\.zst$/, ['zstd', '-d', '-q', '-f', '--rm'], 'zstd'],
  [/\.ko\.gz$/, ['gzip', '-d', '-f'], 'gzip'],
];

/**
 * Trixie's kernel (6.12) ships every module compressed (.ko.xz). Decompressed here, they are
 * plain .ko files as bookworm's are: the initramfs's busybox insmod and the VM's modprobe
 * (bookworm's kmod, from the shared lab base) load them as they are, and depmod indexes them
 * under the names its modules.order already uses. Returns how many files were decompressed.
 */
async function decompressModules(dir: string): Promise<number> {
  const files = (await readdir(dir, { recursive: true })).map(String);
  let n = 0;
  for (const [re, cmd, pkg] of MODULE_DECOMPRESSORS) {
    const these = files.filter((f) => re.test(f)).map((f) => path.join(dir, f));
    for (let i = 0; i < these.length; i += 400) await run([...cmd, ...these.slice(i, i + 400)], { pkg });
    n += these.length;
  }
  return n;
}

/** busybox + the modules that reach the root disk + the first-stage init, as a gzipped cpio. */
async function buildInitramfs(out: string, kernelDir: string, kver: string, recipe: Recipe, aptArgs: readonly string[]) {
  await withTemp('initramfs', async (tmp) => {
    const bb = await aptDownload('busybox-static', undefined, tmp, aptArgs);
    await run(['dpkg-deb', '-x', bb, path.join(tmp, 'bb')], { pkg: 'dpkg' });
    const kroot = path.join(tmp, 'k');
    await mkdir(path.join(kroot, 'lib', 'modules'), { recursive: true });
    await run(['tar', '-C', path.join(kroot, 'lib', 'modules'), '-xf', path.join(kernelDir, 'modules.tar')]);
    // modprobe prints the insmod lines in dependency order
    const order: string[] = [];
    for (const m of recipe.initramfsModules) {
      const r = await run(['modprobe', '-d', kroot, '-S', kver, '--show-depends', m], { pkg: 'kmod' });
      for (const line of r.stdout.split('\n')) {
        const ko = line.match(/^insmod\s+(\S+)/)?.[1];
        if (ko && !order.includes(ko)) order.push(ko);
      }
    }
    const entries: CpioEntry[] = [
      { name: 'bin', mode: S_IFDIR | 0o755 },
      { name: 'dev', mode: S_IFDIR | 0o755 },
      { name: 'proc', mode: S_IFDIR | 0o755 },
      { name: 'sys', mode: S_IFDIR | 0o755 },
      { name: 'newroot', mode: S_IFDIR | 0o755 },
      { name: 'modules', mode: S_IFDIR | 0o755 },
      // bookworm's package has /bin/busybox, trixie's (merged /usr) /usr/bin/busybox
      { name: 'bin/busybox', mode: S_IFREG | 0o755, data: await readFile(await firstExisting([path.join(tmp, 'bb', 'bin', 'busybox'), path.join(tmp, 'bb', 'usr', 'bin', 'busybox')])) },
      { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(readAsset('initramfs-init.sh')) },
      { name: 'modules/modules.order', mode: S_IFREG | 0o644, data: Buffer.from(order.map((p) => path.basename(p)).join('\n') + '\n') },
    ];
    for (const ko of order) entries.push({ name: `modules/${path.basename(ko)}`, mode: S_IFREG | 0o644, data: await readFile(ko) });
    await writeFile(path.join(out, 'initrd.img'), gzipCpio(entries));
  });
}

/** A Debian root file system made with debootstrap, trimmed, as a tar (numeric owners). */
async function buildRootfs(out: string, recipe: Pick<Recipe, 'suite' | 'arch' | 'prune'> & { mirror: string }, packages: readonly string[], withNode: boolean, log: Logger) {
  const mirror = recipe.mirror;
  await withTemp('rootfs', async (tmp) => {
    const target = path.join(tmp, 'root');
    log(`debootstrap ${recipe.suite} with ${packages.length} packages${withNode ? ' (node image)' : ' (lab VM)'}`);
    await run(
      ['debootstrap', '--variant=minbase', `--arch=${recipe.arch}`, `--include=${packages.join(',')}`, recipe.suite, target, mirror],
      { timeoutMs: 30 * 60_000, pkg: 'debootstrap' },
    );
    for (const p of recipe.prune) await rm(path.join(target, p), { recursive: true, force: true });
    if (withNode) {
      // the host's Node 20 binary links only bookworm's glibc/libstdc++: it runs in this root
      // (trixie's are newer, and backward compatible)
      await copyFile(process.execPath, path.join(target, 'usr', 'local', 'bin', 'node'));
      await chmod(path.join(target, 'usr', 'local', 'bin', 'node'), 0o755);
    }
    await run(
      ['tar', '-C', target, '--numeric-owner', '--exclude=./proc/*', '--exclude=./sys/*', '--exclude=./dev/*', '-cf', path.join(out, 'rootfs.tar'), '.'],
    );
  });
}

/** The VM's ext4 root: the lab base, the kernel's modules, lab-init, and the node image to import. */
async function buildRootImage(
  out: string,
  a: { recipe: Recipe; kver: string; kernelDir: string; nodeDir: string; labBaseDir: string; tag: string; labInit: string },
) {
  await withTemp('rootimg', async (tmp) => {
    const root = path.join(tmp, 'root');
    await mkdir(root);
    await run(['tar', '-C', root, '--numeric-owner', '-xpf', path.join(a.labBaseDir, 'rootfs.tar')]);
    await mkdir(path.join(root, 'lib', 'modules'), { recursive: true });
    await run(['tar', '-C', path.join(root, 'lib', 'modules'), '-xf', path.join(a.kernelDir, 'modules.tar')]);
    await writeFile(path.join(root, 'sbin', 'lab-init'), a.labInit, { mode: 0o755 });
    await mkdir(path.join(root, 'etc', 'lab'), { recursive: true });
    await writeFile(path.join(root, 'etc', 'lab', 'modules'), a.recipe.vmModules.join('\n') + '\n');
    // a module the recipe names but this kernel lacks fails here, not as a console line at boot
    const missing: string[] = [];
    for (const m of a.recipe.vmModules) {
      const r = await run(['modprobe', '-d', root, '-S', a.kver, '--show-depends', m], { allowFailure: true, pkg: 'kmod' });
      if (r.code !== 0) missing.push(m);
    }
    if (missing.length)
      throw new HarnessError('ERR_LVS_KERNEL_MODULES', `kernel ${a.kver} (${a.recipe.release}) has no module ${missing.join(', ')}`, {
        hint: `take ${missing.length > 1 ? 'them' : 'it'} out of vmModules for ${a.recipe.release} in harness/lab/recipe.ts, or add the directory that holds ${missing.length > 1 ? 'them' : 'it'} to moduleDirs`,
      });
    await installDockerdReexec(root);
    await mkdir(path.join(root, 'lab'));
    await copyFile(path.join(a.nodeDir, 'rootfs.tar'), path.join(root, 'lab', 'node-rootfs.tar'));
    await writeFile(path.join(root, 'lab', 'node-image.tag'), a.tag + '\n');
    const img = path.join(out, 'root.img');
    await writeFile(img, '');
    await truncate(img, a.recipe.rootImageMiB * 1024 * 1024);
    await run(['mkfs.ext4', '-q', '-F', '-L', 'lvs-lab', '-E', 'root_owner=0:0', '-d', root, img], { pkg: 'e2fsprogs', timeoutMs: 10 * 60_000 });
  });
}

/** Where lab-init (assets/lab-init.sh) finds the short cut for dockerd's re-executions of itself, and the copy of dockerd it falls back to. */
const DOCKERD_REEXEC = '/usr/local/libexec/dockerd-reexec';
const DOCKERD_UNMATCHED = '/usr/local/libexec/dockerd-unmatched';

/**
 * assets/dockerd-reexec.c compiled (static, on the host) into the VM's root, and beside it a copy
 * of the VM's dockerd that binfmt_misc does not match: its ELF header differs in the last padding
 * byte of e_ident, which neither the kernel nor Go reads. lab-init registers the program for the
 * original binary's header once dockerd is up (see the C file for why).
 */
async function installDockerdReexec(root: string): Promise<void> {
  const dockerd = path.join(root, 'usr', 'sbin', 'dockerd');
  const reexec = path.join(root, DOCKERD_REEXEC);
  const unmatched = path.join(root, DOCKERD_UNMATCHED);
  await mkdir(path.dirname(reexec), { recursive: true });
  await run(['gcc', '-O2', '-static', '-Wall', '-Werror', `-DFALLBACK="${DOCKERD_UNMATCHED}"`, '-o', reexec, assetPath('dockerd-reexec.c')], { pkg: 'gcc' });
  await copyFile(dockerd, unmatched);
  await chmod(unmatched, 0o755);
  await markUnmatched(unmatched);
}

/** Sets e_ident[EI_PAD + 6] (byte 15) of an ELF file to 1, so that a binfmt_misc magic of the original header no longer matches it. */
export async function markUnmatched(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const head = Buffer.alloc(16);
    await fh.read(head, 0, 16, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) throw new HarnessError('ERR_LVS_LAB_BUILD', `${file} is not an ELF file`);
    await fh.write(Buffer.from([1]), 0, 1, 15);
  } finally {
    await fh.close();
  }
}
