import type { OpEvent } from '../history/history.js';
import { injectFault } from '../nemesis/registry.js';
import { clientSources, macOn } from '../observe/modes.js';
import { readVrrpStates, recordVrrpStates, watch, type VrrpStateChange, type Watch } from '../observe/vrrp.js';
import { waitForVrrp, type StartedTopology } from '../topology/builder.js';
import { waitFor } from '../util/wait.js';
import type { SuiteContext } from './context.js';
import { haPairsOf, type HaPair } from './applicable.js';
import type { GarpPacket } from '../checkers/garp.js';
import type { TableSample } from '../checkers/health.js';
import type { VipSample } from '../checkers/vip-holder.js';

/**
 * What the keepalived suites share: the VRRP pair and service under test, and one scenario
 * shape (after Jepsen): start the observers and a client probing the VIP, inject a fault,
 * let it act, heal it, let VRRP settle, and hand every observation to the checkers.
 */
/** The VRRP pair and service under test (applicable.ts finds them in the plan). */
export type HaUnderTest = HaPair;

/**
 * Every VRRP instance with a TCP service on its VIPs (active-active has two, each MASTER on
 * another director). `ipvsOnly` leaves out HAProxy services (for suites that read IPVS or
 * keepalived's health checks). None: the suite declares one failing test saying so.
 */
export function haPairs(ctx: SuiteContext, o: { ipvsOnly?: boolean } = {}): HaUnderTest[] {
  const all = haPairsOf(ctx.plan, o);
  if (!all.length) {
    const what = o.ipvsOnly ? 'an IPVS TCP service' : 'a TCP service';
    it(`needs a keepalived topology (a keepalived section with a VRRP pair holding the VIP of ${what})`, () => {
      throw new Error(`topology ${ctx.plan.topology} has no keepalived pair holding the VIP of ${what} with a client on its network`);
    });
  }
  return all;
}

/** The first pair (the suites that judge one instance: health, sync, split brain). */
export const haUnderTest = (ctx: SuiteContext, o: { ipvsOnly?: boolean } = {}): HaUnderTest | undefined => haPairs(ctx, o)[0];

export interface ScenarioResult {
  ops: OpEvent[];
  /** when the fault was injected and healed (lab clock) */
  faultT: number;
  healT: number;
  /** when the heal had finished (the fault's end event) */
  healedT: number;
  holders: VipSample[];
  tables: TableSample[];
  garps: GarpPacket[];
  states: VrrpStateChange[];
  /** the watchers' median tick (the resolution of holders and tables) */
  resolutionMs: number;
}

export interface ScenarioOptions {
  /** a fault spec as on the command line: kill:director1, partition:director1/director2 */
  fault: string;
  tag: string;
  /** probes of the VIP: one new connection each, `intervalMs` apart, for `seconds` */
  seconds?: number;
  intervalMs?: number;
  /**
   * how long one probe waits for its answer (default 500 ms: the failover checks time an outage to
   * the probe, so a probe must give up quickly). A check that judges errors, not outages (draining),
   * waits as long as a real client would: a slow answer under emulation is latency, not an error.
   */
  probeTimeoutMs?: number;
  /** what to wait for once the fault is in (a takeover, a removal) before healing; `live` is the in-node watchers' view */
  until?: (st: StartedTopology, live: Pick<Watch, 'holders'>) => Promise<boolean> | boolean;
  untilWhat?: string;
  /**
   * how long to wait for `until` (default 120 s, then the scenario fails). Given, a wait that runs
   * out is no error: the fault is healed and the checkers judge what the observers saw (a takeover
   * that never came is an outage past its bound, not a harness failure)
   */
  untilTimeoutMs?: number;
  /** observe one director's table for the service (health scenarios) */
  tableOf?: string;
  /** after healing, wait for the planned MASTER to hold every VIP alone (default true) */
  settle?: boolean;
  /**
   * When the probes have shown what the checkers need, they stop early instead of running out
   * their `seconds` (which stay the most they run): checked every 200 ms once `until` held, with
   * the probes' ops so far, when `until` held (lab clock) and the watchers' live view.
   */
  enough?: (x: { ops: readonly OpEvent[]; faultT: number; untilT: number; now: number; live: Watch }) => boolean;
  /** run while the fault is in, before healing */
  during?: () => Promise<void>;
  /** keep observing VIP holders for this long after the heal, and a second more (a settle window to judge) */
  observeAfterHealMs?: number;
  /** what to wait for after healing, before the observers stop (a re-insertion) */
  afterHeal?: (st: StartedTopology) => Promise<boolean>;
  afterHealWhat?: string;
}

