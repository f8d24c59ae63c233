import { expect } from 'chai';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostArchive, privateAptArgs, privateSourcesList } from '../../harness/lab/apt.js';
import { keysInUse } from '../../harness/lab/build.js';
import { StepCache } from '../../harness/lab/cache.js';
import { artifactsPath } from '../../harness/lab/paths.js';
import { LAB_RELEASES, RECIPE, RECIPES, TRIXIE_RECIPE, labInitFor, parseRelease, readAsset, recipeFor, stepKeys, type Recipe, type ResolvedInputs } from '../../harness/lab/recipe.js';
import { sameReleaseSaved } from '../../harness/lab/saved.js';
import { decideDown, decideRunning, decideUp, otherReleaseRunning } from '../../harness/lab/vm.js';
import { DEBIAN_RELEASES } from '../../harness/keepalived/releases.js';
import { main } from '../../harness/cli.js';
import { HarnessError } from '../../harness/errors.js';

/** The inputs recipe.test.ts has always used: fixed, so the keys below are fixed too. */
const fixed = (recipe: Recipe = RECIPE, extraAssets: Record<string, string> = {}): ResolvedInputs => ({
  recipe,
  kernelPackage: 'linux-image-6.1.0-56-amd64',
  kernelPackageVersion: '6.1.192-2',
  nodeVersion: 'v20.20.2',
  assets: { 'initramfs-init.sh': '#!/bin/sh\n', 'lab-init.sh': '#!/bin/sh\necho ready\n', ...extraAssets },
});

