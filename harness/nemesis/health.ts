import { waitFor } from '../util/wait.js';
import { activeFault, injecting, stamped } from './common.js';
import type { FaultTarget, Nemesis } from './types.js';

/**
 * A failing health check: the real server's /health answers 503 (StartedTopology.setHealth
 * creates the app's flag file) while everything else it serves still answers 200, so only a
 * health checker (keepalived's HTTP_GET) notices. Heal: the flag is removed, /health is 200.
 */
async function healthCode(env: FaultTarget, rs: string): Promise<string> {
  const port = env.st.node(rs).app!.httpPort;
  return (await env.st.exec(rs, ['curl', '-s', '-o', '/dev/null', '-m', '3', '-w', '%{http_code}', `http://127.0.0.1:${port}/health`], { allowFailure: true })).stdout.trim();
}

export const health: Nemesis = {
  name: 'health',
  summary: 'the real server\'s /health answers 503 (the rest of its app still 200); heal: 200 again',
  targets: 'real-server',
  async inject(env, target) {
    const { st } = env;
    const expectCode = (code: string) =>
      waitFor(`/health on ${target} to answer ${code}`, async () => {
        const c = await healthCode(env, target);
        if (c !== code) throw new Error(`HTTP ${c || 'no answer'}`);
        return true;
      }, { timeoutMs: 10_000, intervalMs: 200 });
    // when the flag changed, by the node's clock (the lab's, for a container), kept within the
    // host's view of the command (issued .. returned) so a host with another clock cannot move it out
    const flagAt = (healthy: boolean) => stamped(env, () => st.setHealth(target, healthy));
    let healedFlag: number | undefined;
    const heal = async () => {
      healedFlag = (await flagAt(true)).at;
      await expectCode('200');
    };
    const set = await injecting(heal, async () => {
      const r = await flagAt(false);
      await expectCode('503');
      return r;
    });
    const late = set.at - set.issued;
    return activeFault({
      name: 'health',
      target,
      startedAt: set.at,
      detail: `setHealth(${target}, false): /health answers 503${late >= 100 ? ` (the flag was set ${late} ms after the command was issued)` : ''}`,
      healDetail: `setHealth(${target}, true): /health answers 200`,
      heal,
      healedAt: () => healedFlag,
    });
  },
};
