import * as modes from '../harness/checkers/modes.js';
import { observeService, type ModesObservation } from '../harness/observe/modes.js';
import { suiteContext } from '../harness/suite/context.js';
import { clientOn } from '../harness/topology/planner.js';
import { largeBodyProbe, probeOps } from '../harness/observe/modes.js';
import type { StartedTopology } from '../harness/topology/builder.js';

/**
 * Forwarding modes, as the LVS literature describes them, measured on the running topology:
 * - every mode: every real server answers through the VIP (and through every destination of a
 *   firewall-mark service over several addresses);
 * - NAT: real servers see the client's address, and the director carries the replies;
 * - full-NAT: real servers see the director's DIP, and the director carries the replies;
 * - DR and TUN: replies bypass the director (its outgoing counters stay 0), and only the
 *   director answers ARP for the VIP on a shared segment;
 * - TUN: the real servers received IP-in-IP.
 */
const ctx = suiteContext('modes');
/** dozens of full-size packets */
const LARGE_BODY_BYTES = 64 * 1024;

describe(`modes on ${ctx.plan.topology}`, function () {
  this.timeout(180_000);
  let st: StartedTopology;
  before(async () => {
    st = await ctx.started();
  });

  for (const svc of ctx.plan.services) {
    const group = `${svc.name} ${svc.mode} ${svc.protocol === 'udp' ? 'udp ' : ''}${svc.fwmark ? `fwmark ${svc.fwmark.mark} (${svc.vips.join(', ')} ports ${svc.fwmark.ports.join(', ')})` : svc.family === 6 ? `[${svc.vip}]:${svc.port}` : `${svc.vip}:${svc.port}`}`;
    describe(group, () => {
      let obs: ModesObservation;
      before(async () => {
        obs = await observeService(st, svc);
        // every probe goes into the history like any other client operation: the report's
        // distribution per real server, timeline and latencies are drawn from it
        for (const op of probeOps(obs.answers, clientOn(st.plan, svc)!, svc)) ctx.history.append(op);
      });

      it('every real server answers through the VIP', () => {
        ctx.expectValid(group, modes.everyRealServerAnswers(obs.answers, svc.realServers.map((r) => r.name), svc.vip, obs.destinations));
      });

      if (svc.mode === 'nat') {
        it('real servers see the client address', () => ctx.expectValid(group, modes.realServersSeeClient(obs.answers)));
      }
      if (svc.mode === 'fullnat' || svc.mode === 'proxy') {
        const dips = Object.values(svc.directorAddresses).flatMap((byNet) => svc.realServers.map((r) => byNet[r.network]).filter((x): x is string => !!x));
        it('real servers see the director address (DIP)', () => ctx.expectValid(group, modes.realServersSeeDip(obs.answers, [...new Set(dips)], ...(svc.mode === 'proxy' ? ['HAProxy opens its own connection to the real server, from the director\'s address'] : []))));
      }
      if (svc.mode === 'nat' || svc.mode === 'fullnat') {
        it('the director carries the replies', () => ctx.expectValid(group, modes.directorCarriesReplies(obs.counters, obs.answers.filter((a) => a.ok).length)));
      }
      if (svc.mode === 'dr' || svc.mode === 'tun') {
        it('replies bypass the director', () => ctx.expectValid(group, modes.repliesBypassDirector(obs.counters, obs.answers.filter((a) => a.ok).length)));
        it('only the director answers ARP for the VIP', () => ctx.expectValid(group, modes.onlyDirectorAnswersArp(obs.arp!)));
      }
      if (svc.mode === 'tun') {
        it('real servers receive IP-in-IP', () => ctx.expectValid(group, modes.realServersReceiveIpip(obs.tunnelRx ?? {}, svc.realServers.map((r) => r.name))));
        if (svc.protocol === 'tcp' && !svc.fwmark) {
          it('a large request body comes through the tunnel (IP-in-IP adds 20 bytes to each packet)', async () => {
            const probe = await largeBodyProbe(st, clientOn(st.plan, svc)!, svc, LARGE_BODY_BYTES);
            ctx.probes.push(probe);
            ctx.expectValid(group, modes.largeBodyPasses(probe));
          });
        }
      }
    });
  }
});
