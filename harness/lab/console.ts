/**
 * The lab VM reports its boot on the serial console as lines starting with "lab: "
 * (written by lab-init). This turns that log into a boot state.
 */
export interface ConsoleState {
  phase: 'booting' | 'ready' | 'failed';
  kernel?: string;
  ipvs?: boolean;
  /** the "lab: ..." lines seen, in order */
  steps: string[];
  /** the reason, when phase is failed */
  error?: string;
}

export function parseConsole(text: string): ConsoleState {
  const steps: string[] = [];
  const st: ConsoleState = { phase: 'booting', steps };
  for (const raw of text.split(/\r?\n/)) {
    const i = raw.indexOf('lab: ');
    if (i < 0) continue;
    const line = raw.slice(i + 5).trim();
    steps.push(line);
    if (line.startsWith('FATAL')) {
      st.phase = 'failed';
      st.error = line.slice(5).trim();
    } else if (line.startsWith('ready')) {
      st.phase = 'ready';
      st.kernel = line.match(/kernel=(\S+)/)?.[1];
      st.ipvs = line.match(/ipvs=(\S+)/)?.[1] === 'yes';
    } else if (line === 'ipvs loaded') st.ipvs = true;
    else if (line === 'ipvs missing') st.ipvs = false;
  }
  // a kernel panic before lab-init ever speaks
  if (st.phase === 'booting') {
    const panic = text.match(/Kernel panic - not syncing:[^\n]*/);
    if (panic) {
      st.phase = 'failed';
      st.error = panic[0].trim();
    }
  }
  return st;
}

/** A kernel panic on the console of a VM that was booting: what it says, and whether booting again is the way out. */
export interface BootPanic {
  /** "Kernel panic - not syncing: …" */
  line: string;
  /** the first Oops and where it hit ("Oops: int3 at sched_clock_cpu+0x9/0x1d0"), when there was one */
  oops?: string;
  /**
   * true for an int3 Oops: the kernel ran into a breakpoint byte of code it was patching (its
   * static keys and alternatives during init). Under qemu's multi-threaded TCG a vCPU can run a
   * stale translation of such code after the patch is done; nothing in the image or its config
   * causes it, and a second boot goes past it. Any other panic (a root file system that does not
   * mount, a missing driver) is the build's and would happen again.
   */
  transient: boolean;
}

export function bootPanic(text: string): BootPanic | undefined {
  const panic = text.match(/Kernel panic - not syncing:[^\n]*/);
  if (!panic) return undefined;
  const oops = text.match(/Oops: ([^\n:]+?):? [0-9a-f]{4} \[#\d+\][^\n]*(?:\n[^\n]*?){0,4}?\n[^\n]*RIP: [0-9a-f]{4}:(\S+)/);
  const kind = oops?.[1]?.trim();
  return {
    line: panic[0].trim(),
    ...(oops ? { oops: `Oops: ${kind} at ${oops[2]}` } : {}),
    transient: kind === 'int3',
  };
}
