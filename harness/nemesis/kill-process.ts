import { UDP_ECHO } from '../images/rs-app.js';
import { waitFor } from '../util/wait.js';
import { activeFault, execStamped, injecting, livePids, nemesisError, pids, requireKeepalived, requireRestore, restoreAfterKill } from './common.js';
import type { FaultTarget, Nemesis } from './types.js';

/**
 * Process crashes inside a running node, the network namespace untouched:
 * - kill-keepalived: SIGKILL every keepalived process on a director. No priority-0 advert is
 *   sent; the VIP stays configured on the dead master's interface, so a backup takes over only
 *   after the master-down interval, and both may hold the VIP (ARP decides who gets traffic).
 * - kill-app: SIGKILL nginx (master and workers) and the UDP echo on a real server; its RIP
 *   then refuses TCP (RST) and UDP (ICMP port unreachable) while the kernel and IPVS carry on.
 * - kill-haproxy: SIGKILL HAProxy on a director of an HAProxy service; the VIP stays, its
 *   connections are refused, until keepalived's vrrp_script notices and lowers the priority.
 * Heal: the builder's restoreNode, which starts what is missing again; the heal checks that
 * it did (live processes, nginx answering), since a fault whose heal did nothing must say so.
 */
const ECHO_ARGS = ['-f', `^node ${UDP_ECHO.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( |$)`];

const echoPids = (env: FaultTarget, node: string) => livePids(env, node, ECHO_ARGS);

async function nginxAnswers(env: FaultTarget, node: string): Promise<boolean> {
  const port = env.st.node(node).app!.httpPort;
  const r = await env.st.exec(node, ['curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', `http://127.0.0.1:${port}/health`], { allowFailure: true });
  return /^[1-5]\d\d$/.test(r.stdout.trim());
}

/**
 * SIGKILL of one daemon on a director (keepalived, HAProxy): `running` finds its live pids or
 * refuses the target; heal restores the node, which starts the daemon again.
 */
function killDaemon(name: string, daemon: string, label: string, summary: string, running: (env: FaultTarget, target: string) => Promise<number[]>): Nemesis {
  return {
    name,
    summary,
    targets: 'director',
    async inject(env, target) {
      const { st } = env;
      const before = await running(env, target);
      const restore = requireRestore(st, name, target);
      const heal = async () => {
        await restoreAfterKill(env, name, target, restore, [{ label, pgrep: ['-x', daemon] }], () =>
          waitFor(`${label} to run again on ${target} after restoreNode`, async () => (await pids(env, target, daemon)).length > 0, { timeoutMs: 20_000, intervalMs: 300 }),
        );
      };
      const startedAt = await injecting(heal, async () => {
        const at = await execStamped(env, target, ['pkill', '-KILL', '-x', daemon]);
        await waitFor(`${label} on ${target} to be gone after SIGKILL (pids ${before.join(', ')})`, async () => (await pids(env, target, daemon)).length === 0, { timeoutMs: 10_000, intervalMs: 200 });
        return at;
      });
      return activeFault({ name, target, startedAt, detail: `pkill -KILL -x ${daemon} (pids ${before.join(', ')})`, healDetail: `restoreNode(${target}) (starts ${label})`, heal });
    },
  };
}

export const killKeepalived = killDaemon(
  'kill-keepalived',
  'keepalived',
  'keepalived',
  'SIGKILL keepalived on a director (no priority-0 advert); heal: restore the node (keepalived starts again)',
  (env, target) => requireKeepalived(env, 'kill-keepalived', target),
);

export const killHaproxy = killDaemon(
  'kill-haproxy',
  'haproxy',
  'HAProxy',
  'SIGKILL HAProxy on a director (its vrrp_script fails, the priority drops); heal: restore the node (HAProxy starts again)',
  async (env, target) => {
    if (!env.st.node(target).haproxy) throw nemesisError('kill-haproxy', target, 'HAProxy is not planned there (no service with balancer: haproxy on its networks)');
    const running = await pids(env, target, 'haproxy');
    if (!running.length) throw nemesisError('kill-haproxy', target, 'HAProxy does not run there (pgrep -x haproxy found no live process)');
    return running;
  },
);

export const killApp: Nemesis = {
  name: 'kill-app',
  summary: 'SIGKILL the real server\'s app (nginx and the UDP echo); heal: restore the node (the app starts again)',
  targets: 'real-server',
  async inject(env, target) {
    const { st } = env;
    const nginx = await pids(env, target, 'nginx');
    if (!nginx.length) throw nemesisError('kill-app', target, 'nginx does not run there (pgrep -x nginx found no live process)');
    const withEcho = (st.node(target).app?.udpPorts.length ?? 0) > 0;
    const echo = withEcho ? await echoPids(env, target) : [];
    if (withEcho && !echo.length) throw nemesisError('kill-app', target, `the UDP echo does not run there (pgrep ${ECHO_ARGS.join(' ')} found no live process)`);
    const restore = requireRestore(st, 'kill-app', target);
    const heal = async () => {
      await restoreAfterKill(
        env,
        'kill-app',
        target,
        restore,
        [{ label: 'nginx', pgrep: ['-x', 'nginx'] }, ...(withEcho ? [{ label: 'UDP echo', pgrep: ECHO_ARGS }] : [])],
        () =>
          waitFor(
            `nginx${withEcho ? ' and the UDP echo' : ''} to run again on ${target} after restoreNode`,
            async () => {
              const missing = [...(!(await nginxAnswers(env, target)) ? ['nginx does not answer /health on 127.0.0.1'] : []), ...(withEcho && !(await echoPids(env, target)).length ? ['no live UDP echo'] : [])];
              if (missing.length) throw new Error(missing.join('; '));
              return true;
            },
            { timeoutMs: 20_000, intervalMs: 300 },
          ),
      );
    };
    const startedAt = await injecting(heal, async () => {
      const at = await execStamped(env, target, ['pkill', '-KILL', '-x', 'nginx']);
      if (withEcho) await st.exec(target, ['pkill', '-KILL', ...ECHO_ARGS]);
      await waitFor(
        `nginx${withEcho ? ' and the UDP echo' : ''} on ${target} to be gone after SIGKILL`,
        async () => (await pids(env, target, 'nginx')).length === 0 && (!withEcho || (await echoPids(env, target)).length === 0),
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      return at;
    });
    return activeFault({
      name: 'kill-app',
      target,
      startedAt,
      detail: `pkill -KILL -x nginx (pids ${nginx.join(', ')})${withEcho ? `; pkill -KILL ${ECHO_ARGS.join(' ')} (pids ${echo.join(', ')})` : ''}`,
      healDetail: `restoreNode(${target}) (starts nginx${withEcho ? ' and the UDP echo' : ''})`,
      heal,
    });
  },
};
