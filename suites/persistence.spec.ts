import * as persist from '../harness/checkers/persistence.js';
import { directorOf, setScheduler } from '../harness/ipvs/edit.js';
import { clientSources } from '../harness/observe/modes.js';
import { suiteContext, tcpServiceUnderTest } from '../harness/suite/context.js';
import type { StartedTopology } from '../harness/topology/builder.js';

/**
 * Persistence (-p, -M) on the topology's first TCP service, under round robin so that any
 * stickiness is persistence's doing: each client source sticks to one real server (confirmed
 * by 16 consecutive answers), clients spread over the servers, a netmask groups clients; and,
 * as the broken-setup control, with persistence off the same clients move.
 */
const ctx = suiteContext('persistence');

describe(`persistence on ${ctx.plan.topology}`, function () {
  this.timeout(300_000);
  const under = tcpServiceUnderTest(ctx);
  if (!under) return;
  const { svc, client } = under;
  const group = (what: string) => `${svc.name} ${svc.mode} ${what}`;
  let st: StartedTopology;
  let sources: string[];
  const rounds = 16;

  before(async () => {
    st = await ctx.started();
    sources = clientSources(st, client, svc.vipNetwork);
  });
  after(async () => {
    if (st) await setScheduler(st, svc, svc.scheduler, svc.persistence);
  });

  // interleaved: every round visits every source once, so round robin alone would move each client
  const traffic = async (tag: string) => (await (await ctx.agent(client)).run({ cmd: 'http', host: svc.vip, port: svc.port!, sources, perSource: 1, rounds, tag })).ops;
  const edit = async (p?: { timeout: number; netmask?: string }) => {
    const argv = await setScheduler(st, svc, 'rr', p);
    ctx.history.append({ type: 'observe', t: ctx.now(), node: directorOf(svc), what: 'ipvs-edit', data: { argv } });
  };

  it('-p 300: each client sticks to one real server, and clients spread', async () => {
    await edit({ timeout: 300 });
    const ops = await traffic('persistent');
    ctx.expectValid(group('-p 300'), persist.sticky(ops, { minConsecutive: rounds, servers: svc.realServers.length }));
  });

  it('-p 300 -M 255.255.255.248: clients of one /29 share a real server', async () => {
    // a new service definition starts with no templates: switch persistence off and on again
    await edit();
    await edit({ timeout: 300, netmask: '255.255.255.248' });
    const ops = await traffic('netmask');
    ctx.expectValid(group('-p 300 -M /29'), persist.sticky(ops, { netmask: '255.255.255.248', minConsecutive: rounds, servers: svc.realServers.length, spread: false }));
  });

  it('without -p the same clients move (the checker catches persistence that is off)', async () => {
    await edit();
    const ops = await traffic('off');
    const r = persist.sticky(ops, { minConsecutive: rounds, servers: svc.realServers.length });
    const inverted = { ...r, name: 'without persistence clients are not sticky', valid: r.valid === false ? true : r.valid === true ? false : r.valid, rule: 'control: round robin without -p must move an interleaved client', expected: 'some client moves' } as const;
    ctx.expectValid(group('no -p'), inverted);
  });
});
