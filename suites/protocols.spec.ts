import * as dist from '../harness/checkers/distribution.js';
import * as persist from '../harness/checkers/persistence.js';
import * as proto from '../harness/checkers/protocols.js';
import type { OpEvent } from '../harness/history/history.js';
import { directorOf, setScheduler } from '../harness/ipvs/edit.js';
import { parseConnections, parseTimeouts } from '../harness/ipvs/table.js';
import { clientSources } from '../harness/observe/modes.js';
import { suiteContext } from '../harness/suite/context.js';
import { protocolServices } from '../harness/suite/applicable.js';
import type { StartedTopology } from '../harness/topology/builder.js';
import { clientOn, type PlannedService } from '../harness/topology/planner.js';
import { waitFor } from '../harness/util/wait.js';

/**
 * Services that are not one IPv4 TCP port, each where the topology has one:
 * - UDP: every new flow is scheduled (rr rotates over flows), the datagrams of one flow stay on
 *   one real server, and UDP persistence expires: with `-p 4` and the UDP timeout set to 2 s
 *   (`ipvsadm --set`), clients stick, and once the director's table holds no entry for them
 *   they are scheduled afresh and move;
 * - a firewall-mark service over two ports: one scheduler rotates over connections to both,
 *   and with `-p` both ports of a client reach one real server;
 * - an IPv6 VIP: rr over IPv6 clients, and persistence per IPv6 client.
 * A topology with none of these fails the suite: it cannot judge.
 */
const ctx = suiteContext('protocols');
const clientOf = (svc: PlannedService) => clientOn(ctx.plan, svc);

