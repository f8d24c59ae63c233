import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { run } from '../util/proc.js';
import { aptDownload, debianMirror, resolveKernelPackage } from './apt.js';
import { StepCache } from './cache.js';
import { gzipCpio, S_IFDIR, S_IFREG, type CpioEntry } from './cpio.js';
import { labPaths, type LabPaths } from './paths.js';
import { ASSETS, RECIPE, nodeImageTag, readAsset, stepKeys, type Recipe, type ResolvedInputs } from './recipe.js';
import { ensureTls } from './tls.js';

/** What a finished build hands to `lab up`. */
export interface LabArtifacts {
  key: string;
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
  recipe?: Recipe;
}

export interface BuildReport {
  artifacts: LabArtifacts;
  /** per step: 'cached' or the seconds it took */
  steps: Record<string, 'cached' | number>;
  seconds: number;
}

export async function resolveInputs(recipe: Recipe = RECIPE): Promise<ResolvedInputs> {
  const k = await resolveKernelPackage(recipe.kernelMeta);
  const assets: Record<string, string> = {};
  for (const a of ASSETS) assets[a] = readAsset(a);
  return { recipe, kernelPackage: k.pkg, kernelPackageVersion: k.version, nodeVersion: process.version, assets };
}

const kernelVersionOf = (pkg: string) => pkg.replace(/^linux-image-/, '');

/**
 * Builds (or finds in the cache) every lab artefact. Steps whose inputs did not change are
 * verified against their manifests and reused; damaged ones are rebuilt.
 */
export async function buildLab(opts: BuildOptions = {}): Promise<BuildReport> {
  const started = Date.now();
  const paths = opts.paths ?? labPaths();
  const log = opts.log ?? defaultLog;
  const recipe = opts.recipe ?? RECIPE;
  await requireRoot('lab build');
  const inputs = await resolveInputs(recipe);
  const keys = stepKeys(inputs);
  const cache = new StepCache(paths.cache);
  await mkdir(paths.cache, { recursive: true });
  const steps: BuildReport['steps'] = {};
  const kver = kernelVersionOf(inputs.kernelPackage);

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
    await cache.prune(name, key);
    return dir;
  };

  const tlsDir = await ensureTls(paths.tls, log);

  // the two debootstraps are the slow part and independent: run them side by side
  const [kernelDir, nodeDir, labBaseDir] = await Promise.all([
    step('kernel', keys.kernel, ['vmlinuz', 'modules.tar'], (d) => buildKernel(d, inputs, kver, log)),
    step('node-rootfs', keys.nodeRootfs, ['rootfs.tar'], (d) => buildRootfs(d, recipe, recipe.nodePackages, true, log)),
    step('lab-base', keys.labBase, ['rootfs.tar'], (d) => buildRootfs(d, recipe, recipe.labPackages, false, log)),
  ]);
  const tag = nodeImageTag(keys.nodeRootfs);
  const [initrdDir, rootDir] = await Promise.all([
    step('initramfs', keys.initramfs, ['initrd.img'], (d) => buildInitramfs(d, kernelDir, kver, recipe)),
    step('root-image', keys.rootImage, ['root.img'], (d) =>
      buildRootImage(d, { recipe, kernelDir, nodeDir, labBaseDir, tag, labInit: inputs.assets['lab-init.sh']! }),
    ),
  ]);

  const artifacts: LabArtifacts = {
    key: keys.lab,
    kernelVersion: kver,
    kernelPackage: `${inputs.kernelPackage}=${inputs.kernelPackageVersion}`,
    vmlinuz: path.join(kernelDir, 'vmlinuz'),
    initrd: path.join(initrdDir, 'initrd.img'),
    rootImage: path.join(rootDir, 'root.img'),
    nodeImageTag: tag,
    nodeRootfsTar: path.join(nodeDir, 'rootfs.tar'),
    tlsDir,
  };
  await writeFile(path.join(paths.home, 'lab.json'), JSON.stringify(artifacts, null, 2));
  return { artifacts, steps, seconds: Math.round((Date.now() - started) / 100) / 10 };
}

