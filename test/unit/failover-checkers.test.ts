import { expect } from 'chai';
import { failoverTime, medianSpacing } from '../../harness/checkers/failover.js';
import { gratuitousArpSeen, type GarpPacket } from '../../harness/checkers/garp.js';
import { noErrorsWhileDraining, reinsertion, removalInstant, removalTime, tableSample, type TableSample } from '../../harness/checkers/health.js';
import { preemption, type StateChange } from '../../harness/checkers/preempt.js';
import { connectionSurvives } from '../../harness/checkers/sync.js';
import { holderIntervals, oneVipHolder, type VipSample } from '../../harness/checkers/vip-holder.js';
import type { FaultEvent, OpEvent, Outcome } from '../../harness/history/history.js';
import { failoverBound, healthReinsertionBound, healthRemovalBound, preemptBound } from '../../harness/keepalived/bound.js';

const op = (t: number, outcome: Outcome = 'ok', extra: Partial<OpEvent> = {}): OpEvent => ({
  type: 'op',
  t,
  latencyMs: outcome === 'timeout' ? 1000 : 2,
  node: 'client1',
  op: 'tcp',
  src: '10.0.0.10',
  dst: '10.0.0.100',
  dstPort: 80,
  outcome,
  ...(outcome === 'ok' ? { server: 'rs1' } : {}),
  ...extra,
});

/**
 * Probes as the load agent sends them: one at a time, every 100 ms while answered; a probe that
 * times out holds the next one back for its 1 s timeout. down(t) says whether the service is out.
 */
function probes(from: number, to: number, down: (t: number) => boolean): OpEvent[] {
  const out: OpEvent[] = [];
  for (let t = from; t <= to; ) {
    const d = down(t);
    out.push(op(t, d ? 'timeout' : 'ok'));
    t += d ? 1000 : 100;
  }
  return out;
}

const fault: FaultEvent = { type: 'fault', t: 10_000, phase: 'start', fault: 'kill', target: 'director1' };
const heal: FaultEvent = { type: 'fault', t: 12_000, phase: 'end', fault: 'pause', target: 'rs2' };

