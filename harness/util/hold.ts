import type { Logger } from './log.js';

/**
 * A failpoint for the interrupt tests: with LVS_HARNESS_HOLD_AT=<point> a run says so on stderr
 * when it reaches that point and waits there until a signal ends it, so a test can send Ctrl-C or
 * SIGKILL in a phase too short to catch otherwise. The one point is `report` (the run's checks and
 * teardown are done, its files not yet written); the longer phases are caught on what they do
 * (lab up on the VM process, build on the nodes, checks on the history). Unset, it costs nothing.
 */
export const HOLD_POINTS = ['report'] as const;

export async function holdAt(point: (typeof HOLD_POINTS)[number], log: Logger): Promise<void> {
  if (process.env.LVS_HARNESS_HOLD_AT !== point) return;
  log(`holding at ${point} (LVS_HARNESS_HOLD_AT=${point}): waiting for a signal`);
  // the timer keeps the event loop alive: only a signal ends this wait
  await new Promise<never>(() => setInterval(() => undefined, 60_000));
}
