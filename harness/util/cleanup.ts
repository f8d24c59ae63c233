/**
 * Teardown that runs also on Ctrl-C, SIGTERM and crashes: handlers run last-in-first-out,
 * each at most once, and a failing handler does not stop the others.
 */
type Handler = { name: string; fn: () => Promise<void> | void };
const handlers: Handler[] = [];
let installed = false;
let running: Promise<void> | undefined;
let received: string | undefined;

/**
 * The exit status a signal this process received calls for (130 for SIGINT, 143 otherwise), or
 * undefined: a command that ends on its own while a signal's cleanup runs must not exit 1 over it.
 */
export const signalExitCode = (): number | undefined => (received === undefined ? undefined : received === 'SIGINT' ? 130 : 143);

/**
 * Hooks that run on a signal before any teardown: a run records what it had while its nodes
 * still exist (a report written after teardown would describe a run torn down under it).
 */
type InterruptHook = { name: string; fn: (signal: string) => Promise<void> | void };
const interruptHooks: InterruptHook[] = [];
let interrupting: Promise<void> | undefined;

export function onInterrupt(name: string, fn: (signal: string) => Promise<void> | void): () => void {
  install();
  const h = { name, fn };
  interruptHooks.push(h);
  return () => {
    const i = interruptHooks.indexOf(h);
    if (i >= 0) interruptHooks.splice(i, 1);
  };
}

/** Runs every interrupt hook, each at most once; the signal handler calls it (and tests do). */
export function runInterrupt(signal: string): Promise<void> {
  interrupting ??= (async () => {
    for (const h of interruptHooks.splice(0)) {
      try {
        await h.fn(signal);
      } catch (e) {
        process.stderr.write(`on ${signal}, "${h.name}" failed: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  })().finally(() => {
    interrupting = undefined;
  });
  return interrupting;
}

export function onCleanup(name: string, fn: () => Promise<void> | void): () => void {
  install();
  const h = { name, fn };
  handlers.push(h);
  return () => {
    const i = handlers.indexOf(h);
    if (i >= 0) handlers.splice(i, 1);
  };
}

export function runCleanup(): Promise<void> {
  running ??= (async () => {
    // a run that reaches its own cleanup while a signal's hooks write its report waits for them
    await interrupting;
    while (handlers.length) {
      const h = handlers.pop()!;
      try {
        await h.fn();
      } catch (e) {
        process.stderr.write(`cleanup "${h.name}" failed: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  })().finally(() => {
    running = undefined;
  });
  return running;
}

function install() {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      received = sig;
      process.stderr.write(`\n${sig}: cleaning up…\n`);
      void runInterrupt(sig)
        .then(() => runCleanup())
        .finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}
