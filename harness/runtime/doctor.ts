import { access } from 'node:fs/promises';
import { readArtifacts } from '../lab/build.js';
import { labPaths } from '../lab/paths.js';
import { labStatus } from '../lab/vm.js';
import { resolveKernelPackage } from '../lab/apt.js';
import { DEFAULT_RELEASE, LAB_RELEASES, RECIPE } from '../lab/recipe.js';
import type { Logger } from '../util/log.js';
import { run, which } from '../util/proc.js';
import { hostKernelIpvs, probeLocalEngine } from './select.js';

/** Host tools the lab needs, and the Debian package that provides each. */
export const HOST_TOOLS: readonly { cmd: string; pkg: string; why: string }[] = [
  { cmd: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'boots the lab VM' },
  { cmd: 'qemu-img', pkg: 'qemu-utils', why: "makes the lab's disk overlays, so that a booted lab is saved and later restored in seconds" },
  { cmd: 'debootstrap', pkg: 'debootstrap', why: 'builds the lab and node root file systems' },
  { cmd: 'mkfs.ext4', pkg: 'e2fsprogs', why: 'makes the lab root disk' },
  { cmd: 'depmod', pkg: 'kmod', why: 'indexes the lab kernel modules' },
  { cmd: 'openssl', pkg: 'openssl', why: 'makes the lab API credentials' },
  { cmd: 'dpkg-deb', pkg: 'dpkg', why: 'unpacks the kernel package' },
  { cmd: 'tar', pkg: 'tar', why: 'packs root file systems' },
  { cmd: 'gcc', pkg: 'gcc', why: "compiles the lab VM's dockerd-reexec, which spares each container start three runs of the 75 MB dockerd binary" },
  { cmd: 'chromium', pkg: 'chromium', why: "renders report.html headless in the harness's own tests" },
  { cmd: 'sshd', pkg: 'openssh-server', why: "stands in for a remote host in the harness's own SSH tests (on loopback)" },
  { cmd: 'sudo', pkg: 'sudo', why: "the SSH tests' commands run through sudo as a remote user would" },
];

export interface Check {
  name: string;
  ok: boolean;
  /** a missing optional thing is reported but does not fail the doctor */
  optional?: boolean;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  checks: Check[];
  missingPackages: string[];
  installCommand?: string;
}

export const installCommand = (pkgs: readonly string[]) =>
  pkgs.length ? `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${[...new Set(pkgs)].join(' ')}` : undefined;

export async function missingHostPackages(): Promise<string[]> {
  const missing: string[] = [];
  for (const t of HOST_TOOLS) if (!(await which(t.cmd))) missing.push(t.pkg);
  return [...new Set(missing)];
}

export async function installHostPackages(pkgs: readonly string[], log: Logger): Promise<void> {
  if (!pkgs.length) return;
  log(`installing ${pkgs.join(' ')} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run(['apt-get', 'update', '-q'], { env, timeoutMs: 10 * 60_000 });
  await run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...pkgs], { env, timeoutMs: 20 * 60_000 });
}

export async function doctor(log: Logger): Promise<DoctorReport> {
  const checks: Check[] = [];
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  checks.push({ name: 'node', ok: nodeMajor >= 20, detail: `Node ${process.version}`, fix: nodeMajor >= 20 ? undefined : 'install Node 20 or newer' });
  const root = !process.getuid || process.getuid() === 0;
  checks.push({ name: 'root', ok: root, optional: true, detail: root ? 'running as root' : 'not root: `lab build` and installing packages need root', fix: root ? undefined : 'run lab build with sudo' });

  const k = await hostKernelIpvs();
  checks.push({ name: 'host kernel IPVS', ok: k.ipvs !== 'absent', optional: true, detail: k.detail, fix: k.ipvs === 'absent' ? 'nothing to do: the embedded lab provides a kernel with IPVS' : undefined });

  const dockerCli = await which('docker');
  checks.push({ name: 'docker client', ok: !!dockerCli, optional: true, detail: dockerCli ?? 'not found (the harness talks to engines through the API; the CLI is only for you)' });
  const local = await probeLocalEngine(log);
  checks.push({
    name: 'local Docker engine',
    ok: local.engine && !!local.ipvs,
    optional: true,
    detail: local.engine ? `${local.socketPath}: ${local.ipvs ? 'can run IPVS' : 'cannot run IPVS'} (${local.detail})` : `none (${local.detail})`,
    fix: local.engine && !local.ipvs && k.ipvs === 'loadable' ? 'modprobe ip_vs on the host, then the local engine qualifies' : undefined,
  });

  const missing: string[] = [];
  for (const t of HOST_TOOLS) {
    const p = await which(t.cmd);
    if (!p) missing.push(t.pkg);
    checks.push({ name: t.cmd, ok: !!p, detail: p ? `${p} (${t.why})` : `missing: ${t.why}`, fix: p ? undefined : `apt-get install -y ${t.pkg}` });
  }
  try {
    await access('/dev/kvm');
    checks.push({ name: 'kvm', ok: true, optional: true, detail: '/dev/kvm exists; the lab uses software emulation unless LVS_HARNESS_LAB_ACCEL=kvm (paravirtual KVM hosts hang a stock kernel)' });
  } catch {
    checks.push({ name: 'kvm', ok: false, optional: true, detail: 'no /dev/kvm: the lab runs under software emulation (slower, works)' });
  }
  try {
    const kp = await resolveKernelPackage(RECIPE.kernelMeta);
    checks.push({ name: 'kernel package', ok: true, detail: `${kp.pkg}=${kp.version} from the configured Debian archive` });
  } catch (e) {
    checks.push({ name: 'kernel package', ok: false, detail: (e as Error).message, fix: 'apt-get update' });
  }
  const art = await readArtifacts();
  checks.push({ name: 'lab build', ok: !!art, optional: true, detail: art ? `built (${art.key}, kernel ${art.kernelVersion}, ${art.nodeImageTag}) in ${labPaths().home}` : 'not built yet: `lvs-harness lab build`' });
  for (const r of LAB_RELEASES.filter((x) => x !== DEFAULT_RELEASE)) {
    const a = await readArtifacts(r);
    if (a) checks.push({ name: `lab build (${r})`, ok: true, optional: true, detail: `built (${a.key}, kernel ${a.kernelVersion}, ${a.nodeImageTag}): \`lvs-harness lab up --release ${r}\`` });
  }
  const st = await labStatus();
  checks.push({
    name: 'lab',
    ok: st.running,
    optional: true,
    detail: st.running ? `running, pid ${st.pid}, ${st.endpoint}, kernel ${st.kernel}, ipvs ${st.ipvs ? 'loaded' : 'no'}, docker ${st.docker}` : 'not running: `lvs-harness lab up`',
  });
  return { checks, missingPackages: missing, installCommand: installCommand(missing) };
}

export function formatDoctor(r: DoctorReport): string {
  const lines = r.checks.map((c) => `${c.ok ? '✓' : c.optional ? '·' : '✗'} ${c.name.padEnd(22)} ${c.detail}${!c.ok && c.fix ? `\n  ${''.padEnd(22)} → ${c.fix}` : ''}`);
  if (r.installCommand) lines.push('', 'Missing host packages. Install them with:', `  ${r.installCommand}`, '(or run `lvs-harness doctor --fix` as root; with CI=true setup installs them by itself)');
  else lines.push('', 'Everything the lab needs is installed.');
  return lines.join('\n');
}
