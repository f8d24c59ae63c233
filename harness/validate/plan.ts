import { HarnessError } from '../errors.js';
import { parseTopology } from '../topology/loader.js';
import { plan, type Plan } from '../topology/planner.js';
import type { Topology } from '../topology/schema.js';
import type { Derived } from './derive.js';

/**
 * A derived topology through the same loader and planner as a YAML file: what the loader refuses
 * in it is refused for the operator's files too, with the files it was derived from named.
 */
export function planDerived(d: Derived): { topology: Topology; plan: Plan } {
  const label = `topology ${d.topology.description ?? 'derived'}`;
  try {
    const topology = parseTopology(d.yaml, label);
    return { topology, plan: plan(topology) };
  } catch (e) {
    if (e instanceof HarnessError && e.code === 'ERR_LVS_TOPOLOGY')
      throw new HarnessError('ERR_LVS_TOPOLOGY', e.message, { hint: 'the lab cannot build what the files describe as derived; the derived topology (its YAML) shows the names used above', details: e.details, cause: e });
    throw e;
  }
}
