import { errUsage } from '../errors.js';
import type { FaultEvent } from '../history/history.js';
import { onCleanup } from '../util/cleanup.js';
import { silent, type Logger } from '../util/log.js';
import { activeFault, resolveTargets } from './common.js';
import { health } from './health.js';
import { kill } from './kill.js';
import { killApp, killHaproxy, killKeepalived } from './kill-process.js';
import { linkDown } from './link-down.js';
import { netemDelay, netemLoss } from './netem.js';
import { DURATION_FORMS, formatDuration, parseDuration } from './params.js';
import { partition } from './partition.js';
import { pause } from './pause.js';
import { restart } from './restart.js';
import { stop } from './stop.js';
import type { ActiveFault, FaultTarget, Nemesis } from './types.js';

export const NEMESES: ReadonlyMap<string, Nemesis> = new Map(
  [kill, stop, pause, restart, killKeepalived, killHaproxy, killApp, linkDown, partition, netemDelay, netemLoss, health].map((n) => [n.name, n]),
);

const known = () => [...NEMESES.keys()].join(', ');

export const FAULT_SPEC_FORM = '<name>[=<param>]:<target>[:<duration>]';

export function getNemesis(name: string): Nemesis {
  const n = NEMESES.get(name);
  if (!n) throw errUsage(`unknown fault "${name}" (known: ${known()})`);
  return n;
}

/** One line per fault, for help text. */
export function describeNemeses(): string {
  const w = Math.max(...[...NEMESES.keys()].map((k) => k.length));
  return [...NEMESES.values()]
    .map((n) => `${n.name.padEnd(w)}  ${targetForm(n).padEnd(18)}  ${n.summary}${n.param ? ` [param: ${n.param.what}${n.param.default ? `, default ${n.param.default}` : ''}]` : ''}`)
    .join('\n');
}

const targetForm = (n: Nemesis) => (n.targets === 'node-pair' ? '<node>/<node>' : n.targets === 'node' ? '<node>' : `<${n.targets}>`);

export interface FaultSpec {
  /** canonical text: name[=param]:target[:duration] */
  spec: string;
  name: string;
  param?: string;
  target: string;
  durationMs?: number;
}

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Parses the CLI form `<name>[=<param>]:<target>[:<duration>]`: `kill:director1`,
 * `pause:rs2:10s`, `partition:director1/director2:15s`, `netem-delay=300ms:rs1:20s`,
 * `netem-loss=30%:director1`, `health:rs2:30s`. Checks the name, the parameter and the shape
 * of the target without a topology; whether the target's nodes exist is for injectFault.
 */
export function parseFaultSpec(spec: string): FaultSpec {
  const bad = (part: string, msg: string, hint?: string) => errUsage(`fault spec "${spec}": ${part}: ${msg}`, hint ?? `write ${FAULT_SPEC_FORM}, e.g. pause:rs2:10s or netem-delay=300ms:rs1:20s`);
  const text = spec.trim();
  if (!text) throw bad('spec', 'empty');
  const parts = text.split(':');
  if (parts.length > 3) throw bad('spec', `${parts.length} parts separated by ":"; expected at most 3 (fault, target, duration)`);
  const [head, target = '', duration] = parts as [string, string?, string?];
  const eq = head.indexOf('=');
  const name = eq < 0 ? head : head.slice(0, eq);
  const param = eq < 0 ? undefined : head.slice(eq + 1);
  const n = NEMESES.get(name);
  if (!n) throw bad('fault', `"${name}" is not a fault (known: ${known()})`);
  const form = `${n.name}${n.param ? '[=<param>]' : ''}:${targetForm(n)}${n.instant ? '' : '[:<duration>]'}`;
  if (param !== undefined) {
    if (!n.param) throw bad('parameter', `${n.name} takes no parameter (got "=${param}")`, `write ${form}`);
    const why = param === '' ? 'empty' : n.param.check(param);
    if (why) throw bad('parameter', `${why}; ${n.name} takes ${n.param.what}`, `write ${form}`);
  }
  if (!target) throw bad('target', `missing; ${n.name} acts on ${targetForm(n)}`, `write ${form}`);
  const names = target.split('/');
  if (n.targets === 'node-pair') {
    if (names.length !== 2) throw bad('target', `"${target}" is not two nodes; ${n.name} acts on <node>/<node>`, `write ${form}, e.g. ${n.name}:director1/director2`);
    if (names[0] === names[1]) throw bad('target', `"${target}" names ${names[0]} twice; ${n.name} needs two different nodes`);
  } else if (names.length !== 1) throw bad('target', `"${target}" is a pair; ${n.name} acts on one ${n.targets === 'node' ? 'node' : n.targets}`, `write ${form}`);
  for (const x of names) if (!NODE_NAME.test(x)) throw bad('target', `"${x}" is not a node name (letters, digits, _ . -)`);
  let durationMs: number | undefined;
  if (duration !== undefined) {
    if (n.instant) throw bad('duration', `${n.name} takes no duration: it ends when the node is back`, `write ${form}`);
    durationMs = parseDuration(duration);
    if (durationMs === undefined) throw bad('duration', `"${duration}" is not a duration (${DURATION_FORMS})`);
    if (durationMs <= 0) throw bad('duration', `"${duration}" is no time at all; a fault lasts more than 0`);
  }
  const canonical = `${name}${param !== undefined ? `=${param}` : ''}:${target}${durationMs !== undefined ? `:${formatDuration(durationMs)}` : ''}`;
  return { spec: canonical, name, ...(param !== undefined ? { param } : {}), target, ...(durationMs !== undefined ? { durationMs } : {}) };
}

