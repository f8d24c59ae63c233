import { errTimeout } from '../errors.js';

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** abort early: a thrown error from here ends the wait with that error */
  signal?: AbortSignal;
}

/**
 * Polls `probe` until it returns a value other than undefined/false, or the deadline passes.
 * Every wait names what it waited for; the timeout message includes the last observation.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: WaitOptions,
): Promise<T> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 250;
  let last: string | undefined;
  for (;;) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e instanceof Error ? e.message.split('\n')[0] : String(e);
      if ((e as { fatal?: boolean }).fatal) throw e;
    }
    if (Date.now() - start >= opts.timeoutMs) throw errTimeout(what, Date.now() - start, last);
    await sleep(interval);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
