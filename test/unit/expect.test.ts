import { expect } from 'chai';
import { failoverTime } from '../../harness/checkers/failover.js';
import { reinsertion, removalTime, noErrorsWhileDraining, type TableSample } from '../../harness/checkers/health.js';
import { preemption, type StateChange } from '../../harness/checkers/preempt.js';
import type { CheckResult } from '../../harness/checkers/types.js';
import { isHarnessError } from '../../harness/errors.js';
import { applyExpectations } from '../../harness/checkers/expect.js';
import { mergeExpectations, parseExpectSpec } from '../../harness/expect/spec.js';
import type { FaultEvent, OpEvent, Outcome } from '../../harness/history/history.js';
import { failoverBound, healthReinsertionBound, healthRemovalBound, preemptBound } from '../../harness/keepalived/bound.js';
import { SuiteContext } from '../../harness/suite/context.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/lab/paths.js';

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (isHarnessError(e) && e.code === 'ERR_LVS_USAGE') return `${e.message}\n${e.hint ?? ''}`;
    throw e;
  }
  throw new Error('no usage error');
};

describe('operator expectations: --expect', () => {
  it('parses durations in s and ms and counts, quoting each as written', () => {
    expect(parseExpectSpec('failover=2s,removal=10s,errors=0,reinsertion=1500ms,preemption=2.5s')).to.deep.equal({
      failover: { value: 2000, source: '--expect failover=2s' },
      removal: { value: 10_000, source: '--expect removal=10s' },
      errors: { value: 0, source: '--expect errors=0' },
      reinsertion: { value: 1500, source: '--expect reinsertion=1500ms' },
      preemption: { value: 2500, source: '--expect preemption=2.5s' },
    });
  });

  it('refuses unknown keys listing the allowed ones, durations without a unit, counts that are not whole, repeats and empty specs', () => {
    const unknown = usage(() => parseExpectSpec('failover=2s,latency=5ms'));
    expect(unknown).to.include('unknown key "latency"');
    for (const k of ['failover (failover time', 'removal (health-check removal', 'reinsertion', 'preemption', 'errors (failed client operations']) expect(unknown).to.include(k);
    expect(usage(() => parseExpectSpec('failover=2'))).to.include('"2" is not a duration with its unit');
    expect(usage(() => parseExpectSpec('errors=1.5'))).to.include('"1.5" is not a count');
    expect(usage(() => parseExpectSpec('removal'))).to.include('removal needs a value');
    expect(usage(() => parseExpectSpec('errors=0,errors=1'))).to.include('errors is given twice');
    expect(usage(() => parseExpectSpec(' , '))).to.include('empty');
  });

  it('--expect overrides the topology key by key', () => {
    const yaml = { failover: { value: 5000, source: 'y' }, errors: { value: 3, source: 'y' } };
    expect(mergeExpectations(yaml, parseExpectSpec('failover=2s'))).to.deep.equal({ failover: { value: 2000, source: '--expect failover=2s' }, errors: { value: 3, source: 'y' } });
    expect(mergeExpectations(undefined, undefined)).to.equal(undefined);
  });
});

const op = (t: number, outcome: Outcome): OpEvent => ({ type: 'op', t, latencyMs: 2, node: 'c', op: 'tcp', src: '10.0.0.10', dst: '10.0.0.100', dstPort: 80, outcome, ...(outcome === 'ok' ? { server: 'rs1' } : {}) });
/** 100 ms probes; down from the fault (10 s) for `outMs` */
const outage = (outMs: number) => Array.from({ length: 200 }, (_, i) => i * 100).map((t) => op(t, t >= 10_000 && t < 10_000 + outMs ? 'timeout' : 'ok'));
const fault: FaultEvent = { type: 'fault', t: 10_000, phase: 'start', fault: 'kill', target: 'director1' };
const bound = failoverBound({ version: 2, advertInt: 1, backupPriority: 100, toleranceMs: 500 });

