/**
 * Stand-ins for real hosts in the lab (issue 14): node-image containers that run only OpenSSH's
 * sshd, with a host key and an authorized user key made for this run, on Docker networks made
 * for them (the topologies name those as `docker_network`, as an operator names the LAN of the
 * staging directors). The harness reaches each one over SSH through test/e2e/ssh-proxy.mjs, its
 * ProxyCommand; it never sees them as containers. What a run changes on them is read here
 * through docker exec, beside the harness, not over the SSH it is testing.
 *
 * Everything made here carries the harness's labels with this process as owner: a crashed test
 * leaves nothing the next run's reap or `down --all` does not remove.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { execIn } from '../../harness/runtime/exec.js';
import type { Runtime } from '../../harness/runtime/select.js';
import { L } from '../../harness/topology/builder.js';
import { waitFor } from '../../harness/util/wait.js';

const run = promisify(execFile);

export const STANDIN_TOPOLOGY = 'ssh-standins';
const labels = () => ({ [L.base]: 'true', [L.topology]: STANDIN_TOPOLOGY, [L.keep]: 'false', [L.owner]: `${hostname()}:${process.pid}`, [L.role]: 'standin' });

export interface StandInNet {
  /** the Docker network's name (the topology's docker_network) */
  name: string;
  subnet: string;
}

export interface StandIn {
  name: string;
  container: string;
  /** the host key's SHA256 fingerprint, as ssh-keygen -lf prints it */
  fingerprint: string;
}

export interface UserKey {
  file: string;
  pub: string;
}

