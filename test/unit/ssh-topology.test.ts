import { expect } from 'chai';
import { homedir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { hostCheckArgv, hostTools, sshNodeOptions } from '../../harness/topology/hosts.js';
import { loadTopology, parseTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { problems, variantText, type Doc } from '../topology-helpers.js';

const FP = 'SHA256:2f1q1bX2ZfXrJOjbuHfAq1DbiZf/c0/RkXXAd8GaqXs';
const sshOf = (host: string, extra: Record<string, unknown> = {}) => ({ host, user: 'root', key_file: 'keys/id', host_key: FP, ...extra });
/** dr-ha with its directors over SSH (their addresses given, as they must be) */
const drHa = (change: (doc: Doc) => void = () => {}) =>
  variantText('dr-ha', (d) => {
    d.directors[0].ssh = sshOf('lb1.lab');
    d.directors[1].ssh = sshOf('lb2.lab', { user: 'deploy' });
    change(d);
  });
const bad = (change: (doc: Doc) => void) => problems(drHa(change), 'topologies/dr-ha.yaml');

describe('SSH hosts in topology files (issue 14)', () => {
  it('an ssh block on a director makes it a planned SSH host: defaults filled in, paths resolved against the file, no container', () => {
    const t = parseTopology(drHa(), '/srv/topos/dr-ha.yaml');
    expect(t.directors[0]!.ssh).to.deep.equal({ host: 'lb1.lab', port: 22, user: 'root', key_file: '/srv/topos/keys/id', host_key: FP });
    const p = plan(t);
    const lb1 = p.nodes.find((n) => n.name === 'director1')!;
    const lb2 = p.nodes.find((n) => n.name === 'director2')!;
    expect(lb1.ssh).to.deep.equal({ host: 'lb1.lab', port: 22, user: 'root', keyFile: '/srv/topos/keys/id', hostKey: FP, sudo: false });
    // sudo by default when the user is not root
    expect(lb2.ssh!.sudo).to.equal(true);
    expect(lb1.container).to.equal('ssh root@lb1.lab:22');
    expect(lb1.interfaces).to.deep.equal([{ network: 'lan', address: '10.89.130.2', prefix: 24 }]);
    // the network still has containers on it (real servers, client): the harness makes it
    expect(p.networks[0]).to.deep.equal({ name: 'lan', subnet: '10.89.130.0/24', gateway: '10.89.130.1', dockerName: 'lvsh-dr-ha-lan' });
    expect(sshNodeOptions(lb2)).to.deep.equal({ name: 'director2', host: 'lb2.lab', port: 22, user: 'deploy', keyFile: '/srv/topos/keys/id', hostKey: FP, sudo: true });
  });

  it('every field: agent, known_hosts (~/ is the home directory), sudo, proxy_command, port', () => {
    const t = parseTopology(
      drHa((d) => {
        d.directors[0].ssh = { host: '192.0.2.10', port: 2222, user: 'deploy', agent: true, known_hosts: '~/.ssh/lab_hosts', sudo: false, proxy_command: 'ssh -W %h:%p bastion' };
        d.directors[1].ssh = { host: 'lb2', user: 'root', agent: '/run/agent.sock', key_file: '/abs/key', known_hosts: 'kh' };
      }),
      'x/dr-ha.yaml',
      '/base',
    );
    const p = plan(t);
    expect(p.nodes[0]!.ssh).to.deep.equal({ host: '192.0.2.10', port: 2222, user: 'deploy', agent: true, knownHosts: path.join(homedir(), '.ssh/lab_hosts'), sudo: false, proxyCommand: 'ssh -W %h:%p bastion' });
    expect(p.nodes[1]!.ssh).to.deep.equal({ host: 'lb2', port: 22, user: 'root', keyFile: '/abs/key', agent: '/run/agent.sock', knownHosts: '/base/kh', sudo: false });
  });

  it('bad ssh blocks: each error names the field and what is allowed', () => {
    expect(bad((d) => delete d.directors[0].ssh.key_file)).to.deep.equal([
      'topologies/dr-ha.yaml: directors[0].ssh.key_file: an SSH node needs key_file (a private key) or agent (an ssh-agent socket, or true for $SSH_AUTH_SOCK)',
    ]);
    expect(bad((d) => delete d.directors[0].ssh.host)).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh.host: is required (string)']);
    expect(bad((d) => (d.directors[0].ssh.host_key = 'ab:cd'))).to.deep.equal([
      'topologies/dr-ha.yaml: directors[0].ssh.host_key: "ab:cd" is not a SHA256 host key fingerprint as `ssh-keygen -lf` prints it (SHA256: and 43 base64 characters)',
    ]);
    expect(bad((d) => (d.directors[0].ssh.known_hosts = 'kh'))).to.deep.equal([
      `topologies/dr-ha.yaml: directors[0].ssh.host_key: "${FP}": give host_key (a pinned fingerprint) or known_hosts (a file), not both`,
    ]);
    expect(bad((d) => (d.directors[0].ssh.port = 70000))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh.port: 70000 is out of range (at most 65535)']);
    expect(bad((d) => (d.directors[0].ssh.agent = false))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh.agent: false is not an ssh-agent socket path, or true for $SSH_AUTH_SOCK']);
    expect(bad((d) => (d.directors[0].ssh.sudo = 'yes'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh.sudo: "yes" is not a boolean']);
    expect(bad((d) => (d.directors[0].ssh = 'root@lb1'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh: "root@lb1" is not a mapping']);
    expect(bad((d) => (d.directors[0].ssh.password = 'x'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh: unknown field "password"']);
    expect(bad((d) => (d.directors[0].ssh.user = 'a b'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh.user: "a b" is not a user name such as root or deploy']);
    expect(bad((d) => (d.directors[0].ssh.host = '-oProxyCommand=x'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].ssh.host: "-oProxyCommand=x" is not a host name or address such as lb1.example.net or 192.0.2.10']);
  });

  it('an SSH host keeps its own addresses (no auto), on IPv4-only networks; one machine is one node; a client with count > 1 cannot be one', () => {
    expect(bad((d) => (d.directors[0].networks.lan = 'auto'))).to.deep.equal([
      'topologies/dr-ha.yaml: directors[0].networks.lan: an SSH host keeps its own addresses: give the address it has on lan instead of auto',
    ]);
    expect(bad((d) => (d.directors[1].ssh.host = 'LB1.lab'))).to.deep.equal(['topologies/dr-ha.yaml: directors[1].ssh.host: LB1.lab port 22 is already the host of directors[0]: one machine is one node']);
    expect(bad((d) => (d.clients[0] = { name: 'client', count: 2, networks: { lan: 'auto' }, ssh: sshOf('c.lab') }))).to.include.members([
      'topologies/dr-ha.yaml: clients[0].ssh: a client with count 2 cannot be an SSH host: one ssh block is one machine (list each host as a client of its own)',
    ]);
    expect(bad((d) => (d.networks[0].subnet6 = 'fd89:130::/64'))).to.include(
      'topologies/dr-ha.yaml: directors[0].networks.lan: lan has a subnet6, whose addresses the planner derives for containers; SSH hosts are on IPv4-only networks here',
    );
  });

  it('the planner checks an SSH host\'s address against the subnet like any other; .1 is refused only where Docker has its gateway', () => {
    expect(bad((d) => (d.directors[0].networks.lan = '10.89.131.2'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].networks.lan: "10.89.131.2" is outside 10.89.130.0/24']);
    // containers are on lan: .1 is the bridge's
    expect(bad((d) => (d.directors[0].networks.lan = '10.89.130.1'))).to.deep.equal(['topologies/dr-ha.yaml: directors[0].networks.lan: "10.89.130.1" is the gateway of 10.89.130.0/24 (the engine\'s bridge)']);
  });

  it('docker_network: an existing network the containers join (external); a network of SSH hosts only has none, and its .1 may be a host', () => {
    const p = plan(
      parseTopology(
        drHa((d) => {
          d.networks[0].docker_network = 'staging-lan';
          d.networks.push({ name: 'sync', subnet: '10.89.131.0/24' });
          d.directors[0].networks.sync = '10.89.131.1';
          d.directors[1].networks.sync = '10.89.131.2';
        }),
        't.yaml',
      ),
    );
    expect(p.networks.map((n) => [n.name, n.docker, n.dockerName])).to.deep.equal([
      ['lan', 'external', 'staging-lan'],
      ['sync', 'none', 'lvsh-dr-ha-sync'],
    ]);
    expect(bad((d) => (d.networks[0].docker_network = 'Bad Name!'))).to.deep.equal(['topologies/dr-ha.yaml: networks[0].docker_network: "Bad Name!" is not a Docker network name such as lan or staging-macvlan']);
    expect(
      bad((d) => {
        d.networks[0].docker_network = 'x';
        d.networks.push({ name: 'two', subnet: '10.89.131.0/24', docker_network: 'x' });
      }),
    ).to.deep.equal(['topologies/dr-ha.yaml: networks[1].docker_network: "x" is already the Docker network of networks[0]']);
  });

  it('a host is checked for root and for the tools its plan needs, in one command', () => {
    const p = plan(parseTopology(drHa(), 't.yaml'));
    expect(hostTools(p.nodes[0]!)).to.include.members(['ipvsadm', 'keepalived', 'ip', 'iptables-save']);
    expect(hostTools(p.nodes.find((n) => n.name === 'rs1')!)).to.include.members(['nginx', 'curl']).and.not.include('ipvsadm');
    expect(hostCheckArgv(['ip', 'nginx']).slice(-2)).to.deep.equal(['ip', 'nginx']);
  });

  it('docs/examples/ssh-pair.yaml (the README\'s example, not a lab topology) loads and plans', async () => {
    const file = path.join(REPO_ROOT, 'docs', 'examples', 'ssh-pair.yaml');
    const p = plan(await loadTopology(file));
    expect(p.nodes.filter((n) => n.ssh).map((n) => n.name)).to.deep.equal(['lb1', 'lb2']);
    expect(p.nodes.find((n) => n.name === 'lb1')!.ssh!.keyFile).to.equal(path.join(REPO_ROOT, 'docs', 'examples', 'keys', 'lvs-harness'));
    expect(p.nodes.find((n) => n.name === 'lb2')!.ssh!.proxyCommand).to.equal('ssh -W %h:%p bastion.staging.example.net');
    expect(p.networks).to.deep.equal([{ name: 'lan', subnet: '192.0.2.0/24', gateway: '192.0.2.1', dockerName: 'staging-lan', docker: 'external' }]);
  });
});
