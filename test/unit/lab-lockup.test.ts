import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findHang, findLockup, parseRegisters, type VcpuSample } from '../../harness/lab/lockup.js';
import { checkOnce, labLockup, lockupFile, lockupLog, stopWatching } from '../../harness/lab/watchdog.js';
import { labPaths } from '../../harness/lab/paths.js';
import { failureOf } from '../../harness/suite/record.js';

// console text in the shape the lab's 6.1 kernel writes it (written for these tests)
const BOOT = ['lab: initramfs', 'lab: ipvs loaded', 'lab: network up', 'lab: dockerd up', 'lab: node image lvs-harness/node:0123', 'lab: ready kernel=6.1.0-57-amd64 ipvs=yes'].join('\n');
const soft = (t: number, cpu: number, secs: number, task = 'containerd-shim', pid = 4100 + cpu) => `[ ${t.toFixed(6)}] watchdog: BUG: soft lockup - CPU#${cpu} stuck for ${secs}s! [${task}:${pid}]`;
const rcu = (t: number, jiffies: number) =>
  [
    `[ ${t.toFixed(6)}] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:`,
    `[ ${t.toFixed(6)}] rcu: rcu_preempt kthread starved for ${jiffies} jiffies! g4711 f0x2 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=1`,
    `[ ${t.toFixed(6)}] rcu: 	Unless rcu_preempt kthread gets sufficient CPU time, OOM is now expected behavior.`,
  ].join('\n');

const HUNG = [BOOT, rcu(900, 5000), soft(926, 0, 44), soft(926.1, 1, 44), soft(954, 0, 70), soft(954.1, 1, 70)].join('\n');

describe('lab lockup: the kernel console read for a VM that will not answer again', () => {
  it('fires on CPUs stuck past the threshold, naming the CPUs, the task and how long', () => {
    const l = findLockup(HUNG)!;
    expect(l.kind).to.equal('soft-lockup');
    expect(l.seconds).to.equal(70);
    expect(l.cpus).to.deep.equal([0, 1]);
    expect(l.summary).to.equal("the lab VM's kernel locked up: CPUs #0 and #1 stuck for 70 s in containerd-shim[4100], containerd-shim[4101] (soft lockup, RCU starved 20 s)");
  });

  it('stays silent on a healthy console, and on a short lockup that passed (a vCPU the host did not schedule)', () => {
    expect(findLockup(BOOT + '\n[  12.000000] IPVS: rr scheduler registered.')).to.equal(undefined);
    expect(findLockup([BOOT, soft(300, 1, 23), rcu(301, 5300)].join('\n'))).to.equal(undefined);
  });

  it('fires on an RCU thread starved past the threshold without a soft lockup line', () => {
    const l = findLockup([BOOT, rcu(900, 5000), rcu(1000, 20000)].join('\n'))!;
    expect(l.kind).to.equal('rcu-stall');
    expect(l.seconds).to.equal(80);
  });

  it('fires on a panic after ready; what came before ready (a saved boot, a boot a later line replaced) does not count', () => {
    expect(findLockup(`${BOOT}\n[ 99.0] Kernel panic - not syncing: Fatal exception in interrupt`)!.kind).to.equal('panic');
    expect(findLockup([soft(20, 0, 90), BOOT].join('\n'))).to.equal(undefined);
    expect(findLockup(`${HUNG}\n${BOOT}`)).to.equal(undefined);
  });

  it('a threshold of its own', () => {
    expect(findLockup(HUNG, 71)).to.equal(undefined);
    expect(findLockup(HUNG, 44)!.seconds).to.equal(70);
  });

  it('tolerates any text', () => {
    for (const s of ['', '\0\0', 'watchdog: BUG: soft lockup - CPU#x stuck for ys! []', 'lab: ready'.repeat(3), 'rcu_preempt kthread starved for 1e9 jiffies'])
      expect(() => findLockup(s)).to.not.throw();
  });
});

