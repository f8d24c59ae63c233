import { activeFault, containerState, injecting, lifecycleFor, nemesisError, requireRestore, stamped, waitContainer } from './common.js';
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
    const life = lifecycleFor(st, 'kill', target, ['kill', 'start']);
    const name = st.node(target).container;
    if (!(await containerState(st, target)).running) throw nemesisError('kill', target, `container ${name} is not running`);
    const heal = async () => {
      if (!(await containerState(st, target)).running) {
        await life.start();
        await waitContainer(st, target, { running: true }, 30_000);
      }
      await restore();
    };
    // the fault starts when Docker saw the container end (FinishedAt, the lab's clock), not when
    // the kill was issued: 0.7 to 1.7 s later under emulation. Its processes die somewhat before,
    // but its network namespace (IPVS, conntrack, the VIPs) forwards until Docker removes it, so
    // clients' outage starts no earlier; a takeover window counted from the issue closed before
    // the takeover could (dr-ha, 743 ms)
    const { issued, at: startedAt } = await stamped(env, () =>
      injecting(heal, async () => {
        // the node's shell is dropped first (DockerNode.kill)
        await life.kill();
        return (await waitContainer(st, target, { running: false }, 15_000)).endedAt;
      }),
    );
    const late = startedAt - issued;
    return activeFault({ name: 'kill', target, startedAt, detail: `docker kill -s KILL ${name}${late >= 100 ? ` (it died ${late} ms after the kill was issued)` : ''}`, healDetail: `docker start ${name}; restoreNode(${target})`, heal });
  },
};