export async function scenario(ctx: SuiteContext, st: StartedTopology, ha: HaUnderTest, o: ScenarioOptions): Promise<ScenarioResult> {
  // the fault's heal, the settle window and the VRRP states' start are stamped with now(): on a
  // lab clock measured again here, since the guest's clock can step between scenarios (as the
  // drain's edit showed, 6.4 s back in CI), and the watchers stamp their events on the lab's clock
  await ctx.syncClock(ha.client);
  const t0 = ctx.now();
  const vips = ha.vrrp.vips.map((v) => v.address);
  const w = await watch(st, ctx.history, {
    vips,
    client: ha.client,
    network: ha.svc.vipNetwork,
    ...(o.tableOf ? { tableOf: { director: o.tableOf, svc: ha.svc } } : {}),
  });
  const agent = await ctx.agent(ha.client);
  const intervalMs = o.intervalMs ?? 100;
  const source = clientSources(st, ha.client, ha.svc.vipNetwork)[0]!;
  let stopProbes!: () => void;
  const stopped = new Promise<void>((r) => (stopProbes = r));
  let probesEnded = false;
  const probes = agent.run({ cmd: 'http', host: ha.svc.vip, port: ha.svc.port!, sources: [source], rounds: Math.round(((o.seconds ?? 15) * 1000) / intervalMs), intervalMs, timeoutMs: o.probeTimeoutMs ?? 500, tag: o.tag }, 600_000, { cancel: stopped });
  void probes.finally(() => (probesEnded = true)).catch(() => undefined);
  let result: ScenarioResult | undefined;
  try {
    await waitFor(`the client's probes of ${ha.svc.vip} to be answered before the fault`, () => ctx.history.ops((x) => x.tag === o.tag && x.outcome === 'ok').length >= 5, { timeoutMs: 60_000, intervalMs: 100 });
    const fault = await injectFault({ st, history: ctx.history, now: () => ctx.now() }, o.fault);
    const faultT = fault.startedAt;
    try {
      if (o.until)
        await waitFor(o.untilWhat ?? 'the fault to act', async () => o.until!(st, w), { timeoutMs: o.untilTimeoutMs ?? 120_000, intervalMs: 50 }).catch((e) => {
          if (o.untilTimeoutMs === undefined) throw e;
        });
      const untilT = ctx.now();
      await o.during?.();
      if (o.enough) {
        const enough = o.enough;
        await waitFor('the probes to show enough', () => probesEnded || enough({ ops: ctx.history.ops((x) => x.tag === o.tag), faultT, untilT, now: ctx.now(), live: w }), { timeoutMs: 600_000, intervalMs: 200 });
        stopProbes();
      }
      const ops = (await probes).ops;
      const healT = ctx.now();
      await fault.heal();
      const healedT = ctx.now();
      if (o.settle !== false) await waitForVrrp(st, 120_000);
      if (o.observeAfterHealMs !== undefined)
        // a second of the watchers' ticks past the settle window: what the split-brain check judges
        await waitFor(`a second of VIP-holder observations ${o.observeAfterHealMs} ms after the heal`, () => w.pollsSince(healedT + o.observeAfterHealMs! + 1000) >= 1, { timeoutMs: 120_000, intervalMs: 100 });
      if (o.afterHeal) await waitFor(o.afterHealWhat ?? 'the topology to recover', () => o.afterHeal!(st), { timeoutMs: 120_000, intervalMs: 200 });
      const { frozen, ...seen } = await w.stop();
      // a pause takes effect when the freezer has the node (its watcher's last stamp before the
      // freeze, observe/timeline.ts narrowFrozen), not when docker pause was issued: the failover is
      // measured from there, as a kill's is from Docker's FinishedAt. Under emulation the freeze
      // came up to seconds after the issue, and the MASTER advertised all that while.
      const froze = fault.name === 'pause' ? frozen.find((f) => f.issued === faultT && f.node === fault.target) : undefined;
      const measuredFrom = froze && froze.from > faultT ? froze.from : faultT;
      if (froze && measuredFrom > faultT)
        ctx.history.append({ type: 'observe', t: measuredFrom, node: froze.node, what: 'fault-in-effect', data: { fault: 'pause', issued: faultT, ms: measuredFrom - faultT, how: `${froze.node}'s watcher stamped last ${measuredFrom - 1 - faultT} ms after docker pause was issued` } });
      let states = await readVrrpStates(st);
      // keepalived runs its notify script after it takes the VIP: once the MASTER holds it alone,
      // wait (briefly) for its log to say so too, or a late line looks like no state change at all
      const { name, master } = ha.vrrp;
      const reportsMaster = () => states.filter((x) => x.node === master && x.instance === name).at(-1)?.state === 'MASTER';
      if (o.settle !== false && !reportsMaster())
        await waitFor(`${master}'s notify log to report ${name} MASTER`, async () => {
            states = await readVrrpStates(st);
            return reportsMaster();
          }, { timeoutMs: 10_000, intervalMs: 300 }).catch(() => undefined);
      recordVrrpStates(ctx.history, states, t0);
      result = { ops, faultT: measuredFrom, healT, healedT, ...seen, states };
    } finally {
      await fault.heal();
    }
  } finally {
    stopProbes();
    if (!result) await w.stop().catch(() => undefined);
    await probes.catch(() => undefined);
  }
  return result;
}

/** The keepalived virtual_server and real_server blocks the plan rendered for a service's real server. */
export function keepalivedBlocks(ctx: SuiteContext, ha: HaUnderTest, rip: string) {
  const vs = ctx.plan.nodes.find((n) => n.name === ha.vrrp.master)!.keepalived!.virtualServers!.find((v) => v.vip === ha.svc.vip && v.port === ha.svc.port)!;
  return { vs, rs: vs.realServers.find((r) => r.address === rip)! };
}

/** The MAC the clients' segment sees for a director (what its gratuitous ARPs must carry). */
export const directorMac = (st: StartedTopology, ha: HaUnderTest, node: string) => macOn(st, node, ha.svc.vipNetwork);

/** The first time `node` became MASTER at or after `from`, from the notify log. */
export const becameMaster = (states: readonly VrrpStateChange[], node: string, from: number) => states.find((s) => s.node === node && s.state === 'MASTER' && s.t >= from);