const event = (phase: FaultEvent['phase'], t: number, f: { name: string; target: string }, detail: string | undefined): FaultEvent => ({
  type: 'fault',
  t,
  phase,
  fault: f.name,
  target: f.target,
  ...(detail ? { detail } : {}),
});

/** when each fault's healing finished (the t of its end event) */
const endedAt = new WeakMap<ActiveFault, number>();

/**
 * Injects the fault and writes its start event (t = when the fault action was issued). The
 * fault it returns heals idempotently, writes the end event (t = when healing finished, its
 * detail saying how long healing took, so a checker may narrow the window) once,
 * and is healed on Ctrl-C / SIGTERM too (onCleanup) until it has been. An instant fault (restart)
 * is over when inject returns: its end event follows at once.
 */
export async function injectFault(env: FaultTarget, spec: string | FaultSpec, log: Logger = silent): Promise<ActiveFault> {
  const s = typeof spec === 'string' ? parseFaultSpec(spec) : spec;
  const n = getNemesis(s.name);
  resolveTargets(env.st.plan, n.name, n.targets, s.target);
  log(`fault ${s.spec}: injecting`);
  const inner = await n.inject(env, s.target, s.param);
  env.history.append({ ...event('start', inner.startedAt, inner, inner.detail), ...(inner.inEffectBy !== undefined ? { by: inner.inEffectBy } : {}) });
  let unregister = () => {};
  const fault = activeFault({
    name: inner.name,
    target: inner.target,
    startedAt: inner.startedAt,
    ...(inner.inEffectBy !== undefined ? { inEffectBy: inner.inEffectBy } : {}),
    detail: inner.detail,
    ...(inner.healDetail ? { healDetail: inner.healDetail } : {}),
    async heal() {
      const h0 = env.now();
      await inner.heal();
      const done = env.now();
      const t = inner.healedAt?.() ?? done;
      endedAt.set(fault, t);
      env.history.append(event('end', t, inner, `${inner.healDetail ?? 'healed'} (healing took ${done - h0} ms)`));
      unregister();
      log(`fault ${s.spec}: healed`);
    },
  });
  unregister = onCleanup(`heal fault ${s.spec}`, () => fault.heal());
  if (n.instant) await fault.heal();
  return fault;
}

export interface RunFaultOptions {
  /** how long the fault lasts when the spec gives no duration */
  durationMs?: number;
  /** ends the fault early (it is still healed and its end event written) */
  signal?: AbortSignal;
  log?: Logger;
}

export interface FaultRun {
  fault: ActiveFault;
  startedAt: number;
  endedAt: number;
}

/**
 * Injects, holds the fault for its duration (a fixed wait: the duration is what the user asked
 * for), heals and returns when the end event is written. Heals also when the wait is aborted.
 */
export async function runFault(env: FaultTarget, spec: string | FaultSpec, opts: RunFaultOptions = {}): Promise<FaultRun> {
  const s = typeof spec === 'string' ? parseFaultSpec(spec) : spec;
  const n = getNemesis(s.name);
  const durationMs = s.durationMs ?? opts.durationMs;
  if (!n.instant && durationMs === undefined) throw errUsage(`fault spec "${s.spec}": duration: missing; runFault needs one to know when to heal`, `write ${s.spec}:10s (${DURATION_FORMS})`);
  const fault = await injectFault(env, s, opts.log);
  try {
    if (!n.instant) await hold(durationMs!, opts.signal);
  } finally {
    await fault.heal();
  }
  return { fault, startedAt: fault.startedAt, endedAt: endedAt.get(fault)! };
}

function hold(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