describe('lab releases: recipes, cache keys, apt, the one running lab', () => {
  describe('recipes', () => {
    it('bookworm is the default and trixie differs only where Debian 13 does', () => {
      expect(recipeFor()).to.equal(RECIPE);
      expect(recipeFor('trixie')).to.equal(TRIXIE_RECIPE);
      expect(RECIPE.suite).to.equal('bookworm');
      expect(TRIXIE_RECIPE.suite).to.equal('trixie');
      expect(TRIXIE_RECIPE.kernelMeta).to.equal('linux-image-amd64');
      // nginx-light is a transitional package in trixie: the core nginx serves the harness's conf
      expect(RECIPE.nodePackages).to.include('nginx-light');
      expect(TRIXIE_RECIPE.nodePackages).to.include('nginx').and.not.include('nginx-light');
      expect(TRIXIE_RECIPE.nodePackages.filter((p) => p !== 'nginx')).to.deep.equal(RECIPE.nodePackages.filter((p) => p !== 'nginx-light'));
      // ip_vs_twos exists from 6.3 on: only the 6.12 kernel loads it
      expect(RECIPE.vmModules).to.not.include('ip_vs_twos');
      expect(TRIXIE_RECIPE.vmModules).to.include('ip_vs_twos');
      expect(recipeFor('bookworm').cgroup).to.equal(undefined);
      expect(TRIXIE_RECIPE.cgroup).to.equal('v2');
    });

    it('every release shares one lab base (bookworm, same packages): one lab-base cache entry', () => {
      for (const r of Object.values(RECIPES)) {
        expect(r.labSuite, r.release).to.equal('bookworm');
        expect(r.labPackages, r.release).to.deep.equal(RECIPE.labPackages);
        expect(r.prune, r.release).to.deep.equal(RECIPE.prune);
      }
      expect(stepKeys(fixed(TRIXIE_RECIPE)).labBase).to.equal(stepKeys(fixed()).labBase);
    });

    it('the lab releases are the ones lint and validate know by the same names', () => {
      expect([...LAB_RELEASES]).to.deep.equal(DEBIAN_RELEASES.map((r) => r.name));
      for (const r of LAB_RELEASES) expect(RECIPES[r].release).to.equal(r);
    });
  });

  describe('cache keys', () => {
    it("bookworm's step keys are exactly those of before releases existed (existing caches stay valid), but the root image's", () => {
      // computed with the recipe.ts of commit 7ef69d0, before --release, from the same fixed inputs;
      // the root image (and so the lab) changed since: it carries binfmt_misc and dockerd-reexec
      const reexec = { 'dockerd-reexec.c': 'int main(){}\n' };
      const before = { kernel: '01c9c13b104ed709', initramfs: '94e4133e81e53165', nodeRootfs: '44a3fec04d837ccc', labBase: '98d56318b4bc2ba7', rootImage: '6a09d226380f26d7', lab: 'de3414b9b2560de9' };
      expect(stepKeys(fixed(RECIPE, reexec))).to.deep.equal(before);
      // the new cgroup v2 fragment is read as an asset for every build: it must not move bookworm's keys
      expect(stepKeys(fixed(RECIPE, { ...reexec, 'lab-init-cgroup-v2.sh': 'mount -t cgroup2 cgroup2 /sys/fs/cgroup\n' }))).to.deep.equal(before);
    });

    it('the root image follows dockerd-reexec.c, and no other step does', () => {
      const a = stepKeys(fixed(RECIPE, { 'dockerd-reexec.c': 'one\n' }));
      const b = stepKeys(fixed(RECIPE, { 'dockerd-reexec.c': 'two\n' }));
      expect(b.rootImage).to.not.equal(a.rootImage);
      expect(b.lab).to.not.equal(a.lab);
      expect([b.kernel, b.initramfs, b.nodeRootfs, b.labBase]).to.deep.equal([a.kernel, a.initramfs, a.nodeRootfs, a.labBase]);
    });

    it("trixie's keys are its own, and its root image follows the cgroup v2 fragment", () => {
      const b = stepKeys(fixed());
      const t = stepKeys(fixed(TRIXIE_RECIPE, { 'lab-init-cgroup-v2.sh': 'v2\n' }));
      expect(t.nodeRootfs).to.not.equal(b.nodeRootfs);
      expect(t.rootImage).to.not.equal(b.rootImage);
      expect(t.lab).to.not.equal(b.lab);
      const t2 = stepKeys(fixed(TRIXIE_RECIPE, { 'lab-init-cgroup-v2.sh': 'v2, changed\n' }));
      expect(t2.rootImage).to.not.equal(t.rootImage);
      expect([t2.kernel, t2.initramfs, t2.nodeRootfs, t2.labBase]).to.deep.equal([t.kernel, t.initramfs, t.nodeRootfs, t.labBase]);
    });

    it("a build keeps the keys another release's last build uses, from its stepKeys or (an older lab.json) its file paths", () => {
      const legacy = {
        vmlinuz: '/h/cache/kernel-04dd6830e3f30140/vmlinuz',
        initrd: '/h/cache/initramfs-d847147e388dc831/initrd.img',
        rootImage: '/h/cache/root-image-cdf57ec2dab35be2/root.img',
        nodeRootfsTar: '/h/cache/node-rootfs-44a3fec04d837ccc/rootfs.tar',
      };
      expect(keysInUse([legacy], 'kernel')).to.deep.equal(['04dd6830e3f30140']);
      expect(keysInUse([legacy], 'root-image')).to.deep.equal(['cdf57ec2dab35be2']);
      expect(keysInUse([legacy], 'node-rootfs')).to.deep.equal(['44a3fec04d837ccc']);
      expect(keysInUse([legacy], 'lab-base')).to.deep.equal([]);
      expect(keysInUse([{ stepKeys: { 'lab-base': 'aa11' } }, legacy], 'lab-base')).to.deep.equal(['aa11']);
      expect(keysInUse([], 'kernel')).to.deep.equal([]);
    });

    it("pruning one release's step leaves the other release's entry alone", async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'lvsh-prune-'));
      try {
        // b0: bookworm's kernel (named by its lab.json); c0, c1: trixie's older and newer; c2 an interrupted build
        for (const n of ['kernel-b0', 'kernel-c0', 'kernel-c1', 'kernel-c2.tmp', 'lab-base-aa']) await mkdir(path.join(dir, n));
        const cache = new StepCache(dir);
        const removed = await cache.prune('kernel', ['c1', ...keysInUse([{ vmlinuz: path.join(dir, 'kernel-b0', 'vmlinuz') }], 'kernel')]);
        expect(removed.sort()).to.deep.equal(['kernel-c0', 'kernel-c2.tmp']);
        expect((await readdir(dir)).sort()).to.deep.equal(['kernel-b0', 'kernel-c1', 'lab-base-aa']);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('bookworm keeps lab.json; another release has its own file', () => {
      expect(artifactsPath({ home: '/h' })).to.equal('/h/lab.json');
      expect(artifactsPath({ home: '/h' }, 'bookworm')).to.equal('/h/lab.json');
      expect(artifactsPath({ home: '/h' }, 'trixie')).to.equal('/h/lab-trixie.json');
    });
  });

  describe('lab-init per release', () => {
    const labInit = readAsset('lab-init.sh');
    const v2 = readAsset('lab-init-cgroup-v2.sh');

    it("bookworm's is lab-init.sh byte for byte", () => {
      expect(labInitFor(RECIPE, labInit, v2)).to.equal(labInit);
    });

    it("trixie's mounts cgroup v2 in place of the v1 hierarchies, and the rest is lab-init.sh's", () => {
      const t = labInitFor(TRIXIE_RECIPE, labInit, v2);
      expect(t).to.include('mount -t cgroup2 cgroup2 /sys/fs/cgroup');
      expect(t).to.not.include('name=systemd');
      expect(t).to.not.include('/proc/cgroups');
      const [head, tail] = [labInit.slice(0, labInit.indexOf('# cgroup v1')), labInit.slice(labInit.indexOf('# kernel modules'))];
      expect(t.startsWith(head)).to.equal(true);
      expect(t.endsWith(tail)).to.equal(true);
      expect(t.indexOf('mount -t cgroup2')).to.be.lessThan(t.indexOf('until docker version'));
    });

    it('a lab-init.sh without the v1 block is an error for a cgroup v2 release', () => {
      expect(() => labInitFor(TRIXIE_RECIPE, '#!/bin/sh\necho ready\n', v2)).to.throw(HarnessError, /no cgroup v1 block/);
    });
  });

  describe('apt for a release the host does not know', () => {
    it("a private apt reads and writes only its own directory, and the host's archive", () => {
      const args = privateAptArgs('/h/apt-trixie', 'amd64');
      const opts = Object.fromEntries(args.filter((_, i) => i % 2 === 1).map((o) => o.split(/=(.*)/s).slice(0, 2) as [string, string]));
      expect(args.filter((_, i) => i % 2 === 0).every((a) => a === '-o')).to.equal(true);
      expect(opts).to.include({
        'Dir::Etc::SourceList': '/h/apt-trixie/etc/sources.list',
        'Dir::Etc::SourceParts': '/h/apt-trixie/etc/sources.list.d',
        'Dir::State::Lists': '/h/apt-trixie/lists',
        'Dir::Cache': '/h/apt-trixie/cache',
        'Dir::State::status': '/dev/null',
        'APT::Architectures': 'amd64',
      });
      expect(Object.values(opts).some((v) => v.startsWith('/etc/apt') || v.startsWith('/var/'))).to.equal(false);
      expect(privateSourcesList('http://deb.debian.org/debian', 'trixie', '/usr/share/keyrings/debian-archive-keyring.gpg')).to.equal(
        'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n',
      );
      expect(privateSourcesList('http://m/debian', 'trixie')).to.equal('deb http://m/debian trixie main\n');
    });

    it("the host's own suite uses the host's apt; another suite the archive the host uses", async () => {
      const root = await mkdtemp(path.join(tmpdir(), 'lvsh-apt-'));
      try {
        await mkdir(path.join(root, 'sources.list.d'));
        await writeFile(
          path.join(root, 'sources.list.d', 'debian.sources'),
          'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
        );
        expect(await hostArchive('bookworm', ['trixie'], root)).to.deep.equal({ mirror: 'http://mirror.example/debian', hostKnows: true });
        expect(await hostArchive('trixie', ['bookworm'], root)).to.deep.equal({ mirror: 'http://mirror.example/debian', hostKnows: false });
        expect(await hostArchive('trixie', ['forky'], root)).to.equal(undefined);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  });

  describe('one lab at a time', () => {
    it('lab up boots, reuses, refuses or restarts', () => {
      expect(decideUp({})).to.deep.equal({ action: 'boot', release: 'bookworm' });
      expect(decideUp({ wanted: 'trixie' })).to.deep.equal({ action: 'boot', release: 'trixie' });
      expect(decideUp({ running: 'trixie' })).to.deep.equal({ action: 'reuse', release: 'trixie' });
      expect(decideUp({ running: 'trixie', wanted: 'trixie', restart: true })).to.deep.equal({ action: 'reuse', release: 'trixie' });
      expect(decideUp({ running: 'bookworm', wanted: 'trixie' })).to.deep.equal({ action: 'refuse', release: 'trixie', running: 'bookworm' });
      expect(decideUp({ running: 'bookworm', wanted: 'trixie', restart: true })).to.deep.equal({ action: 'restart', release: 'trixie', running: 'bookworm' });
    });

    it('a refusal names the running release and both ways on', () => {
      const e = otherReleaseRunning({ release: 'trixie', running: 'bookworm' }, 4242);
      expect(e.code).to.equal('ERR_LVS_LAB_OTHER_RELEASE');
      expect(e.message).to.include('bookworm lab is running (pid 4242)').and.include('trixie');
      expect(e.hint).to.include('lab up --release trixie --restart').and.include('lab down');
    });

    it('lab down --release leaves a lab of another release running', () => {
      expect(decideDown({ running: 'bookworm', wanted: 'trixie' })).to.equal('other-release');
      expect(decideDown({ running: 'bookworm', wanted: 'bookworm' })).to.equal('stop');
      expect(decideDown({ running: 'trixie' })).to.equal('stop');
      expect(decideDown({ wanted: 'trixie' })).to.equal('stop');
    });

    it("saving a lab replaces only its own release's saved state", () => {
      expect(sameReleaseSaved({ release: 'trixie' }, 'trixie')).to.equal(true);
      expect(sameReleaseSaved({ release: 'trixie' }, 'bookworm')).to.equal(false);
      // saved before releases existed: bookworm's
      expect(sameReleaseSaved({ kernel: '6.1.0-57-amd64' } as never, 'bookworm')).to.equal(true);
      expect(sameReleaseSaved({ kernel: '6.1.0-57-amd64' } as never, 'trixie')).to.equal(false);
      // no meta.json: an unfinished save
      expect(sameReleaseSaved(undefined, 'trixie')).to.equal(true);
    });
  });

  describe('--release', () => {
    it('accepts the known releases and says which ones exist otherwise', () => {
      expect(parseRelease(undefined)).to.equal(undefined);
      expect(parseRelease('trixie')).to.equal('trixie');
      expect(() => parseRelease('sid')).to.throw(HarnessError, /"sid" is not a lab release \(bookworm or trixie\)/);
      try {
        parseRelease('Trixie');
      } catch (e) {
        expect((e as HarnessError).code).to.equal('ERR_LVS_USAGE');
      }
    });

    it('every lab subcommand that takes it refuses an unknown release before doing anything', async () => {
      // a lab home of its own: should the flag ever be accepted by mistake, the running lab is not touched
      const home = await mkdtemp(path.join(tmpdir(), 'lvsh-release-'));
      const saved = process.env.LVS_HARNESS_LAB_HOME;
      process.env.LVS_HARNESS_LAB_HOME = home;
      try {
        for (const sub of ['build', 'up', 'status', 'down']) {
          const e = await main(['lab', sub, '--release', 'buster']).then(
            () => undefined,
            (x: unknown) => x as HarnessError,
          );
          expect(e, sub).to.be.instanceOf(HarnessError);
          expect(e!.code, sub).to.equal('ERR_LVS_USAGE');
          expect(e!.message, sub).to.include('bookworm or trixie');
        }
        expect(await readdir(home)).to.deep.equal([]);
      } finally {
        if (saved === undefined) delete process.env.LVS_HARNESS_LAB_HOME;
        else process.env.LVS_HARNESS_LAB_HOME = saved;
        await rm(home, { recursive: true, force: true });
      }
    });
  });

  describe('a lab found running', () => {
    const alive = (pids: number[]) => (p: number) => pids.includes(p);
    it('is used when its booting process saw it ready, or its state predates the field', () => {
      expect(decideRunning({ bootedBy: 7, ready: true }, alive([]))).to.equal('use');
      expect(decideRunning({}, alive([]))).to.equal('use');
    });
    it('is waited for while the process booting it lives', () => {
      expect(decideRunning({ bootedBy: 7, ready: false }, alive([7]))).to.equal('wait');
    });
    it('is stopped and started again when the process booting it died before it was ready (SIGKILL during lab up)', () => {
      expect(decideRunning({ bootedBy: 7, ready: false }, alive([8]))).to.equal('restart');
      expect(decideRunning({ ready: false }, alive([7]))).to.equal('restart');
    });
  });
});
