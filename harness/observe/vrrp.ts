import type { GarpPacket } from '../checkers/garp.js';
import type { TableSample } from '../checkers/health.js';
import { tableSample } from '../checkers/health.js';
import type { VipSample } from '../checkers/vip-holder.js';
import { pauseWindows, type History } from '../history/history.js';
import { tableService } from '../ipvs/edit.js';
import { KEEPALIVED_LOG, VRRP_LOG, type PlannedService } from '../topology/planner.js';
import type { StartedTopology } from '../topology/builder.js';
import { waitFor } from '../util/wait.js';
import { medianSpacing } from '../checkers/failover.js';
import { NodeWatch } from './node-watch.js';
import { changesOnly, holderSamples, narrowFrozen, tableTimeline } from './timeline.js';
import { deviceOn } from './modes.js';

/**
 * What a keepalived scenario observes besides the clients' operations: which director holds
 * each VIP (polled), the directors' IPVS tables (polled), the VRRP state changes keepalived's
 * notify script logged, and the gratuitous ARPs on the clients' segment. Every observation
 * goes into the history on the lab's clock.
 */
export interface VrrpStateChange {
  t: number;
  node: string;
  instance: string;
  state: 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';
  priority?: number;
}

/** Lines of the notify log: "<lab ms> <instance> <state> <priority>". */
export function parseVrrpLog(text: string, node: string): VrrpStateChange[] {
  const out: VrrpStateChange[] = [];
  for (const line of text.split('\n')) {
    const m = line.trim().match(/^(\d{13}) (\S+) (MASTER|BACKUP|FAULT|STOP)(?: (\d+))?$/);
    if (m) out.push({ t: Number(m[1]), node, instance: m[2]!, state: m[3] as VrrpStateChange['state'], ...(m[4] ? { priority: Number(m[4]) } : {}) });
  }
  return out;
}

/**
 * keepalived's own console log as the builder keeps it, each line stamped with the lab clock:
 * "<epoch.micro> <keepalived's date>: (VI_1) Entering MASTER STATE". What an operator's file
 * (validate), which has no notify script of ours, tells of its states; `sent 0 priority` is
 * keepalived stopping (STOP).
 */
export function parseKeepalivedLog(text: string, node: string): VrrpStateChange[] {
  const out: VrrpStateChange[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^(\d{9,11})[.,](\d{1,6}) .*?\((\S+)\) (?:Entering (MASTER|BACKUP|FAULT) STATE|(sent 0 priority))/);
    if (!m) continue;
    const t = Number(m[1]) * 1000 + Math.floor(Number(m[2]!.padEnd(6, '0')) / 1000);
    out.push({ t, node, instance: m[3]!, state: (m[4] ?? 'STOP') as VrrpStateChange['state'] });
  }
  return out;
}

/** Every director's VRRP state changes so far (a director that is down is skipped). */
export async function readVrrpStates(st: StartedTopology): Promise<VrrpStateChange[]> {
  const all = await Promise.all(
    st.nodes('director').map(async (d) => {
      const r = await st.exec(d.name, ['cat', VRRP_LOG], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
      const notified = r ? parseVrrpLog(r.stdout, d.name) : [];
      if (notified.length || !st.node(d.name).keepalivedFiles?.length) return notified;
      const k = await st.exec(d.name, ['cat', KEEPALIVED_LOG], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
      return k ? parseKeepalivedLog(k.stdout, d.name) : [];
    }),
  );
  return all.flat().sort((a, b) => a.t - b.t);
}

/** Parses `tcpdump -l -n -e -tt arp`: gratuitous ARPs (who-has X tell X, or a reply for X from X). */
export function parseGarp(text: string): GarpPacket[] {
  const out: GarpPacket[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^(\d+\.\d+) ([0-9a-f:]{17}) > ([0-9a-f:]{17}), ethertype ARP.*?: (?:Request who-has ([\d.]+) (?:\([^)]*\) )?tell ([\d.]+)|Reply ([\d.]+) is-at ([0-9a-f:]{17}))/i);
    if (!m) continue;
    const t = Math.round(Number(m[1]) * 1000);
    // a request for the sender's own address, or a reply to everyone (arping -A); a reply to one asker is not gratuitous
    if (m[4] && m[4] === m[5]) out.push({ t, vip: m[4], mac: m[2]!.toLowerCase() });
    else if (m[6] && m[7] && m[3]!.toLowerCase() === 'ff:ff:ff:ff:ff:ff') out.push({ t, vip: m[6], mac: m[7].toLowerCase() });
  }
  return out;
}

export interface Watch {
  /** how many stamps every director still watched has printed at or after `t` (lab clock) */
  pollsSince(t: number): number;
  /** live view for waits: the directors that hold `vip` now (a silent director holds nothing) */
  holders(vip: string): string[];
  /** ends watching and capture; returns what was seen (also in the history, as changes) */
  stop(): Promise<{ holders: VipSample[]; tables: TableSample[]; garps: GarpPacket[]; resolutionMs: number; frozen: { node: string; issued: number; from: number; to?: number }[] }>;
}

