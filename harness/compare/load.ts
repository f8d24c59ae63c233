import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { errUsage, isHarnessError } from '../errors.js';
import { loadResults, type Results } from '../report/results.js';

/** One side of a comparison: a run directory as `lvs-harness run` leaves it. */
export interface LoadedRun {
  /** as the user gave it, so the report names the directory they typed */
  dir: string;
  results: Results;
  /** lines of history.ndjson, undefined when the file is missing (the comparison needs only results.json) */
  historyEvents?: number;
}

const NEEDS = 'a run directory, reports/<run-id>/, holding the results.json a run writes (lvs-harness runs lists them)';

async function kindOf(p: string): Promise<'dir' | 'file' | 'missing'> {
  try {
    return (await stat(p)).isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

async function countLines(file: string): Promise<number | undefined> {
  try {
    return (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim()).length;
  } catch {
    return undefined;
  }
}

/**
 * Reads a run for `compare`. Every problem with the inputs is a usage error (exit 2), the bad
 * results.json too, so that exit 1 keeps meaning one thing: a check went from pass to fail.
 * `which` is "RUN_A" or "RUN_B", so the message says which argument is wrong.
 */
export async function loadRun(given: string, which: string): Promise<LoadedRun> {
  const kind = await kindOf(given);
  if (kind === 'missing') throw errUsage(`compare: ${which} ${given}: no such directory`, `give ${NEEDS}`);
  // a path to results.json itself is taken too: shells complete to the file as often as to the directory
  const dir = kind === 'file' && path.basename(given) === 'results.json' ? path.dirname(given) : given;
  if (kind === 'file' && dir === given) throw errUsage(`compare: ${which} ${given}: not a directory`, `give ${NEEDS}`);
  const file = path.join(dir, 'results.json');
  if ((await kindOf(file)) !== 'file')
    throw errUsage(`compare: ${which} ${dir}: no results.json in it`, `give ${NEEDS}; a run stopped before its directory was complete has none and cannot be compared`);
  let results: Results;
  try {
    results = await loadResults(file);
  } catch (e) {
    if (isHarnessError(e)) throw errUsage(`compare: ${which}: ${e.message}`, e.hint ?? `results.json must be lvs-harness/results@0 or @1, as a run writes it`);
    throw e;
  }
  return { dir, results, historyEvents: await countLines(path.join(dir, 'history.ndjson')) };
}
