import { waitFor } from '../util/wait.js';
import { activeFault, execStamped, injecting, nemesisError, pids, requireKeepalived, requireRestore, restoreAfterKill } from './common.js';
import type { Nemesis } from './types.js';

/**
 * A clean keepalived shutdown on a director, as `systemctl stop keepalived` does it: SIGTERM to
 * keepalived's parent process (the one whose parent is not a keepalived), which stops its VRRP
 * and checker children; the VRRP child first sends adverts with priority 0, so a backup takes
 * over within its skew time instead of waiting for the master-down interval. The VIP leaves
 * with it. Heal: the builder's restoreNode, which starts keepalived again (checked).
 */
export const stop: Nemesis = {
  name: 'stop',
  summary: 'graceful keepalived stop on a director (SIGTERM: priority-0 adverts); heal: restore the node (keepalived starts again)',
  targets: 'director',
  async inject(env, target) {
    const { st } = env;
    const running = await requireKeepalived(env, 'stop', target);
    const restore = requireRestore(st, 'stop', target);
    const ps = (await st.exec(target, ['ps', '-o', 'pid=,ppid=', '-p', running.join(',')])).stdout;
    const parents = ps
      .split('\n')
      .map((l) => l.trim().split(/\s+/).map(Number))
      .filter(([pid, ppid]) => pid && !running.includes(ppid!))
      .map(([pid]) => pid!);
    if (parents.length !== 1) throw nemesisError('stop', target, `expected one keepalived parent process among ${running.join(', ')}, found ${parents.join(', ') || 'none'}`);
    const parent = parents[0]!;
    const heal = async () => {
      await restoreAfterKill(env, 'stop', target, restore, [{ label: 'keepalived', pgrep: ['-x', 'keepalived'] }], () =>
        waitFor(`keepalived to run again on ${target} after restoreNode`, async () => (await pids(env, target, 'keepalived')).length > 0, { timeoutMs: 20_000, intervalMs: 300 }),
      );
    };
    const startedAt = await injecting(heal, async () => {
      const at = await execStamped(env, target, ['kill', '-TERM', String(parent)]);
      await waitFor(`keepalived on ${target} to exit after SIGTERM to ${parent} (pids ${running.join(', ')})`, async () => (await pids(env, target, 'keepalived')).length === 0, {
        timeoutMs: 20_000,
        intervalMs: 200,
      });
      return at;
    });
    return activeFault({
      name: 'stop',
      target,
      startedAt,
      detail: `kill -TERM ${parent} (keepalived's parent; ${running.length} keepalived processes)`,
      healDetail: `restoreNode(${target}) (starts keepalived)`,
      heal,
    });
  },
};