// the first lines of qemu's "info registers" for one vCPU, in its layout (values made up for these tests)
const regs = (rip: string, rfl: string, hlt = 0) =>
  [
    'CPU#0',
    'RAX=0000000000000001 RBX=ff11000012345678 RCX=ffffffff81a00000 RDX=0000000000000001',
    `RIP=${rip} RFL=${rfl} [-------] CPL=0 II=0 A20=1 SMM=0 HLT=${hlt}`,
    'ES =0000 0000000000000000 00000000 00000000',
  ].join('\n');
const SPIN = 'ffffffff81a5a170';
const at = (t: number, cpu: number, rip: string, interrupts: boolean, halted = false): VcpuSample => ({ t: t * 1000, cpu, rip, interrupts, halted });

describe('lab hang: vCPUs that stay at one instruction with interrupts off', () => {
  it("reads RIP, IF and HLT from qemu's registers", () => {
    expect(parseRegisters(regs(SPIN, '00000002'), 0, 5)).to.deep.equal({ t: 5, cpu: 0, rip: SPIN, interrupts: false, halted: false });
    expect(parseRegisters(regs('FFFFFFFF81001234', '00000246', 1), 1, 6)).to.deep.equal({ t: 6, cpu: 1, rip: 'ffffffff81001234', interrupts: true, halted: true });
    for (const junk of ['', 'RIP=', 'CPU#0\nRAX=1', '\0'.repeat(9)]) expect(parseRegisters(junk, 0, 0)).to.equal(undefined);
  });

  it('fires when a vCPU spun at one instruction with interrupts off for the threshold, naming it', () => {
    const s = [0, 5, 10, 15, 20, 25, 30].flatMap((t) => [at(t, 0, SPIN, false), at(t, 1, `ffffffff8100${t}`, false)]);
    const l = findHang(s)!;
    expect(l.kind).to.equal('hard-lockup');
    expect(l.cpus).to.deep.equal([0]);
    expect(l.seconds).to.equal(30);
    expect(l.summary).to.equal(`the lab VM's kernel hung: vCPU 0 at ${SPIN} stayed at one instruction with interrupts off for 30 s (a hard lockup, which the kernel cannot report on its console)`);
  });

  it('stays silent on an idle vCPU (halted, interrupts on), one that moves, one that took interrupts again, and a short spin', () => {
    const idle = [0, 10, 20, 30, 40].map((t) => at(t, 0, 'ffffffff81b00000', true, true));
    expect(findHang(idle)).to.equal(undefined);
    const moving = [0, 10, 20, 30, 40].map((t) => at(t, 0, `ffffffff8100${t}`, false));
    expect(findHang(moving)).to.equal(undefined);
    const recovered = [...[0, 10, 20, 30].map((t) => at(t, 0, SPIN, false)), at(40, 0, 'ffffffff81000040', true)];
    expect(findHang(recovered)).to.equal(undefined);
    expect(findHang([0, 10, 20].map((t) => at(t, 1, SPIN, false)))).to.equal(undefined);
    expect(findHang([])).to.equal(undefined);
  });

  it('counts only the latest run of equal samples, in any order', () => {
    const s = [at(40, 0, SPIN, false), at(0, 0, SPIN, false), at(20, 0, 'ffffffff81000001', false), at(30, 0, SPIN, false)];
    expect(findHang(s)).to.equal(undefined); // 30..40 only
    expect(findHang(s, 10)!.seconds).to.equal(10);
  });
});

