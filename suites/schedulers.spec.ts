import * as dest from '../harness/checkers/destination.js';
import * as dist from '../harness/checkers/distribution.js';
import type { OpEvent } from '../harness/history/history.js';
import { directorOf, serverCounts, setScheduler, setServer } from '../harness/ipvs/edit.js';
import { SCHEDULERS } from '../harness/ipvs/rules.js';
import { clientSources } from '../harness/observe/modes.js';
import { multiDestinationService } from '../harness/suite/applicable.js';
import { suiteContext, tcpServiceUnderTest } from '../harness/suite/context.js';
import type { StartedTopology } from '../harness/topology/builder.js';
import { clientOn, type PlannedService } from '../harness/topology/planner.js';

/**
 * What every IPVS scheduler promises, on the topology's first TCP service. The suite switches
 * the running service's scheduler (ipvsadm -E) and weights (ipvsadm -e) the way an operator
 * would, drives new connections from the client's source addresses, and judges the answers:
 * rr rotation; wrr/fo shares by weight; sh/mh source hashing with a chi-square spread;
 * lc/wlc/sed/nq against their formula computed from the director's counts before each held
 * connection; ovf overflow in weight order. dh, lblc and lblcr choose by destination address, so
 * they are judged on a TCP firewall-mark service over several addresses (a cache cluster's
 * shape) where the topology has one; on a single VIP their checks say 'unknown', and
 * `run --suite all` leaves them out, saying why.
 */
const ctx = suiteContext('schedulers');

