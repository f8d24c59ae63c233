import { formatStaticWarning, staticWarnings } from '../diagnose/static.js';
import { loadTopology } from '../topology/loader.js';
import { plan as makePlan, type Plan } from '../topology/planner.js';
import type { Logger } from '../util/log.js';

/**
 * A topology file to its plan, as every command that builds one reads it (run, main, matrix,
 * up, bench): the loader's errors name the file, the path and what is allowed, and a topology
 * whose own sysctls undo what its mode needs is warned about now, with the sentence the run-time
 * cause would use (diagnose/static.ts).
 */
export async function loadPlan(file: string, log: Logger): Promise<Plan> {
  const topology = await loadTopology(file);
  const planned = makePlan(topology);
  for (const w of staticWarnings(topology, planned)) log(`warning: ${formatStaticWarning(file, w)}`);
  return planned;
}
