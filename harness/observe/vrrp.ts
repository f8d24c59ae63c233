import type { GarpPacket } from '../checkers/garp.js';
import type { TableSample } from '../checkers/health.js';
import { tableSample } from '../checkers/health.js';
import type { VipSample } from '../checkers/vip-holder.js';
import type { History } from '../history/history.js';
import { tableService } from '../ipvs/edit.js';
import { VRRP_LOG, type PlannedService } from '../topology/planner.js';
import type { StartedTopology } from '../topology/builder.js';
import { sleep, waitFor } from '../util/wait.js';
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

/** Every director's VRRP state changes so far (a director that is down is skipped). */
export async function readVrrpStates(st: StartedTopology): Promise<VrrpStateChange[]> {
  const all = await Promise.all(
    st.nodes('director').map(async (d) => {
      const r = await st.exec(d.name, ['cat', VRRP_LOG], { allowFailure: true, timeoutMs: 10_000 }).catch(() => undefined);
      return r ? parseVrrpLog(r.stdout, d.name) : [];
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
  /** how many holder polls have been taken at or after `t` so far */
  pollsSince(t: number): number;
  /** ends polling and capture; returns what was seen (also in the history) */
  stop(): Promise<{ holders: VipSample[]; tables: TableSample[]; garps: GarpPacket[] }>;
}

/**
 * Starts polling VIP holders (and the service's table on `tableOf`) every `intervalMs`, and a
 * tcpdump of ARP on the client's segment. Poll times are host times shifted onto the lab clock
 * by `now`; the tcpdump stamps are the lab's own.
 */
export async function watch(
  st: StartedTopology,
  history: History,
  now: () => number,
  o: { vips: readonly string[]; client?: string; network?: string; tableOf?: { director: string; svc: PlannedService }; intervalMs?: number },
): Promise<Watch> {
  const holders: VipSample[] = [];
  const tables: TableSample[] = [];
  let running = true;
  const poll = (async () => {
    while (running) {
      const t0 = Date.now();
      await Promise.all([
        (async () => {
          const all = await st.holdersOf(o.vips).catch(() => undefined);
          // stamped when the reads came back: a poll that straddles a heal counts as after it
          const t = now();
          for (const [vip, h] of all ?? []) {
            holders.push({ t, vip, holders: h });
            history.append({ type: 'observe', t, node: 'directors', what: 'vip-holders', data: { vip, holders: h } });
          }
        })(),
        (async () => {
          if (!o.tableOf) return;
          const table = await st.ipvs(o.tableOf.director).catch(() => undefined);
          const t = now();
          const svc = table && tableService(table, o.tableOf!.svc);
          if (!table) return;
          const sample = svc ? tableSample(t, svc) : { t, servers: [] };
          tables.push(sample);
          history.append({ type: 'observe', t, node: o.tableOf.director, what: 'ipvs-servers', data: sample.servers });
        })(),
      ]);
      await sleep(Math.max(0, (o.intervalMs ?? 250) - (Date.now() - t0)));
    }
  })();
  let capture: Promise<string> | undefined;
  if (o.client && o.network) {
    const client = o.client;
    capture = deviceOn(st, client, o.network).then(async (dev) => {
      const r = await st.exec(client, ['timeout', '600', 'tcpdump', '-l', '-n', '-e', '-tt', '-i', dev, 'arp'], { allowFailure: true, timeoutMs: 620_000 });
      return r.stdout;
    });
    // the takeover's ARPs come within milliseconds of the fault: capture must already run
    await waitFor(`tcpdump to capture ARP on ${client}`, async () => (await st.exec(client, ['pgrep', '-x', 'tcpdump'], { allowFailure: true })).exitCode === 0, { timeoutMs: 20_000, intervalMs: 200 });
  }
  return {
    pollsSince: (t) => new Set(holders.filter((x) => x.t >= t).map((x) => x.t)).size,
    async stop() {
      running = false;
      await poll;
      let garps: GarpPacket[] = [];
      if (capture && o.client) {
        // tcpdump prints what it captured when it is told to stop
        await st.exec(o.client, ['pkill', '-INT', '-x', 'tcpdump'], { allowFailure: true });
        garps = parseGarp(await capture);
        for (const g of garps) history.append({ type: 'observe', t: g.t, node: o.client, what: 'garp', data: g });
      }
      return { holders, tables, garps };
    },
  };
}

/** Puts the directors' VRRP state changes into the history (once, after a scenario). */
export function recordVrrpStates(history: History, changes: readonly VrrpStateChange[], since: number): void {
  for (const c of changes) if (c.t >= since) history.append({ type: 'observe', t: c.t, node: c.node, what: 'vrrp-state', data: { instance: c.instance, state: c.state, priority: c.priority } });
}
