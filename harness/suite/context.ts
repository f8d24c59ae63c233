import type { Probe } from '../diagnose/types.js';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import type { CheckResult } from '../checkers/types.js';
import type { RecordedCheck } from '../report/results.js';
import { applyExpectations } from '../checkers/expect.js';
import { HarnessError } from '../errors.js';
import { parseTopology } from '../topology/loader.js';
import { plan as makePlan, type Plan, type PlannedService } from '../topology/planner.js';
import { buildTopology, type StartedTopology } from '../topology/builder.js';
import { resolveRuntime } from '../runtime/select.js';
import { History } from '../history/history.js';
import { Agent, clockOffset } from '../load/driver.js';
import { buildExplainer } from './evidence.js';
import { tcpService } from './applicable.js';

/** results.json's record of a check (report/results.ts), which a suite context collects. */
export type { RecordedCheck };

/**
 * What a suite file sees: the plan (known when mocha loads the file, so tests can be declared
 * per service and mode) and the started topology (ready before the first test runs).
 * `lvs-harness run` sets it; running a suite with plain mocha builds it from LVS_HARNESS_TOPOLOGY.
 */
export class SuiteContext {
  readonly checks: RecordedCheck[] = [];
  /** what active probes measured (a large body through a tunnel): the cause rules read it */
  readonly probes: Probe[] = [];
  suite = '';
  /** per suite, the tests `run --suite all` leaves out on this topology (applicable.ts testsNotApplicable) */
  leftOutTests: Record<string, readonly string[]> = {};
  private startedP?: Promise<StartedTopology>;
  private agents = new Map<string, Promise<Agent>>();
  /** lab clock minus host clock, measured when the first agent starts */
  private offsetMs = 0;

  constructor(
    readonly plan: Plan,
    started?: StartedTopology,
    readonly history: History = new History(),
  ) {
    if (started) this.startedP = Promise.resolve(started);
  }

  /** The current suite's tests left out on this topology (by title). */
  get leftOut(): readonly string[] {
    return this.leftOutTests[this.suite] ?? [];
  }

  /** The load agent of a client node, started on first use; its clock offset goes into the history. */
  agent(node: string): Promise<Agent> {
    let a = this.agents.get(node);
    if (!a) {
      a = this.started().then(async (st) => {
        const agent = await Agent.start(st, node, this.history);
        await this.measureClock(node, agent, true);
        return agent;
      });
      this.agents.set(node, a);
    }
    return a;
  }

  /**
   * Measures the lab's clock against the host's again through a node's agent: a stamp taken with
   * now() right after is on the lab's clock as the agent's operations are. The guest's clock can
   * step under emulation (CI, 2026-12-02: 6.4 s back between two suites, so a drain's edit was
   * stamped after the operations that followed it); a step of more than 100 ms goes into the
   * history as a clock observation with `steppedMs`.
   */
  async syncClock(node: string): Promise<void> {
    // an agent started by this call has just been measured (the first measurement): not twice
    const started = this.agents.has(node);
    const agent = await this.agent(node);
    if (started) await this.measureClock(node, agent, false);
  }

  /** The offset measured through an agent; recorded when it is the first, or a step from the last. */
  private async measureClock(node: string, agent: Agent, first: boolean): Promise<void> {
    const off = await clockOffset(agent);
    const stepped = off.offsetMs - this.offsetMs;
    this.offsetMs = off.offsetMs;
    if (first || Math.abs(stepped) > 100)
      this.history.append({ type: 'observe', t: this.now(), node, what: 'clock', data: { offsetFromHostMs: Math.round(off.offsetMs), uncertaintyMs: Math.round(off.uncertaintyMs), ...(first ? {} : { steppedMs: Math.round(stepped) }) } });
  }

  /** Now, on the lab's clock (the one every operation in the history is stamped with). */
  now(): number {
    return Math.round(Date.now() + this.offsetMs);
  }

  async stopAgents(): Promise<void> {
    for (const a of this.agents.values()) await (await a.catch(() => undefined))?.stop();
    this.agents.clear();
  }

  started(): Promise<StartedTopology> {
    this.startedP ??= resolveRuntime().then((rt) => buildTopology(rt, this.plan, { explain: buildExplainer }));
    return this.startedP;
  }

  /** failures of the verdicts judged inside judge(), thrown together at its end */
  private deferred: string[] | undefined;

  /**
   * Records a verdict, with the operator's targets of the plan applied, for the report and fails
   * the test unless it is valid (inside judge(): at the end of it, after every verdict is recorded).
   */
  expectValid(group: string, measured: CheckResult): void {
    const check = applyExpectations(measured, this.plan.expect);
    this.checks.push({ ...check, suite: this.suite, group });
    const msg = `${check.name}: ${check.detail ?? ''}\n  observed: ${JSON.stringify(check.observed)}\n  expected: ${JSON.stringify(check.expected)}`;
    if (this.deferred) {
      // each failure leads with its check's name, as a failed expectValid does: the runner tells a
      // test's false verdict from an error by that name (suite/runner.ts)
      if (check.valid !== true) this.deferred.push(`${msg}\n  group: ${group}\n  verdict: ${String(check.valid)}`);
      return;
    }
    expect(check.valid, msg).to.equal(true);
  }

  /**
   * Several verdicts of one test, each recorded whatever the others say: a failover time past
   * its bound must not hide whether one director held the VIP, the gratuitous ARP or the
   * preemption. The test fails at the end, with every verdict that was not true.
   */
  async judge(fn: () => Promise<void> | void): Promise<void> {
    const outer = this.deferred;
    this.deferred = [];
    let failures: string[];
    try {
      await fn();
    } finally {
      failures = this.deferred;
      this.deferred = outer;
    }
    if (failures.length) expect.fail(`${failures.join('\n')}\n(${failures.length} verdict${failures.length > 1 ? 's' : ''} of this test not true)`);
  }
}

/**
 * The service a load suite works on (the first TCP service with two or more real servers) and
 * the client on its network. Without one, the suite declares a single failing test saying so:
 * a suite that cannot judge must not pass.
 */
export function tcpServiceUnderTest(ctx: SuiteContext): { svc: PlannedService; client: string } | undefined {
  const found = tcpService(ctx.plan);
  if (found) return found;
  it('needs a TCP service with at least two real servers and a client on its network', () => {
    throw new Error(`topology ${ctx.plan.topology} has no TCP service with two or more real servers and a client on the VIP's network`);
  });
  return undefined;
}

let current: SuiteContext | undefined;

export function setSuiteContext(c: SuiteContext | undefined): void {
  current = c;
}

export function suiteContext(suite: string): SuiteContext {
  if (!current) {
    const file = process.env.LVS_HARNESS_TOPOLOGY;
    if (!file)
      throw new HarnessError('ERR_LVS_NO_TOPOLOGY', 'this suite needs a topology', {
        hint: `run it with \`lvs-harness run <topology.yaml> --suite ${suite}\` (or set LVS_HARNESS_TOPOLOGY for plain mocha)`,
      });
    current = new SuiteContext(makePlan(parseTopology(readFileSync(file, 'utf8'), file)));
  }
  current.suite = suite;
  return current;
}
