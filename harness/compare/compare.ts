import { runVerdictOf, tally, type RunVerdict, type Tally } from '../report/format.js';
import type { RunFailure, RunInterruption } from '../report/results.js';
import { distributionComparisons, type DistributionComparison } from './distributions.js';
import { environmentRows, type EnvironmentRow } from './environment.js';
import type { LoadedRun } from './load.js';
import { pairChecks } from './match.js';
import { timeSeries, type TimeSeries } from './times.js';
import { verdictChanges, type VerdictSummary } from './verdicts.js';

/**
 * `lvs-harness compare RUN_A RUN_B`: everything the three formats show, as one value (and the
 * JSON output as it is). A is the baseline, B the candidate: "pass-to-fail" means A passed it.
 */
export const COMPARE_SCHEMA = 'lvs-harness/compare@1';

export interface RunInfo {
  dir: string;
  runId: string;
  schema: string;
  startedAt: string;
  topology: string;
  suites: string[];
  verdict: RunVerdict;
  checks: Tally;
  /** the error that ended the run early: its checks are those recorded before it */
  error?: RunFailure;
  interrupted?: RunInterruption;
  /** events in history.ndjson; absent when the file is missing */
  historyEvents?: number;
}

export interface Comparison {
  schema: typeof COMPARE_SCHEMA;
  a: RunInfo;
  b: RunInfo;
  environment: EnvironmentRow[];
  verdicts: VerdictSummary;
  times: TimeSeries[];
  distributions: DistributionComparison[];
  /** checks A passed and B failed: the exit code is 1 when there is one */
  passToFail: number;
  exitCode: 0 | 1;
}

function info(r: LoadedRun): RunInfo {
  const x = r.results;
  return {
    dir: r.dir,
    runId: x.runId,
    schema: x.schema,
    startedAt: x.startedAt,
    topology: x.topology.name,
    suites: x.suites,
    verdict: runVerdictOf(x),
    checks: tally(x.checks),
    ...(x.error ? { error: x.error } : {}),
    ...(x.interrupted ? { interrupted: x.interrupted } : {}),
    ...(r.historyEvents !== undefined ? { historyEvents: r.historyEvents } : {}),
  };
}

export function compareRuns(a: LoadedRun, b: LoadedRun): Comparison {
  const pairs = pairChecks(a.results.checks, b.results.checks);
  const verdicts = verdictChanges(pairs, a.results, b.results);
  const passToFail = verdicts.changes.filter((c) => c.kind === 'pass-to-fail').length;
  return {
    schema: COMPARE_SCHEMA,
    a: info(a),
    b: info(b),
    environment: environmentRows(a.results, b.results),
    verdicts,
    times: timeSeries(a.results, b.results),
    distributions: distributionComparisons(pairs),
    passToFail,
    exitCode: passToFail ? 1 : 0,
  };
}
