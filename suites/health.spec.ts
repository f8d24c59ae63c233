import { noErrorsWhileDraining, reinsertion, removalInstant, removalTime } from '../harness/checkers/health.js';
import { checkTiming, healthReinsertionBound, healthRemovalBound } from '../harness/keepalived/bound.js';
import { haUnderTest, keepalivedBlocks, scenario } from '../harness/suite/ha.js';
import { suiteContext } from '../harness/suite/context.js';
import { tableService } from '../harness/ipvs/edit.js';
import { waitForVrrp, type StartedTopology } from '../harness/topology/builder.js';

/**
 * keepalived's health checks against a failing real server, while a client opens a new
 * connection to the VIP every 100 ms: the MASTER's keepalived takes the server out of IPVS
 * within what delay_loop, retry, connect_timeout and delay_before_retry allow, and puts it back
 * once it recovers. The fault is what the check can see: /health answering 503 for HTTP_GET
 * (the server keeps serving, so no client may see an error while it drains), the app killed
 * for TCP_CHECK and MISC_CHECK, the node frozen for PING_CHECK.
 */
const ctx = suiteContext('health');

describe(`health checks on ${ctx.plan.topology}`, function () {
  this.timeout(600_000);
  const ha = haUnderTest(ctx, { ipvsOnly: true });
  if (!ha) return;
  const { vrrp, svc } = ha;
  const target = svc.realServers[1] ?? svc.realServers[0]!;
  const { vs, rs } = keepalivedBlocks(ctx, ha, target.rip);
  const timing = checkTiming(vs, rs);
  const fault = { HTTP_GET: 'health', TCP_CHECK: 'kill-app', MISC_CHECK: 'kill-app', PING_CHECK: 'pause' }[rs.check.type];
  const key = `${target.rip}:${target.port}`;
  const group = (what: string) => `${svc.name} ${svc.mode} ${rs.check.type} ${what}`;
  let st: StartedTopology;

  before(async () => {
    st = await ctx.started();
    await waitForVrrp(st);
  });

  const present = async (s: StartedTopology) => {
    const t = tableService(await s.ipvs(vrrp.master), svc);
    return t?.realServers.find((r) => r.address === target.rip && (r.weight ?? 0) > 0);
  };

  it(`${fault} on ${target.name}: keepalived's ${rs.check.type} removes it within its bound and re-inserts it after recovery`, async () => {
    const r = await scenario(ctx, st, ha, {
      fault: `${fault}:${target.name}`,
      tag: `health-${fault}`,
      seconds: 20,
      // the drain check judges errors: a probe waits 3 s for its answer as a client would (an answer
      // a stalled emulated vCPU delays past 500 ms is latency; a SYN IPVS drops costs 1 s, and shows)
      probeTimeoutMs: 3000,
      tableOf: vrrp.master,
      until: async (s) => !(await present(s)),
      untilWhat: `keepalived on ${vrrp.master} to take ${key} out of IPVS`,
      // the probes stop once the server is out and ten answers came since, the last five good
      // (what no-client-error-while-draining judges is the time from the fault to the heal)
      enough: ({ ops, untilT, now }) => {
        const after = ops.filter((x) => x.t > untilT);
        return now >= untilT + 2000 && after.length >= 10 && after.slice(-5).every((x) => x.outcome === 'ok');
      },
      afterHeal: async (s) => !!(await present(s)),
      afterHealWhat: `keepalived on ${vrrp.master} to put ${key} back`,
    });
    await ctx.judge(() => {
      ctx.expectValid(group('removal time'), removalTime(r.tables, { t: r.faultT }, key, healthRemovalBound(timing), { healT: r.healT }));
      // the server is healthy again somewhere between the heal's start and its end (restarting the app
      // takes seconds here): measure from the start, and widen the tolerance by the heal's own duration
      const reBound = healthReinsertionBound(timing);
      ctx.expectValid(group('re-insertion'), reinsertion(r.tables, { t: r.healT }, key, reBound, { weight: target.weight, toleranceMs: reBound.toleranceMs + (r.healedT - r.healT) }));
      // with HTTP_GET the server still serves while its /health fails: draining it must cost no client anything
      // (a connection in flight when keepalived deletes the server is cut by IPVS itself: the checker
      // names such a one instead of counting it, and counts every other failure)
      if (fault === 'health') {
        const removal = removalInstant(r.tables, r.faultT, key);
        ctx.expectValid(group('no client error while draining'), noErrorsWhileDraining(r.ops, { from: r.faultT, to: r.healT }, removal ? { removal } : {}));
      }
    });
  });
});
