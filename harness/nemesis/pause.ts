import { activeFault, containerState, injecting, lifecycleFor, nemesisError, waitContainer } from './common.js';
import type { Nemesis } from './types.js';

/**
 * A freeze: `docker pause` puts every process of the node in the cgroup freezer. The kernel's
 * network stack still runs (the namespace's interfaces stay up, the kernel answers ARP and
 * ping, and IPVS in a paused director still forwards), but nothing in user space answers:
 * nginx, the UDP echo, keepalived's adverts and health checks all stop, and resume where they
 * were on `docker unpause` (the heal). TCP connections to a paused server hang, not fail.
 */
export const pause: Nemesis = {
  name: 'pause',
  summary: 'freeze the node\'s processes (docker pause); heal: docker unpause',
  targets: 'node',
  async inject(env, target) {
    const { st } = env;
    const life = lifecycleFor(st, 'pause', target, ['pause']);
    const name = st.node(target).container;
    const s = await containerState(st, target);
    if (!s.running || s.paused) throw nemesisError('pause', target, `container ${name} is ${s.paused ? 'already paused' : s.status}`);
    const heal = async () => {
      // unpaused when it is paused; either way the node's shell takes commands again (DockerNode.unpause)
      await life.unpause();
      await waitContainer(st, target, { paused: false }, 15_000);
    };
    const startedAt = env.now();
    await injecting(heal, async () => {
      // the node's shell is suspended first, its commands in flight waited for (DockerNode.pause)
      await life.pause();
      await waitContainer(st, target, { paused: true }, 15_000);
    });
    // frozen by now: Docker reported the container paused (the freezer took every process)
    const inEffectBy = env.now();
    return activeFault({ name: 'pause', target, startedAt, inEffectBy, detail: `docker pause ${name}`, healDetail: `docker unpause ${name}`, heal });
  },
};
