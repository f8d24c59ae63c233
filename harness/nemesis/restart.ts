import { DURATION_FORMS, formatDuration, parseDuration } from './params.js';
import { activeFault, containerState, injecting, lifecycleFor, nemesisError, requireRestore, waitContainer } from './common.js';
import type { Nemesis } from './types.js';

/**
 * A reboot: `docker restart -t <grace>` and then the builder's restoreNode, in one go. The
 * fault is over when the node is back (configured and serving), so it takes no duration.
 * The grace period (default 0) only concerns PID 1: docker signals PID 1 alone, and when it
 * ends the kernel SIGKILLs the rest of the namespace, so nginx and keepalived never see a
 * SIGTERM either way (a graceful keepalived stop is the `stop` fault).
 */
export const restart: Nemesis = {
  name: 'restart',
  summary: 'docker restart the node, then restore it; ends when the node is back (no duration)',
  targets: 'node',
  instant: true,
  param: {
    what: `the grace period before SIGKILL (${DURATION_FORMS})`,
    default: '0s',
    check: (v) => (parseDuration(v) === undefined ? `"${v}" is not a duration (${DURATION_FORMS})` : undefined),
  },
  async inject(env, target, param) {
    const { st } = env;
    const restore = requireRestore(st, 'restart', target);
    const life = lifecycleFor(st, 'restart', target, ['restart']);
    const graceMs = parseDuration(param ?? '0s')!;
    if (!(await containerState(st, target)).running) throw nemesisError('restart', target, `container ${st.node(target).container} is not running`);
    const startedAt = env.now();
    // a restart that fails half way still ends with the node started and restored, or says why not
    await injecting(restore, async () => {
      // the node's shell is dropped first (DockerNode.restart: docker restart -t, whole seconds)
      await life.restart(graceMs);
      await waitContainer(st, target, { running: true }, 30_000 + graceMs);
      await restore();
    });
    return activeFault({
      name: 'restart',
      target,
      startedAt,
      detail: `docker restart -t ${Math.ceil(graceMs / 1000)} ${st.node(target).container}; restoreNode(${target})${param ? ` (grace ${formatDuration(graceMs)})` : ''}`,
      healDetail: `${target} is back`,
      // nothing left to undo: inject returns once the node is restored
      heal: async () => {},
    });
  },
};
