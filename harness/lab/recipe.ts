import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HarnessError } from '../errors.js';

/**
 * Everything the lab is made of. Each build step is cached under a key derived from the
 * parts of this recipe it consumes; change a part and exactly the steps that use it rebuild.
 * Bump `version` when the builder's own behaviour changes in a way that alters artefacts.
 */
export const RECIPE = {
  version: 1,
  release: 'bookworm',
  /** the Debian suite of the node image's userland (debootstrap) and of the kernel (apt) */
  suite: 'bookworm',
  /**
   * the suite of the VM's own root file system (the Docker engine): bookworm for every release,
   * so that every release's lab-base step has the same key and is one shared cache entry
   */
  labSuite: 'bookworm',
  arch: 'amd64',
  /** Debian metapackage resolved (locally, through apt-cache) to the concrete kernel package */
  kernelMeta: 'linux-image-amd64',
  /**
   * packages of the VM's own root file system: the Docker engine and little else. crun is the
   * engine's default OCI runtime: a small C program, where runc is a large Go one whose every
   * start (each container start and each `docker exec`) costs far more under software emulation
   * (an exec 0.82 s with runc, 0.60 s with crun, measured in the lab)
   */
  labPackages: ['docker.io', 'crun', 'kmod', 'iproute2', 'iptables', 'procps', 'ipvsadm', 'tini'],
  /** packages of the one node image used by every role (client, director, real server) */
  nodePackages: [
    'ipvsadm',
    'keepalived',
    'nginx-light',
    'haproxy',
    'iproute2',
    'iptables',
    'nftables',
    'tcpdump',
    'curl',
    'procps',
    'openssh-server',
    'socat',
    'iputils-ping',
    'arping',
    'netcat-openbsd',
    'kmod',
    // the reference load tool the agent's throughput is measured against
    'wrk',
  ],
  /** modules the first stage needs to reach the root disk (dependencies are resolved by modprobe) */
  initramfsModules: ['virtio_pci', 'virtio_blk', 'ext4'],
  /** modules lab-init loads at boot; anything else the kernel loads on demand */
  vmModules: [
    'virtio_net',
    'qemu_fw_cfg',
    'ip_vs',
    'ip_vs_rr',
    'ip_vs_wrr',
    'ip_vs_lc',
    'ip_vs_wlc',
    'ip_vs_lblc',
    'ip_vs_lblcr',
    'ip_vs_dh',
    'ip_vs_sh',
    'ip_vs_sed',
    'ip_vs_nq',
    'ip_vs_fo',
    'ip_vs_ovf',
    'ip_vs_mh',
    'xt_ipvs',
    'ipip',
    'sch_netem',
    'veth',
    'bridge',
    'br_netfilter',
    'overlay',
    'nf_conntrack',
    'nf_nat',
    'nf_tables',
    'nft_compat',
    'nft_chain_nat',
    'xt_MASQUERADE',
    'xt_conntrack',
    'xt_addrtype',
    'xt_statistic',
    'xt_mark',
    'iptable_nat',
    'iptable_filter',
    'iptable_mangle',
    'ip6table_nat',
    'ip6table_filter',
    // lab-init registers dockerd-reexec for the engine's re-executions of itself (assets/dockerd-reexec.c)
    'binfmt_misc',
  ],
  /** kernel module trees copied into the VM (the rest of the 390 MB of modules is never used) */
  moduleDirs: ['kernel/net', 'kernel/fs', 'kernel/lib', 'kernel/crypto', 'kernel/arch', 'kernel/drivers/virtio', 'kernel/drivers/block', 'kernel/drivers/net', 'kernel/drivers/firmware', 'kernel/drivers/char'],
  /** the VM's root disk (sparse; Docker's images and containers live here while the lab runs) */
  rootImageMiB: 16384,
  /** trimmed from root file systems: documentation and caches nobody reads in a lab */
  prune: ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/cache/apt/archives', 'var/lib/apt/lists'],
} as const satisfies Recipe;

/** The Debian releases a lab can be built from (`lab build --release`). */
export const LAB_RELEASES = ['bookworm', 'trixie'] as const;
export type LabRelease = (typeof LAB_RELEASES)[number];
export const DEFAULT_RELEASE: LabRelease = 'bookworm';

export interface Recipe {
  version: number;
  release: LabRelease;
  suite: string;
  /** lab-base's suite; absent: `suite` */
  labSuite?: string;
  arch: string;
  kernelMeta: string;
  labPackages: readonly string[];
  nodePackages: readonly string[];
  initramfsModules: readonly string[];
  vmModules: readonly string[];
  moduleDirs: readonly string[];
  rootImageMiB: number;
  prune: readonly string[];
  /**
   * 'v2': lab-init mounts the unified cgroup hierarchy (assets/lab-init-cgroup-v2.sh) instead of
   * its v1 hierarchies. Absent: v1, as lab-init.sh itself does
   */
  cgroup?: 'v2';
}

/**
 * Debian 13: kernel 6.12 (modules shipped as .ko.xz, decompressed by the kernel step), keepalived
 * 2.3, HAProxy 3.0, nginx 1.26. The lab base (Docker engine, kmod, lab-init's tools) stays
 * bookworm's, package for package, so the lab-base step is shared with bookworm in the cache.
 */
