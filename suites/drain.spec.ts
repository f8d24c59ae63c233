import { drainWeightZero, removal, thresholds } from '../harness/checkers/drain.js';
import { addServer, directorOf, removeServer, serverCounts, setServer } from '../harness/ipvs/edit.js';
import { clientSources } from '../harness/observe/modes.js';
import { suiteContext, tcpServiceUnderTest } from '../harness/suite/context.js';
import type { StartedTopology } from '../harness/topology/builder.js';
import type { OpEvent } from '../harness/history/history.js';

/**
 * Draining a real server under load: with connections held open across the change, set its
 * weight to 0 (or remove it with ipvsadm -d); new connections must avoid it and the held ones
 * must still be answered on the same connection.
 */
const ctx = suiteContext('drain');

describe(`drain on ${ctx.plan.topology}`, function () {
  this.timeout(300_000);
  const under = tcpServiceUnderTest(ctx);
  if (!under) return;
  const { svc, client } = under;
  const group = (what: string) => `${svc.name} ${svc.mode} ${what}`;
  let st: StartedTopology;
  let sources: string[];

  before(async () => {
    st = await ctx.started();
    sources = clientSources(st, client, svc.vipNetwork);
  });

  /** Holds one connection per real server (rr reaches each), returns which server each went to. */
  const holdAcross = async (tag: string) => {
    const agent = await ctx.agent(client);
    const held: OpEvent[] = [];
    for (let i = 0; i < svc.realServers.length * 2 && new Set(held.map((h) => h.server)).size < svc.realServers.length; i++) {
      const r = await agent.run({ cmd: 'hold', host: svc.vip, port: svc.port!, source: sources[i % sources.length]!, conn: `${tag}-${i}`, tag });
      held.push(...r.ops.filter((o) => o.op === 'hold' && o.outcome === 'ok'));
    }
    return held;
  };

  const scenario = async (kind: 'weight 0' | 'removal') => {
    const tag = kind === 'weight 0' ? 'drain' : 'remove';
    const agent = await ctx.agent(client);
    const held = await holdAcross(tag);
    const target = held[0]!.server!;
    const mine = held.filter((h) => h.server === target).map((h) => h.conn!);
    const others = held.filter((h) => h.server !== target).map((h) => h.conn!);
    // the edit's stamp is compared with the operations' (lab clock): measured against them just before
    await ctx.syncClock(client);
    const editAt = ctx.now();
    const argv = kind === 'weight 0' ? await setServer(st, svc, target, { weight: 0 }) : await removeServer(st, svc, target);
    ctx.history.append({ type: 'observe', t: editAt, node: directorOf(svc), what: 'ipvs-edit', data: { argv } });
    const after = await agent.run({ cmd: 'http', host: svc.vip, port: svc.port!, sources, perSource: 1, rounds: 2, tag });
    const released = await agent.run({ cmd: 'release', conn: '*', tag });
    const ops = [...held, ...after.ops, ...released.ops];
    if (kind === 'weight 0') await setServer(st, svc, target, { weight: svc.realServers.find((r) => r.name === target)!.weight });
    else await addServer(st, svc, target);
    return { ops, target, editAt, mine, others };
  };

  it('weight 0: no new connections to the drained server, its held connections still answered', async () => {
    const s = await scenario('weight 0');
    ctx.expectValid(group('weight 0'), drainWeightZero(s.ops, { server: s.target, editAt: s.editAt, heldConns: s.mine }));
  });

  it('removal (ipvsadm -d) under load: no new connections to it; its established connections are dropped, the others carry on', async () => {
    const s = await scenario('removal');
    ctx.expectValid(group('removal'), removal(s.ops, { server: s.target, editAt: s.editAt, heldConns: s.mine, otherHeld: s.others }));
  });

  it('upper threshold (-x): a server at it gets no new connection until below -y', async () => {
    const agent = await ctx.agent(client);
    const target = svc.realServers[0]!;
    const n = svc.realServers.length;
    // The upper threshold sits just above what the server already counts: inactive entries of
    // earlier traffic linger and expire while the test runs, so when they have expired enough that
    // the new connections would no longer reach it, it is set again from the new count. The lower
    // threshold is 1: the connections held here keep the server overloaded once it is, so an
    // inactive entry expiring between a count and the next connection cannot clear it unseen.
    const lower = 1;
    let upper = 0;
    const arm = async (total: number) => {
      upper = total + 2;
      const argv = await setServer(st, svc, target.name, { weight: target.weight, upper, lower });
      ctx.history.append({ type: 'observe', t: ctx.now(), node: directorOf(svc), what: 'ipvs-edit', data: { argv } });
    };
    const total = (c?: { active: number; inactive: number }) => (c ? c.active + c.inactive : 0);
    await arm(total((await serverCounts(st, svc))[target.name]));
    const steps: Parameters<typeof thresholds>[0][number][] = [];
    let overloadedSteps = 0;
    try {
      // until the server has been overloaded for n new connections (each would have been its turn
      // at least once under rr), or 8n connections
      for (let i = 0; i < n * 8 && overloadedSteps < n; i++) {
        const counts = await serverCounts(st, svc);
        const t = total(counts[target.name]);
        if (t >= upper) overloadedSteps++;
        else if (t + 2 < upper && overloadedSteps === 0) await arm(t);
        const before = Object.fromEntries(Object.entries(counts).map(([name, c]) => [name, { ...c, upper: name === target.name ? upper : 0, lower: name === target.name ? lower : 0 }]));
        const r = await agent.run({ cmd: 'hold', host: svc.vip, port: svc.port!, source: sources[i % sources.length]!, conn: `threshold-${i}`, tag: 'threshold' });
        const op = r.ops.find((o) => o.op === 'hold');
        steps.push({ chosen: op?.server, outcome: op?.outcome ?? 'error', before });
      }
    } finally {
      await agent.run({ cmd: 'release', conn: '*', tag: 'threshold' });
      await setServer(st, svc, target.name, { weight: target.weight, upper: 0, lower: 0 });
    }
    ctx.expectValid(group('thresholds'), thresholds(steps, target.name));
  });
});
