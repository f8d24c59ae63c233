import { oneVipHolder } from '../harness/checkers/vip-holder.js';
import { failoverBound } from '../harness/keepalived/bound.js';
import { haUnderTest, scenario } from '../harness/suite/ha.js';
import { suiteContext } from '../harness/suite/context.js';
import { waitForVrrp, type StartedTopology } from '../harness/topology/builder.js';

/**
 * Split brain: the directors stop hearing each other (a partition on the VRRP path, both ways)
 * while each still reaches the clients. The BACKUP stops hearing adverts and takes the VIPs
 * while the MASTER keeps them: two holders. The checker must see and report that overlap with
 * its duration; once the partition heals, the higher priority wins and one holder remains.
 */
const ctx = suiteContext('splitbrain');

describe(`split brain on ${ctx.plan.topology}`, function () {
  this.timeout(600_000);
  const ha = haUnderTest(ctx);
  if (!ha) return;
  const { vrrp, svc, backup } = ha;
  const bound = failoverBound({ version: vrrp.version, advertInt: vrrp.advertInt, backupPriority: vrrp.priorities[backup]! });
  let st: StartedTopology;
  before(async () => {
    st = await ctx.started();
    await waitForVrrp(st);
  });

  it('a partition between the directors makes both hold the VIP, which the checker reports; healing leaves one holder', async () => {
    const r = await scenario(ctx, st, ha, {
      fault: `partition:${vrrp.master}/${backup}`,
      tag: 'splitbrain',
      seconds: 10,
      until: (_s, live) => live.holders(svc.vip).length === 2,
      untilWhat: `both ${vrrp.master} and ${backup} to hold ${svc.vip}`,
      // the probes stop once the one-holder window the check below judges is over, with the watchers two seconds past it
      enough: ({ faultT, untilT, now, live }) => {
        const settleEnd = Math.max(faultT + bound.boundMs + bound.toleranceMs, untilT);
        return now >= settleEnd + 2000 && live.pollsSince(settleEnd + 1000) >= 1;
      },
      observeAfterHealMs: bound.boundMs + bound.toleranceMs,
    });
    const during = oneVipHolder(r.holders.filter((x) => x.t < r.healT), { settleFrom: r.faultT, settleMs: bound.boundMs + bound.toleranceMs });
    const overlaps = (during.observed as { overlaps: unknown[] }).overlaps;
    // the control: a checker that passed here would pass a split brain
    await ctx.judge(() => {
      ctx.expectValid(`${vrrp.name} ${svc.mode} partition`, {
        ...during,
        name: 'split brain is detected',
        valid: overlaps.length > 0 ? true : during.valid === 'unknown' ? 'unknown' : false,
        expected: 'an overlap: both directors hold the VIP while they cannot hear each other',
        rule: `with the VRRP path cut both ways, the BACKUP takes over after its master-down interval while the MASTER keeps the VIP; the one-holder check must report that (${overlaps.length} overlap(s) seen)`,
      });
      ctx.expectValid(
        `${vrrp.name} ${svc.mode} healed`,
        oneVipHolder(r.holders.filter((x) => x.t >= r.healedT), { settleFrom: r.healedT, settleMs: bound.boundMs + bound.toleranceMs, name: 'one holder once the partition heals' }),
      );
    });
  });
});