describe('lab watchdog: one look at the console', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'lvs-wd-'));
    await mkdir(path.join(home, 'run'));
  });
  afterEach(async () => {
    stopWatching();
    await rm(home, { recursive: true, force: true });
  });

  it('stops the VM on a lockup, records it, and a run that ends then names the lockup as its cause', async () => {
    const paths = labPaths(home);
    await writeFile(paths.console, HUNG);
    await writeFile(paths.state, JSON.stringify({ pid: 4242 }));
    let stopped = 0;
    const lines: string[] = [];
    const rec = await checkOnce({ paths, log: (m) => lines.push(m), stop: async () => void stopped++ });
    expect(stopped).to.equal(1);
    expect(rec!.pid).to.equal(4242);
    expect(lines.join('\n')).to.match(/lab watchdog: the lab VM's kernel locked up: CPUs #0 and #1 stuck for 70 s .* \(pid 4242\) is stopped/);
    expect(JSON.parse(await readFile(lockupFile(paths), 'utf8')).summary).to.equal(rec!.summary);
    // and the log that outlives the next VM
    expect((await readFile(lockupLog(paths), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).summary)).to.deep.equal([rec!.summary]);
    expect(labLockup()?.summary).to.equal(rec!.summary);
    const f = failureOf('checks', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:23750'), { code: 'ECONNREFUSED' }));
    expect(f.code).to.equal('ERR_LVS_LAB_LOCKUP');
    expect(f.message).to.match(/^the lab VM's kernel locked up: .*; the lab was stopped, and checks ended with: connect ECONNREFUSED/);
  });

  it("another process's watchdog stopped the lab during the run: its lockup.json names the cause; an older one does not", async () => {
    const paths = labPaths(home);
    const runStarted = new Date(Date.now() - 60_000);
    const summary = "the lab VM's kernel locked up: CPU #1 stuck for 64 s in dockerd[77] (soft lockup)";
    await writeFile(lockupFile(paths), JSON.stringify({ kind: 'soft-lockup', seconds: 64, cpus: [1], tasks: ['dockerd[77]'], line: '', summary, at: new Date().toISOString(), consoleTail: [] }));
    expect(labLockup()).to.equal(undefined); // this process saw nothing itself
    expect(labLockup(runStarted, paths)?.summary).to.equal(summary);
    expect(labLockup(new Date(Date.now() + 1000), paths)).to.equal(undefined); // recorded before this run began
    await writeFile(lockupFile(paths), '{not json');
    expect(labLockup(runStarted, paths)).to.equal(undefined);
  });

  it('leaves a healthy lab alone, and a run error keeps its own cause', async () => {
    const paths = labPaths(home);
    await writeFile(paths.console, BOOT);
    let stopped = 0;
    expect(await checkOnce({ paths, log: () => {}, stop: async () => void stopped++ })).to.equal(undefined);
    expect(stopped).to.equal(0);
    expect(labLockup()).to.equal(undefined);
    expect(failureOf('build', Object.assign(new Error('boom'), { code: 'EBOOM' })).code).to.equal('EBOOM');
  });

  it('stops a VM whose vCPU hung with interrupts off, though its console says nothing', async () => {
    const paths = labPaths(home);
    await writeFile(paths.console, BOOT);
    let stopped = 0;
    let t = 0;
    const lines: string[] = [];
    const sampleVcpus = async () => [{ t: (t += 10) * 1000, cpu: 1, rip: SPIN, interrupts: false, halted: false }];
    const look = () => checkOnce({ paths, log: (m) => lines.push(m), stop: async () => void stopped++, sampleVcpus });
    for (let i = 0; i < 3; i++) expect(await look()).to.equal(undefined); // 20 s so far
    const rec = await look();
    expect(rec!.kind).to.equal('hard-lockup');
    expect(stopped).to.equal(1);
    expect(lines.join('\n')).to.match(/lab watchdog: the lab VM's kernel hung: vCPU 1 at ffffffff81a5a170 stayed at one instruction with interrupts off for 30 s/);
  });

  it('a monitor that does not answer leaves the console as the only witness', async () => {
    const paths = labPaths(home);
    await writeFile(paths.console, BOOT);
    let stopped = 0;
    expect(await checkOnce({ paths, log: () => {}, stop: async () => void stopped++, sampleVcpus: async () => { throw new Error('monitor busy'); } })).to.equal(undefined);
    expect(await checkOnce({ paths, log: () => {}, stop: async () => void stopped++ })).to.equal(undefined); // no qmp.sock in this home
    expect(stopped).to.equal(0);
  });

  it('does nothing without a console (no lab)', async () => {
    let stopped = 0;
    expect(await checkOnce({ paths: labPaths(home), log: () => {}, stop: async () => void stopped++ })).to.equal(undefined);
    expect(stopped).to.equal(0);
  });
});
