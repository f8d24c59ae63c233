import { activeFault, containerState, injecting, nemesisError, requireRestore, waitContainer } from './common.js';
import type { Nemesis } from './types.js';

/**
 * A crash: SIGKILL to the node's container (`docker kill -s KILL`), so every process in it dies
 * at once, with no priority-0 VRRP advert and no FIN on open connections. The node stays down
 * for the fault's duration. Heal: `docker start`, then the builder's restoreNode re-applies what
 * lived only in the old network namespace (VIP and extra addresses, routes, iptables, the app,
 * keepalived): Docker restores only the interfaces and addresses it assigned, and the sysctls.
 */
export const kill: Nemesis = {
  name: 'kill',
  summary: 'SIGKILL the node\'s container (docker kill); heal: docker start and restore the node',
  targets: 'node',
  async inject(env, target) {
    const { st } = env;
    const restore = requireRestore(st, 'kill', target);
    const c = st.container(target);
    const name = st.node(target).container;
    if (!(await containerState(st, target)).running) throw nemesisError('kill', target, `container ${name} is not running`);
    const heal = async () => {
      if (!(await containerState(st, target)).running) {
        await c.start();
        await waitContainer(st, target, { running: true }, 30_000);
      }
      await restore();
    };
    const startedAt = env.now();
    await injecting(heal, async () => {
      void st.dropShell(target);
      await c.kill({ signal: 'SIGKILL' });
      await waitContainer(st, target, { running: false }, 15_000);
    });
    return activeFault({ name: 'kill', target, startedAt, detail: `docker kill -s KILL ${name}`, healDetail: `docker start ${name}; restoreNode(${target})`, heal });
  },
};
