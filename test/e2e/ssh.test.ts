import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import type { ResultsV1 } from '../../harness/report/results.js';
import { labUp } from '../../harness/lab/vm.js';
import { execIn } from '../../harness/runtime/exec.js';
import { resolveRuntime, type Runtime } from '../../harness/runtime/select.js';
import { L, teardown } from '../../harness/topology/builder.js';
import { waitFor } from '../../harness/util/wait.js';
import { cli } from '../helpers.js';
import { createNetworks, hostState, proxyCommand, removeKey, removeStandIns, startStandIn, userKey, type StandIn } from './ssh-standins.js';

/**
 * Real hosts over SSH (issue 14), in the lab: the directors are "hosts", node-image containers
 * that run only sshd, reached over SSH through a ProxyCommand (the lab engine as the jump host);
 * the real servers and the client are the harness's own containers on the same Docker networks
 * (docker_network). What each run changes on a host is read through docker exec, not over the SSH
 * under test, and compared with the host as it was before.
 */
const quiet = () => {};
const CLI = path.join(REPO_ROOT, 'bin', 'lvs-harness.mjs');
const NETS = { public: 'lvsh-sshe2e-public', private: 'lvsh-sshe2e-private', lan: 'lvsh-sshe2e-lan' };

/** what the tests read of a run's results.json */
type Res = Pick<ResultsV1, 'checks' | 'errors' | 'error' | 'valid'>;

