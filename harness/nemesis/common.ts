import { HarnessError, errUsage } from '../errors.js';
import { requireCapability, type NodeCapabilities, type NodeLifecycle, type NodeState } from '../runtime/node.js';
import { devicesByAddress, nodeClockMs, type StartedTopology } from '../topology/builder.js';
import type { Plan, PlannedNode } from '../topology/planner.js';
import { waitFor } from '../util/wait.js';
import type { ActiveFault, FaultTarget, TargetKind } from './types.js';

/** Runs `fn` until it succeeds once; later calls return at once, concurrent calls share the run; a failure may be retried. */
export function healOnce(fn: () => Promise<void>): () => Promise<void> {
  let done = false;
  let running: Promise<void> | undefined;
  return () => {
    if (done) return Promise.resolve();
    running ??= fn().then(
      () => {
        done = true;
      },
      (e: unknown) => {
        running = undefined;
        throw e;
      },
    );
    return running;
  };
}

export function activeFault(f: Omit<ActiveFault, 'heal'> & { heal: () => Promise<void> }): ActiveFault {
  return { ...f, heal: healOnce(f.heal) };
}

export const nemesisError = (fault: string, target: string, message: string, hint?: string) =>
  new HarnessError('ERR_LVS_NEMESIS', `${fault} on ${target}: ${message}`, { hint });

const ROLE_OF: Partial<Record<TargetKind, PlannedNode['role']>> = { director: 'director', 'real-server': 'real-server' };

/**
 * The planned nodes a target names, checked against what the fault can act on: every node for
 * `node`, a node of that role for `director` / `real-server`, two different nodes `a/b` for a pair.
 */
export function resolveTargets(plan: Plan, fault: string, kind: TargetKind, target: string): PlannedNode[] {
  const names = kind === 'node-pair' ? target.split('/') : [target];
  if (kind === 'node-pair' && (names.length !== 2 || names.some((n) => !n)))
    throw errUsage(`${fault}: target "${target}" is not a pair of nodes`, `write it as <node>/<node>, e.g. ${fault}:${pairExample(plan)}`);
  if (kind === 'node-pair' && names[0] === names[1]) throw errUsage(`${fault}: target "${target}" names ${names[0]} twice; a partition needs two different nodes`);
  const role = ROLE_OF[kind];
  const eligible = plan.nodes.filter((n) => !role || n.role === role);
  return names.map((name) => {
    const n = plan.nodes.find((x) => x.name === name);
    if (!n) throw errUsage(`${fault}: topology ${plan.topology} has no node "${name}"`, `its ${role ?? 'node'}s: ${eligible.map((x) => x.name).join(', ') || 'none'}`);
    if (role && n.role !== role)
      throw errUsage(`${fault}: ${name} is a ${n.role}; ${fault} acts on a ${role}`, `the ${role}s of ${plan.topology}: ${eligible.map((x) => x.name).join(', ') || 'none'}`);
    return n;
  });
}

const pairExample = (plan: Plan) => {
  const d = plan.nodes.filter((n) => n.role === 'director');
  const two = d.length >= 2 ? d : plan.nodes;
  return two.length >= 2 ? `${two[0]!.name}/${two[1]!.name}` : 'a/b';
};

type Restorable = { restoreNode?(node: string): Promise<void> };

/**
 * The builder's restoreNode (re-applies addresses, routes, iptables, the app and keepalived),
 * asked for before a fault is injected so that a fault that could not be healed is never started.
 */
export function requireRestore(st: StartedTopology, fault: string, node: string): () => Promise<void> {
  const r = (st as unknown as Restorable).restoreNode;
  if (typeof r !== 'function')
    throw new HarnessError(
      'ERR_LVS_NEMESIS_UNSUPPORTED',
      `${fault} on ${node}: healing it needs StartedTopology.restoreNode(node) (re-apply the node's addresses, routes, iptables, app and keepalived), which this build of the topology builder does not have; nothing was injected`,
      { hint: 'harness/topology/builder.ts must provide restoreNode(node: string): Promise<void>' },
    );
  return () => r.call(st, node);
}

/**
 * The node's lifecycle for a fault that acts on the node itself (kill, pause, restart), once it
 * is known to have every capability the fault needs: else ERR_LVS_NODE_UNSUPPORTED, before
 * anything was injected (an SshNode cannot be killed, frozen or restarted by the harness).
 */