describe('operator expectations applied to a check', () => {
  const within = failoverTime(outage(1400), fault, bound);

  it('a failover within keepalived\u2019s bound but past the operator\u2019s target fails, saying both numbers and the flag', () => {
    const slow = failoverTime(outage(3400), fault, bound);
    expect(slow.valid).to.equal(true);
    const r = applyExpectations(slow, parseExpectSpec('failover=2s'));
    expect(r.valid).to.equal(false);
    expect(r.detail).to.include("measured 3.4 s, over the operator's target 2 s (--expect failover=2s)");
    expect(r.expected).to.deep.include({ operator: { failover: '≤ 2000 ms' } });
    expect((r.expected as { measuredMs: string }).measuredMs).to.equal((slow.expected as { measuredMs: string }).measuredMs);
  });

  it('passes within the target, and errors counts the failed probes', () => {
    const ok = applyExpectations(within, parseExpectSpec('failover=2s'));
    expect(ok.valid).to.equal(true);
    expect(ok.detail).to.include('within the operator');
    const errs = applyExpectations(within, parseExpectSpec('errors=0'));
    expect(errs.valid).to.equal(false);
    expect(errs.detail).to.include("measured 14 failed operations, over the operator's target 0 (--expect errors=0)");
    expect(applyExpectations(within, parseExpectSpec('errors=20')).valid).to.equal(true);
  });

  it('never turns a failed check true, and leaves a check with no measured value as it was', () => {
    const failed: CheckResult = { ...within, valid: false };
    expect(applyExpectations(failed, parseExpectSpec('failover=60s')).valid).to.equal(false);
    const unmeasured = failoverTime(outage(3400).filter((o) => o.t < 10_500), fault, bound);
    expect(unmeasured.valid).to.equal('unknown');
    const r = applyExpectations(unmeasured, parseExpectSpec('failover=2s'));
    expect(r.valid).to.equal('unknown');
    expect(r.detail).to.equal(unmeasured.detail);
  });

  it('is the same check without expectations, or with targets for other measures', () => {
    expect(applyExpectations(within, undefined)).to.equal(within);
    expect(applyExpectations(within, parseExpectSpec('removal=1s,preemption=1s'))).to.equal(within);
    const drain = noErrorsWhileDraining([op(1, 'ok')], { from: 0, to: 10 });
    expect(applyExpectations(drain, parseExpectSpec('failover=1s,errors=0'))).to.equal(drain);
  });

  it('removal, reinsertion and preemption: their measured times against the targets', () => {
    const timing = { checker: 'TCP_CHECK' as const, delayLoop: 2, retry: 2, delayBeforeRetry: 0.5, connectTimeout: 1 };
    const table = (rs2: (t: number) => number | 'gone'): TableSample[] =>
      Array.from({ length: 41 }, (_, i) => i * 500).map((t) => ({ t, servers: [{ address: '10.0.1.11', port: 80, weight: 1 }, ...(rs2(t) === 'gone' ? [] : [{ address: '10.0.1.12', port: 80, weight: rs2(t) as number }])] }));
    const removed = removalTime(table((t) => (t < 10_000 ? 1 : 'gone')), { ...fault, t: 5000 }, '10.0.1.12', healthRemovalBound(timing));
    expect(removed.valid).to.equal(true);
    expect(applyExpectations(removed, parseExpectSpec('removal=4s')).detail).to.include("measured 5 s, over the operator's target 4 s (--expect removal=4s)");
    expect(applyExpectations(removed, parseExpectSpec('removal=5s')).valid).to.equal(true);
    const back = reinsertion(table((t) => (t < 15_000 ? 'gone' : 1)), { ...fault, t: 12_000, phase: 'end' }, '10.0.1.12', healthReinsertionBound(timing));
    expect(back.valid).to.equal(true);
    expect(applyExpectations(back, parseExpectSpec('reinsertion=2500ms')).valid).to.equal(false);
    const sc = (t: number, node: string, state: StateChange['state']): StateChange => ({ t, node, instance: 'VI', state });
    const pb = preemptBound({ version: 2, advertInt: 1, priority: 150, preemptDelay: 2, toleranceMs: 500 });
    const opts = { returningNode: 'd1', returnT: 10_000, preemptDelayMs: 2000, boundMs: pb.boundMs, toleranceMs: 500, windowMs: 20_000 };
    const pre = preemption([sc(10_300, 'd1', 'BACKUP'), sc(14_000, 'd1', 'MASTER')], { ...opts, preempt: true });
    expect(pre.valid).to.equal(true);
    expect(applyExpectations(pre, parseExpectSpec('preemption=3s')).detail).to.include("measured 4 s, over the operator's target 3 s");
    const nopre = preemption([sc(10_300, 'd1', 'BACKUP')], { ...opts, preempt: false });
    expect(applyExpectations(nopre, parseExpectSpec('preemption=1s'))).to.equal(nopre);
  });
});

