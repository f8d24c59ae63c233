/**
 * The lab VM's dockerd-reexec (harness/lab/assets/dockerd-reexec.c), compiled here with the gcc
 * the lab build uses and run as binfmt_misc runs it: `<program> <file> <argv[0]> <argv[1]> ...`.
 * The daemon's side of libnetwork-setkey is a unix socket served by this test; set-ipv6 runs in
 * a network namespace made for the test; anything else goes to the fallback, here /bin/sh.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { assetPath } from '../../harness/lab/recipe.js';

const exec = promisify(execFile);

function runIt(bin: string, args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.on('error', () => {});
    p.stdin.end(stdin);
  });
}

describe("the lab's dockerd-reexec (binfmt_misc short cut for dockerd's re-executions)", function () {
  this.timeout(30_000);
  let dir: string;
  let bin: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvsh-reexec-'));
    bin = path.join(dir, 'dockerd-reexec');
    await exec('gcc', ['-O2', '-Wall', '-Werror', '-DFALLBACK="/bin/sh"', '-o', bin, assetPath('dockerd-reexec.c')]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A daemon's external key listener: what it was sent, answered with `reply`. */
  async function listener(ctrl: string, reply: string): Promise<{ got: Promise<string>; close: () => void }> {
    await mkdir(path.join(dir, 'libnetwork'), { recursive: true });
    let resolveGot!: (s: string) => void;
    const got = new Promise<string>((r) => (resolveGot = r));
    const server = createServer((c) => {
      c.once('data', (d) => {
        resolveGot(d.toString());
        c.end(reply);
      });
    });
    await new Promise<void>((r) => server.listen(path.join(dir, 'libnetwork', `${ctrl}.sock`), r));
    return { got, close: () => server.close() };
  }

  it('libnetwork-setkey sends the container and its namespace to the daemon in one write, and exits 0 on "success"', async () => {
    const l = await listener('f2a83626281a', 'success');
    const state = JSON.stringify({ ociVersion: '1.0.2', id: 'abc123', status: 'created', pid: 4242, bundle: '/run/x' });
    const r = await runIt(bin, ['/proc/238/exe', 'libnetwork-setkey', `-exec-root=${dir}`, 'abc123', 'f2a83626281a'], state);
    l.close();
    expect(r.code, r.stderr).to.equal(0);
    expect(JSON.parse(await l.got)).to.deep.equal({ ContainerID: 'abc123', Key: '/proc/4242/ns/net' });
  });

  it("libnetwork-setkey fails with the daemon's own answer when that is not success", async () => {
    const l = await listener('0123456789ab', 'no sandbox present for abc123');
    const r = await runIt(bin, ['/proc/238/exe', 'libnetwork-setkey', `-exec-root=${dir}`, 'abc123', '0123456789ab'], '{"pid":7}');
    l.close();
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain('no sandbox present for abc123');
  });

  it('libnetwork-setkey without a pid in its state, or without a daemon, says so and fails', async () => {
    const a = await runIt(bin, ['/proc/1/exe', 'libnetwork-setkey', `-exec-root=${dir}`, 'c', 'nosuchctrl'], '{"status":"created"}');
    expect(a.code).to.equal(1);
    expect(a.stderr).to.contain('no pid');
    const b = await runIt(bin, ['/proc/1/exe', 'libnetwork-setkey', `-exec-root=${dir}`, 'c', 'nosuchctrl'], '{"pid":12}');
    expect(b.code).to.equal(1);
    expect(b.stderr).to.contain(path.join(dir, 'libnetwork', 'nosuchctrl.sock'));
  });

  it('set-ipv6 writes disable_ipv6 inside the named network namespace, not in its own', async function () {
    const ns = `lvsh-reexec-${process.pid}`;
    await exec('ip', ['netns', 'add', ns]);
    try {
      const nsPath = `/run/netns/${ns}`;
      const read = async () => (await exec('ip', ['netns', 'exec', ns, 'cat', '/proc/sys/net/ipv6/conf/all/disable_ipv6'])).stdout.trim();
      const own = (await readFile('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8')).trim();
      let r = await runIt(bin, ['/proc/self/exe', 'set-ipv6', nsPath, 'all', 'false']);
      expect(r.code, r.stderr).to.equal(0);
      expect(await read()).to.equal('1');
      r = await runIt(bin, ['/proc/self/exe', 'set-ipv6', nsPath, 'all', 'true']);
      expect(r.code, r.stderr).to.equal(0);
      expect(await read()).to.equal('0');
      expect((await readFile('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8')).trim()).to.equal(own);
      // dockerd's own exit code for a namespace it cannot open
      r = await runIt(bin, ['/proc/self/exe', 'set-ipv6', '/run/netns/no-such-ns', 'all', 'false']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain('no-such-ns');
    } finally {
      await exec('ip', ['netns', 'del', ns]).catch(() => {});
    }
  });

  it('anything else runs the fallback with the same argv[0] and arguments', async () => {
    const r = await runIt(bin, ['/usr/sbin/dockerd', 'docker-untar', '-c', 'tr "\\0" " " < /proc/$$/cmdline', 'x', 'y']);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('docker-untar -c tr "\\0" " " < /proc/$$/cmdline x y');
  });

  it('run other than by binfmt_misc, it says so', async () => {
    const r = await runIt(bin, ['only-one']);
    expect(r.code).to.equal(127);
    expect(r.stderr).to.contain('binfmt_misc');
  });
});

describe('markUnmatched (the copy of dockerd binfmt_misc must not match)', () => {
  it('changes byte 15 of the ELF header and nothing else; a file that is not ELF is refused', async () => {
    const { markUnmatched } = await import('../../harness/lab/build.js');
    const { writeFile } = await import('node:fs/promises');
    const dir = await mkdtemp(path.join(tmpdir(), 'lvsh-unmatched-'));
    try {
      const f = path.join(dir, 'elf');
      const orig = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(100, 7)]);
      await writeFile(f, orig);
      await markUnmatched(f);
      const after = await readFile(f);
      expect(after.length).to.equal(orig.length);
      expect(after[15]).to.equal(1);
      expect(Buffer.concat([after.subarray(0, 15), after.subarray(16)]).equals(Buffer.concat([orig.subarray(0, 15), orig.subarray(16)]))).to.equal(true);
      const txt = path.join(dir, 'txt');
      await writeFile(txt, '#!/bin/sh\necho hi\n');
      let err: Error | undefined;
      await markUnmatched(txt).catch((e: Error) => (err = e));
      expect(err?.message).to.contain('not an ELF file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
