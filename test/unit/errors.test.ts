import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { labPaths } from '../../harness/lab/paths.js';
import { labUp, qemuArgs } from '../../harness/lab/vm.js';
import { installCommand, missingHostPackages } from '../../harness/runtime/doctor.js';
import { run } from '../../harness/util/proc.js';
import { waitFor } from '../../harness/util/wait.js';
import { rejection } from '../helpers.js';


describe('errors a user sees', () => {
  it('a failing command names the command and carries its stderr', async () => {
    const e = await rejection(run(['sh', '-c', 'echo "disk full" >&2; exit 3']));
    expect(e.code).to.equal('ERR_LVS_COMMAND_FAILED');
    expect(e.message).to.contain('`sh -c echo "disk full" >&2; exit 3` exited with 3');
    expect(e.message).to.contain('disk full');
  });

  it('a missing tool says which Debian package to install', async () => {
    const e = await rejection(run(['debootstrap-not-here'], { pkg: 'debootstrap' }));
    expect(e.code).to.equal('ERR_LVS_MISSING_TOOL');
    expect(e.describe()).to.contain('apt-get install -y --no-install-recommends debootstrap');
  });

  it('a wait that times out says what it waited for and what it last saw', async () => {
    const e = await rejection(
      waitFor('dockerd to answer', () => {
        throw new Error('ECONNREFUSED 127.0.0.1:23750');
      }, { timeoutMs: 200, intervalMs: 50 }),
    );
    expect(e.code).to.equal('ERR_LVS_TIMEOUT');
    expect(e.message).to.match(/timed out after 0\.\d s waiting for dockerd to answer \(last seen: ECONNREFUSED 127.0.0.1:23750\)/);
  });

  describe('without qemu or debootstrap on PATH', () => {
    let savedPath: string | undefined;
    let home: string;
    before(async () => {
      savedPath = process.env.PATH;
      process.env.PATH = '/nonexistent';
      home = await mkdtemp(path.join(tmpdir(), 'lvs-lab-'));
    });
    after(async () => {
      process.env.PATH = savedPath;
      await rm(home, { recursive: true, force: true });
    });

    it('lab up says qemu is missing and how to install it, and starts nothing', async () => {
      const e = await rejection(labUp({ paths: labPaths(home), log: () => {} }));
      expect(e.code).to.equal('ERR_LVS_NO_QEMU');
      expect(e.describe()).to.contain('apt-get install -y --no-install-recommends qemu-system-x86');
    });

    it('doctor lists every missing package in one apt-get command', async () => {
      const missing = await missingHostPackages();
      expect(missing).to.include.members(['qemu-system-x86', 'debootstrap', 'e2fsprogs', 'kmod', 'openssl']);
      expect(installCommand(missing)).to.match(/^apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends .*debootstrap/);
    });
  });

  it('the VM exposes its Docker API on loopback only, with the credentials passed in, on a throwaway disk', () => {
    const args = qemuArgs(
      { key: 'k', kernelVersion: 'v', kernelPackage: 'p', vmlinuz: '/c/vmlinuz', initrd: '/c/initrd.img', rootImage: '/c/root.img', nodeImageTag: 't', nodeRootfsTar: '/c/n.tar', tlsDir: '/tls' },
      { memoryMiB: 2048, cpus: 2, port: 23750, accel: 'tcg', consolePath: '/run/console.log' },
    ).join(' ');
    expect(args).to.contain('user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:23750-:2376');
    expect(args).to.not.match(/hostfwd=tcp::|0\.0\.0\.0/);
    expect(args).to.contain('file=/c/root.img,format=raw,if=virtio,snapshot=on');
    for (const f of ['ca.pem', 'server-cert.pem', 'server-key.pem']) expect(args).to.contain(`name=opt/lvs/${f},file=/tls/${f}`);
    expect(args).to.not.contain('/tls/key.pem'); // the client key never enters the VM
    expect(args).to.contain('-accel tcg,thread=multi -cpu max');
    expect(args).to.contain('-chardev file,id=console,path=/run/console.log,append=on -serial chardev:console');
    expect(args).to.not.contain('-incoming');
  });

  it('a lab that can be saved boots on an overlay with a monitor and a clock port; a restore loads the saved state', () => {
    const a = { key: 'k', kernelVersion: 'v', kernelPackage: 'p', vmlinuz: '/c/vmlinuz', initrd: '/c/initrd.img', rootImage: '/c/root.img', nodeImageTag: 't', nodeRootfsTar: '/c/n.tar', tlsDir: '/tls' };
    const o = { memoryMiB: 2048, cpus: 2, port: 23750, accel: 'tcg' as const, consolePath: '/run/console.log', overlay: '/run/root.qcow2', qmp: '/run/qmp.sock', clock: '/run/clock.sock' };
    const cold = qemuArgs(a, o);
    expect(cold.join(' ')).to.contain('file=/run/root.qcow2,format=qcow2,if=virtio,cache=unsafe').and.not.contain('/c/root.img');
    // the clock is the second serial port: the console stays the first (ttyS0)
    expect(cold.indexOf('chardev:console')).to.be.below(cold.indexOf('unix:/run/clock.sock,server=on,wait=off'));
    expect(cold).to.include.members(['-qmp', 'unix:/run/qmp.sock,server=on,wait=off']);
    const warm = qemuArgs(a, { ...o, incoming: "/saved/it's/state.bin" });
    expect(warm.slice(warm.indexOf('-incoming'), warm.indexOf('-incoming') + 2)).to.deep.equal(['-incoming', "exec:cat '/saved/it'\\''s/state.bin'"]);
    // apart from -incoming, a restore runs the very command line the saved lab ran
    expect(warm.filter((x, i) => x !== '-incoming' && warm[i - 1] !== '-incoming')).to.deep.equal(cold);
  });
});
