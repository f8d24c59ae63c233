import { injectFault, runFault, type FaultSpec } from '../nemesis/registry.js';
import type { ActiveFault, FaultTarget } from '../nemesis/types.js';
import { waitFor } from '../util/wait.js';
import type { Faults, PipelineRun } from './pipeline.js';

/**
 * The two ways a run holds faults (the pipeline's faults phase): `run --fault` runs each for its
 * duration beside the suites; `bench --fault` holds each through every point.
 */

/**
 * `run --fault`: each fault injected once the topology is up and held while the suites run,
 * healed after its duration, or when the suites end without one. The suites start once every
 * fault is in (its start event written); a fault that fails is an error beside the checks.
 */
export function faultsBesideSuites(run: PipelineRun, env: FaultTarget, specs: readonly FaultSpec[]): Faults | undefined {
  if (!specs.length) return undefined;
  const { record, history, log } = run;
  const end = new AbortController();
  const runs: Promise<unknown>[] = [];
  return {
    phase: 'faults',
    async inject() {
      run.progress?.phase('faults');
      for (const f of specs) {
        for (const n of f.target.split('/')) env.st.node(n);
        runs.push(
          runFault(env, f, { durationMs: 24 * 3600_000, signal: end.signal, log }).catch((e: Error) => {
            record.errors.push({ title: `fault ${f.spec}`, message: e.message.split('\n')[0]!, suite: 'faults' });
            return undefined;
          }),
        );
      }
      await waitFor('the faults to be injected', () => history.events.filter((e) => e.type === 'fault' && e.phase === 'start').length >= specs.length || record.errors.some((e) => e.suite === 'faults'), { timeoutMs: 120_000, intervalMs: 100 });
    },
    async heal() {
      end.abort();
      await Promise.all(runs);
    },
  };
}

/**
 * `bench --fault`: each fault injected in turn and held through every point, healed in the
 * reverse order after the ramp (also on an error, and on Ctrl-C through injectFault's cleanup).
 * Injecting and healing are part of the bench's own phase and timing, as its measuring is.
 */
export function faultsHeld(run: PipelineRun, env: FaultTarget, specs: readonly string[], o: { phase: string; timing?: string; label: string }): Faults | undefined {
  if (!specs.length) return undefined;
  const held: ActiveFault[] = [];
  return {
    phase: o.phase,
    ...(o.timing ? { timing: o.timing } : {}),
    async inject() {
      for (const f of specs) {
        held.push(await injectFault(env, f, run.log));
        run.log(`${o.label}: fault ${f} held through every point`);
      }
    },
    heal: () =>
      run.record.step(
        o.phase,
        async () => {
          for (const f of held.reverse()) await f.heal();
        },
        o.timing,
      ),
  };
}
