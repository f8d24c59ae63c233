import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findLockup } from '../../harness/lab/lockup.js';
import { checkOnce, labLockup, lockupFile, stopWatching } from '../../harness/lab/watchdog.js';
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

  it('does nothing without a console (no lab)', async () => {
    let stopped = 0;
    expect(await checkOnce({ paths: labPaths(home), log: () => {}, stop: async () => void stopped++ })).to.equal(undefined);
    expect(stopped).to.equal(0);
  });
});
