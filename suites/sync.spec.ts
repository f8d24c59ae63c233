import { connectionSurvives } from '../harness/checkers/sync.js';
import type { OpEvent } from '../harness/history/history.js';
import { parseConnections } from '../harness/ipvs/table.js';
import { clientSources } from '../harness/observe/modes.js';
import { haUnderTest, scenario, type HaUnderTest } from '../harness/suite/ha.js';
import { suiteContext } from '../harness/suite/context.js';
import { waitForVrrp, type StartedTopology } from '../harness/topology/builder.js';
import { waitFor } from '../harness/util/wait.js';

/**
 * IPVS connection synchronisation (keepalived's lvs_sync_daemon): TCP connections held open
 * through the VIP before the MASTER is killed are answered afterwards, on the same real server,
 * through the new MASTER, because the BACKUP's sync daemon already had them in its table.
 * The control: with the sync daemons stopped (ipvsadm --stop-daemon), the same scenario breaks
 * the held connections (the new MASTER has no entry for them and answers with a reset).
 */
const ctx = suiteContext('sync');

describe(`connection sync on ${ctx.plan.topology}`, function () {
  this.timeout(600_000);
  const ha = haUnderTest(ctx, { ipvsOnly: true });
  if (!ha) return;
  if (!ctx.plan.syncDaemon) {
    it('needs keepalived.sync_daemon: true', () => {
      throw new Error(`topology ${ctx.plan.topology} does not run lvs_sync_daemon (keepalived.sync_daemon)`);
    });
    return;
  }
  const { vrrp, svc, backup } = ha;
  let st: StartedTopology;
  before(async () => {
    st = await ctx.started();
    await waitForVrrp(st);
  });

  /** Holds one connection per source, then runs the kill scenario, then re-uses the connections. */
  const heldAcrossKill = async (h: HaUnderTest, tag: string, synced: boolean): Promise<{ holds: OpEvent[]; releases: OpEvent[]; faultT: number }> => {
    const agent = await ctx.agent(h.client);
    const sources = clientSources(st, h.client, svc.vipNetwork).slice(0, 3);
    const holds: OpEvent[] = [];
    for (const [i, source] of sources.entries()) holds.push(...(await agent.run({ cmd: 'hold', host: svc.vip, port: svc.port!, source, conn: `${tag}-${i}`, tag })).ops);
    const ports = holds.filter((o) => o.outcome === 'ok').map((o) => `${o.src}:${o.srcPort}`);
    if (synced)
      await waitFor(`${backup}'s sync daemon to hold the ${ports.length} connections`, async () => {
        const conns = parseConnections((await st.exec(backup, ['ipvsadm', '-Lnc'])).stdout);
        return ports.every((p) => conns.some((c) => c.source === p));
      }, { timeoutMs: 30_000, intervalMs: 200 });
    let releases: OpEvent[] = [];
    const r = await scenario(ctx, st, h, {
      fault: `kill:${vrrp.master}`,
      tag: `${tag}-probe`,
      // the probes are not judged here (the held connections are), and the agent runs one command
      // at a time: the release in `during` waits for them to end, so they only span the fault's start
      seconds: 2,
      until: (_s, live) => live.holders(svc.vip).join() === backup,
      untilWhat: `${backup} to hold ${svc.vip}`,
      // through the new MASTER, before the old one comes back (it returns with an empty connection table)
      during: async () => {
        releases = (await agent.run({ cmd: 'release', conn: '*', tag, timeoutMs: 5000 })).ops;
      },
    });
    return { holds, releases, faultT: r.faultT };
  };

  it('with lvs_sync_daemon: connections held across a MASTER kill are answered afterwards, by the same real server', async () => {
    const r = await heldAcrossKill(ha, 'sync-on', true);
    ctx.expectValid(`${vrrp.name} ${svc.mode} sync on`, connectionSurvives(r.holds, r.releases, r.faultT, { expect: 'survive' }));
  });

  it('without it (sync daemons stopped): the same connections break', async () => {
    await Promise.all(Object.keys(vrrp.priorities).map((d) => st.exec(d, ['sh', '-c', 'ipvsadm --stop-daemon master; ipvsadm --stop-daemon backup; true'])));
    ctx.history.append({ type: 'observe', t: ctx.now(), node: 'directors', what: 'ipvs-edit', data: { argv: ['ipvsadm', '--stop-daemon', 'master|backup'] } });
    const r = await heldAcrossKill(ha, 'sync-off', false);
    ctx.expectValid(`${vrrp.name} ${svc.mode} sync off`, connectionSurvives(r.holds, r.releases, r.faultT, { expect: 'break' }));
  });
});
