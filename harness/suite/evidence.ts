import type { Probe } from '../diagnose/types.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { diagnose } from '../diagnose/diagnose.js';
import { parseEvidence, unreachable, type NodeEvidence } from '../diagnose/evidence.js';
import { evidenceArgv } from '../diagnose/script.js';
import type { StartedTopology } from '../topology/builder.js';
import type { Plan } from '../topology/planner.js';
import type { RecordedCheck } from './context.js';

/**
 * When a check is false or unknown, before teardown: one read-only script per node (sysctls,
 * addresses, routes, neighbours, the IPVS table and connections, iptables, keepalived's log),
 * its raw output kept in <run>/evidence/<node>.txt, and each such check given the causes the
 * evidence shows (diagnose/), or "no known cause" with what was gathered.
 */
export async function explainFailures(st: StartedTopology, plan: Plan, checks: RecordedCheck[], dir: string, probes: Probe[] = []): Promise<void> {
  const failed = checks.filter((c) => c.valid !== true);
  if (!failed.length) return;
  await mkdir(path.join(dir, 'evidence'), { recursive: true });
  const evidence: Record<string, NodeEvidence> = {};
  await Promise.all(
    plan.nodes.map(async (n) => {
      try {
        const r = await st.exec(n.name, evidenceArgv(n.role), { allowFailure: true, timeoutMs: 60_000 });
        evidence[n.name] = parseEvidence(n.name, r.stdout);
        await writeFile(path.join(dir, 'evidence', `${n.name}.txt`), r.stdout);
      } catch (e) {
        evidence[n.name] = unreachable(n.name, (e as Error).message);
      }
    }),
  );
  for (const c of failed) c.causes = diagnose({ plan, evidence, check: c, probes });
}
