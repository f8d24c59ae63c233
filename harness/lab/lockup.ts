/**
 * The lab VM's kernel reports its own death on the serial console before it stops answering:
 * soft lockups ("watchdog: BUG: soft lockup - CPU#0 stuck for 44s! [containerd-shim:15171]"),
 * RCU stalls ("rcu_preempt kthread starved for 5252 jiffies!") and panics. Under software
 * emulation a vCPU that the host did not schedule for a while can give one short lockup that
 * passes; a kernel whose CPUs stay stuck past a threshold does not come back, and every Docker
 * call into it then waits for ever. This reads the console for that (pure; the watchdog in
 * watchdog.ts acts on it).
 */

export interface Lockup {
  kind: 'soft-lockup' | 'rcu-stall' | 'panic' | 'hard-lockup';
  /** the longest time a CPU was reported stuck (soft lockup) or the RCU thread starved, in seconds */
  seconds: number;
  /** the CPUs reported stuck, in order */
  cpus: number[];
  /** the tasks they were stuck in ("containerd-shim[15171]") */
  tasks: string[];
  /** the console line that decided */
  line: string;
  /** one sentence for an operator */
  summary: string;
}

/** The kernel's tick rate in the lab's Debian kernels (CONFIG_HZ=250), for RCU's jiffies. */
export const LAB_HZ = 250;

const SOFT = /watchdog: BUG: soft lockup - CPU#(\d+) stuck for (\d+)s! \[([^\]:]+):(\d+)\]/;
const STARVED = /rcu_(?:preempt|sched) kthread starved for (\d+) jiffies/;
const PANIC = /Kernel panic - not syncing:[^\n]*/;

/**
 * The lockup in a console log, when one lasted `thresholdSeconds` or more (or the kernel
 * panicked after lab-init said ready); undefined when the kernel is healthy or a stall was short.
 * Only what follows the last "lab: ready" line counts: earlier text belongs to the boot (or to a
 * saved boot's console that a restored lab goes on from).
 */
export function findLockup(consoleText: string, thresholdSeconds = 60): Lockup | undefined {
  const ready = consoleText.lastIndexOf('lab: ready');
  const text = ready >= 0 ? consoleText.slice(ready) : consoleText;
  const panic = text.match(PANIC);
  if (ready >= 0 && panic) return { kind: 'panic', seconds: 0, cpus: [], tasks: [], line: panic[0].trim(), summary: `the lab VM's kernel panicked: ${panic[0].trim()}` };
  let soft: { seconds: number; line: string } | undefined;
  const cpus: number[] = [];
  const tasks: string[] = [];
  let starved: { seconds: number; line: string } | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const s = raw.match(SOFT);
    if (s) {
      const cpu = Number(s[1]);
      const secs = Number(s[2]);
      const task = `${s[3]}[${s[4]}]`;
      if (!cpus.includes(cpu)) cpus.push(cpu);
      if (!tasks.includes(task)) tasks.push(task);
      if (!soft || secs >= soft.seconds) soft = { seconds: secs, line: raw.trim() };
      continue;
    }
    const r = raw.match(STARVED);
    if (r) {
      const secs = Math.round(Number(r[1]) / LAB_HZ);
      if (!starved || secs >= starved.seconds) starved = { seconds: secs, line: raw.trim() };
    }
  }
  if (soft && soft.seconds >= thresholdSeconds) {
    const who = cpus.length > 1 ? `CPUs ${cpus.map((c) => `#${c}`).join(' and ')}` : `CPU #${cpus[0]}`;
    return {
      kind: 'soft-lockup',
      seconds: soft.seconds,
      cpus,
      tasks,
      line: soft.line,
      summary: `the lab VM's kernel locked up: ${who} stuck for ${soft.seconds} s in ${tasks.join(', ')} (soft lockup${starved ? `, RCU starved ${starved.seconds} s` : ''})`,
    };
  }
  if (starved && starved.seconds >= thresholdSeconds)
    return {
      kind: 'rcu-stall',
      seconds: starved.seconds,
      cpus,
      tasks,
      line: starved.line,
      summary: `the lab VM's kernel stalled: its RCU thread starved for ${starved.seconds} s${tasks.length ? ` (CPUs stuck in ${tasks.join(', ')})` : ''}`,
    };
  return undefined;
}

/**
 * One look at a vCPU through qemu's monitor ("info registers"): where it is, and whether it takes
 * interrupts. A kernel that hangs with interrupts off on every CPU prints nothing on its console
 * (no timer runs its soft-lockup watchdog, and emulation gives it no NMI watchdog), so the host
 * looks at the vCPUs themselves.
 */
export interface VcpuSample {
  /** host clock, ms */
  t: number;
  cpu: number;
  rip: string;
  /** RFLAGS.IF */
  interrupts: boolean;
  /** HLT=1: idle, waiting for an interrupt */
  halted: boolean;
}

/** The RIP, IF and HLT of qemu's "info registers" text; undefined when it holds none. */
export function parseRegisters(text: string, cpu: number, t: number): VcpuSample | undefined {
  const m = text.match(/\bRIP=([0-9a-f]+)\s+RFL=([0-9a-f]+)\b[^\n]*?\bHLT=([01])/i);
  if (!m) return undefined;
  const rfl = parseInt(m[2]!, 16);
  return { t, cpu, rip: m[1]!.toLowerCase(), interrupts: (rfl & 0x200) !== 0, halted: m[3] === '1' };
}

/**
 * A hard lockup: a vCPU that stayed at one instruction with interrupts off, not halted, in every
 * sample over `thresholdSeconds` or more (a spin on a lock whose holder will never let go; a
 * healthy kernel keeps interrupts off for microseconds). Samples in any order, of any CPUs.
 */
export function findHang(samples: readonly VcpuSample[], thresholdSeconds = 30): Lockup | undefined {
  const byCpu = new Map<number, VcpuSample[]>();
  for (const s of samples) byCpu.set(s.cpu, [...(byCpu.get(s.cpu) ?? []), s]);
  const stuck: { cpu: number; rip: string; seconds: number }[] = [];
  for (const [cpu, list] of byCpu) {
    const sorted = [...list].sort((a, b) => a.t - b.t);
    // the run of samples that ends with the latest: same RIP, interrupts off, not halted
    const last = sorted.at(-1)!;
    if (last.interrupts || last.halted) continue;
    let first = last;
    for (let i = sorted.length - 2; i >= 0; i--) {
      const x = sorted[i]!;
      if (x.rip !== last.rip || x.interrupts || x.halted) break;
      first = x;
    }
    const seconds = Math.floor((last.t - first.t) / 1000);
    if (seconds >= thresholdSeconds) stuck.push({ cpu, rip: last.rip, seconds });
  }
  if (!stuck.length) return undefined;
  stuck.sort((a, b) => a.cpu - b.cpu);
  const seconds = Math.max(...stuck.map((x) => x.seconds));
  const who = stuck.map((x) => `vCPU ${x.cpu} at ${x.rip}`).join(' and ');
  return {
    kind: 'hard-lockup',
    seconds,
    cpus: stuck.map((x) => x.cpu),
    tasks: [],
    line: who,
    summary: `the lab VM's kernel hung: ${who} stayed at one instruction with interrupts off for ${seconds} s (a hard lockup, which the kernel cannot report on its console)`,
  };
}