export const TRIXIE_RECIPE: Recipe = {
  ...RECIPE,
  release: 'trixie',
  suite: 'trixie',
  // trixie's nginx-light is only a transitional package (nginx plus the echo module): the
  // harness's nginx.conf needs nothing beyond the core http server of `nginx`
  nodePackages: RECIPE.nodePackages.map((p) => (p === 'nginx-light' ? 'nginx' : p)),
  // two random choices, new in 6.3: a scheduler only this kernel has
  vmModules: [...RECIPE.vmModules, 'ip_vs_twos'],
  // 6.12 as Debian builds it has no v1 memory or cpuset controller (CONFIG_MEMCG_V1, CONFIG_CPUSETS_V1 off)
  cgroup: 'v2',
};

export const RECIPES: Readonly<Record<LabRelease, Recipe>> = { bookworm: RECIPE, trixie: TRIXIE_RECIPE };

export const recipeFor = (release: LabRelease = DEFAULT_RELEASE): Recipe => RECIPES[release];

export const isLabRelease = (v: unknown): v is LabRelease => typeof v === 'string' && (LAB_RELEASES as readonly string[]).includes(v);

/** `--release` as the user typed it; undefined stays undefined (each command has its default). */
export function parseRelease(v: unknown, where = '--release'): LabRelease | undefined {
  if (v === undefined) return undefined;
  if (isLabRelease(v)) return v;
  throw new HarnessError('ERR_LVS_USAGE', `${where}: "${String(v)}" is not a lab release (${LAB_RELEASES.join(' or ')})`, {
    hint: `one of: ${LAB_RELEASES.join(', ')} (default ${DEFAULT_RELEASE})`,
  });
}

const ASSET_DIR = fileURLToPath(new URL('./assets/', import.meta.url));
export const ASSETS = ['initramfs-init.sh', 'lab-init.sh', 'lab-init-cgroup-v2.sh', 'dockerd-reexec.c'] as const;

export function assetPath(name: (typeof ASSETS)[number]): string {
  return ASSET_DIR + name;
}

export function readAsset(name: (typeof ASSETS)[number]): string {
  return readFileSync(assetPath(name), 'utf8');
}

/** lab-init.sh's cgroup v1 block: from the line that starts with this comment to the named hierarchy's mount, both included. */
const CGROUP_V1_FIRST = '# cgroup v1 hierarchies, one per controller';
const CGROUP_V1_LAST = 'mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd';

/**
 * The VM's /sbin/lab-init for a recipe: lab-init.sh as it is (bookworm: its root image and cache
 * key stay what they were), or, for `cgroup: 'v2'`, with its cgroup v1 block replaced by the
 * cgroup v2 fragment. A lab-init.sh whose v1 block is no longer found is an error, not a VM
 * that boots on the wrong hierarchy.
 */
export function labInitFor(recipe: Pick<Recipe, 'cgroup' | 'release'>, labInit: string, cgroupV2: string): string {
  if (recipe.cgroup !== 'v2') return labInit;
  const lines = labInit.split('\n');
  const first = lines.findIndex((l) => l.trim().startsWith(CGROUP_V1_FIRST));
  const last = lines.findIndex((l, i) => i > first && l.trim() === CGROUP_V1_LAST);
  if (first < 0 || last < 0)
    throw new HarnessError('ERR_LVS_LAB_INIT', `lab-init.sh has no cgroup v1 block ("${CGROUP_V1_FIRST}" … "${CGROUP_V1_LAST}") to replace with cgroup v2 for ${recipe.release}`, {
      hint: 'harness/lab/recipe.ts (labInitFor) and assets/lab-init.sh must agree on where the cgroup setup is',
    });
  return [...lines.slice(0, first), ...cgroupV2.replace(/\n$/, '').split('\n'), ...lines.slice(last + 1)].join('\n');
}

/** Stable hash of any JSON value: object keys sorted, so key order never changes a key. */
export function stableHash(value: unknown, length = 16): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, length);
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface ResolvedInputs {
  recipe: Recipe;
  /** concrete kernel package, e.g. linux-image-6.1.0-56-amd64 */
  kernelPackage: string;
  /** its version in the archive, e.g. 6.1.192-2 */
  kernelPackageVersion: string;
  /** version of the Node binary copied into the node image */
  nodeVersion: string;
  assets: Record<string, string>;
}

/** The cache key of each build step: what that step consumes, and nothing more. */
export function stepKeys(inp: ResolvedInputs) {
  const r = inp.recipe;
  const kernel = stableHash({ v: r.version, pkg: inp.kernelPackage, ver: inp.kernelPackageVersion, dirs: r.moduleDirs });
  const initramfs = stableHash({ kernel, mods: r.initramfsModules, init: inp.assets['initramfs-init.sh'] });
  const nodeRootfs = stableHash({ v: r.version, suite: r.suite, arch: r.arch, pkgs: r.nodePackages, node: inp.nodeVersion, prune: r.prune });
  const labBase = stableHash({ v: r.version, suite: r.labSuite ?? r.suite, arch: r.arch, pkgs: r.labPackages, prune: r.prune });
  // the cgroup v2 fragment counts only for a release that uses it: bookworm's key is what it was
  const cgroup = r.cgroup === 'v2' ? inp.assets['lab-init-cgroup-v2.sh'] : undefined;
  const rootImage = stableHash({ kernel, nodeRootfs, labBase, init: inp.assets['lab-init.sh'], cgroup, mods: r.vmModules, size: r.rootImageMiB, reexec: inp.assets['dockerd-reexec.c'] });
  const lab = stableHash({ kernel, initramfs, rootImage });
  return { kernel, initramfs, nodeRootfs, labBase, rootImage, lab };
}

export type StepName = keyof ReturnType<typeof stepKeys>;

/** The node image's tag names its content, so a rebuilt image never hides behind an old one. */
export const nodeImageTag = (nodeRootfsKey: string) => `lvs-harness/node:${nodeRootfsKey}`;
