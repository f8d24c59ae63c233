import { errUsage } from '../errors.js';
import { DEFAULT_BODY_SIZES } from '../images/rs-app.js';
import { getNemesis, parseFaultSpec } from '../nemesis/registry.js';
import { DEFAULT_STEPS } from './ramp.js';
import { CONNECTION_MODES, type ConnectionMode } from './schema.js';

/**
 * `lvs-harness bench`'s flags, checked before anything is built: a bad one is a usage error
 * (exit 2) that names the flag and what it allows. Pure, so every refusal is tested without a lab.
 */
export interface BenchSettings {
  seconds: number;
  warmupSeconds: number;
  repeat: number;
  sizes: number[];
  steps: number[];
  connections: ConnectionMode[];
  /** canonical fault specs held through every point (bench --fault), e.g. to see what a slower director costs */
  faults?: string[];
}

/**
 * 5 repetitions by default: `--compare` judges each figure with a rank test over the
 * repetitions, and with r a side its smallest p-value is 2/C(2r, r): 0.1 for 3, 0.029 for 4,
 * 0.008 for 5. Only from 5 can a change survive the correction for the several figures a
 * comparison judges at once (compare.ts), so fewer would make every comparison "too few".
 */
export const BENCH_DEFAULTS: BenchSettings = { seconds: 10, warmupSeconds: 2, repeat: 5, faults: [], sizes: [...DEFAULT_BODY_SIZES], steps: [...DEFAULT_STEPS], connections: [...CONNECTION_MODES] };

/** 64 MiB: a body bigger than that measures the disk cache, not the director */
export const MAX_SIZE = 64 * 1024 * 1024;
export const MAX_CONCURRENCY = 10_000;

function whole(flag: string, v: string, min: number, max: number): number {
  const n = Number(v.trim());
  if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < min || n > max) throw errUsage(`bench: --${flag} "${v}" is not a whole number from ${min} to ${max}`);
  return n;
}

/** 1024, 1KiB, 256KiB, 1MiB (binary units only: "1k" would leave the reader guessing) */
export function parseSize(v: string): number {
  const m = v.trim().match(/^(\d+)\s*(B|KiB|MiB)?$/);
  const n = m ? Number(m[1]) * (m[2] === 'KiB' ? 1024 : m[2] === 'MiB' ? 1024 * 1024 : 1) : NaN;
  if (!Number.isSafeInteger(n) || n > MAX_SIZE) throw errUsage(`bench: --size "${v}" is not a size in bytes from 0 to ${MAX_SIZE} (e.g. 1024, 1KiB, 256KiB, 1MiB)`);
  return n;
}

/** "1,4,16,64,256": the ramp's steps, each once, in order */
export function parseConcurrency(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (!parts.length || parts.some((p) => !p)) throw errUsage(`bench: --concurrency "${v}" is not a comma-separated list of connection counts (e.g. 1,4,16,64,256)`);
  const steps = parts.map((p) => whole('concurrency', p, 1, MAX_CONCURRENCY));
  return [...new Set(steps)].sort((a, b) => a - b);
}

export interface BenchFlags {
  seconds?: string;
  warmup?: string;
  repeat?: string;
  size?: string[];
  concurrency?: string;
  connection?: string[];
  fault?: string[];
}

/**
 * `--fault <name>[=<param>]:<target>`: any fault of `lvs-harness faults`, held from after the
 * build until the topology's last point. A duration is refused: a fault that healed halfway
 * would leave the points after it measured without it.
 */
export function parseBenchFault(v: string): string {
  const f = parseFaultSpec(v);
  if (getNemesis(f.name).instant) throw errUsage(`bench: --fault "${v}": ${f.name} is over as soon as it is done, so there is nothing to hold through the points`, 'use a fault that lasts (lvs-harness faults lists them), e.g. --fault netem-delay=20ms:director1');
  if (f.durationMs !== undefined) throw errUsage(`bench: --fault "${v}": no duration: bench holds a fault through every point of the topology, so that each point is measured under it`, `write ${f.spec.replace(/:[^:]*$/, '')}`);
  return f.spec;
}

export function parseBenchFlags(f: BenchFlags): BenchSettings {
  const d = BENCH_DEFAULTS;
  const connections = f.connection?.length
    ? [
        ...new Set(
          f.connection.flatMap((c) => c.split(',')).map((c) => {
            const m = c.trim() as ConnectionMode;
            if (!CONNECTION_MODES.includes(m)) throw errUsage(`bench: --connection "${c}" is not one of ${CONNECTION_MODES.join(', ')}`);
            return m;
          }),
        ),
      ]
    : d.connections;
  return {
    seconds: f.seconds !== undefined ? whole('seconds', f.seconds, 1, 3600) : d.seconds,
    warmupSeconds: f.warmup !== undefined ? whole('warmup', f.warmup, 0, 600) : d.warmupSeconds,
    repeat: f.repeat !== undefined ? whole('repeat', f.repeat, 1, 100) : d.repeat,
    sizes: f.size?.length ? [...new Set(f.size.flatMap((s) => s.split(',')).map(parseSize))] : d.sizes,
    steps: f.concurrency !== undefined ? parseConcurrency(f.concurrency) : d.steps,
    connections,
    faults: [...new Set((f.fault ?? []).map(parseBenchFault))],
  };
}
