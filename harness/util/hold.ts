import type { Logger } from './log.js';

/**
 * A failpoint for the interrupt tests: with LVS_HARNESS_HOLD_AT=<point> a run says so on stderr
 * when it reaches that point and waits there until a signal ends it, so a test can send Ctrl-C or
 * SIGKILL in a phase too short to catch otherwise. The points: `checks` (the last suite's checks
 * made, the run still in phase suite, nothing torn down: on a fast machine a small topology's
 * checks end before a test that watches the history can send its signal) and `report` (the run's
 * checks and teardown are done, its files not yet written); lab up and the build are caught on
 * what they do (the VM process, the nodes). Unset, it costs nothing.
 */
export const HOLD_POINTS = ['checks', 'report'] as const;

export async function holdAt(point: (typeof HOLD_POINTS)[number], log: Logger): Promise<void> {
  if (process.env.LVS_HARNESS_HOLD_AT !== point) return;
  log(`holding at ${point} (LVS_HARNESS_HOLD_AT=${point}): waiting for a signal`);
  // the timer keeps the event loop alive: only a signal ends this wait
  await new Promise<never>(() => setInterval(() => undefined, 60_000));
}
