import path from 'node:path';
import { errUsage } from '../errors.js';
import { topologyFile } from '../topology/commands.js';
import { loadTopology } from '../topology/loader.js';
import { plan as makePlan } from '../topology/planner.js';
import { keepalivedSuites, suiteNames } from './runner.js';
import { formatShard, shardOf, type Shard } from './shard.js';

/**
 * `lvs-harness matrix <topology…> --suite S…`: the jobs are the topology × suite pairs, in the
 * order given (topology first), the unit a shard is cut from. A shard's jobs then run one
 * `runSuites` per topology, with all of that topology's suites in the shard:
 *
 * - one build per topology serves all its suites (a build costs about as much as a suite:
 *   20–60 s under emulation), as `run <t> --suite a --suite b` does;
 * - cutting pairs rather than whole topologies keeps the shards balanced when there are fewer
 *   topologies than shards or when one topology's suites outweigh the others';
 * - the split is contiguous in topology-major order, so a topology's pairs stay in one shard
 *   except where a shard boundary falls inside them: the whole matrix pays at most n − 1 builds
 *   more than an unsharded one.
 */

export interface MatrixTopology {
  /** as given on the command line (a shipped name or a file) */
  arg: string;
  file: string;
  /** the topology's own name (from the file) */
  name: string;
  /** it has a keepalived pair, so the keepalived suites apply */
  keepalived: boolean;
}

export interface MatrixJob {
  topology: MatrixTopology;
  suite: string;
}

/** The jobs of one topology run together: one runSuites call. */
export interface MatrixGroup {
  topology: MatrixTopology;
  suites: string[];
}

/**
 * Estimated seconds per suite, from the README's measured table (2 cores, software emulation):
 * what balances the shards. A wrong estimate costs balance, never correctness.
 */
export const SUITE_SECONDS: Readonly<Record<string, number>> = {
  modes: 50,
  schedulers: 70,
  persistence: 16,
  drain: 18,
  protocols: 25,
  failover: 120,
  health: 42,
  sync: 80,
  splitbrain: 25,
};

/** a suite the table does not know yet */
export const DEFAULT_SUITE_SECONDS = 60;

/** a topology's build and teardown, counted once, on its first job */
export const BUILD_SECONDS = 45;

export const suiteSeconds = (suite: string): number => SUITE_SECONDS[suite] ?? DEFAULT_SUITE_SECONDS;

/** What matrix needs from the checkout; tests pass their own. */
export interface MatrixDeps {
  suites: () => string[];
  keepalivedSuites: () => string[];
  resolveTopology: (arg: string) => Promise<MatrixTopology>;
}

export const MATRIX_DEPS: MatrixDeps = {
  suites: suiteNames,
  keepalivedSuites,
  resolveTopology: async (arg) => {
    const file = topologyFile(arg);
    const p = makePlan(await loadTopology(file));
    return { arg, file, name: p.topology, keepalived: !!p.vrrp?.length };
  },
};

export interface MatrixPlan {
  /** every job of the matrix, in order */
  jobs: MatrixJob[];
  /** keepalived suites left out on topologies without a keepalived pair */
  skipped: MatrixJob[];
  shard?: Shard;
  /** this shard's jobs (all of them without --shard) */
  mine: MatrixJob[];
  /** this shard's jobs as runs: consecutive jobs of one topology together */
  groups: MatrixGroup[];
}

/**
 * The weight of every job: its suite's estimate, plus a build on the first job of each
 * topology (the build a shard holding that job pays).
 */
export function jobWeights(jobs: readonly MatrixJob[]): Map<MatrixJob, number> {
  const seen = new Set<string>();
  return new Map(
    jobs.map((j) => {
      const first = !seen.has(j.topology.file);
      seen.add(j.topology.file);
      return [j, suiteSeconds(j.suite) + (first ? BUILD_SECONDS : 0)];
    }),
  );
}

/** Consecutive jobs of one topology as one run. */
export function groupJobs(jobs: readonly MatrixJob[]): MatrixGroup[] {
  const out: MatrixGroup[] = [];
  for (const j of jobs) {
    const last = out[out.length - 1];
    if (last && last.topology.file === j.topology.file) last.suites.push(j.suite);
    else out.push({ topology: j.topology, suites: [j.suite] });
  }
  return out;
}

/**
 * Every topology × suite pair, then this shard's. `all` is every suite in suites/. A keepalived
 * suite (failover, health, sync, splitbrain) is left out, and listed as skipped, on a topology
 * without a keepalived pair, where it could only fail with "needs a keepalived topology".
 * Unknown suites, a topology given twice and bad topology files fail before anything runs.
 */
export async function planMatrix(o: { topologies: string[]; suites: string[]; shard?: Shard }, deps: MatrixDeps = MATRIX_DEPS): Promise<MatrixPlan> {
  if (!o.topologies.length) throw errUsage('matrix: give one or more topologies, e.g. lvs-harness matrix nat dr --suite modes');
  const known = deps.suites();
  if (!o.suites.length) throw errUsage(`matrix: name at least one --suite (${known.join(', ')}, or all)`);
  for (const s of o.suites) if (s !== 'all' && !known.includes(s)) throw errUsage(`matrix: --suite ${s}: no such suite (${known.join(', ')}, or all)`);
  const suites = o.suites.includes('all') ? known : [...new Set(o.suites)];
  const ha = new Set(deps.keepalivedSuites());
  const topologies: MatrixTopology[] = [];
  for (const arg of o.topologies) {
    const t = await deps.resolveTopology(arg);
    const twice = topologies.find((x) => path.resolve(x.file) === path.resolve(t.file));
    if (twice) throw errUsage(`matrix: topology ${arg} is given twice${twice.arg === arg ? '' : ` (as ${twice.arg} and ${arg})`}`);
    topologies.push(t);
  }
  const jobs: MatrixJob[] = [];
  const skipped: MatrixJob[] = [];
  for (const topology of topologies) for (const suite of suites) (ha.has(suite) && !topology.keepalived ? skipped : jobs).push({ topology, suite });
  const weights = jobWeights(jobs);
  const mine = shardOf(jobs, o.shard, (j) => weights.get(j)!);
  return { jobs, skipped, ...(o.shard ? { shard: o.shard } : {}), mine, groups: groupJobs(mine) };
}

const pairText = (js: readonly MatrixJob[]) =>
  groupJobs(js)
    .map((g) => `${g.topology.name} (${g.suites.join(', ')})`)
    .join(', ');

/** What the shard runs, before it runs it: "shard 2/4: 3 of 11 jobs: dr (modes, schedulers), tun (modes)". */
export function formatMatrixPlan(p: MatrixPlan): string {
  const head = p.shard ? `matrix shard ${formatShard(p.shard)}: ${p.mine.length} of ${p.jobs.length} job${p.jobs.length === 1 ? '' : 's'}` : `matrix: ${p.jobs.length} job${p.jobs.length === 1 ? '' : 's'}`;
  const lines = [p.mine.length ? `${head}: ${pairText(p.mine)}` : `${head}: nothing to run in this shard`];
  if (p.skipped.length) lines.push(`skipped (no keepalived pair): ${pairText(p.skipped)}`);
  return lines.join('\n');
}