describe(`protocols on ${ctx.plan.topology}`, function () {
  this.timeout(300_000);
  const { udp, fwm, v6 } = protocolServices(ctx.plan);
  if (!udp && !fwm && !v6) {
    it('needs a UDP, firewall-mark or IPv6 service', () => {
      throw new Error(`topology ${ctx.plan.topology} has no UDP service, no firewall-mark service over two ports and no IPv6 VIP with two or more real servers and a client`);
    });
    return;
  }
  let st: StartedTopology;
  before(async () => {
    st = await ctx.started();
  });
  const group = (svc: PlannedService, what: string) => `${svc.name} ${svc.mode} ${what}`;
  const servers = (svc: PlannedService) => svc.realServers.map((r) => ({ name: r.name, weight: r.weight }));
  const edit = async (svc: PlannedService, scheduler: string, p?: { timeout: number }) => {
    const argv = await setScheduler(st, svc, scheduler, p);
    ctx.history.append({ type: 'observe', t: ctx.now(), node: directorOf(svc), what: 'ipvs-edit', data: { argv } });
  };

  if (udp) {
    describe(`UDP ${udp.vip}:${udp.port}`, () => {
      const client = clientOf(udp)!;
      let sources: string[];
      let timeouts: { tcp: number; tcpfin: number; udp: number } | undefined;
      const director = directorOf(udp);
      const conns = async () => parseConnections((await st.exec(director, ['ipvsadm', '-Lnc'])).stdout).filter((c) => c.protocol === 'UDP' && c.virtual === `${udp.vip}:${udp.port}`);
      before(async () => {
        sources = clientSources(st, client, udp.vipNetwork, udp.family);
        timeouts = parseTimeouts((await st.exec(director, ['ipvsadm', '-L', '--timeout'])).stdout);
        // a short UDP timeout (the director's, for every UDP service) lets persistence expire within the test;
        // flows in these tests send a datagram every few hundred milliseconds, well inside it
        await st.exec(director, ['ipvsadm', '--set', '0', '0', '3']);
        ctx.history.append({ type: 'observe', t: ctx.now(), node: director, what: 'ipvs-edit', data: { argv: ['ipvsadm', '--set', '0', '0', '3'], before: timeouts } });
      });
      after(async () => {
        if (!st) return;
        await setScheduler(st, udp, udp.scheduler, udp.persistence);
        if (timeouts) await st.exec(director, ['ipvsadm', '--set', String(timeouts.tcp), String(timeouts.tcpfin), String(timeouts.udp)]);
      });
      const datagrams = async (o: { from: string[]; count: number; newFlow: boolean }, tag: string): Promise<OpEvent[]> =>
        (await (await ctx.agent(client)).run({ cmd: 'udp', host: udp.vip, port: udp.port!, sources: o.from, count: o.count, newFlow: o.newFlow, intervalMs: 20, timeoutMs: 2000, tag })).ops;

      it('rr rotates over new UDP flows', async () => {
        await edit(udp, 'rr');
        // a datagram that lands on a flow the director still holds (an earlier probe that happened to use
        // the same source port) is not a scheduling decision: leave those out, and say so
        const held = new Set((await conns()).map((c) => c.source));
        const ops = await datagrams({ from: sources, count: 4 * udp.realServers.length, newFlow: true }, 'udp-rr');
        const fresh = ops.filter((o) => !held.has(`${o.src}:${o.srcPort}`));
        const r = dist.roundRobin(fresh, servers(udp));
        const skipped = ops.length - fresh.length;
        ctx.expectValid(group(udp, 'udp rr'), skipped ? { ...r, detail: `${r.detail}; ${skipped} datagram(s) joined a flow the director already held and were left out` } : r);
      });

      it('the datagrams of one flow stay on one real server', async () => {
        const from = sources.slice(0, 2 * udp.realServers.length);
        const ops = await datagrams({ from, count: 16 * from.length, newFlow: false }, 'udp-flow');
        ctx.expectValid(group(udp, 'udp flow'), proto.flowAffinity(ops, { minPerFlow: 16, servers: udp.realServers.length }));
      });

      it('-p 4 with a 3 s UDP timeout: clients stick, then move once their templates expire', async () => {
        // one source more than there are servers, so a fresh rr pass cannot hand every client its old server back
        const from = sources.slice(0, udp.realServers.length + 1);
        const templatesGone = async () => !(await conns()).some((c) => c.template);
        await edit(udp, 'rr', { timeout: 4 });
        // a template left by an earlier run would decide instead of the scheduler
        await waitFor('earlier UDP persistence templates to expire', templatesGone, { timeoutMs: 60_000, intervalMs: 500 });
        const rounds = 16;
        const before = await datagrams({ from, count: rounds * from.length, newFlow: true }, 'udp-persist');
        ctx.expectValid(group(udp, 'udp -p 4'), persist.sticky(before, { minConsecutive: rounds, servers: udp.realServers.length }));
        const t0 = Date.now();
        const templates = (await conns()).filter((c) => c.template).length;
        // a template outlives the flows it controls (3 s each) by the persistence timeout (4 s)
        await waitFor('the persistence templates to expire', templatesGone, { timeoutMs: 60_000, intervalMs: 500 });
        ctx.history.append({ type: 'observe', t: ctx.now(), node: director, what: 'note', data: { text: `${templates} UDP persistence templates expired ${Date.now() - t0} ms after the last datagram` } });
        const after = await datagrams({ from, count: from.length, newFlow: true }, 'udp-persist-expired');
        ctx.expectValid(group(udp, 'udp -p 4 expiry'), persist.expiry(before, after));
      });
    });
  }

  if (fwm) {
    const ports = fwm.fwmark!.ports;
    describe(`firewall mark ${fwm.fwmark!.mark} over ${fwm.vip} ports ${ports.join(', ')}`, () => {
      const client = clientOf(fwm)!;
      let sources: string[];
      before(() => {
        sources = clientSources(st, client, fwm.vipNetwork, fwm.family);
      });
      after(async () => {
        if (st) await setScheduler(st, fwm, fwm.scheduler, fwm.persistence);
      });
      const http = async (o: { from: string[]; rounds: number }, tag: string) =>
        (await (await ctx.agent(client)).run({ cmd: 'http', host: fwm.vip, port: ports[0]!, ports, sources: o.from, perSource: 1, rounds: o.rounds, timeoutMs: 3000, tag })).ops;

      it('one rr rotation covers connections to both ports', async () => {
        await edit(fwm, 'rr');
        const n = fwm.realServers.length;
        // successive connections alternate between the ports; a port left unmarked would fail its half
        const ops = await http({ from: sources.slice(0, 1), rounds: 4 * n }, 'fwmark-rr');
        ctx.expectValid(group(fwm, 'fwmark rr'), proto.fwmarkRotation(ops, servers(fwm), ports));
      });

      it('-p 300: both ports of a client reach one real server', async () => {
        await edit(fwm, 'rr', { timeout: 300 });
        const rounds = 16;
        const from = sources.slice(0, 2 * fwm.realServers.length);
        // successive requests take the ports in turn: over an odd number of sources each source alternates between them round by round
        const ops = await http({ from: from.length % 2 ? from : from.slice(1), rounds }, 'fwmark-persist');
        ctx.expectValid(group(fwm, 'fwmark -p 300'), proto.portsShareServer(ops, { ports, minPerClient: rounds }));
      });
    });
  }

  if (v6) {
    describe(`IPv6 [${v6.vip}]:${v6.port}`, () => {
      const client = clientOf(v6)!;
      let sources: string[];
      before(() => {
        sources = clientSources(st, client, v6.vipNetwork, 6);
      });
      after(async () => {
        if (st) await setScheduler(st, v6, v6.scheduler, v6.persistence);
      });
      const http = async (o: { rounds: number }, tag: string) =>
        (await (await ctx.agent(client)).run({ cmd: 'http', host: v6.vip, port: v6.port!, sources, perSource: 1, rounds: o.rounds, timeoutMs: 3000, tag })).ops;

      it('rr rotates over new IPv6 connections', async () => {
        await edit(v6, 'rr');
        const ops = await http({ rounds: 1 }, 'ipv6-rr');
        ctx.expectValid(group(v6, 'ipv6 rr'), dist.roundRobin(ops, servers(v6)));
      });

      it('-p 300: each IPv6 client sticks to one real server, and clients spread', async () => {
        await edit(v6, 'rr', { timeout: 300 });
        const rounds = 16;
        const ops = await http({ rounds }, 'ipv6-persist');
        ctx.expectValid(group(v6, 'ipv6 -p 300'), persist.sticky(ops, { minConsecutive: rounds, servers: v6.realServers.length }));
      });
    });
  }
});