/** The artefacts of the last build, if that build is still intact. */
export async function readArtifacts(paths: LabPaths = labPaths()): Promise<LabArtifacts | undefined> {
  try {
    const a = JSON.parse(await readFile(path.join(paths.home, 'lab.json'), 'utf8')) as LabArtifacts;
    for (const f of [a.vmlinuz, a.initrd, a.rootImage]) await stat(f);
    return a;
  } catch {
    return undefined;
  }
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
async function buildKernel(out: string, inp: ResolvedInputs, kver: string, log: Logger) {
  await withTemp('kernel', async (tmp) => {
    log(`downloading ${inp.kernelPackage}=${inp.kernelPackageVersion}`);
    const deb = await aptDownload(inp.kernelPackage, inp.kernelPackageVersion, tmp);
    const x = path.join(tmp, 'x');
    await run(['dpkg-deb', '-x', deb, x], { pkg: 'dpkg' });
    await copyFile(path.join(x, 'boot', `vmlinuz-${kver}`), path.join(out, 'vmlinuz'));
    const src = path.join(x, 'lib', 'modules', kver);
    const kroot = path.join(tmp, 'k');
    const dst = path.join(kroot, 'lib', 'modules', kver);
    await mkdir(dst, { recursive: true });
    for (const f of await readdir(src)) if (f.startsWith('modules.')) await copyFile(path.join(src, f), path.join(dst, f));
    for (const d of inp.recipe.moduleDirs) {
      await mkdir(path.dirname(path.join(dst, d)), { recursive: true });
      await run(['cp', '-a', path.join(src, d), path.join(dst, d)]);
    }
    await run(['depmod', '-b', kroot, kver], { pkg: 'kmod' });
    await run(['tar', '-C', path.join(kroot, 'lib', 'modules'), '--numeric-owner', '-cf', path.join(out, 'modules.tar'), kver]);
    await writeFile(path.join(out, 'kernel-version'), kver + '\n');
  });
}

/** busybox + the modules that reach the root disk + the first-stage init, as a gzipped cpio. */
async function buildInitramfs(out: string, kernelDir: string, kver: string, recipe: Recipe) {
  await withTemp('initramfs', async (tmp) => {
    const bb = await aptDownload('busybox-static', undefined, tmp);
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
      { name: 'bin/busybox', mode: S_IFREG | 0o755, data: await readFile(path.join(tmp, 'bb', 'bin', 'busybox')) },
      { name: 'init', mode: S_IFREG | 0o755, data: Buffer.from(readAsset('initramfs-init.sh')) },
      { name: 'modules/modules.order', mode: S_IFREG | 0o644, data: Buffer.from(order.map((p) => path.basename(p)).join('\n') + '\n') },
    ];
    for (const ko of order) entries.push({ name: `modules/${path.basename(ko)}`, mode: S_IFREG | 0o644, data: await readFile(ko) });
    await writeFile(path.join(out, 'initrd.img'), gzipCpio(entries));
  });
}

/** A Debian root file system made with debootstrap, trimmed, as a tar (numeric owners). */
async function buildRootfs(out: string, recipe: Recipe, packages: readonly string[], withNode: boolean, log: Logger) {
  const mirror = await debianMirror(recipe.suite);
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
  a: { recipe: Recipe; kernelDir: string; nodeDir: string; labBaseDir: string; tag: string; labInit: string },
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
    await mkdir(path.join(root, 'lab'));
    await copyFile(path.join(a.nodeDir, 'rootfs.tar'), path.join(root, 'lab', 'node-rootfs.tar'));
    await writeFile(path.join(root, 'lab', 'node-image.tag'), a.tag + '\n');
    const img = path.join(out, 'root.img');
    await writeFile(img, '');
    await truncate(img, a.recipe.rootImageMiB * 1024 * 1024);
    await run(['mkfs.ext4', '-q', '-F', '-L', 'lvs-lab', '-E', 'root_owner=0:0', '-d', root, img], { pkg: 'e2fsprogs', timeoutMs: 10 * 60_000 });
  });
}
