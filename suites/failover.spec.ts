import { failoverTime } from '../harness/checkers/failover.js';
import { gratuitousArpSeen } from '../harness/checkers/garp.js';
import { preemption } from '../harness/checkers/preempt.js';
import { oneVipHolder } from '../harness/checkers/vip-holder.js';
import { failoverBound, preemptBound } from '../harness/keepalived/bound.js';
import { becameMaster, directorMac, haUnderTest, scenario } from '../harness/suite/ha.js';
import { suiteContext } from '../harness/suite/context.js';
import { waitForVrrp, type StartedTopology } from '../harness/topology/builder.js';

/**
 * Director failover in a keepalived pair, the way operators fear it: the MASTER is killed
 * (SIGKILL of its node), stopped (keepalived exits gracefully and sends priority 0) or frozen
 * (paused), while a client opens a new connection to the VIP every 100 ms. For each:
 * - the client-observed outage is within the VRRP bound, 3 × advert_int + skew (+ tolerance);
 * - once settled exactly one director holds each VIP (every overlap and gap is reported);
 * - the new MASTER announced itself with gratuitous ARP on the clients' segment;
 * - the returning MASTER takes the VIPs back (preemption), no earlier than preempt_delay.
 */
const ctx = suiteContext('failover');

describe(`failover on ${ctx.plan.topology}`, function () {
  this.timeout(600_000);
  const ha = haUnderTest(ctx);
  if (!ha) return;
  const { vrrp, svc, backup } = ha;
  const bound = failoverBound({ version: vrrp.version, advertInt: vrrp.advertInt, backupPriority: vrrp.priorities[backup]! });
  const group = (what: string) => `${vrrp.name} ${svc.mode} ${what}`;
  let st: StartedTopology;

  before(async () => {
    st = await ctx.started();
    await waitForVrrp(st);
  });

  const faults: [string, string][] = [
    ['kill', 'SIGKILL of the MASTER node'],
    ['stop', 'keepalived on the MASTER stops gracefully (priority 0)'],
    ['pause', 'the MASTER node frozen'],
  ];
  for (const [fault, what] of faults) {
    it(`${fault}: ${what}; the BACKUP takes over within the VRRP bound, alone, with gratuitous ARP${fault === 'pause' ? '' : '; the MASTER takes the VIPs back'}`, async () => {
      const r = await scenario(ctx, st, ha, {
        fault: `${fault}:${vrrp.master}`,
        tag: `failover-${fault}`,
        seconds: 12,
        until: async (s) => (await s.holders(svc.vip)).join() === backup,
        untilWhat: `${backup} to hold ${svc.vip} alone`,
      });
      ctx.expectValid(group(`${fault} failover time`), failoverTime(r.ops, { t: r.faultT }, bound, { until: r.healT }));
      ctx.expectValid(group(`${fault} one holder`), oneVipHolder(r.holders.filter((x) => x.t < r.healT), { settleFrom: r.faultT, settleMs: bound.boundMs + bound.toleranceMs }));
      const takeover = becameMaster(r.states, backup, r.faultT);
      const vips = vrrp.vips.filter((v) => v.network === svc.vipNetwork).map((v) => v.address);
      ctx.expectValid(group(`${fault} gratuitous ARP`), gratuitousArpSeen(r.garps, { t: takeover?.t ?? r.faultT, node: backup, mac: await directorMac(st, ha, backup) }, { vips }));
      // a frozen MASTER never left MASTER: when it thaws it simply outranks the BACKUP again, with no state change to judge
      if (fault !== 'pause') {
        // the MASTER's keepalived is back when it logs its first state (BACKUP while it listens for adverts)
        const back = r.states.find((x) => x.node === vrrp.master && x.t >= r.healT);
        const pb = preemptBound({ version: vrrp.version, advertInt: vrrp.advertInt, priority: vrrp.priorities[vrrp.master]!, preemptDelay: vrrp.preemptDelay ?? 0 });
        ctx.expectValid(
          group(`${fault} preemption`),
          preemption(r.states, { returningNode: vrrp.master, returnT: back?.t ?? r.healT, preempt: !vrrp.nopreempt, preemptDelayMs: (vrrp.preemptDelay ?? 0) * 1000, boundMs: pb.boundMs, toleranceMs: 2000, windowMs: 60_000 }),
        );
      }
    });
  }
});
