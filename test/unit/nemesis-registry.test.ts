import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { HarnessError } from '../../harness/errors.js';
import { History, type FaultEvent } from '../../harness/history/history.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { healOnce, resolveTargets } from '../../harness/nemesis/common.js';
import { describeNemeses, getNemesis, injectFault, NEMESES, runFault } from '../../harness/nemesis/registry.js';
import type { FaultTarget } from '../../harness/nemesis/types.js';
import type { StartedTopology } from '../../harness/topology/builder.js';
import { parseTopology } from '../../harness/topology/loader.js';
import { plan, type Plan } from '../../harness/topology/planner.js';
import { runCleanup } from '../../harness/util/cleanup.js';
import { rejection } from '../helpers.js';

const shipped = (name: string): Plan => plan(parseTopology(readFileSync(path.join(REPO_ROOT, 'topologies', `${name}.yaml`), 'utf8'), `topologies/${name}.yaml`));

/**
 * A StartedTopology without Docker for the registry's own behaviour (events, idempotent heal,
 * Ctrl-C): the health flag of each real server, /health answering from it, and a log of calls.
 * Any other use of the topology throws, so a fault that would act on a node itself (its lifecycle) fails the test.
 */
function fakeTopology(p: Plan) {
  const unhealthy = new Set<string>();
  const calls: string[] = [];
  const st = {
    plan: p,
    node: (n: string) => p.nodes.find((x) => x.name === n)!,
    async setHealth(n: string, healthy: boolean) {
      calls.push(`setHealth ${n} ${healthy}`);
      if (healthy) unhealthy.delete(n);
      else unhealthy.add(n);
    },
    async exec(n: string, argv: readonly string[]) {
      if (argv[0] !== 'curl' || !argv.at(-1)!.endsWith('/health')) throw new Error(`unexpected exec on ${n}: ${argv.join(' ')}`);
      return { exitCode: 0, stdout: unhealthy.has(n) ? '503' : '200', stderr: '' };
    },
    host(n: string): never {
      calls.push(`host ${n}`);
      throw new Error(`no node runtime here (host ${n})`);
    },
  };
  return { st: st as unknown as StartedTopology, unhealthy, calls };
}

function env(p: Plan) {
  const f = fakeTopology(p);
  let clock = 1_000;
  const target: FaultTarget = { st: f.st, history: new History(), now: () => (clock += 10) };
  return { ...f, env: target };
}

const faults = (h: History) => h.events.filter((e): e is FaultEvent => e.type === 'fault');

