/**
 * Teardown that runs also on Ctrl-C, SIGTERM and crashes: handlers run last-in-first-out,
 * each at most once, and a failing handler does not stop the others.
 */
type Handler = { name: string; fn: () => Promise<void> | void };
const handlers: Handler[] = [];
let installed = false;
let running: Promise<void> | undefined;

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
      process.stderr.write(`\n${sig}: cleaning up…\n`);
      void runCleanup().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}