describe('operator expectations: the topology\u2019s expect: section and the suite context', () => {
  const NAT_HA = path.join(REPO_ROOT, 'topologies/nat-ha.yaml');
  const yaml = (extra: string) => readFileSync(NAT_HA, 'utf8') + extra;

  it('plans the section as targets, outside the plan hash', () => {
    const base = plan(parseTopology(yaml(''), 'nat-ha.yaml'));
    const p = plan(parseTopology(yaml('\nexpect:\n  failover: 2s\n  errors: 0\n'), 'nat-ha.yaml'));
    expect(base.expect).to.equal(undefined);
    expect(p.expect).to.deep.equal({ failover: { value: 2000, source: `expect.failover: 2s in topology ${p.topology}` }, errors: { value: 0, source: `expect.errors: 0 in topology ${p.topology}` } });
    expect(p.hash).to.equal(base.hash);
  });

  it('refuses unknown keys (listing the allowed) and values without a unit, naming the file and field', () => {
    const bad = (extra: string) => {
      try {
        parseTopology(yaml(extra), 'nat-ha.yaml');
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('\nexpect:\n  latency: 2s\n')).to.include('nat-ha.yaml: expect: unknown field "latency" (allowed: failover (failover time');
    expect(bad('\nexpect:\n  failover: 2\n')).to.include('nat-ha.yaml: expect.failover: 2 is not a duration with its unit');
    expect(bad('\nexpect:\n  errors: none\n')).to.include('expect.errors: "none" is not a count');
  });

  it('expectValid records the check with the plan\u2019s targets applied; without targets, as given', () => {
    const slow = failoverTime(outage(3400), fault, bound);
    const p = plan(parseTopology(yaml(''), 'nat-ha.yaml'));
    const plain = new SuiteContext(p);
    plain.expectValid('g', slow);
    expect(plain.checks[0]).to.deep.equal({ ...slow, suite: '', group: 'g' });
    const strict = new SuiteContext({ ...p, expect: parseExpectSpec('failover=2s') });
    expect(() => strict.expectValid('g', slow)).to.throw(/over the operator's target 2 s/);
    expect(strict.checks[0]!.valid).to.equal(false);
  });

  it('judge records every verdict of a test, and fails at its end with each one that was not true', async () => {
    const slow = failoverTime(outage(3400), fault, bound);
    const p = plan(parseTopology(yaml(''), 'nat-ha.yaml'));
    const ctx = new SuiteContext({ ...p, expect: parseExpectSpec('failover=2s') });
    const ok = { name: 'one holder', valid: true as const, observed: {}, expected: {}, rule: 'r' };
    const e = await ctx
      .judge(() => {
        ctx.expectValid('first', slow);
        ctx.expectValid('second', ok);
        ctx.expectValid('third', { ...ok, name: 'gratuitous ARP', valid: 'unknown' });
      })
      .then(() => undefined, (x: Error) => x);
    // the failure did not stop the verdicts after it
    expect(ctx.checks.map((c) => [c.group, c.valid])).to.deep.equal([['first', false], ['second', true], ['third', 'unknown']]);
    // led by the first failed check's name, as a failed expectValid is: the runner counts it as that verdict, not as an error
    expect(e?.message.startsWith(ctx.checks[0]!.name)).to.equal(true);
    expect(e?.message).to.match(/over the operator's target 2 s[\s\S]*\n {2}group: first\n/).and.match(/^gratuitous ARP: [\s\S]*?\n {2}group: third\n {2}verdict: unknown/m).and.match(/\(2 verdicts of this test not true\)$/);
    // all true: no failure; outside judge, expectValid fails at once as before
    await ctx.judge(() => ctx.expectValid('fourth', ok));
    expect(() => ctx.expectValid('fifth', slow)).to.throw(/over the operator's target/);
  });
});