export const lifecycleFor = (st: StartedTopology, fault: string, node: string, need: readonly (keyof NodeCapabilities)[]): NodeLifecycle =>
  requireCapability(st.host(node), need, `${fault} on ${node}`);

/** The node's state as its runtime reports it (running, paused, the runtime's word for it). */
export async function containerState(st: StartedTopology, node: string): Promise<NodeState> {
  return requireCapability(st.host(node), [], `reading the state of ${node}`).state();
}

/** Waits until the node's container is in the wanted state (running / not running / paused / not paused); the state it found. */
export async function waitContainer(st: StartedTopology, node: string, want: { running?: boolean; paused?: boolean }, timeoutMs = 30_000): Promise<NodeState> {
  const what = Object.entries(want)
    .map(([k, v]) => `${v ? '' : 'not '}${k}`)
    .join(' and ');
  return waitFor(
    `container ${st.node(node).container} (${node}) to be ${what}`,
    async () => {
      const s = await containerState(st, node);
      if ((want.running === undefined || s.running === want.running) && (want.paused === undefined || s.paused === want.paused)) return s;
      // thrown, so that a timeout reports the state last seen
      throw new Error(`status ${s.status}`);
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** The node's interfaces on its planned networks (all of them, or one), with the device name the node sees. */
export async function nodeDevices(st: StartedTopology, fault: string, node: string, network?: string): Promise<{ network: string; address: string; dev: string }[]> {
  const n = st.node(node);
  const ifaces = network ? n.interfaces.filter((i) => i.network === network) : n.interfaces;
  if (network && !ifaces.length)
    throw errUsage(`${fault}: ${node} is not on a network "${network}"`, `its networks: ${n.interfaces.map((i) => i.network).join(', ')}`);
  const devs = await devicesByAddress(st, node);
  return ifaces.map((i) => {
    const dev = devs.get(i.address);
    if (!dev) throw nemesisError(fault, node, `no interface holds its planned address ${i.address} (network ${i.network}); the node has ${[...devs].map(([a, d]) => `${d} ${a}`).join(', ')}`);
    return { network: i.network, address: i.address, dev };
  });
}

/**
 * Live processes matching `pgrep <args>`, as pids. Zombies are left out: the node's PID 1
 * (`sleep infinity`) does not reap the orphans it inherits, so a killed nginx or keepalived
 * child stays listed by pgrep as a zombie although it is dead.
 */
export async function livePids(env: FaultTarget, node: string, pgrepArgs: readonly string[]): Promise<number[]> {
  const found = (await env.st.exec(node, ['pgrep', ...pgrepArgs], { allowFailure: true })).stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()));
  if (!found.length) return [];
  const ps = await env.st.exec(node, ['ps', '-o', 'pid=,stat=', '-p', found.join(',')], { allowFailure: true });
  return ps.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && /^\d+$/.test(pid) && stat && !stat.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

/** Zombies matching `pgrep <args>` (dead processes nobody reaped), as pids. */
export async function zombiePids(env: FaultTarget, node: string, pgrepArgs: readonly string[]): Promise<number[]> {
  const found = (await env.st.exec(node, ['pgrep', ...pgrepArgs], { allowFailure: true })).stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()));
  const live = new Set(await livePids(env, node, pgrepArgs));
  return found.map(Number).filter((p) => !live.has(p));
}

/**
 * Runs restoreNode after a process was killed and checks that the process is back; when either
 * fails while zombies of the killed processes remain, says so: pgrep lists a zombie, so a
 * restore that asks `pgrep` whether the process still runs skips starting it.
 */
export async function restoreAfterKill(
  env: FaultTarget,
  fault: string,
  node: string,
  restore: () => Promise<void>,
  what: { label: string; pgrep: string[] }[],
  verify: () => Promise<unknown>,
): Promise<void> {
  try {
    await restore();
    await verify();
  } catch (e) {
    const z: string[] = [];
    for (const w of what) {
      const pids = await zombiePids(env, node, w.pgrep).catch(() => []);
      if (pids.length) z.push(`${w.label} (pids ${pids.join(', ')})`);
    }
    if (!z.length) throw e;
    throw new HarnessError(
      'ERR_LVS_NEMESIS',
      `${fault} on ${node}: not healed (${(e as Error).message}) while zombies of the killed ${z.join(', ')} remain: the node's PID 1 does not reap them and pgrep lists them, so a restore that asks pgrep takes them for running`,
      {
        hint: 'run the nodes with an init that reaps orphans (HostConfig.Init: true), or have restoreNode skip zombies (`ps -o stat=`)',
        cause: e,
      },
    );
  }
}