/** A user key pair for this run (ed25519, no passphrase), in a directory of its own. */
export async function userKey(): Promise<UserKey & { dir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lvsh-ssh-e2e-'));
  const file = path.join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'lvs-harness-e2e', '-f', file]);
  return { dir, file, pub: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

/** The ProxyCommand that reaches a stand-in's sshd from here. */
export function proxyCommand(rt: Runtime, container: string): string {
  const ep = rt.endpoint;
  if (ep.kind !== 'tcp') throw new Error('the SSH tests reach the stand-ins through the lab engine over TCP');
  const tls = ep.tls ? ` ${ep.tls.caPath} ${ep.tls.certPath} ${ep.tls.keyPath}` : '';
  return `${process.execPath} ${path.join(REPO_ROOT, 'test', 'e2e', 'ssh-proxy.mjs')} ${ep.host}:${ep.port} ${container}${tls}`;
}

export async function createNetworks(docker: Docker, nets: readonly StandInNet[]): Promise<void> {
  for (const n of nets) {
    const gateway = n.subnet.replace(/\.0\/\d+$/, '.1');
    await docker.createNetwork({ Name: n.name, Driver: 'bridge', Labels: labels(), IPAM: { Config: [{ Subnet: n.subnet, Gateway: gateway }] } });
  }
}

// sshd only: the harness refuses a host where keepalived, HAProxy or nginx runs that it did not start
const SSHD_SCRIPT = [
  'set -e',
  'mkdir -p /run/sshd /root/.ssh',
  'printf "%s\\n" "$LVSH_PUB" > /root/.ssh/authorized_keys',
  'chmod 700 /root/.ssh; chmod 600 /root/.ssh/authorized_keys',
  'rm -f /etc/ssh/ssh_host_*',
  'ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key',
  'exec /usr/sbin/sshd -D -e -o HostKey=/etc/ssh/ssh_host_ed25519_key -o PermitRootLogin=prohibit-password -o PasswordAuthentication=no -o UseDNS=no',
].join('\n');

/**
 * One stand-in host: a privileged container (a host's sysctls are written with sysctl -w, as on a
 * real machine) on the given networks at the given addresses, running sshd; returns once sshd
 * answers on port 22 inside it, with its host key's fingerprint.
 */
export async function startStandIn(docker: Docker, rt: Runtime, o: { name: string; addresses: Record<string, string>; pub: string }): Promise<StandIn> {
  const container = `lvsh-standin-${o.name}`;
  const [first, ...rest] = Object.entries(o.addresses);
  const c = await docker.createContainer({
    name: container,
    Image: rt.nodeImage,
    Hostname: o.name,
    Cmd: ['sh', '-c', SSHD_SCRIPT],
    Env: [`LVSH_PUB=${o.pub}`],
    Labels: labels(),
    HostConfig: { Privileged: true, Init: true, NetworkMode: first![0] },
    NetworkingConfig: { EndpointsConfig: { [first![0]]: { IPAMConfig: { IPv4Address: first![1] } } } },
  });
  for (const [net, ip] of rest) await docker.getNetwork(net).connect({ Container: c.id, EndpointConfig: { IPAMConfig: { IPv4Address: ip } } });
  await c.start();
  // sshd listening inside: the condition itself, read where it happens
  await waitFor(
    `sshd listening in ${container}`,
    async () => (await execIn(c, ['sh', '-c', 'ss -Hltn "sport = :22" | grep -q LISTEN'], { allowFailure: true })).exitCode === 0,
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  const fp = await execIn(c, ['ssh-keygen', '-l', '-E', 'sha256', '-f', '/etc/ssh/ssh_host_ed25519_key.pub']);
  return { name: o.name, container, fingerprint: fp.stdout.split(/\s+/)[1]! };
}

/** Removes the stand-ins and their networks (everything labelled so, whoever made it). */
export async function removeStandIns(docker: Docker): Promise<void> {
  const label = [`${L.topology}=${STANDIN_TOPOLOGY}`];
  for (const c of await docker.listContainers({ all: true, filters: { label } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => {});
  for (const n of await docker.listNetworks({ filters: { label } })) await docker.getNetwork(n.Id).remove().catch(() => {});
}

/**
 * What a run may change on a host and must put back, read through docker exec: the IPVS table,
 * addresses, routes, the sysctls of forwarding, ARP and IPVS, iptables, the processes the harness
 * starts, and the files under the directories it writes to (with their content's hash).
 */
export async function hostState(docker: Docker, container: string): Promise<Record<string, string>> {
  const parts: Record<string, string> = {
    ipvs: 'ipvsadm -Sn',
    addresses: "ip -o addr show | awk '{print $2, $3, $4}'",
    routes: 'ip route show table all | grep -v "^local\\|^broadcast\\|^multicast\\|fe80::"',
    links: "ip -o link show | awk '{print $2, $3}'",
    sysctls: "sysctl -a 2>/dev/null | grep -E '^net\\.ipv4\\.(ip_forward|vs\\.|conf\\.[^.]+\\.(arp_|rp_filter|send_redirects|accept_local))' | sort",
    iptables: "iptables-save | grep -v '^#' | sed 's/\\[[0-9]*:[0-9]*\\]//'",
    processes: "ps -eo comm= | grep -xE 'keepalived|haproxy|nginx|node|tcpdump' | sort | uniq -c || true",
    dirs: 'ls -d /etc/keepalived /etc/haproxy /etc/nginx /etc/lvs-harness /opt/lvs-harness /run/lvs-harness /var/lib/lvs-harness-undo 2>/dev/null || true',
    // /var/log only for the harness's own files: sshd's logins write wtmp and lastlog, as on any host
    files: '{ for d in /etc/keepalived /etc/haproxy /etc/nginx /etc/lvs-harness /opt/lvs-harness /run/lvs-harness /var/lib/lvs-harness-undo; do [ -e "$d" ] && find "$d" -type f -exec md5sum {} + ; done; find /var/log /run /tmp -maxdepth 1 -name "*lvs*" -exec md5sum {} + ; } 2>/dev/null | sort -k2 || true',
  };
  const out: Record<string, string> = {};
  const c = docker.getContainer(container);
  for (const [k, cmd] of Object.entries(parts)) out[k] = (await execIn(c, ['sh', '-c', cmd])).stdout.trim();
  out.iptables = withoutEmptyTables(out.iptables!);
  return out;
}

/**
 * iptables-save without the tables that hold no rule and only ACCEPT policies: iptables-legacy
 * lists a table once anything has touched it (the test's own DROP for the cut connection), and an
 * empty table filters nothing, so it is no change to put back.
 */
export function withoutEmptyTables(save: string): string {
  const tables = save.split(/^(?=\*)/m);
  return tables
    .filter((t) => !t.startsWith('*') || t.split('\n').some((l) => l.startsWith('-A ') || /^:\S+ (DROP|REJECT)\b/.test(l)))
    .join('')
    .trim();
}

/** Cleans up a key directory made by userKey. */
export const removeKey = (k: { dir: string }) => rm(k.dir, { recursive: true, force: true });