describe('failover checkers', () => {
  describe('failoverTime', () => {
    // VRRPv2, advert 1 s, backup priority 100: 3.609375 s, plus 0.5 s tolerance
    const bound = failoverBound({ version: 2, advertInt: 1, backupPriority: 100, toleranceMs: 500 });

    it('passes when answers come back within the bound, measured to the first answer after the last failure', () => {
      const r = failoverTime(probes(0, 20_000, (t) => t >= 10_000 && t < 13_000), fault, bound);
      expect(r.valid).to.equal(true);
      expect(r.observed).to.include({ measuredMs: 3000, boundMs: 3609.375, toleranceMs: 500, resolutionMs: 100, recoveryGapMs: 1000, failedAfter: 3 });
      expect(r.detail).to.equal('out 3 s (3 failed probes; the last started 2 s after kill on director1, within 3.609 s + 0.5 s); measured to ±1 s');
      expect(r.name).to.equal('failover after kill on director1 within the VRRP bound');
    });

    it('fails when a probe started past bound + tolerance still failed, naming the numbers', () => {
      const r = failoverTime(probes(0, 20_000, (t) => t >= 10_000 && t < 16_000), fault, bound);
      expect(r.valid).to.equal(false);
      expect(r.observed).to.include({ measuredMs: 6000, boundMs: 3609.375, toleranceMs: 500, lastFailureAtMs: 5000 });
      expect(r.detail).to.equal('the service was still down 5 s after kill on director1 (a probe started then failed: timeout), over the bound 3.609 s + tolerance 0.5 s; first answer 6 s after it, from rs1');
    });

    it('does not fail on what the probes cannot tell: the last failure within the limit, the first answer one probe interval past it', () => {
      // probes 1 s apart: the service came back somewhere between 4 s and 5 s after the fault; the limit is 4.109 s
      const r = failoverTime(probes(0, 20_000, (t) => t >= 10_000 && t < 15_000), fault, bound);
      expect(r.valid).to.equal(true);
      expect(r.observed).to.include({ measuredMs: 5000, lastFailureAtMs: 4000, recoveryGapMs: 1000 });
      expect(r.detail).to.equal('out 5 s (5 failed probes; the last started 4 s after kill on director1, within 3.609 s + 0.5 s); measured to ±1 s');
    });

    it('counts a flap after the first recovery as part of the outage', () => {
      const ops = probes(0, 20_000, (t) => (t >= 10_000 && t < 13_000) || (t >= 14_500 && t < 14_600));
      const r = failoverTime(ops, fault, bound);
      expect(r.valid).to.equal(false);
      expect(r.observed).to.include({ measuredMs: 5500, lastFailureAtMs: 4500 });
    });

    it('fails when no answer came back at all over a window longer than the bound', () => {
      const r = failoverTime(probes(0, 20_000, (t) => t >= 10_000), fault, bound);
      expect(r.valid).to.equal(false);
      expect(r.observed).to.include({ measuredMs: null, firstAnswerAtMs: null });
      expect(r.detail).to.equal('no answer came back: 11 probes failed over 10 s after kill on director1, past the 4.109 s allowed');
    });

    it('is unknown when probing stopped before the bound ran out', () => {
      const r = failoverTime(probes(0, 12_000, (t) => t >= 10_000), fault, bound);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('probing stopped 2 s after kill on director1, before the 4.109 s allowed, with no answer since the last failure');
    });

    it('is unknown with too few probes before the fault, or too few answers after the outage', () => {
      const few = failoverTime(probes(9_850, 20_000, (t) => t >= 10_000 && t < 12_000), fault, bound);
      expect(few.valid).to.equal('unknown');
      expect(few.detail).to.match(/^only 2 answered probes before kill on director1/);
      const short = failoverTime(probes(0, 12_100, (t) => t >= 10_000 && t < 12_000), fault, bound);
      expect(short.valid).to.equal('unknown');
      expect(short.detail).to.equal('only 2 answered probes after the outage (3 needed to call it over)');
    });

    it('is unknown when no probe failed but probing stopped before the bound: a later outage would go unseen', () => {
      const r = failoverTime(probes(0, 12_000, () => false), fault, bound);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no probe failed, but probing stopped 2 s after kill on director1, before the 4.109 s allowed');
      // the same short window with the service down past the bound fails
      expect(failoverTime(probes(0, 15_000, (t) => t >= 10_000), fault, bound).valid).to.equal(false);
    });

    it('reports an outage of 0 when no probe failed', () => {
      const r = failoverTime(probes(0, 20_000, () => false), fault, bound);
      expect(r.valid).to.equal(true);
      expect(r.observed).to.include({ measuredMs: 0, resolutionMs: 100 });
      expect(r.detail).to.equal('no probe failed across kill on director1: no outage seen, any ended within 0 s (the first probe after it was answered; probe interval 0.1 s)');
    });

    it('is unknown when no probe failed but the first probe after the fault came past the bound: the outage could have hidden before it', () => {
      // a starved host: probes 5 s apart, the first after the kill 4.5 s after it
      const sparse = [0, 1_000, 2_000, 3_000, 4_000, 5_000, 14_500, 19_500, 24_500, 29_500].map((t) => op(t));
      const r = failoverTime(sparse, fault, bound);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no probe failed, but the first probe after kill on director1 started 4.5 s after it, past the 4.109 s allowed: an outage longer than allowed would have gone unseen');
      expect(r.observed).to.include({ outageAtMostMs: 4_500 });
      // the first probe 3 s after the kill bounds the outage within the limit: true
      const inTime = [0, 1_000, 2_000, 3_000, 4_000, 5_000, 13_000, 18_000, 23_000, 28_000].map((t) => op(t));
      expect(failoverTime(inTime, fault, bound).valid).to.equal(true);
    });

    it('ignores operations after `until` and those that are not tcp/http probes', () => {
      const ops = [...probes(0, 20_000, (t) => t >= 10_000 && t < 13_000), op(25_000, 'reset'), op(11_000, 'reset', { op: 'udp' })];
      expect(failoverTime(ops, fault, bound, { until: 20_000 }).valid).to.equal(true);
      // without the window's end, the later reset is a failure nothing answered after
      expect(failoverTime(ops, fault, bound).valid).to.equal(false);
    });
  });

  describe('medianSpacing', () => {
    it('is the middle gap between sorted times', () => {
      expect(medianSpacing([300, 0, 100, 200, 1200])).to.equal(100);
      expect(medianSpacing([0, 100, 300])).to.equal(150);
      expect(medianSpacing([5])).to.equal(undefined);
    });
  });

  describe('oneVipHolder', () => {
    const vip = '10.0.0.100';
    const polls = (holders: (t: number) => string[], to = 10_000): VipSample[] => Array.from({ length: to / 200 + 1 }, (_, i) => ({ t: i * 200, vip, holders: holders(i * 200) }));
    const failover = (t: number) => (t < 2000 ? ['d1'] : t < 3600 ? [] : ['d2']);

    it('passes with one holder at every poll after settling, reporting the takeover gap as settling', () => {
      const r = oneVipHolder(polls(failover), { settleFrom: 2000, settleMs: 3000 });
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('26 observations 200 ms apart, each with one holder (d2)');
      expect((r.observed as { duringSettle: unknown[] }).duringSettle).to.deep.equal([{ kind: 'gap', vip, from: 2000, to: 3600, durationMs: 1600, open: false, holders: [], samples: 8 }]);
    });

    it('fails on split brain, with when and for how long', () => {
      const r = oneVipHolder(polls((t) => (t >= 6000 && t < 6800 ? ['d2', 'd1'] : failover(t))), { settleFrom: 2000, settleMs: 3000 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('split brain on 10.0.0.100: d1 and d2 held it together for 0.8 s from +4 s');
    });

    it('fails on a gap after settling, and says when one is still open at the last poll', () => {
      const gap = oneVipHolder(polls((t) => (t >= 8000 && t < 8400 ? [] : failover(t))), { settleFrom: 2000, settleMs: 3000 });
      expect(gap.valid).to.equal(false);
      expect(gap.detail).to.equal('no director held 10.0.0.100 for 0.4 s from +6 s');
      const open = oneVipHolder(polls((t) => (t >= 9000 ? ['d1', 'd2'] : failover(t))), { settleFrom: 2000, settleMs: 3000 });
      expect(open.detail).to.equal('split brain on 10.0.0.100: d1 and d2 held it together for 1 s+ (still at the last poll) from +7 s');
    });

    it('is unknown with too few polls after settling', () => {
      const r = oneVipHolder(polls(failover, 5200), { settleFrom: 2000, settleMs: 3000 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('too few observations after settling: 10.0.0.100 2 (3 needed)');
    });

    it('splits intervals per VIP', () => {
      const s: VipSample[] = [
        { t: 0, vip: 'b', holders: [] },
        { t: 0, vip: 'a', holders: ['d1', 'd2'] },
        { t: 100, vip: 'a', holders: ['d1'] },
        { t: 100, vip: 'b', holders: ['d1'] },
      ];
      expect(holderIntervals(s).map((i) => [i.vip, i.kind, i.durationMs])).to.deep.equal([
        ['a', 'overlap', 100],
        ['b', 'gap', 100],
      ]);
    });
  });

  describe('gratuitousArpSeen', () => {
    const takeover = { t: 5000, node: 'd2', mac: '02:42:0a:00:00:03' };
    const garp = (t: number, mac: string, vip = '10.0.0.100'): GarpPacket => ({ t, vip, mac });

    it('passes when the new master announces the VIP with its MAC (case and notation aside)', () => {
      const r = gratuitousArpSeen([garp(100, '02:42:0a:00:00:02'), garp(4990, '02-42-0A-00-00-03'), garp(5001, '02:42:0a:00:00:03')], takeover);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('10.0.0.100: 2 from 02:42:0a:00:00:03, first at -10 ms');
    });

    it('fails when only the old master announced the VIP in the window', () => {
      const r = gratuitousArpSeen([garp(100, '02:42:0a:00:00:02'), garp(5100, '02:42:0a:00:00:02')], takeover);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('no gratuitous ARP for 10.0.0.100 from 02:42:0a:00:00:03 from 1000 ms before to 2000 ms after d2 became MASTER (only from 02:42:0a:00:00:02)');
    });

    it('fails when another MAC announces the VIP after the new master', () => {
      const r = gratuitousArpSeen([garp(5001, '02:42:0a:00:00:03'), garp(5500, '02:42:0a:00:00:02')], takeover);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('10.0.0.100 was announced last by 02:42:0a:00:00:02, not the new master 02:42:0a:00:00:03');
    });

    it('fails for each VIP left unannounced', () => {
      const r = gratuitousArpSeen([garp(5001, '02:42:0a:00:00:03')], takeover, { vips: ['10.0.0.100', '10.0.1.1'] });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.match(/^no gratuitous ARP for 10\.0\.1\.1 from/);
    });

    it('is unknown when nothing was captured, false when the capture covered the window', () => {
      expect(gratuitousArpSeen([], takeover, { vips: ['10.0.0.100'] }).valid).to.equal('unknown');
      expect(gratuitousArpSeen([], takeover, { vips: ['10.0.0.100'], capture: { from: 0, to: 10_000 } }).valid).to.equal(false);
      expect(gratuitousArpSeen([], takeover, { vips: ['10.0.0.100'], capture: { from: 4500, to: 10_000 } }).valid).to.equal('unknown');
    });
  });

  describe('health checker removal and reinsertion', () => {
    // TCP_CHECK delay_loop 2 s, connect_timeout 1 s, retry 2, delay_before_retry 0.5 s: 6 s, plus 1 s
    const removal = healthRemovalBound({ checker: 'TCP_CHECK', delayLoop: 2, retry: 2, delayBeforeRetry: 0.5, connectTimeout: 1 });
    // 1 s in-flight failure + max(2, 0.5) s: 3 s, plus 1 s
    const back = healthReinsertionBound({ checker: 'TCP_CHECK', delayLoop: 2, retry: 2, delayBeforeRetry: 0.5, connectTimeout: 1 });
    const table = (rs2: (t: number) => number | 'gone', to = 20_000): TableSample[] =>
      Array.from({ length: to / 500 + 1 }, (_, i) => {
        const t = i * 500;
        const w = rs2(t);
        return { t, servers: [{ address: '10.0.1.11', port: 80, weight: 1 }, ...(w === 'gone' ? [] : [{ address: '10.0.1.12', port: 80, weight: w }])] };
      });
    const fault5: FaultEvent = { type: 'fault', t: 5000, phase: 'start', fault: 'pause', target: 'rs2' };

    it('removalTime passes when the server leaves IPVS within the checker bound', () => {
      const r = removalTime(table((t) => (t < 10_000 ? 1 : 'gone')), fault5, '10.0.1.12', removal);
      expect(r.valid).to.equal(true);
      expect(r.observed).to.include({ measuredMs: 5000, boundMs: 6000, toleranceMs: 1000, resolutionMs: 500, how: 'removed' });
      expect(r.detail).to.equal('10.0.1.12 left service (removed) 5 s after the fault, within 6 s + 1 s; polls every 0.5 s');
    });

    it('removalTime accepts weight 0 (inhibit_on_failure) and can demand one form', () => {
      const quiesced = table((t) => (t < 9000 ? 1 : 0));
      expect(removalTime(quiesced, fault5, '10.0.1.12:80', removal).valid).to.equal(true);
      expect(removalTime(quiesced, fault5, '10.0.1.12', removal, { expect: 'weight 0' }).valid).to.equal(true);
      const r = removalTime(quiesced, fault5, '10.0.1.12', removal, { expect: 'removed' });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('10.0.1.12 was kept with weight 0, but without inhibit_on_failure keepalived removes it');
    });

    it('removalTime fails when removal is late, or never comes', () => {
      const late = removalTime(table((t) => (t < 13_000 ? 1 : 'gone')), fault5, '10.0.1.12', removal);
      expect(late.valid).to.equal(false);
      expect(late.detail).to.equal('10.0.1.12 left service (removed) 8 s after the fault, over 6 s + tolerance 1 s (delay_loop 2 s + (retry 2 + 1) × connect_timeout 1 s + retry 2 × delay_before_retry 0.5 s = 6 s (TCP_CHECK))');
      const never = removalTime(table(() => 1), fault5, '10.0.1.12', removal);
      expect(never.valid).to.equal(false);
      expect(never.observed).to.include({ measuredMs: null });
    });

    it('removalTime fails when keepalived puts the server back while it still fails', () => {
      const r = removalTime(table((t) => (t >= 9000 && t < 11_000 ? 'gone' : 1)), fault5, '10.0.1.12', removal, { healT: 15_000 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('10.0.1.12 was put back in service 6 s after the fault while it was still failing');
    });

    it('removalTime is unknown when polling stopped early or the server was not in service', () => {
      expect(removalTime(table(() => 1, 8000), fault5, '10.0.1.12', removal).valid).to.equal('unknown');
      const r = removalTime(table(() => 'gone'), fault5, '10.0.1.12', removal);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('10.0.1.12 was not in service (removed) before the fault');
    });

    it('reinsertion passes within the recovery bound with the configured weight, fails when late or with another weight', () => {
      const ok = reinsertion(table((t) => (t < 15_000 ? 'gone' : 1)), heal, '10.0.1.12', back, { weight: 1 });
      expect(ok.valid).to.equal(true);
      expect(ok.observed).to.include({ measuredMs: 3000, boundMs: 3000, toleranceMs: 1000, resolutionMs: 500, weight: 1 });
      const late = reinsertion(table((t) => (t < 16_500 ? 'gone' : 1)), heal, '10.0.1.12', back);
      expect(late.valid).to.equal(false);
      expect(late.detail).to.match(/^10\.0\.1\.12 came back 4\.5 s after the heal, over 3 s \+ tolerance 1 s/);
      const wrong = reinsertion(table((t) => (t < 14_000 ? 0 : 5)), heal, '10.0.1.12', back, { weight: 1 });
      expect(wrong.valid).to.equal(false);
      expect(wrong.detail).to.equal('10.0.1.12 came back with weight 5, not its configured 1');
    });

    it('reinsertion is unknown when the server was never out', () => {
      expect(reinsertion(table(() => 1), heal, '10.0.1.12', back).valid).to.equal('unknown');
    });

    it('tableSample reads a parsed ipvsadm service', () => {
      const svc = { realServers: [{ address: '10.0.1.12', port: 80, weight: 0, forward: 'Masq' as const }] };
      expect(tableSample(7, svc)).to.deep.equal({ t: 7, servers: [{ address: '10.0.1.12', port: 80, weight: 0 }] });
    });

    it('noErrorsWhileDraining passes when every operation in the window is answered', () => {
      const ops = [op(900, 'reset'), op(1000), op(1500), op(2000), op(2100, 'timeout')];
      expect(noErrorsWhileDraining(ops, { from: 1000, to: 2000 }).valid).to.equal(true);
      const r = noErrorsWhileDraining(ops, { from: 1000, to: 2500 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('1 of 4 operations failed (1 timeout); first 1.1 s into the window; slowest answer 0.002 s from rs1, 0 s into the window');
      expect(noErrorsWhileDraining(ops, { from: 3000, to: 4000 }).valid).to.equal('unknown');
    });

    it('removalInstant finds the polls around the moment the server left service, and how', () => {
      const gone = table((t) => (t < 10_000 ? 1 : 'gone'));
      expect(removalInstant(gone, 5000, '10.0.1.12:80')).to.deep.equal({ rs: '10.0.1.12:80', lastInT: 9500, firstOutT: 10_000, how: 'removed' });
      expect(removalInstant(table((t) => (t < 7000 ? 1 : 0)), 5000, '10.0.1.12:80')).to.deep.include({ lastInT: 6500, firstOutT: 7000, how: 'weight 0' });
      expect(removalInstant(table(() => 1), 5000, '10.0.1.12:80')).to.equal(undefined);
      expect(removalInstant(table(() => 'gone'), 5000, '10.0.1.12:80')).to.equal(undefined);
    });

    // CI-like evidence (trixie nat-ha, 2026-12-02): rr over rs1, rs3, rs2 every 100 ms; keepalived
    // deleted rs2 between two polls 2.367 s and 2.421 s after the fault, and the probe that rr had
    // just sent to rs2, 2.388 s in, timed out: IPVS dropped its packets with rs2 gone
    const probesRr = (fail: number[]) =>
      Array.from({ length: 40 }, (_, i) => (fail.includes(i) ? op(i * 100, 'timeout', { latencyMs: 3000 }) : op(i * 100, 'ok', { server: ['rs1', 'rs3', 'rs2'][i % 3], latencyMs: 20 + (i % 5) * 6 })));
    const removed = { rs: '10.0.1.12:80', lastInT: 2367, firstOutT: 2421, how: 'removed' as const };

    it('noErrorsWhileDraining names a connection cut by the removal of its server instead of counting it', () => {
      const r = noErrorsWhileDraining(probesRr([24]), { from: 0, to: 4000 }, { removal: removed });
      expect(r.valid).to.equal(true);
      expect(r.observed).to.include({ failed: 0, cutByRemoval: 1 });
      expect(r.detail).to.match(/^40 operations, 39 answered; 1 cut by the removal of 10\.0\.1\.12:80 \(started 2\.4 s into the window, the removal between 2\.367 s and 2\.421 s\): IPVS drops the packets of a deleted real server's connections, and keepalived deletes a failing server unless inhibit_on_failure/);
    });

    it('noErrorsWhileDraining still counts a failure away from the removal, and every failure when the server was kept with weight 0', () => {
      // 1.2 s before the last poll with rs2: over the 1 s lookback (no answer was slower)
      const early = noErrorsWhileDraining(probesRr([11, 24]), { from: 0, to: 4000 }, { removal: removed });
      expect(early.valid).to.equal(false);
      expect(early.observed).to.include({ failed: 1, cutByRemoval: 1 });
      expect(early.detail).to.match(/^1 of 40 operations failed \(1 timeout\); first 1\.1 s into the window; 1 cut by the removal/);
      // after the first poll without rs2, rr no longer sends to it: a failure there is not the removal's
      expect(noErrorsWhileDraining(probesRr([26]), { from: 0, to: 4000 }, { removal: removed }).valid).to.equal(false);
      // inhibit_on_failure: weight 0 lets a connection in flight finish, so the same failure counts
      const quiesced = noErrorsWhileDraining(probesRr([24]), { from: 0, to: 4000 }, { removal: { ...removed, how: 'weight 0' } });
      expect(quiesced.valid).to.equal(false);
      expect(quiesced.observed).to.include({ failed: 1, cutByRemoval: 0 });
      // without a removal observed, too
      expect(noErrorsWhileDraining(probesRr([24]), { from: 0, to: 4000 }).valid).to.equal(false);
    });
  });

  describe('connectionSurvives', () => {
    const hold = (conn: string, server: string, t = 1000) => op(t, 'ok', { op: 'hold', conn, server });
    const release = (conn: string, outcome: Outcome, server?: string, t = 8000) => op(t, outcome, { op: 'release', conn, ...(server ? { server } : { server: undefined }), ...(outcome !== 'ok' ? { error: 'read ECONNRESET' } : {}) });
    const holds = [hold('c1', 'rs1'), hold('c2', 'rs2'), hold('c3', 'rs3')];

    it('with sync: passes when every held connection is answered by its own server after the failover', () => {
      const r = connectionSurvives(holds, [release('c1', 'ok', 'rs1'), release('c2', 'ok', 'rs2'), release('c3', 'ok', 'rs3')], 5000);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('3 held connections answered after the failover, each by its own real server');
      expect(r.rule).to.match(/^with lvs_sync_daemon/);
    });

    it('with sync: fails when a connection breaks or lands on another server', () => {
      const r = connectionSurvives(holds, [release('c1', 'reset'), release('c2', 'ok', 'rs3'), release('c3', 'ok', 'rs3')], 5000);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('2 of 3 held connections broke: c1 (reset: read ECONNRESET); c2 (answered by rs3, not rs2)');
    });

    it('without sync: passes when every held connection breaks, fails when one survives', () => {
      const broken = [release('c1', 'reset'), release('c2', 'timeout'), release('c3', 'reset')];
      const r = connectionSurvives(holds, broken, 5000, { expect: 'break' });
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('3 held connections broke after the failover (reset, timeout)');
      expect(r.rule).to.match(/^without connection synchronisation/);
      const one = connectionSurvives(holds, [...broken.slice(1), release('c1', 'ok', 'rs1')], 5000, { expect: 'break' });
      expect(one.valid).to.equal(false);
      expect(one.detail).to.match(/^1 of 3 held connections were answered though nothing synchronised them/);
      // an answer that names no server is still no break
      expect(connectionSurvives(holds, [...broken.slice(1), release('c1', 'ok')], 5000, { expect: 'break' }).valid).to.equal(false);
    });

    it('with sync: an answer that names no real server cannot confirm the same one (unknown), and a break still fails', () => {
      const anonymous = [release('c1', 'ok', 'rs1'), release('c2', 'ok'), release('c3', 'ok', 'rs3')];
      const r = connectionSurvives(holds, anonymous, 5000);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 of 3 held connections were answered without naming the real server, so whether they reached the same one is not known');
      expect(connectionSurvives(holds, [...anonymous.slice(0, 2), release('c3', 'reset')], 5000).valid).to.equal(false);
    });

    it('is unknown when no connection spans the failover', () => {
      const r = connectionSurvives([hold('c1', 'rs1', 6000)], [release('c1', 'ok', 'rs1')], 5000);
      expect(r.valid).to.equal('unknown');
      const early = connectionSurvives(holds, [release('c1', 'ok', 'rs1', 4000)], 5000);
      expect(early.valid).to.equal('unknown');
      expect(early.detail).to.equal('no connection was held before the failover and released after it (3 held but never released after it)');
    });
  });

  describe('preemption', () => {
    // priority 150 returning, VRRPv2 advert 1 s, preempt_delay 2 s: MASTER in [2 s, 2 + 1 + 3.414062 + 0.5 s]
    const pb = preemptBound({ version: 2, advertInt: 1, priority: 150, preemptDelay: 2, toleranceMs: 500 });
    const sc = (t: number, node: string, state: StateChange['state']): StateChange => ({ t, node, instance: 'VI_NAT', state });
    const base = { returningNode: 'd1', returnT: 10_000, preemptDelayMs: 2000, boundMs: pb.boundMs, toleranceMs: 500, windowMs: 20_000 };

    it('with preempt: passes when the returning node is MASTER after preempt_delay and within the bound', () => {
      const r = preemption([sc(1000, 'd1', 'MASTER'), sc(10_300, 'd1', 'BACKUP'), sc(14_000, 'd1', 'MASTER'), sc(14_010, 'd2', 'BACKUP')], { ...base, preempt: true });
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('d1 became MASTER again 4 s after returning (allowed 2 s to 6.914 s); d2 went BACKUP');
    });

    it('with preempt: fails when it preempts before preempt_delay, or too late, or never', () => {
      expect(preemption([sc(10_300, 'd1', 'BACKUP'), sc(11_000, 'd1', 'MASTER')], { ...base, preempt: true }).detail).to.equal('d1 preempted 1 s after returning, before its preempt_delay of 2 s');
      const late = preemption([sc(10_300, 'd1', 'BACKUP'), sc(20_000, 'd1', 'MASTER')], { ...base, preempt: true });
      expect(late.valid).to.equal(false);
      expect(late.detail).to.match(/^d1 preempted 10 s after returning, later than/);
      const never = preemption([sc(10_300, 'd1', 'BACKUP')], { ...base, preempt: true });
      expect(never.valid).to.equal(false);
      expect(never.detail).to.equal('d1 never became MASTER again in 20 s (states: BACKUP), though it should by 6.914 s');
    });

    it('with preempt: is unknown when the watch was shorter than the bound', () => {
      expect(preemption([sc(10_300, 'd1', 'BACKUP')], { ...base, preempt: true, windowMs: 4000 }).valid).to.equal('unknown');
    });

    it('with nopreempt: passes when the node stays BACKUP, fails when it takes MASTER or faults', () => {
      const nopre = { ...base, preempt: false, preemptDelayMs: 0, boundMs: undefined };
      const stays = preemption([sc(10_300, 'd1', 'BACKUP')], nopre);
      expect(stays.valid).to.equal(true);
      expect(stays.detail).to.equal('d1 stayed BACKUP for the 20 s watched');
      const took = preemption([sc(10_300, 'd1', 'BACKUP'), sc(14_000, 'd1', 'MASTER')], nopre);
      expect(took.valid).to.equal(false);
      expect(took.detail).to.equal('d1 took MASTER 4 s after returning, though nopreempt should keep it BACKUP');
      expect(preemption([sc(10_300, 'd1', 'FAULT')], nopre).valid).to.equal(false);
    });

    it('with nopreempt: is unknown when the watch ended before a preempting node would have taken over', () => {
      const short = { ...base, preempt: false, windowMs: 4000 };
      const r = preemption([sc(10_300, 'd1', 'BACKUP')], short);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('watched 4 s, less than the 6.914 s a node without nopreempt could take to preempt');
      expect(preemption([sc(10_300, 'd1', 'BACKUP'), sc(12_000, 'd1', 'MASTER')], short).valid).to.equal(false);
    });

    it('is unknown when the returning node reported no state', () => {
      const r = preemption([sc(14_000, 'd2', 'MASTER')], { ...base, preempt: false });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no state reported by d1 after it returned: did keepalived start, and its notify script run?');
    });
  });
});

describe('releasedAt: when the MASTER let go of its VIPs', () => {
  it('is the first observation without it (after a slow graceful stop), the latest over its VIPs', async () => {
    const { releasedAt, oneVipHolder } = await import('../../harness/checkers/vip-holder.js');
    const obs = (t: number, vip: string, holders: string[]) => ({ t, vip, holders });
    // keepalived on d1 took 2.1 s to stop; d2 took over 35 ms after d1 let go
    const s = [obs(0, 'A', ['d1']), obs(0, 'B', ['d1']), obs(2100, 'A', ['d1']), obs(2147, 'A', []), obs(2147, 'B', ['d1']), obs(2182, 'A', ['d2']), obs(2190, 'B', ['d2']), ...Array.from({ length: 40 }, (_, i) => [obs(2200 + i * 50, 'A', ['d2']), obs(2200 + i * 50, 'B', ['d2'])]).flat()];
    expect(releasedAt(s, 'd1', 0)).to.equal(2190);
    // judged from the signal, the handover gap falls past a 1.722 s window and fails; from the release it does not
    expect(oneVipHolder(s, { settleFrom: 0, settleMs: 1722 }).valid).to.equal(false);
    expect(oneVipHolder(s, { settleFrom: releasedAt(s, 'd1', 0)!, settleMs: 1722 }).valid).to.equal(true);
    // still holding one VIP at the end: not released
    expect(releasedAt([obs(0, 'A', ['d1']), obs(100, 'A', []), obs(100, 'B', ['d1'])], 'd1', 0)).to.equal(undefined);
  });
});

describe('gainedAt: when the BACKUP took the VIP, as the watchers saw it', () => {
  it('is the first observation with it after the fault (of the VIPs named), undefined when it never held one', async () => {
    const { gainedAt } = await import('../../harness/checkers/vip-holder.js');
    const obs = (t: number, vip: string, holders: string[]) => ({ t, vip, holders });
    // haproxy-ha in a CI run: the VIP moved at +3.98 s, director2's notify script logged MASTER at +8.35 s
    const s = [obs(-500, 'V', ['d2']), obs(0, 'V', ['d1']), obs(3976, 'V', []), obs(3980, 'V', ['d2']), obs(4100, 'W', ['d2']), obs(8345, 'V', ['d2'])];
    expect(gainedAt(s, 'd2', 0)).to.equal(3980);
    expect(gainedAt(s, 'd2', 0, ['W'])).to.equal(4100);
    expect(gainedAt(s, 'd1', 1000)).to.equal(undefined);
    expect(gainedAt([], 'd2', 0)).to.equal(undefined);
  });

  it('judged from it, the gratuitous ARPs sent as the VIP moved are in the window; from the late MASTER log they are not', async () => {
    const { gratuitousArpSeen } = await import('../../harness/checkers/garp.js');
    const mac = '02:42:0a:59:a0:03';
    const arps = [4009, 4097, 4144, 5402, 5481, 5708].map((t) => ({ t, vip: 'V', mac }));
    const capture = { from: -10_000, to: 20_000 };
    expect(gratuitousArpSeen(arps, { t: 8345, node: 'd2', mac }, { vips: ['V'], capture }).valid).to.equal(false);
    expect(gratuitousArpSeen(arps, { t: Math.min(8345, 3980), node: 'd2', mac }, { vips: ['V'], capture }).valid).to.equal(true);
  });
});