/**
 * Starts an in-node watcher on every director (observe/watch-script.ts: address events as they
 * come, and on `tableOf`'s director the IPVS table from /proc every 50 ms, stamped on the lab's
 * clock inside the node) and a tcpdump of ARP on the client's segment. VIP moves are stamped as
 * the kernel announces them, whatever an exec costs under emulation; the checkers get a sample
 * at every stamp, the history the changes.
 */
export async function watch(
  st: StartedTopology,
  history: History,
  o: { vips: readonly string[]; client?: string; network?: string; tableOf?: { director: string; svc: PlannedService } },
): Promise<Watch> {
  // the watchers and the capture start together; both run before this returns
  const starting = Promise.all(st.nodes('director').map((d) => NodeWatch.start(st, d.name, { table: d.name === o.tableOf?.director })));
  let capture: Promise<string> | undefined;
  if (o.client && o.network) {
    const client = o.client;
    capture = deviceOn(st, client, o.network).then(async (dev) => {
      const r = await st.exec(client, ['timeout', '600', 'tcpdump', '-l', '-n', '-e', '-tt', '-i', dev, 'arp'], { allowFailure: true, timeoutMs: 620_000 });
      return r.stdout;
    });
    // the takeover's ARPs come within milliseconds of the fault: capture must already run
    const capturing = waitFor(`tcpdump to capture ARP on ${client}`, async () => (await st.exec(client, ['pgrep', '-x', 'tcpdump'], { allowFailure: true })).exitCode === 0, { timeoutMs: 20_000, intervalMs: 200 });
    const [w, c] = await Promise.allSettled([starting, capturing]);
    if (w.status === 'rejected' || c.status === 'rejected') {
      // nothing half-started is left: the capture and whichever watchers did start
      await st.exec(client, ['pkill', '-x', 'tcpdump'], { allowFailure: true }).catch(() => undefined);
      if (w.status === 'fulfilled') await Promise.all(w.value.map((x) => x.stop().catch(() => undefined)));
      throw w.status === 'rejected' ? w.reason : (c as PromiseRejectedResult).reason;
    }
  }
  const watchers = await starting;
  return {
    pollsSince(t) {
      const live = watchers.filter((w) => w.current().up);
      if (!live.length) return 0;
      return Math.min(...live.map((w) => new Set(w.lines.filter((l) => l.t >= t).map((l) => l.t)).size));
    },
    holders: (vip) => watchers.filter((w) => w.current().addresses.includes(vip)).map((w) => w.node).sort(),
    async stop() {
      // a frozen director keeps its addresses in a kernel that no longer runs keepalived: the pause
      // windows come from the history, each from when the node froze as its own watcher saw it
      // (narrowFrozen), not from the issue
      const paused = pauseWindows(history.events);
      const windows: { node: string; issued: number; from: number; to?: number }[] = [];
      const obs = (await Promise.all(watchers.map((w) => w.stop()))).map((x) => {
        const ws = (paused[x.node] ?? []).map((f) => ({ issued: f.from, ...narrowFrozen(x.lines, f) }));
        windows.push(...ws.map((f) => ({ node: x.node, ...f })));
        return { ...x, frozen: ws.map(({ issued: _, ...f }) => f) };
      });
      const holders = holderSamples(obs, o.vips);
      for (const x of changesOnly(holders, (h) => h.vip, (h) => h.holders.join())) history.append({ type: 'observe', t: x.t, node: 'directors', what: 'vip-holders', data: { vip: x.vip, holders: x.holders } });
      let tables: TableSample[] = [];
      const of = o.tableOf;
      const mine = of && obs.find((x) => x.node === of.director);
      if (of && mine) {
        tables = tableTimeline(mine).map(({ t, table }) => {
          const svc = tableService(table, of.svc);
          return svc ? tableSample(t, svc) : { t, servers: [] };
        });
        for (const x of changesOnly(tables, () => '', (y) => JSON.stringify(y.servers))) history.append({ type: 'observe', t: x.t, node: of.director, what: 'ipvs-servers', data: x.servers });
      }
      let garps: GarpPacket[] = [];
      if (capture && o.client) {
        // tcpdump prints what it captured when it is told to stop
        await st.exec(o.client, ['pkill', '-INT', '-x', 'tcpdump'], { allowFailure: true });
        garps = parseGarp(await capture);
        for (const g of garps) history.append({ type: 'observe', t: g.t, node: o.client, what: 'garp', data: g });
      }
      const resolutionMs = medianSpacing([...new Set(holders.map((h) => h.t))]) ?? 0;
      return { holders, tables, garps, resolutionMs, frozen: windows };
    },
  };
}

/** Puts the directors' VRRP state changes into the history (once, after a scenario). */
export function recordVrrpStates(history: History, changes: readonly VrrpStateChange[], since: number): void {
  for (const c of changes) if (c.t >= since) history.append({ type: 'observe', t: c.t, node: c.node, what: 'vrrp-state', data: { instance: c.instance, state: c.state, priority: c.priority } });
}
