/**
 * `lvs-harness bench`: the argv to a bench run or to `--compare OLD NEW`. Usage errors throw
 * ERR_LVS_USAGE (exit 2) naming the flag and what it allows, before anything is built.
 */
import { parseArgs } from 'node:util';
import { errUsage, isHarnessError } from '../errors.js';
import { LAB_RELEASES } from '../lab/recipe.js';
import { labRequest } from '../runtime/release.js';
import type { Progress } from '../report/terminal.js';
import type { Logger } from '../util/log.js';
import { compareBench, formatComparison } from './compare.js';
import { parseBenchFlags } from './options.js';
import { readBench, type BenchReport } from './schema.js';

export const BENCH_USAGE =
  `lvs-harness bench <topology…> [--seconds N] [--repeat N] [--size BYTES…] [--concurrency 1,4,16,64,256] [--connection keep-alive|new-connection] [--warmup S] [--fault <name>[=<param>]:<target>…] [--out DIR] [--release ${LAB_RELEASES.join('|')}] [--restart] [--docker-host URL]  |  lvs-harness bench --compare OLD NEW [--format text|json] [--all]`;

const FORMATS = ['text', 'json'] as const;

const OPTIONS = {
  seconds: { type: 'string' },
  repeat: { type: 'string' },
  size: { type: 'string', multiple: true },
  concurrency: { type: 'string' },
  connection: { type: 'string', multiple: true },
  warmup: { type: 'string' },
  fault: { type: 'string', multiple: true },
  out: { type: 'string' },
  'docker-host': { type: 'string' },
  release: { type: 'string' },
  restart: { type: 'boolean' },
  compare: { type: 'boolean' },
  format: { type: 'string' },
  all: { type: 'boolean' },
} as const;

export interface BenchCommandOutput {
  text: string;
  code: number;
}

async function load(file: string, which: 'OLD' | 'NEW'): Promise<BenchReport> {
  try {
    return await readBench(file);
  } catch (e) {
    if (isHarnessError(e) && e.code === 'ERR_LVS_BENCH') throw errUsage(`bench --compare: ${which} ${e.message}`, e.hint ?? 'give a bench.json or the reports/<run-id>/ directory of a bench run');
    throw e;
  }
}

async function compare(positionals: string[], format: string, all: boolean): Promise<BenchCommandOutput> {
  if (positionals.length !== 2) throw errUsage(`bench --compare: give two bench runs, OLD (the baseline) and NEW (got ${positionals.length})`, BENCH_USAGE);
  // one after the other: with both unreadable, the error names OLD, always
  const a = await load(positionals[0]!, 'OLD');
  const b = await load(positionals[1]!, 'NEW');
  const c = compareBench(a, b);
  return { text: format === 'json' ? JSON.stringify(c, null, 2) : formatComparison(c, all), code: c.exitCode };
}

export async function benchCommand(argv: string[], io: { log: Logger; progress?: Progress; env?: NodeJS.ProcessEnv }): Promise<BenchCommandOutput> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (e) {
    throw errUsage(`bench: ${(e as Error).message.split('\n')[0]}`, BENCH_USAGE);
  }
  const { values: v, positionals } = parsed;
  const format = v.format ?? 'text';
  if (!(FORMATS as readonly string[]).includes(format)) throw errUsage(`bench: --format ${format}: use ${FORMATS.join(' or ')}`, BENCH_USAGE);
  if (v.compare) {
    const runFlags = (['seconds', 'repeat', 'size', 'concurrency', 'connection', 'warmup', 'fault', 'out', 'docker-host', 'release', 'restart'] as const).filter((f) => v[f] !== undefined);
    if (runFlags.length) throw errUsage(`bench --compare: ${runFlags.map((f) => `--${f}`).join(', ')} only apply to a bench run`, BENCH_USAGE);
    return compare(positionals, format, !!v.all);
  }
  if (v.format !== undefined || v.all) throw errUsage('bench: --format and --all go with --compare OLD NEW', BENCH_USAGE);
  if (v.out !== undefined && !v.out.trim()) throw errUsage('bench: --out needs a directory, e.g. --out bench-reports', BENCH_USAGE);
  if (!positionals.length) throw errUsage('bench: name at least one topology (e.g. lvs-harness bench nat dr tun fullnat haproxy-ha), or --compare OLD NEW', BENCH_USAGE);
  const settings = parseBenchFlags({ seconds: v.seconds, repeat: v.repeat, size: v.size, concurrency: v.concurrency, connection: v.connection, warmup: v.warmup, fault: v.fault });
  const lab = labRequest({ release: v.release, restart: v.restart, dockerHost: v['docker-host'], env: io.env ?? process.env, command: 'bench' });
  // the driver pulls in the runtime and the builder: loaded only for a run
  const { runBench, formatBenchEnd } = await import('./run.js');
  await (await import('../runtime/select.js')).checkLabRelease(lab);
  const r = await runBench({ ...settings, topologies: positionals, ...(v.out !== undefined ? { out: v.out } : {}), ...(v['docker-host'] !== undefined ? { dockerHost: v['docker-host'] } : {}), lab, log: io.log, ...(io.progress ? { progress: io.progress } : {}) });
  return { text: formatBenchEnd(r), code: r.error || !r.report ? 1 : 0 };
}
