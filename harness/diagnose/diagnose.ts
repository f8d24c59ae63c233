/**
 * A failed (or unknown) check and the evidence gathered from the running topology → the causes
 * that explain it, or one "no known cause" listing what was looked at. Pure: the runner gathers,
 * this reads. A rule that throws is skipped with a note, never taking the report down.
 */
import type { PlannedService } from '../topology/planner.js';
import { CAUSE_RULES } from './rules/index.js';
import type { Cause, CauseRule, DiagnoseInput, FailedCheck, Quote } from './types.js';

export const NO_KNOWN_CAUSE = 'no-known-cause';

/**
 * The services a check concerns: the suites name the group after the service ("web dr
 * 10.89.30.100:80"), some checks name a VIP; a check that names none concerns them all.
 */
export function servicesOf(services: readonly PlannedService[], check: Pick<FailedCheck, 'name' | 'group'>): PlannedService[] {
  const group = typeof check.group === 'string' ? check.group : '';
  const name = typeof check.name === 'string' ? check.name : '';
  const first = group.split(/\s+/)[0];
  const byName = services.filter((s) => s.name === first);
  if (byName.length) return byName;
  const text = `${group} ${name}`;
  const byVip = services.filter((s) => s.vips.some((v) => new RegExp(`(^|[^0-9a-f.:])${v.replace(/[.[\]]/g, '\\$&')}([^0-9a-f.:]|:\\d|$)`, 'i').test(text)));
  return byVip.length ? byVip : [...services];
}

export function diagnose(input: DiagnoseInput, rules: readonly CauseRule[] = CAUSE_RULES): Cause[] {
  const plan = input?.plan;
  if (!plan || !Array.isArray(plan.nodes) || !Array.isArray(plan.services)) return [noKnownCause(input, ['no plan to read the evidence against'])];
  const ctx = { ...input, evidence: input.evidence ?? {}, check: input.check ?? { name: '', valid: false }, services: servicesOf(plan.services, input.check ?? { name: '' }) };
  const found: Cause[] = [];
  const broken: string[] = [];
  for (const r of rules) {
    try {
      found.push(...r.find(ctx));
    } catch (e) {
      broken.push(`rule ${r.id} failed: ${(e as Error)?.message ?? String(e)}`);
    }
  }
  // services sharing a VIP and a director see the same misconfiguration: say it once
  const seen = new Set<string>();
  const causes = found.filter((c) => !seen.has(`${c.id}\n${c.sentence}`) && seen.add(`${c.id}\n${c.sentence}`));
  return causes.length ? causes : [noKnownCause(ctx, broken)];
}

/** "no known cause", with every command gathered on every node, so the reader knows what was ruled out. */
export function noKnownCause(input: Partial<DiagnoseInput> | undefined, notes: readonly string[] = []): Cause {
  const evidence: Quote[] = [];
  for (const [node, ev] of Object.entries(input?.evidence ?? {})) {
    if (!ev) continue;
    if (ev.error) evidence.push({ node, command: 'evidence script', lines: [], note: ev.error });
    for (const it of Object.values(ev.items ?? {})) {
      if (!it) continue;
      evidence.push({ node, command: it.command, lines: [], note: `${it.totalLines ?? it.lines.length} lines, exit ${it.exitCode ?? 'none (cut short)'}` });
    }
  }
  const nodes = Object.keys(input?.evidence ?? {}).length;
  return {
    id: NO_KNOWN_CAUSE,
    sentence: `no known cause: none of the ${CAUSE_RULES.length} recognised causes shows in the evidence gathered from ${nodes} node${nodes === 1 ? '' : 's'}${notes.length ? ` (${notes.join('; ')})` : ''}`,
    evidence,
    fix: 'read the check\'s detail and run the commands listed (all read-only) on the nodes; a cause worth recognising deserves a rule in harness/diagnose/rules/',
  };
}
