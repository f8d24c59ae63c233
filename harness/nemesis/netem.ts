import type { StartedTopology } from '../topology/builder.js';
import { activeFault, execStamped, injecting, journalFault, nemesisError, nodeDevices } from './common.js';
import { DURATION_FORMS, parseDuration, parsePercent } from './params.js';
import type { Nemesis } from './types.js';

/**
 * A bad network on one node: a netem root qdisc on each of its interfaces
 * (`tc qdisc add dev <dev> root netem …`). netem acts on what the node sends, so a delay of D
 * adds D to every round trip through the node, and a loss of P% drops P% of its outgoing packets
 * (its replies, for a real server). The lab kernel loads sch_netem on first use.
 * - netem-delay=<duration> (default 200ms): `delay <D> <D/10>`, a jitter of 10 %.
 * - netem-loss=<percent> (default 20%): `loss <P>%`.
 * Heal: `tc qdisc del dev <dev> root` where the root qdisc is still netem (back to the default).
 */
export const netemDelayArgs = (ms: number): string[] => ['delay', `${ms}ms`, `${ms * 100}us`];
export const netemLossArgs = (percent: number): string[] => ['loss', `${percent}%`];

const rootKind = async (st: StartedTopology, node: string, dev: string) => {
  const out = (await st.exec(node, ['tc', '-j', 'qdisc', 'show', 'dev', dev])).stdout.trim();
  return ((out ? JSON.parse(out) : []) as { kind: string; root?: boolean }[]).find((q) => q.root)?.kind;
};

function netem(name: string, summary: string, param: Nemesis['param'] & { default: string }, args: (param: string) => string[]): Nemesis {
  return {
    name,
    summary,
    targets: 'node',
    param,
    async inject(env, target, p) {
      const { st } = env;
      const netemArgs = args(p ?? param.default);
      const ifaces = await nodeDevices(st, name, target);
      for (const i of ifaces)
        if ((await rootKind(st, target, i.dev)) === 'netem') throw nemesisError(name, target, `${i.dev} already has a netem qdisc (another netem fault is active there)`);
      const added: string[] = [];
      // on an SSH host, a run killed with the qdisc in place leaves its removal to `lvs-harness down`
      const forget = await journalFault(st, target, `${name}: the netem qdiscs removed (${ifaces.map((i) => i.dev).join(', ')})`, [
        'sh',
        '-c',
        'for d in "$@"; do if tc qdisc show dev "$d" root 2>/dev/null | grep -q "qdisc netem"; then tc qdisc del dev "$d" root || exit 1; fi; done',
        'sh',
        ...ifaces.map((i) => i.dev),
      ]);
      const heal = async () => {
        for (const dev of [...added]) {
          if ((await rootKind(st, target, dev)) === 'netem') await st.exec(target, ['tc', 'qdisc', 'del', 'dev', dev, 'root']);
          added.splice(added.indexOf(dev), 1);
        }
        await forget();
      };
      const startedAt = await injecting(heal, async () => {
        let at: number | undefined;
        for (const i of ifaces) {
          const t = await execStamped(env, target, ['tc', 'qdisc', 'add', 'dev', i.dev, 'root', 'netem', ...netemArgs]);
          at ??= t;
          added.push(i.dev);
        }
        return at ?? env.now();
      });
      return activeFault({
        name,
        target,
        startedAt,
        detail: ifaces.map((i) => `tc qdisc add dev ${i.dev} root netem ${netemArgs.join(' ')} (${i.network} ${i.address})`).join('; '),
        healDetail: ifaces.map((i) => `tc qdisc del dev ${i.dev} root`).join('; '),
        heal,
      });
    },
  };
}

export const netemDelay = netem(
  'netem-delay',
  'delay everything the node sends (tc netem delay D, jitter 10%); heal: remove the qdisc',
  {
    what: `the added delay (${DURATION_FORMS})`,
    default: '200ms',
    check: (v) => {
      const ms = parseDuration(v);
      return ms === undefined ? `"${v}" is not a duration (${DURATION_FORMS})` : ms < 1 ? `a delay of ${v} adds nothing (at least 1ms)` : undefined;
    },
  },
  (p) => netemDelayArgs(parseDuration(p)!),
);

export const netemLoss = netem(
  'netem-loss',
  'drop a share of what the node sends (tc netem loss P%); heal: remove the qdisc',
  {
    what: 'the share of packets to drop, a percentage in (0, 100]: 20%, 0.5%',
    default: '20%',
    check: (v) => (parsePercent(v) === undefined ? `"${v}" is not a percentage in (0, 100] (20%, 0.5%)` : undefined),
  },
  (p) => netemLossArgs(parsePercent(p)!),
);
