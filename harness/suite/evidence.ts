import type { Probe } from '../diagnose/types.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { diagnose } from '../diagnose/diagnose.js';
import { parseEvidence, unreachable, type NodeEvidence } from '../diagnose/evidence.js';
import { keepalivedRemovedRule } from '../diagnose/rules/keepalived-removed.js';
import { portRule } from '../diagnose/rules/port.js';
import { splitBrainRule } from '../diagnose/rules/vrrp.js';
import { evidenceArgv } from '../diagnose/script.js';
import type { RecordedCheck } from '../report/results.js';
import type { BuildExplainer, StartedTopology } from '../topology/builder.js';
import type { Plan, PlannedNode } from '../topology/planner.js';

/**
 * When a check is false or unknown, before teardown: one read-only script per node (sysctls,
 * addresses, routes, neighbours, the IPVS table and connections, iptables, keepalived's log),
 * its raw output kept in <run>/evidence/<node>.txt, and each such check given the causes the
 * evidence shows (diagnose/), or "no known cause" with what was gathered.
 */
/**
 * Every named node's evidence, one read-only script each, at once; a node that does not answer
 * is evidence too (unreachable). The raw output per node comes back beside the parsed evidence.
 */
export async function readEvidence(st: StartedTopology, nodes: readonly Pick<PlannedNode, 'name' | 'role'>[]): Promise<{ evidence: Record<string, NodeEvidence>; raw: Record<string, string> }> {
  const evidence: Record<string, NodeEvidence> = {};
  const raw: Record<string, string> = {};
  await Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await st.exec(n.name, evidenceArgv(n.role), { allowFailure: true, timeoutMs: 60_000 });
        evidence[n.name] = parseEvidence(n.name, r.stdout);
        raw[n.name] = r.stdout;
      } catch (e) {
        evidence[n.name] = unreachable(n.name, (e as Error).message);
      }
    }),
  );
  return { evidence, raw };
}

export async function explainFailures(st: StartedTopology, plan: Plan, checks: RecordedCheck[], dir: string, probes: Probe[] = [], frozen: Record<string, { from: number; to?: number }[]> = {}): Promise<void> {
  const failed = checks.filter((c) => c.valid !== true);
  if (!failed.length) return;
  await mkdir(path.join(dir, 'evidence'), { recursive: true });
  const { evidence, raw } = await readEvidence(st, plan.nodes);
  await Promise.all(Object.entries(raw).map(([node, text]) => writeFile(path.join(dir, 'evidence', `${node}.txt`), text)));
  for (const c of failed) c.causes = diagnose({ plan, evidence, check: c, probes, frozen });
}

/**
 * What the builder's errors name as the cause of a failed verification (topology/builder.ts
 * BuildOptions.explain), by the rules the checks use, from evidence read before the teardown.
 */
export const buildExplainer: BuildExplainer = {
  /** keepalived removed every real server; a DR/TUN real server planned on another port, which the kernel does not keep */
  async ipvsMismatch(st, d) {
    const { evidence } = await readEvidence(st, [d]);
    const ctx = { plan: st.plan, evidence, check: { name: `${d.name}: the IPVS table read back`, valid: false as const }, services: st.plan.services };
    return [...keepalivedRemovedRule.find(ctx), ...portRule.find(ctx)];
  },
  /** one instance's split brain, from every director's evidence (its config, its log, DROP rules, links) */
  async splitBrain(st, instance) {
    const { evidence } = await readEvidence(st, st.nodes('director'));
    const plan = { ...st.plan, vrrp: (st.plan.vrrp ?? []).filter((v) => v.name === instance) };
    return splitBrainRule.find({ plan, evidence, check: { name: `${instance} held by one director`, valid: false }, services: [] });
  },
};
