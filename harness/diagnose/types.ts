/**
 * What a diagnosis produces: a cause an operator can act on, with the lines of evidence behind it.
 * Pure data, so results.json keeps it and every reporter can show it.
 */
import type { Plan, PlannedService } from '../topology/planner.js';
import type { NodeEvidence } from './evidence.js';

/** Lines of one command's output on one node, quoted as the command printed them. */
export interface Quote {
  node: string;
  command: string;
  lines: string[];
  /** what the lines show, when the lines alone do not say it (an absent line, a node that did not answer) */
  note?: string;
}

export interface Cause {
  /** stable, for reports and tests: `arp-flux`, `nat-no-forward`, … */
  id: string;
  /** what is wrong and what it does to the traffic, in words an operator can act on */
  sentence: string;
  evidence: Quote[];
  fix: string;
}

/** The check a diagnosis explains: what the suites record (name, group, verdict). */
export interface FailedCheck {
  name: string;
  group?: string;
  suite?: string;
  valid: boolean | 'unknown';
  detail?: string;
}

/**
 * An active probe's outcome the suites measured (evidence that no static state shows): a TUN
 * service's large request body that did or did not come through.
 */
export interface Probe {
  kind: 'large-body';
  /** the service's name */
  service: string;
  bytes: number;
  ok: boolean;
  /** what happened, as the probe saw it ("timeout after 5 s", "200 in 12 ms") */
  outcome: string;
}

export interface DiagnoseInput {
  plan: Plan;
  /** per node name; a node missing here was not asked */
  evidence: Record<string, NodeEvidence>;
  check: FailedCheck;
  probes?: Probe[];
  /**
   * When each node was frozen by a `pause` fault of the run (lab clock, ms; `to` absent while it
   * lasted to the end): a frozen keepalived's timers fire late when it thaws, by the freeze itself.
   */
  frozen?: Record<string, { from: number; to?: number }[]>;
}

/** What every rule sees: the input and the services the failed check concerns. */
export interface RuleContext extends DiagnoseInput {
  services: PlannedService[];
}

/** A family of causes: one file each under rules/, with a firing and a silent fixture. */
export interface CauseRule {
  id: string;
  /** for the README table: the cause, the evidence it reads, the fix */
  summary: string;
  reads: string;
  fix: string;
  find(ctx: RuleContext): Cause[];
}