describe(`schedulers on ${ctx.plan.topology}`, function () {
  this.timeout(300_000);
  const under = tcpServiceUnderTest(ctx);
  if (!under) return;
  const { svc, client } = under;
  // dh, lblc, lblcr: the multi-destination service, else the single VIP (whose verdicts say why they cannot judge)
  const dsvc = multiDestinationService(ctx.plan) ?? svc;
  const dclient = clientOn(ctx.plan, dsvc)!;
  const group = (sched: string, s: PlannedService = svc) => `${s.name} ${s.mode} ${sched}`;
  const names = svc.realServers.map((r) => r.name);
  // distinct weights make the weighted schedulers' promises visible: 3, 2, 1, ...
  const skewed = Object.fromEntries(names.map((n, i) => [n, Math.max(1, names.length - i)]));
  let st: StartedTopology;
  let sources: string[];

  before(async () => {
    st = await ctx.started();
    sources = clientSources(st, client, svc.vipNetwork);
    await ctx.agent(client);
  });

  const weights = async (w: Record<string, number>) => {
    for (const n of names) await setServer(st, svc, n, { weight: w[n]! });
  };
  const switchTo = async (sched: string, w: Record<string, number>) => {
    const argv = await setScheduler(st, svc, sched);
    await weights(w);
    ctx.history.append({ type: 'observe', t: ctx.now(), node: directorOf(svc), what: 'ipvs-edit', data: { argv, weights: w } });
  };
  const http = async (o: { perSource?: number; rounds?: number; from?: string[] }, tag: string): Promise<OpEvent[]> => {
    const agent = await ctx.agent(client);
    return (await agent.run({ cmd: 'http', host: svc.vip, port: svc.port!, sources: o.from ?? sources, perSource: o.perSource ?? 1, rounds: o.rounds ?? 1, timeoutMs: 3000, tag })).ops;
  };
  /** Holds `n` connections one after another, reading the director's counts before each. */
  const holdSteps = async (n: number, tag: string): Promise<dist.Step[]> => {
    const agent = await ctx.agent(client);
    const steps: dist.Step[] = [];
    for (let i = 0; i < n; i++) {
      const before = await serverCounts(st, svc);
      const r = await agent.run({ cmd: 'hold', host: svc.vip, port: svc.port!, source: sources[0]!, conn: `${tag}-${i}`, tag });
      const op = r.ops.find((o) => o.op === 'hold');
      steps.push({ chosen: op?.server, outcome: op?.outcome ?? 'error', before });
    }
    await agent.run({ cmd: 'release', conn: '*', tag });
    return steps;
  };
  const asWeights = (w: Record<string, number>) => names.map((n) => ({ name: n, weight: w[n]! }));
  const original = Object.fromEntries(svc.realServers.map((r) => [r.name, r.weight]));

  after(async () => {
    if (!st) return;
    await setScheduler(st, svc, svc.scheduler, svc.persistence);
    await weights(original);
    if (dsvc !== svc) await setScheduler(st, dsvc, dsvc.scheduler, dsvc.persistence);
  });

  /** The destination schedulers' service under `sched`, with its own weights (this suite never changes them). */
  const switchDestination = async (sched: string) => {
    if (dsvc === svc) return switchTo(sched, ones);
    const argv = await setScheduler(st, dsvc, sched);
    ctx.history.append({ type: 'observe', t: ctx.now(), node: directorOf(dsvc), what: 'ipvs-edit', data: { argv } });
  };
  const dports = dsvc.fwmark?.ports ?? [dsvc.port!];
  /** New connections from the first `n` sources, each to every destination on every port once. */
  const toEveryDestination = async (n: number, tag: string): Promise<OpEvent[]> => {
    const agent = await ctx.agent(dclient);
    const from = clientSources(st, dclient, dsvc.vipNetwork).slice(0, n);
    return (await agent.run({ cmd: 'http', host: dsvc.vip, hosts: dsvc.vips, port: dports[0]!, ports: dports, sources: from, perSource: dsvc.vips.length * dports.length, timeoutMs: 3000, tag })).ops;
  };
  /** A connection held open to each destination in turn (so each new one meets the earlier ones' load), then all released. */
  const holdEachDestination = async (tag: string): Promise<OpEvent[]> => {
    const agent = await ctx.agent(dclient);
    const source = clientSources(st, dclient, dsvc.vipNetwork)[0]!;
    const ops: OpEvent[] = [];
    for (const [i, host] of dsvc.vips.entries()) ops.push(...(await agent.run({ cmd: 'hold', host, port: dports[0]!, source, conn: `${tag}-${i}`, tag })).ops);
    ops.push(...(await agent.run({ cmd: 'release', conn: '*', tag })).ops);
    return ops;
  };
  const dservers = dsvc.realServers.map((r) => ({ name: r.name, weight: r.weight }));

  const ones = Object.fromEntries(names.map((n) => [n, 1]));

  // `run --suite all` leaves out dh, lblc and lblcr where they could only say unknown (runner.ts logs why)
  for (const sched of SCHEDULERS.filter((x) => !ctx.leftOut.includes(x))) {
    it(`${sched}`, async () => {
      switch (sched) {
        case 'rr': {
          await switchTo('rr', ones);
          const ops = await http({ from: [sources[0]!], perSource: names.length * 4 }, 'rr');
          return ctx.expectValid(group(sched), dist.roundRobin(ops, asWeights(ones)));
        }
        case 'wrr': {
          await switchTo('wrr', skewed);
          const sum = Object.values(skewed).reduce((a, b) => a + b, 0);
          const ops = await http({ from: [sources[0]!], perSource: sum * 4 }, 'wrr');
          return ctx.expectValid(group(sched), dist.weightedShares(ops, asWeights(skewed), 'wrr'));
        }
        case 'sh':
        case 'mh': {
          await switchTo(sched, ones);
          const ops = await http({ perSource: 2 }, sched);
          return ctx.expectValid(group(sched), dist.hashing(ops, asWeights(ones), sched, 'src'));
        }
        case 'dh': {
          // from 4 sources, so that a source hash could not pass for a destination hash
          await switchDestination('dh');
          const ops = await toEveryDestination(4, 'dh');
          return ctx.expectValid(group(sched, dsvc), dest.destinationHash(ops, dsvc === svc ? asWeights(ones) : dservers));
        }
        case 'lblc':
        case 'lblcr': {
          // the switch gives the scheduler an empty destination table, so every destination is new to it
          await switchDestination(sched);
          const held = await holdEachDestination(sched);
          const ops = await toEveryDestination(4, sched);
          return ctx.expectValid(group(sched, dsvc), dest.destinationLocality([...held, ...ops], sched, dsvc.realServers.length));
        }
        case 'fo': {
          await switchTo('fo', skewed);
          const ops = await http({ perSource: 1 }, 'fo');
          return ctx.expectValid(group(sched), dist.failover(ops, asWeights(skewed)));
        }
        case 'ovf': {
          await switchTo('ovf', skewed);
          const total = Object.values(skewed).reduce((a, b) => a + b, 0);
          const steps = await holdSteps(total, 'ovf');
          return ctx.expectValid(group(sched), dist.overflow(steps));
        }
        case 'lc':
        case 'wlc':
        case 'sed':
        case 'nq': {
          await switchTo(sched, sched === 'lc' ? ones : skewed);
          const steps = await holdSteps(names.length * 2, sched);
          return ctx.expectValid(group(sched), dist.leastConnections(steps, sched));
        }
      }
    });
  }
});