describe('nemesis registry', () => {
  it('registers one nemesis per fault name, each with a summary and what it targets', () => {
    expect([...NEMESES.keys()]).to.deep.equal(['kill', 'stop', 'pause', 'restart', 'kill-keepalived', 'kill-haproxy', 'kill-app', 'link-down', 'partition', 'netem-delay', 'netem-loss', 'health']);
    for (const [name, n] of NEMESES) {
      expect(n.name).to.equal(name);
      expect(n.summary.length, name).to.be.above(20);
    }
    expect(Object.fromEntries([...NEMESES].map(([k, n]) => [k, n.targets]))).to.deep.include({
      partition: 'node-pair',
      health: 'real-server',
      'kill-app': 'real-server',
      stop: 'director',
      'kill-keepalived': 'director',
      'kill-haproxy': 'director',
      kill: 'node',
    });
    expect([...NEMESES.values()].filter((n) => n.instant).map((n) => n.name)).to.deep.equal(['restart']);
    expect(describeNemeses().split('\n')).to.have.length(NEMESES.size);
    expect(describeNemeses()).to.match(/^netem-delay\s+<node>\s+delay everything .*\[param: the added delay .*default 200ms\]$/m);
  });

  it('getNemesis throws a usage error listing the known names', () => {
    expect(getNemesis('pause').name).to.equal('pause');
    try {
      getNemesis('freeze');
      expect.fail('accepted');
    } catch (e) {
      expect(e).to.be.instanceOf(HarnessError);
      expect((e as HarnessError).code).to.equal('ERR_LVS_USAGE');
      expect((e as HarnessError).message).to.equal('unknown fault "freeze" (known: kill, stop, pause, restart, kill-keepalived, kill-haproxy, kill-app, link-down, partition, netem-delay, netem-loss, health)');
    }
  });

  it('resolves targets against the plan and the role the fault acts on', () => {
    const p = shipped('dr');
    expect(resolveTargets(p, 'partition', 'node-pair', 'client/rs1').map((n) => n.name)).to.deep.equal(['client', 'rs1']);
    expect(resolveTargets(p, 'health', 'real-server', 'rs2')[0]!.role).to.equal('real-server');
    const wrongRole = (() => {
      try {
        resolveTargets(p, 'health', 'real-server', 'director');
      } catch (e) {
        return e as HarnessError;
      }
    })()!;
    expect(wrongRole.message).to.equal('health: director is a director; health acts on a real-server');
    expect(wrongRole.hint).to.equal('the real-servers of dr: rs1, rs2, rs3');
    expect(() => resolveTargets(p, 'stop', 'director', 'rs1')).to.throw('stop: rs1 is a real-server; stop acts on a director');
    expect(() => resolveTargets(p, 'pause', 'node', 'rs9')).to.throw('pause: topology dr has no node "rs9"');
    expect(() => resolveTargets(p, 'partition', 'node-pair', 'client')).to.throw('partition: target "client" is not a pair of nodes');
  });

  it('healOnce runs a heal once, shares a running one, and retries after a failure', async () => {
    let n = 0;
    let fail = true;
    const heal = healOnce(async () => {
      n++;
      await new Promise((r) => setTimeout(r, 5));
      if (fail) throw new Error('not yet');
    });
    let threw = '';
    await heal().catch((e: Error) => {
      threw = e.message;
    });
    expect([threw, n]).to.deep.equal(['not yet', 1]);
    fail = false;
    await Promise.all([heal(), heal()]);
    expect(n).to.equal(2);
    await heal();
    expect(n).to.equal(2);
  });

  it('injectFault writes the start event, heal writes the end event once', async () => {
    const { env: e, unhealthy } = env(shipped('dr'));
    const f = await injectFault(e, 'health:rs2');
    expect(unhealthy.has('rs2')).to.equal(true);
    expect(faults(e.history)).to.deep.equal([{ type: 'fault', t: 1010, phase: 'start', fault: 'health', target: 'rs2', detail: 'setHealth(rs2, false): /health answers 503' }]);
    await f.heal();
    await f.heal();
    expect(unhealthy.has('rs2')).to.equal(false);
    expect(faults(e.history).map((x) => [x.phase, x.t, x.detail])).to.deep.equal([
      ['start', 1010, 'setHealth(rs2, false): /health answers 503'],
      // a node that does not tell when its flag changed: the end is when the heal command was issued
      ['end', 1040, 'setHealth(rs2, true): /health answers 200 (healing took 30 ms)'],
    ]);
  });

  it('a health fault starts and ends when the flag changed in the node, kept within the host\'s view of the command', async () => {
    const { env: e, st } = env(shipped('dr'));
    // the node's clock says the flag changed at 1405, late in a command the host saw from 1010
    // to 1420 (an exec that started late); a skewed node clock is clamped into the command's span
    const said = [1_405, 999_999];
    const inner = st.setHealth.bind(st);
    (st as unknown as { setHealth: (n: string, h: boolean) => Promise<number | undefined> }).setHealth = async (n, h) => {
      await inner(n, h);
      return said.shift();
    };
    // the host's clock at each reading: the inject command issued at 1010 returns at 1420, the
    // heal starts at 1430 and its command runs from 1440 to 1450
    const times = [1_010, 1_420, 1_430, 1_440, 1_450, 1_460];
    e.now = () => times.shift() ?? 2_000;
    const f = await injectFault(e, 'health:rs2');
    const [start] = faults(e.history);
    expect(start!.t).to.equal(1_405);
    expect(start!.detail).to.equal('setHealth(rs2, false): /health answers 503 (the flag was set 395 ms after the command was issued)');
    await f.heal();
    const end = faults(e.history)[1]!;
    // 999_999 is past the heal command's return: clamped to it
    expect(end.t).to.equal(1_450);
    expect(end.detail).to.equal('setHealth(rs2, true): /health answers 200 (healing took 30 ms)');
  });

  it('checks the target against the plan before injecting anything', async () => {
    const { env: e, calls } = env(shipped('dr'));
    const err = await rejection(injectFault(e, 'health:director'));
    expect(err.message).to.equal('health: director is a director; health acts on a real-server');
    expect(calls).to.deep.equal([]);
    expect(faults(e.history)).to.deep.equal([]);
  });

  it('a fault that needs restoreNode refuses to start without it, saying so, and touches nothing', async () => {
    const { env: e, calls } = env(shipped('dr'));
    for (const spec of ['kill:rs1', 'restart:rs1']) {
      const err = await rejection(injectFault(e, spec));
      expect(err.code).to.equal('ERR_LVS_NEMESIS_UNSUPPORTED');
      expect(err.message).to.match(new RegExp(`^${spec.split(':')[0]} on rs1: healing it needs StartedTopology\\.restoreNode\\(node\\) .*; nothing was injected$`));
    }
    expect(calls).to.deep.equal([]);
    expect(faults(e.history)).to.deep.equal([]);
  });

  it('runFault holds the fault for its duration, then heals', async () => {
    const { env: e, unhealthy } = env(shipped('dr'));
    const t0 = Date.now();
    let during = false;
    const run = runFault(e, 'health:rs1:300ms');
    await new Promise((r) => setTimeout(r, 150));
    during = unhealthy.has('rs1');
    const r = await run;
    expect(during).to.equal(true);
    expect(Date.now() - t0).to.be.within(290, 2000);
    expect(unhealthy.has('rs1')).to.equal(false);
    expect(faults(e.history).map((x) => x.phase)).to.deep.equal(['start', 'end']);
    expect(r.endedAt).to.equal(faults(e.history)[1]!.t);
    expect(r.startedAt).to.equal(faults(e.history)[0]!.t);
  });

  it('runFault needs a duration, from the spec or the options, and an abort ends the wait early', async () => {
    const { env: e, unhealthy } = env(shipped('dr'));
    const err = await rejection(runFault(e, 'health:rs1'));
    expect(err.message).to.equal('fault spec "health:rs1": duration: missing; runFault needs one to know when to heal');
    expect(faults(e.history)).to.deep.equal([]);
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    await runFault(e, 'health:rs1', { durationMs: 60_000, signal: ac.signal });
    expect(Date.now() - t0).to.be.below(5_000);
    expect(unhealthy.size).to.equal(0);
    expect(faults(e.history).map((x) => x.phase)).to.deep.equal(['start', 'end']);
  });

  it('an active fault is healed by the Ctrl-C cleanup, and only once', async () => {
    const { env: e, unhealthy, calls } = env(shipped('dr'));
    const f = await injectFault(e, 'health:rs3');
    expect(unhealthy.has('rs3')).to.equal(true);
    await runCleanup();
    expect(unhealthy.has('rs3')).to.equal(false);
    await f.heal();
    await runCleanup();
    expect(calls.filter((c) => c === 'setHealth rs3 true')).to.have.length(1);
    expect(faults(e.history).map((x) => x.phase)).to.deep.equal(['start', 'end']);
  });
});