/** Processes by exact name (pgrep -x), live ones only. */
export const pids = (env: FaultTarget, node: string, name: string) => livePids(env, node, ['-x', name]);

/** The live keepalived pids on a director, or the error a fault that acts on keepalived gives without one. */
export async function requireKeepalived(env: FaultTarget, fault: string, target: string): Promise<number[]> {
  const running = await pids(env, target, 'keepalived');
  if (!running.length) throw nemesisError(fault, target, 'no keepalived process runs there (pgrep -x keepalived found none)', `${fault} acts on a director whose topology runs keepalived`);
  return running;
}

/**
 * On an SSH host, writes the fault's undo into the topology's undo journal before the fault is
 * made (a run killed while the fault is active leaves the host to `lvs-harness down`, which
 * undoes it); the returned function drops the entry once the fault is healed. On a container,
 * nothing: it is thrown away.
 */
export async function journalFault(st: StartedTopology, node: string, what: string, undo: readonly string[]): Promise<() => Promise<void>> {
  const journal = st.node(node).ssh ? st.journal : undefined;
  if (!journal) return async () => {};
  const id = await journal.record(what, undo, node);
  return () => journal.forget(id);
}

/** The argv that prints the device an SSH host reaches the harness through (`ip route get` of the SSH client's address; nothing through a proxy on the host itself). */
export const sshDeviceArgv = [
  'sh',
  '-c',
  String.raw`c=${'$'}{SSH_CONNECTION:-$(tr '\0' '\n' < /proc/$PPID/environ 2>/dev/null | sed -n 's/^SSH_CONNECTION=//p')}; c=${'$'}{c%% *}; [ -n "$c" ] && ip route get "$c" 2>/dev/null | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -n 1`,
];

/**
 * A fault that takes a device away (link-down) must not take the one the harness reaches an
 * SSH host through: it would cut itself off, and could neither heal nor undo. Refused before anything is done.
 */
export async function refuseSshPath(st: StartedTopology, fault: string, node: string, devs: readonly string[]): Promise<void> {
  if (!st.node(node).ssh) return;
  const dev = (await st.exec(node, sshDeviceArgv, { allowFailure: true })).stdout.trim();
  if (dev && devs.includes(dev))
    throw new HarnessError('ERR_LVS_NODE_UNSUPPORTED', `${fault} on ${node}: ${dev} carries the SSH connection the harness runs ${node} over; taking it down would cut the harness off the host; nothing was done to it`, {
      hint: `name a network whose interface is not ${dev} (${fault}=<network>:${node}), or reach ${node} over another network`,
      details: { node, dev },
    });
}

/**
 * Runs the fault action and its check; when either fails, heals what may have been done before
 * rethrowing, so that a failed injection does not leave a node broken with no fault to heal.
 */
export async function injecting<T>(heal: () => Promise<void>, act: () => Promise<T>): Promise<T> {
  try {
    return await act();
  } catch (e) {
    await heal().catch(() => {});
    throw e;
  }
}

/**
 * Runs argv in the node (its exit code kept: non-zero throws as any exec) and says when it ran,
 * by the node's own clock read right after it in the same command, kept within the host's view
 * of the call (issued .. returned) so that a node with another clock cannot move it out. Under
 * emulation an exec can begin seconds after it is issued (a health flag was once set 2.9 s after),
 * and a fault's start taken before the call would count that delay into the measured outage.
 */
/** The sh script execStamped runs its argv under (`sh -c STAMP_SCRIPT sh argv…`). */
export const STAMP_SCRIPT = '"$@"; rc=$?; date +%s%N; exit $rc';

export async function execStamped(env: FaultTarget, node: string, argv: readonly string[], opts: { input?: string } = {}): Promise<number> {
  return (await stamped(env, async () => nodeClockMs((await env.st.exec(node, ['sh', '-c', STAMP_SCRIPT, 'sh', ...argv], opts)).stdout.trim().split('\n').at(-1) ?? ''))).at;
}

/**
 * Runs a call that says when it acted by the node's clock (or undefined), and keeps that time
 * within the host's view of the call: `at` is clamped to issued .. returned, else `issued`.
 */
export async function stamped(env: FaultTarget, call: () => Promise<number | undefined>): Promise<{ issued: number; at: number }> {
  const issued = env.now();
  const at = await call();
  const returned = env.now();
  return { issued, at: at === undefined ? issued : Math.min(Math.max(at, issued), returned) };
}
