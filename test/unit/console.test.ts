import { expect } from 'chai';
import { bootPanic, parseConsole } from '../../harness/lab/console.js';
import { bootCold } from '../../harness/lab/vm.js';
import { HarnessError } from '../../harness/errors.js';

describe('lab console parsing', () => {
  it('follows the boot to ready, with kernel and ipvs', () => {
    const text = [
      '[    0.000000] Linux version 6.1.0-56-amd64',
      'lab: initramfs',
      'lab: ipvs loaded',
      'lab: network up',
      'lab: dockerd up',
      'lab: node image lvs-harness/node:abc',
      'lab: ready kernel=6.1.0-56-amd64 ipvs=yes',
    ].join('\r\n');
    const c = parseConsole(text);
    expect(c.phase).to.equal('ready');
    expect(c.kernel).to.equal('6.1.0-56-amd64');
    expect(c.ipvs).to.equal(true);
    expect(c.steps).to.have.length(6);
  });

  it('is still booting midway, and knows ipvs before ready', () => {
    const c = parseConsole('lab: initramfs\nlab: ipvs missing\n');
    expect(c.phase).to.equal('booting');
    expect(c.ipvs).to.equal(false);
  });

  it('reports a fatal line from lab-init', () => {
    const c = parseConsole('lab: initramfs\nlab: FATAL dockerd did not start\n');
    expect(c).to.deep.include({ phase: 'failed', error: 'dockerd did not start' });
  });

  it('reports a kernel panic before lab-init speaks', () => {
    const c = parseConsole('[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n');
    expect(c.phase).to.equal('failed');
    expect(c.error).to.contain('Unable to mount root fs');
  });

  // CI's trixie boot of 2026-12-01 (its console, shortened): a stale int3 of the kernel's code patching in its init
  const INT3 = [
    '[    2.245403] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI',
    '[    2.246053] CPU: 0 UID: 0 PID: 1 Comm: swapper/0 Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1',
    '[    2.246219] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014',
    '[    2.246343] RIP: 0010:sched_clock_cpu+0x9/0x1d0',
    '[    2.249665]  sched_init_debug+0x2f/0x320',
    '[    2.251300] Kernel panic - not syncing: Fatal exception in interrupt',
  ].join('\n');

  it('bootPanic: an int3 Oops in the kernel\'s init is transient, with where it hit', () => {
    expect(bootPanic(INT3)).to.deep.equal({ line: 'Kernel panic - not syncing: Fatal exception in interrupt', oops: 'Oops: int3 at sched_clock_cpu+0x9/0x1d0', transient: true });
  });

  it('bootPanic: a root file system that does not mount, or a general protection fault, is not transient; no panic is nothing', () => {
    expect(bootPanic('[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\n')).to.deep.equal({ line: 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', transient: false });
    const gp = INT3.replace('Oops: int3: 0000', 'Oops: general protection fault: 0000');
    expect(bootPanic(gp)).to.deep.include({ oops: 'Oops: general protection fault at sched_clock_cpu+0x9/0x1d0', transient: false });
    expect(bootPanic(INT3.split('\n').slice(0, 4).join('\n'))).to.equal(undefined);
    expect(bootPanic('lab: ready kernel=6.1.0 ipvs=yes\n')).to.equal(undefined);
  });

  const failed = (panic: unknown) => new HarnessError('ERR_LVS_LAB_BOOT', 'the lab did not come up', panic ? { details: { panic } } : {});

  it('bootCold boots again after a transient panic, saying so, and gives up after three boots', async () => {
    const said: string[] = [];
    let n = 0;
    const ok = await bootCold(async () => (++n < 3 ? Promise.reject(failed(bootPanic(INT3))) : 'up'), (m) => said.push(m), 'trixie');
    expect(ok).to.equal('up');
    expect(n).to.equal(3);
    expect(said).to.have.length(2);
    expect(said[0]).to.contain("the trixie lab's kernel panicked in its own init (Oops: int3 at sched_clock_cpu+0x9/0x1d0").and.contain('attempt 2 of 3');
    n = 0;
    const e = await bootCold(async () => (n++, Promise.reject(failed(bootPanic(INT3)))), () => {}, 'trixie').catch((x: Error) => x);
    expect(n).to.equal(3);
    expect((e as Error).message).to.equal('the lab did not come up');
  });

  it('bootCold throws any other failure at once: a panic that is not transient, a boot without a panic', async () => {
    for (const panic of [bootPanic('Kernel panic - not syncing: VFS: Unable to mount root fs\n'), undefined]) {
      let n = 0;
      const said: string[] = [];
      const e = await bootCold(async () => (n++, Promise.reject(failed(panic))), (m) => said.push(m), 'bookworm').catch((x: Error) => x);
      expect(e).to.be.instanceOf(HarnessError);
      expect(n).to.equal(1);
      expect(said).to.deep.equal([]);
    }
  });
});
