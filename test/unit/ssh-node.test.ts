import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { proxyCommandText, SshNode, type SshNodeOptions } from '../../harness/runtime/ssh-node.js';
import { entriesFor, fingerprint, hostFieldMatches, hostKeyAlgorithms, knownHostsName, parseKnownHosts, verifyHostKey } from '../../harness/runtime/ssh-host-key.js';
import { run } from '../../harness/util/proc.js';
import { waitFor } from '../../harness/util/wait.js';
import { rejection } from '../helpers.js';
import { alive, descendants, freePort, Sshd, sshdMissing } from './sshd-fixture.js';

const blobOf = (pub: string) => Buffer.from(pub.split(/\s+/)[1]!, 'base64');

/** The pids below sshd running `comm`, once there are `atLeast`. */
const sessionsRunning = (sshd: Sshd, comm: string, atLeast = 1) =>
  waitFor(`${atLeast} ${comm} to run under sshd`, () => {
    const pids = descendants(sshd.pid!).filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    });
    return pids.length >= atLeast ? pids : undefined;
  }, { timeoutMs: 5000, intervalMs: 20 });

describe('host keys and known_hosts (pure)', () => {
  const ed = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJosp+02gRh+T224QSPuquTZtHrbyi8aclmR5mAHUPG0';
  const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFY2TAlYtcqiLaFKNK7Tqs2XD1aW5zMWZo5KpskTaawI';

  it('reads plain, bracketed, wildcard and negated host fields, skipping comments, markers it does not know and broken lines', () => {
    const [, b64] = ed.split(' ');
    const text = [
      '# comment',
      '',
      `lb1,10.0.0.5 ssh-ed25519 ${b64}`,
      `[10.0.0.6]:2222 ssh-ed25519 ${b64} a comment`,
      `*.lab,!bad.lab ssh-ed25519 ${b64}`,
      `@revoked old.lab ssh-ed25519 ${b64}`,
      `@weird x ssh-ed25519 ${b64}`,
      'broken line',
      `mismatch ssh-rsa ${b64}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.hosts, e.marker])).to.deep.equal([
      [3, 'lb1,10.0.0.5', undefined],
      [4, '[10.0.0.6]:2222', undefined],
      [5, '*.lab,!bad.lab', undefined],
      [6, 'old.lab', 'revoked'],
    ]);
    expect(entriesFor(entries, '10.0.0.5', 22).map((e) => e.line)).to.deep.equal([3]);
    expect(entriesFor(entries, '10.0.0.5', 2222)).to.deep.equal([]); // another port is another host
    expect(entriesFor(entries, '10.0.0.6', 2222).map((e) => e.line)).to.deep.equal([4]);
    expect(entriesFor(entries, 'rs1.lab', 22).map((e) => e.line)).to.deep.equal([5]);
    expect(entriesFor(entries, 'bad.lab', 22)).to.deep.equal([]);
    expect(knownHostsName('LB1', 22)).to.equal('lb1');
    expect(knownHostsName('::1', 2222)).to.equal('[::1]:2222');
    expect(hostKeyAlgorithms(entries.slice(0, 1))).to.deep.equal(['ssh-ed25519']);
    expect(hostKeyAlgorithms(parseKnownHosts(`h ssh-rsa ${b64}`))).to.equal(undefined); // a blob of another type is no entry
  });

  it('accepts the known key, refuses an unknown one, a changed one and a revoked one, each saying what to do', () => {
    const knownHosts = { file: '/k', entries: parseKnownHosts(`lb1 ${ed}\n@revoked lb2 ${other}\nlb2 ${ed}\n`) };
    expect(verifyHostKey(blobOf(ed), { host: 'lb1', port: 22, knownHosts })).to.deep.equal({ ok: true, how: '/k:1' });
    const changed = verifyHostKey(blobOf(other), { host: 'lb1', port: 22, knownHosts });
    expect(changed).to.include({ ok: false, kind: 'changed' });
    expect(changed.ok === false && changed.message).to.contain(`CHANGED: it offers ssh-ed25519 ${fingerprint(blobOf(other))}, but /k:1 has ssh-ed25519 ${fingerprint(blobOf(ed))}`);
    expect(changed.ok === false && changed.hint).to.contain("ssh-keygen -R 'lb1' -f /k");
    const unknown = verifyHostKey(blobOf(ed), { host: 'lb3', port: 2200, knownHosts });
    expect(unknown).to.include({ ok: false, kind: 'unknown' });
    expect(unknown.ok === false && unknown.hint).to.contain(`hostKey: '${fingerprint(blobOf(ed))}'`).and.contain('ssh-keyscan -p 2200 lb3 >> /k');
    expect(verifyHostKey(blobOf(other), { host: 'lb2', port: 22, knownHosts })).to.include({ ok: false, kind: 'revoked' });
    expect(verifyHostKey(blobOf(ed), { host: 'lb3', port: 22, pinned: fingerprint(blobOf(ed)) })).to.deep.equal({ ok: true, how: 'pinned fingerprint' });
    expect(verifyHostKey(blobOf(other), { host: 'lb3', port: 22, pinned: fingerprint(blobOf(ed)), knownHosts })).to.include({ ok: false, kind: 'changed' });
  });

  it('matches hashed |1| names (HMAC-SHA1 of the name, salted)', () => {
    const salt = Buffer.from('0123456789abcdef0123');
    const field = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.6]:2222').digest('base64')}`;
    expect(hostFieldMatches(field, '[10.0.0.6]:2222')).to.equal(true);
    expect(hostFieldMatches(field, '10.0.0.6')).to.equal(false);
  });
});

describe('SSH node against a real sshd on 127.0.0.1', function () {
  this.timeout(15_000); // a loaded machine; each test takes well under a second here
  let sshd: Sshd;
  let node: SshNode;
  const opened: SshNode[] = [];
  const make = (o: Partial<SshNodeOptions> = {}) => {
    const n = new SshNode({ name: 'lb1', host: '127.0.0.1', port: sshd.port, user: sshd.user, keyFile: sshd.userKey, hostKey: sshd.hostKey.fingerprint, connectTimeoutMs: 5000, ...o });
    opened.push(n);
    return n;
  };

  before(async function () {
    const why = sshdMissing();
    // a missing sshd fails the tests (npm test installs openssh-server; see HOST_TOOLS)
    if (why) throw new Error(`sshd cannot run here: ${why}`);
    sshd = await Sshd.create();
    node = make();
  });

  after(async () => {
    await Promise.all(opened.map((n) => n.close()));
    await sshd?.dispose();
  });

  it('computes the host key fingerprint exactly as ssh-keygen -l prints it', () => {
    expect(fingerprint(blobOf(sshd.hostKey.pub))).to.equal(sshd.hostKey.fingerprint);
    expect(fingerprint(blobOf(sshd.otherEcdsaKey.pub))).to.equal(sshd.otherEcdsaKey.fingerprint);
  });

  it('runs argv exactly as given: quotes, $, backticks, newlines, spaces and the empty string come back unchanged', async () => {
    const hostile = ['', ' ', "it's", '"double" \\back', '$HOME', '$(touch /tmp/pwned)', '`id`', 'new\nline', 'a\tb', '*', '~root', '-n', '; exit 3', '&&', '|', '>out', '!x', '{a,b}', 'ä ö ü', "''", '\\'];
    const r = await node.exec(['printf', '%s\\0', ...hostile]);
    expect(r.stdout.split('\0').slice(0, -1)).to.deep.equal(hostile);
    expect(r).to.include({ exitCode: 0, stderr: '' });
  });

  it('a non-zero exit throws ERR_LVS_EXEC_FAILED naming the command, the host and its stderr; allowFailure returns all three', async () => {
    const argv = ['sh', '-c', 'echo out; echo oops >&2; exit 7'];
    const e = await rejection(node.exec(argv));
    expect(e.code).to.equal('ERR_LVS_EXEC_FAILED');
    expect(e.message).to.equal(`\`sh -c echo out; echo oops >&2; exit 7\` on lb1 (${sshd.user}@127.0.0.1:${sshd.port}) exited with 7: oops`);
    expect(await node.exec(argv, { allowFailure: true })).to.deep.equal({ exitCode: 7, stdout: 'out\n', stderr: 'oops\n' });
  });

  it('writes input to stdin byte for byte, and closes stdin when there is none', async () => {
    const input = "line one\n'quoted' $x `y`\n\ttab\nno newline at the end ✓";
    expect((await node.exec(['cat'], { input })).stdout).to.equal(input);
    expect(await node.exec(['cat'], { timeoutMs: 5000 })).to.deep.equal({ exitCode: 0, stdout: '', stderr: '' });
  });

  it('writeFile then readFile round-trips the text, sets the mode, takes odd paths; a missing file names path and host', async () => {
    const file = path.join(sshd.dir, "odd name 'with' $quotes.conf");
    const text = 'x'.repeat(300_000) + "\nvrrp_instance VI_1 { state MASTER }\n$HOME `id`\n";
    await node.writeFile(file, text, 0o640);
    expect(await node.readFile(file)).to.equal(text);
    expect(readFileSync(file, 'utf8')).to.equal(text);
    await node.writeFile(file, 'second\n'); // no mode: keeps the file's
    expect((await run(['stat', '-c', '%a', file])).stdout.trim()).to.equal('640');
    expect(readFileSync(file, 'utf8')).to.equal('second\n');
    const e = await rejection(node.readFile('/nonexistent/file'));
    expect(e.code).to.equal('ERR_LVS_EXEC_FAILED');
    expect(e.message).to.equal(`cannot read /nonexistent/file on lb1 (${sshd.user}@127.0.0.1:${sshd.port}): /nonexistent/file: No such file or directory`);
    const w = await rejection(node.writeFile('/nonexistent/dir/f', 'x'));
    expect(w.message).to.match(/^cannot write \/nonexistent\/dir\/f on lb1 \(.*\): .*(Directory nonexistent|No such file or directory)/);
  });

  it('a command past its deadline fails with ERR_LVS_TIMEOUT naming host and command, is ended on the host, and the connection stays usable', async () => {
    const pidFile = path.join(sshd.dir, 'slow.pid');
    const t0 = Date.now();
    const e = await rejection(node.exec(['sh', '-c', 'echo $$ > "$1"; exec sleep 30', 'sh', pidFile], { timeoutMs: 700 }));
    expect(Date.now() - t0).to.be.below(2000);
    expect(e.code).to.equal('ERR_LVS_TIMEOUT');
    expect(e.message).to.contain(`on lb1 (${sshd.user}@127.0.0.1:${sshd.port}) did not finish within 0.7 s`).and.contain('sleep 30');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitFor('the remote sleep to be ended', () => !alive(pid), { timeoutMs: 3000, intervalMs: 20 });
    expect((await node.exec(['echo', 'still here'])).stdout).to.equal('still here\n');
  });

  it('spawn streams stdout and stderr as they come, takes stdin, and reports the exit code; kill ends a command with a signal', async () => {
    const p = await node.spawn(['sh', '-c', 'echo ready; read x; echo "got $x"; echo warn >&2; exit 3']);
    let out = '';
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b));
    const ready = new Promise<void>((r) => p.stdout.on('data', (b: Buffer) => ((out += b), out.includes('ready') && r())));
    await ready; // the first line arrived while the command waits for input
    p.stdin.end('hello\n');
    expect(await p.exit).to.deep.equal({ exitCode: 3, signal: null });
    await waitFor('the rest of stdout', () => out === 'ready\ngot hello\n' && err === 'warn\n', { timeoutMs: 2000, intervalMs: 10 });

    const sleeper = await node.spawn(['sleep', '30']);
    sleeper.stdout.resume();
    sleeper.stderr.resume();
    const [pid] = await sessionsRunning(sshd, 'sleep');
    sleeper.kill();
    expect(await sleeper.exit).to.deep.equal({ exitCode: null, signal: 'SIGTERM' });
    await waitFor('the remote sleep to be ended', () => !alive(pid!), { timeoutMs: 3000, intervalMs: 20 });
  });

  it('runs more commands at once than sshd allows sessions per connection (10)', async () => {
    const rs = await Promise.all(Array.from({ length: 14 }, (_, i) => node.exec(['echo', String(i)])));
    expect(rs.map((r) => r.stdout)).to.deep.equal(Array.from({ length: 14 }, (_, i) => `${i}\n`));
  });

  it('with sudo, runs argv through `sudo -n --` as root, quoted all the same; handCommand is the ssh line to type', async function () {
    const sudo = make({ sudo: true });
    expect(sudo.handCommand(['ip', 'addr', 'del', '10.0.0.100/32', 'dev', 'eth0'])).to.equal(
      `ssh -p ${sshd.port} -i ${sshd.userKey} ${sshd.user}@127.0.0.1 'sudo -n -- ip addr del 10.0.0.100/32 dev eth0'`,
    );
    expect(node.handCommand(['echo', "it's"])).to.equal(`ssh -p ${sshd.port} -i ${sshd.userKey} ${sshd.user}@127.0.0.1 'echo '\\''it'\\''\\'\\'''\\''s'\\'''`);
    expect(existsSync('/usr/bin/sudo'), 'sudo is not installed (npm test installs it; see HOST_TOOLS)').to.equal(true);
    const r = await sudo.exec(['sh', '-c', 'id -u; printf "%s|" "$@"', 'sh', '$HOME', "it's", '']);
    expect(r.stdout).to.equal("0\n$HOME|it's||");
  });

  describe('host keys', () => {
    it('an unknown key is refused: the message names the host and shows the fingerprint and how to pin it', async () => {
      const e = await rejection(make({ hostKey: undefined, knownHosts: path.join(sshd.dir, 'no_known_hosts') }).exec(['true']));
      expect(e.code).to.equal('ERR_LVS_SSH_HOST_KEY');
      expect(e.message).to.contain(`host key of lb1 (${sshd.user}@127.0.0.1:${sshd.port}): unknown host key: it offers ssh-ed25519 ${sshd.hostKey.fingerprint}`);
      expect(e.hint).to.contain(`pin it with hostKey: '${sshd.hostKey.fingerprint}'`);
    });

    it('a key in known_hosts is accepted, as [host]:port and hashed (ssh-keygen -H)', async () => {
      const file = path.join(sshd.dir, 'known_hosts_ok');
      await writeFile(file, `# ours\n${sshd.knownHostsLine()}\n`);
      expect((await make({ hostKey: undefined, knownHosts: file }).exec(['echo', 'plain'])).stdout).to.equal('plain\n');
      await run(['ssh-keygen', '-H', '-f', file]);
      expect(readFileSync(file, 'utf8')).to.match(/^\|1\|/m);
      expect((await make({ hostKey: undefined, knownHosts: file }).exec(['echo', 'hashed'])).stdout).to.equal('hashed\n');
    });

    it('a changed key is refused, saying so: known_hosts has another key of that type, or only a key of another type, or the pin differs', async () => {
      const file = path.join(sshd.dir, 'known_hosts_changed');
      await writeFile(file, `${sshd.knownHostsLine(sshd.otherHostKey.pub)}\n`);
      const e = await rejection(make({ hostKey: undefined, knownHosts: file }).exec(['true']));
      expect(e.code).to.equal('ERR_LVS_SSH_HOST_KEY');
      expect(e.message).to.contain(`the host key has CHANGED: it offers ssh-ed25519 ${sshd.hostKey.fingerprint}, but ${file}:1 has ssh-ed25519 ${sshd.otherHostKey.fingerprint}`);
      expect(e.hint).to.contain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}' -f ${file}`);

      await writeFile(file, `${sshd.knownHostsLine(sshd.otherEcdsaKey.pub)}\n`);
      const t = await rejection(make({ hostKey: undefined, knownHosts: file }).exec(['true']));
      expect(t.code).to.equal('ERR_LVS_SSH_HOST_KEY');
      expect(t.message).to.contain('the host key has CHANGED: it offers none of the key types').and.contain('ecdsa-sha2-nistp256');

      const p = await rejection(make({ hostKey: sshd.otherHostKey.fingerprint }).exec(['true']));
      expect(p.code).to.equal('ERR_LVS_SSH_HOST_KEY');
      expect(p.message).to.contain(`CHANGED: it offers ssh-ed25519 ${sshd.hostKey.fingerprint}, but the pinned hostKey is ${sshd.otherHostKey.fingerprint}`);
    });

    it('a hostKey that is no fingerprint is a usage error at once', () => {
      expect(() => make({ hostKey: 'ab:cd:ef' })).to.throw(/hostKey "ab:cd:ef" is not a SHA256 fingerprint/);
    });
  });

  describe('connection failures name the host', () => {
    it('a key the host does not accept: ERR_LVS_SSH_AUTH', async () => {
      const e = await rejection(make({ keyFile: sshd.wrongKey }).exec(['true']));
      expect(e.code).to.equal('ERR_LVS_SSH_AUTH');
      expect(e.message).to.equal(`SSH authentication to lb1 (${sshd.user}@127.0.0.1:${sshd.port}) failed: ${sshd.user} was refused (offered the key in ${sshd.wrongKey})`);
    });

    it('a closed port: ERR_LVS_SSH_CONNECT, connection refused at host:port', async () => {
      const port = await freePort();
      const e = await rejection(make({ port }).exec(['true']));
      expect(e.code).to.equal('ERR_LVS_SSH_CONNECT');
      expect(e.message).to.equal(`cannot connect to lb1 (${sshd.user}@127.0.0.1:${port}): connection refused`);
      expect(e.hint).to.contain(`listening on port ${port}`);
    });

    it('a port that accepts but never speaks SSH: ERR_LVS_SSH_CONNECT after connectTimeoutMs', async () => {
      const silent = net.createServer(() => {});
      const sockets: net.Socket[] = [];
      silent.on('connection', (s) => sockets.push(s));
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        const t0 = Date.now();
        const e = await rejection(make({ port, connectTimeoutMs: 300 }).exec(['true']));
        expect(Date.now() - t0).to.be.below(1500);
        expect(e.code).to.equal('ERR_LVS_SSH_CONNECT');
        expect(e.message).to.equal(`cannot connect to lb1 (${sshd.user}@127.0.0.1:${port}): no SSH handshake within 0.3 s`);
      } finally {
        sockets.forEach((s) => s.destroy());
        silent.close();
      }
    });
  });

  describe('proxy_command (OpenSSH ProxyCommand)', () => {
    // nc is not on every machine; node is: a one-liner that pipes stdin/stdout to host:port
    const PIPE = `const s=require("net").connect(+process.argv[2],process.argv[1]);process.stdin.pipe(s);s.pipe(process.stdout);s.on("error",(e)=>{console.error("proxy: "+e.message);process.exit(1)});s.on("close",()=>process.exit(0))`;
    const via = (pidFile: string) => `echo $$ > ${pidFile}; exec node -e '${PIPE}' %h %p`;

    it('substitutes %h, %p, %r and %% as OpenSSH does, and leaves other % sequences', () => {
      expect(proxyCommandText('ssh -W %h:%p -l %r bastion 100%% %x %', 'lb1.lab', 2222, 'deploy')).to.equal('ssh -W lb1.lab:2222 -l deploy bastion 100% %x %');
      expect(proxyCommandText('%%h', 'h', 1, 'u')).to.equal('%h');
    });

    it('runs commands over the proxy command\'s stdin/stdout, and kills it when the connection closes', async () => {
      const pidFile = path.join(sshd.dir, 'proxy.pid');
      const n = make({ proxyCommand: via(pidFile) });
      expect((await n.exec(['echo', 'through the proxy'])).stdout).to.equal('through the proxy\n');
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(alive(pid)).to.equal(true);
      expect(n.handCommand(['true'])).to.match(/^ssh -p \d+ -i \S+ -o 'ProxyCommand=echo \$\$ > [^;]+; exec node -e '\\''const s=/);
      await n.close();
      await waitFor('the proxy command to end', () => !alive(pid), { timeoutMs: 3000, intervalMs: 20 });
    });

    it('a proxy command that fails: ERR_LVS_SSH_CONNECT naming the host, the command as run and what it said on stderr', async () => {
      const port = await freePort();
      const n = make({ port, proxyCommand: `node -e '${PIPE}' %h %p` });
      const e = await rejection(n.exec(['true']));
      expect(e.code).to.equal('ERR_LVS_SSH_CONNECT');
      expect(e.message).to.contain(`cannot connect to lb1 (${sshd.user}@127.0.0.1:${port}): the proxy command \`node -e`);
      expect(e.message).to.contain(`127.0.0.1 ${port}\` exited with 1: proxy: connect ECONNREFUSED 127.0.0.1:${port}`);
      expect(e.hint).to.contain('run it by hand');

      const m = await rejection(make({ proxyCommand: 'echo "bastion: no route to %h" >&2; exit 3' }).exec(['true']));
      expect(m.code).to.equal('ERR_LVS_SSH_CONNECT');
      expect(m.message).to.contain('exited with 3: bastion: no route to 127.0.0.1');
    });

    it('host keys are checked through a proxy as without one', async () => {
      const e = await rejection(make({ proxyCommand: `node -e '${PIPE}' %h %p`, hostKey: sshd.otherHostKey.fingerprint }).exec(['true']));
      expect(e.code).to.equal('ERR_LVS_SSH_HOST_KEY');
    });
  });

  // these two take the server down: last
  describe('a connection lost mid-command', () => {
    it('fails the running commands with ERR_LVS_SSH_LOST naming host and command, and the next exec reconnects', async () => {
      const n = make();
      await n.exec(['true']);
      const running = n.exec(['sleep', '30'], { timeoutMs: 10_000 });
      const spawned = await n.spawn(['sleep', '31']);
      await sessionsRunning(sshd, 'sleep', 2);
      expect(sshd.killSessions()).to.be.above(0);
      const e = await rejection(running);
      expect(e.code).to.equal('ERR_LVS_SSH_LOST');
      expect(e.message).to.match(new RegExp(`^lost the SSH connection to lb1 \\(${sshd.user}@127\\.0\\.0\\.1:${sshd.port}\\) while \`sleep 30\` ran`));
      expect(e.hint).to.contain('the next command reconnects');
      expect((await rejection(spawned.exit)).code).to.equal('ERR_LVS_SSH_LOST');
      expect((await n.exec(['echo', 'back'])).stdout).to.equal('back\n');
    });

    it('with sshd stopped: ERR_LVS_SSH_LOST, then connection refused while it is down, then works once it is back', async () => {
      const n = make();
      await n.exec(['true']);
      const running = rejection(n.exec(['sleep', '30'], { timeoutMs: 10_000 }));
      await sessionsRunning(sshd, 'sleep');
      await sshd.stop();
      expect((await running).code).to.equal('ERR_LVS_SSH_LOST');
      const down = await rejection(n.exec(['true']));
      expect(down.code).to.equal('ERR_LVS_SSH_CONNECT');
      expect(down.message).to.contain('connection refused');
      await sshd.start();
      expect((await n.exec(['echo', 'back'])).stdout).to.equal('back\n');
    });
  });
});