describe('real hosts over SSH: sshd stand-ins in the lab (issue 14)', function () {
  this.timeout(20 * 60_000);
  let rt: Runtime;
  let docker: Docker;
  let key: Awaited<ReturnType<typeof userKey>>;
  let lb1: StandIn;
  let lb2: StandIn;
  /** each host as it was before any run */
  const pristine: Record<string, Record<string, string>> = {};

  /** A topology file for the stand-ins, written beside the run's key. */
  const topology = async (name: string, yaml: string) => {
    const file = path.join(key.dir, `${name}.yaml`);
    await writeFile(file, yaml);
    return file;
  };
  const sshBlock = (s: StandIn, o: { hostKey?: string; knownHosts?: string; keyFile?: string } = {}) =>
    `{ host: ${s.name}.standin, user: root, key_file: ${o.keyFile ?? key.file}, ${o.knownHosts ? `known_hosts: ${o.knownHosts}` : `host_key: '${o.hostKey ?? s.fingerprint}'`}, proxy_command: '${proxyCommand(rt, s.container)}' }`;

  const natYaml = (ssh = sshBlock(lb1)) => `# LVS-NAT with the director a host over SSH
name: ssh-nat
description: NAT, the director over SSH (a stand-in in the lab), container real servers and client
networks:
  - { name: public, subnet: 10.89.230.0/24, docker_network: ${NETS.public} }
  - { name: private, subnet: 10.89.231.0/24, docker_network: ${NETS.private} }
directors:
  - name: lb1
    networks: { public: 10.89.230.10, private: 10.89.231.10 }
    ssh: ${ssh}
real_servers:
  - { name: rs1, networks: { private: 10.89.231.21 } }
  - { name: rs2, networks: { private: 10.89.231.22 } }
clients:
  - { name: client, networks: { public: 10.89.230.30 }, source_addresses: 4 }
services:
  - name: web
    vip: 10.89.230.100
    port: 80
    scheduler: rr
    real_servers:
      - { name: rs1, method: masq }
      - { name: rs2, method: masq }
  - name: echo
    vip: 10.89.230.100
    port: 53
    protocol: udp
    scheduler: rr
    real_servers:
      - { name: rs1, method: masq }
      - { name: rs2, method: masq }
`;

  const drPairYaml = () => `# a keepalived pair in DR mode, both directors hosts over SSH
name: ssh-dr-pair
description: DR behind a keepalived pair of two hosts over SSH (stand-ins in the lab), container real servers and client
networks:
  - { name: lan, subnet: 10.89.232.0/24, docker_network: ${NETS.lan} }
directors:
  - { name: lb1, networks: { lan: 10.89.232.10 }, ssh: ${sshBlock(lb1)} }
  - { name: lb2, networks: { lan: 10.89.232.11 }, ssh: ${sshBlock(lb2)} }
real_servers:
  - { name: rs1, networks: { lan: 10.89.232.21 } }
  - { name: rs2, networks: { lan: 10.89.232.22 } }
clients:
  - { name: client, networks: { lan: 10.89.232.30 }, source_addresses: 4 }
services:
  - name: web
    vip: 10.89.232.100
    port: 80
    scheduler: rr
    health_check: { type: tcp, delay_loop: 2, connect_timeout: 1, retry: 1, delay_before_retry: 1 }
    real_servers:
      - { name: rs1, method: droute }
      - { name: rs2, method: droute }
keepalived:
  vrrp:
    - name: VI_SSH
      network: lan
      virtual_router_id: 77
      priorities: { lb1: 150, lb2: 100 }
      advert_int: 1
      auth_pass: lvshssh
      vips:
        - { address: 10.89.232.100, network: lan }
`;

  const resultsOf = async (stdout: string): Promise<Res> => {
    const file = stdout.match(/results: (\S+results\.json)/)?.[1];
    expect(file, stdout).to.be.a('string');
    return JSON.parse(await readFile(file!, 'utf8')) as Res;
  };
  const notTrue = (res: Res) => res.checks.filter((c) => c.valid !== true).map((c) => `${c.group}: ${c.name}: ${c.detail}`);
  const containersOf = async (t: string) => (await docker.listContainers({ all: true, filters: { label: [`${L.topology}=${t}`] } })).length;
  /** What differs between a host now and before any run, per part (none: put back as it was). */
  const changed = async (s: StandIn) => {
    const now = await hostState(docker, s.container);
    return Object.keys(now).filter((k) => now[k] !== pristine[s.name]![k]).map((k) => `${k}:\n--- before\n${pristine[s.name]![k]}\n--- now\n${now[k]}`);
  };

  before(async function () {
    this.timeout(10 * 60_000);
    await labUp({ log: quiet });
    rt = await resolveRuntime({ log: quiet });
    docker = rt.docker;
    await teardown(docker, { all: true }, quiet);
    await removeStandIns(docker);
    key = await userKey();
    await createNetworks(docker, [
      { name: NETS.public, subnet: '10.89.230.0/24' },
      { name: NETS.private, subnet: '10.89.231.0/24' },
      { name: NETS.lan, subnet: '10.89.232.0/24' },
    ]);
    // one staging box can serve several topologies, as here: lb1 is NAT's director and the DR pair's MASTER
    [lb1, lb2] = await Promise.all([
      startStandIn(docker, rt, { name: 'lb1', addresses: { [NETS.public]: '10.89.230.10', [NETS.private]: '10.89.231.10', [NETS.lan]: '10.89.232.10' }, pub: key.pub }),
      startStandIn(docker, rt, { name: 'lb2', addresses: { [NETS.lan]: '10.89.232.11' }, pub: key.pub }),
    ]);
    for (const s of [lb1, lb2]) pristine[s.name] = await hostState(docker, s.container);
  });

  after(async () => {
    if (!docker) return;
    await cli(['down', 'ssh-nat']).catch(() => {});
    await cli(['down', 'ssh-dr-pair']).catch(() => {});
    await removeStandIns(docker);
    if (key) await removeKey(key);
  });

  it('NAT: the modes suite with the director over SSH passes, and the host is put back as it was', async () => {
    const file = await topology('ssh-nat', natYaml());
    const r = await cli(['run', file, '--suite', 'modes'], 10 * 60_000);
    const res = await resultsOf(r.stdout);
    expect(notTrue(res), r.stdout + r.stderr).to.deep.equal([]);
    expect(res.errors, r.stderr).to.deep.equal([]);
    expect(r.code, r.stderr).to.equal(0);
    // TCP and UDP through the host's IPVS, each in its mode
    expect(res.checks.some((c) => c.group.includes('web')) && res.checks.some((c) => c.group.includes('echo')), JSON.stringify(res.checks.map((c) => c.group))).to.equal(true);
    expect(r.stdout + r.stderr).to.contain('SSH hosts connected and checked: lb1 (root@lb1.standin)');
    expect(r.stdout + r.stderr).to.match(/undid \d+ changes? on the hosts of ssh-nat/);
    expect(await changed(lb1)).to.deep.equal([]);
    expect(await containersOf('ssh-nat')).to.equal(0);
  });

  it('DR pair: modes and failover with both keepalived directors over SSH pass; both hosts are put back', async () => {
    const file = await topology('ssh-dr-pair', drPairYaml());
    const r = await cli(['run', file, '--suite', 'modes', '--suite', 'failover'], 15 * 60_000);
    const res = await resultsOf(r.stdout);
    expect(notTrue(res), r.stdout + r.stderr).to.deep.equal([]);
    expect(res.errors, r.stderr).to.deep.equal([]);
    expect(r.code, r.stderr).to.equal(0);
    const failover = res.checks.filter((c) => c.suite === 'failover');
    // a host is not killed or frozen whole: keepalived stopped on the MASTER is its failover
    expect(failover.length, JSON.stringify(res.checks.map((c) => c.group))).to.be.above(0);
    expect(failover.every((c) => !/\b(kill|pause)\b/.test(c.group)), failover.map((c) => c.group).join(', ')).to.equal(true);
    expect(failover.some((c) => /\bstop\b/.test(c.group))).to.equal(true);
    expect(await changed(lb1)).to.deep.equal([]);
    expect(await changed(lb2)).to.deep.equal([]);
  });

  it('host keys and authentication: an unknown, a changed and a wrongly pinned key are refused showing the fingerprint, a wrong user key is refused, each naming the host; nothing is changed', async () => {
    // unknown: known_hosts knows nothing of the host
    const empty = path.join(key.dir, 'known_hosts.empty');
    await writeFile(empty, '');
    const unknown = await cli(['up', await topology('ssh-nat', natYaml(sshBlock(lb1, { knownHosts: empty })))]);
    expect(unknown.code, unknown.stderr).to.equal(1);
    expect(unknown.stderr).to.contain('ERR_LVS_SSH_HOST_KEY');
    expect(unknown.stderr).to.contain(lb1.fingerprint);
    expect(unknown.stderr).to.contain('lb1');

    // changed: known_hosts has another key for the host
    const other = (await execIn(docker.getContainer(lb2.container), ['cat', '/etc/ssh/ssh_host_ed25519_key.pub'])).stdout.trim().split(/\s+/).slice(0, 2).join(' ');
    const stale = path.join(key.dir, 'known_hosts.changed');
    await writeFile(stale, `lb1.standin ${other}\n`);
    const changedKey = await cli(['up', await topology('ssh-nat', natYaml(sshBlock(lb1, { knownHosts: stale })))]);
    expect(changedKey.code, changedKey.stderr).to.equal(1);
    expect(changedKey.stderr).to.contain('ERR_LVS_SSH_HOST_KEY');
    expect(changedKey.stderr).to.match(/chang/i);
    expect(changedKey.stderr).to.contain(lb1.fingerprint);

    // pinned to another fingerprint
    const pinned = await cli(['up', await topology('ssh-nat', natYaml(sshBlock(lb1, { hostKey: lb2.fingerprint })))]);
    expect(pinned.code, pinned.stderr).to.equal(1);
    expect(pinned.stderr).to.contain('ERR_LVS_SSH_HOST_KEY');
    expect(pinned.stderr).to.contain(lb1.fingerprint);

    // a user key the host does not authorize
    const stranger = await userKey();
    try {
      const auth = await cli(['up', await topology('ssh-nat', natYaml(sshBlock(lb1, { keyFile: stranger.file })))]);
      expect(auth.code, auth.stderr).to.equal(1);
      expect(auth.stderr).to.contain('ERR_LVS_SSH_AUTH');
      expect(auth.stderr).to.contain('root@lb1.standin');
    } finally {
      await removeKey(stranger);
    }
    // every host is checked before anything is made: no container, nothing on the host
    expect(await containersOf('ssh-nat')).to.equal(0);
    expect(await changed(lb1)).to.deep.equal([]);
  });

  describe('a run that does not end well', () => {
    const REPORTS = path.join(REPO_ROOT, 'reports');
    const runIds = async () => new Set((await readdir(REPORTS).catch(() => [] as string[])).filter((n) => /^\d{8}T\d{6}-/.test(n)));
    const startRun = async (file: string) => {
      const before = await runIds();
      const child = spawn(process.execPath, [CLI, 'run', file, '--suite', 'modes'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exit = new Promise<number | null>((r) => child.on('exit', (c, sig) => r(c ?? (sig ? -1 : null))));
      const id = await waitFor('the run to make its directory', async () => [...(await runIds())].find((n) => !before.has(n)), { timeoutMs: 60_000, intervalMs: 100 });
      const dir = path.join(REPORTS, id);
      // the checks are running once a client operation is in the history
      await waitFor('a client operation in the run\'s history', async () => (await readFile(path.join(dir, 'history.ndjson'), 'utf8').catch(() => '')).includes('"type":"op"'), { timeoutMs: 240_000, intervalMs: 200 });
      return { child, exit, out: () => out, dir };
    };

    it('killed in its checks: the host stays changed; `down` reconnects from the journal and puts it back', async () => {
      const r = await startRun(await topology('ssh-nat', natYaml()));
      r.child.kill('SIGKILL');
      await r.exit;
      expect((await changed(lb1)).length, 'a killed run cannot undo what it changed').to.be.above(0);
      expect((await hostState(docker, lb1.container)).ipvs).to.contain('10.89.230.100');
      const down = await cli(['down', 'ssh-nat']);
      expect(down.code, down.stdout + down.stderr).to.equal(0);
      expect(down.stdout + down.stderr).to.match(/undid \d+ changes? on the hosts of ssh-nat/);
      expect(await changed(lb1)).to.deep.equal([]);
      expect(await containersOf('ssh-nat')).to.equal(0);
    });

    it("a connection cut mid-run (sshd's port dropped on the host) ends the run with an error naming the host within its deadline; `down` puts the host back once it answers", async () => {
      const r = await startRun(await topology('ssh-nat', natYaml()));
      const lb1c = docker.getContainer(lb1.container);
      await execIn(lb1c, ['iptables', '-I', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP']);
      const cut = Date.now();
      let code: number | null;
      try {
        code = await r.exit;
      } finally {
        await execIn(lb1c, ['iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'], { allowFailure: true });
      }
      const seconds = (Date.now() - cut) / 1000;
      process.stderr.write(`      the run ended ${seconds.toFixed(1)} s after the cut, exit ${code}\n`);
      expect(code, r.out()).to.equal(1);
      expect(seconds, r.out()).to.be.below(240);
      for (const f of ['results.json', 'history.ndjson', 'junit.xml', 'summary.md', 'report.html']) expect(existsSync(path.join(r.dir, f)), f).to.equal(true);
      const res = JSON.parse(await readFile(path.join(r.dir, 'results.json'), 'utf8')) as Res;
      const said = [res.error?.message ?? '', ...res.errors.map((e) => e.message), ...res.checks.filter((c) => c.valid !== true).map((c) => c.detail)].join('\n');
      expect(said, r.out()).to.match(/lb1 \(root@lb1\.standin:22\)/);
      expect(said).to.match(/lost the SSH connection to lb1|ERR_LVS_SSH_LOST|ERR_LVS_SSH_CONNECT/);
      process.stderr.write(`      said: ${said.split('\n').find((l) => /lb1 \(root@/.test(l))}\n`);
      // what the run could not undo over the cut connection, `down` undoes now that the host answers
      const down = await cli(['down', 'ssh-nat']);
      expect(down.code, down.stdout + down.stderr).to.equal(0);
      expect(await changed(lb1)).to.deep.equal([]);
      expect(await containersOf('ssh-nat')).to.equal(0);
    });
  });
});
