import { expect } from 'chai';
import { checkTiming, failoverBound, failoverBoundFor, healthReinsertionBound, healthRemovalBound, preemptBound } from '../../harness/keepalived/bound.js';
import { drBackupV3, natMaster } from '../fixtures/keepalived/models.js';

describe('keepalived time bounds', () => {
  describe('failoverBound (VRRP Master_Down_Interval)', () => {
    it('VRRPv2, advert 1 s, backup priority 100: 3 + 156/256 = 3.609375 s', () => {
      const b = failoverBound({ version: 2, advertInt: 1, backupPriority: 100 });
      expect(b.skewMs).to.equal(609.375);
      expect(b.masterDownMs).to.equal(3609.375);
      expect(b.boundMs).to.equal(3609.375);
      expect(b.toleranceMs).to.equal(1000);
      expect(b.formula).to.equal(
        'master down interval = 3 × advert_int 1 s + skew = 3 s + 0.609375 s = 3.609375 s; skew = (256 − 100) / 256 = 0.609375 s (VRRPv2, RFC 3768); tolerance 1 s',
      );
    });

    it('VRRPv3, advert 0.2 s, priority 100: 0.6 + 0.121875 s', () => {
      const b = failoverBound({ version: 3, advertInt: 0.2, backupPriority: 100, toleranceMs: 250 });
      expect(b.skewMs).to.equal(121.875);
      expect(b.masterDownMs).to.equal(721.875);
      expect(b.toleranceMs).to.equal(250);
      expect(b.formula).to.contain('skew = (256 − 100) × 0.2 / 256 = 0.121875 s (VRRPv3, RFC 5798)');
    });

    it('VRRPv2 skew does not scale with the advert interval; VRRPv3 skew does', () => {
      expect(failoverBound({ version: 2, advertInt: 3, backupPriority: 100 }).masterDownMs).to.equal(9609.375);
      expect(failoverBound({ version: 3, advertInt: 3, backupPriority: 100 }).masterDownMs).to.equal(9000 + 1828.125);
    });

    it('a higher-priority backup takes over sooner (less skew)', () => {
      const hi = failoverBound({ version: 2, advertInt: 1, backupPriority: 254 });
      const lo = failoverBound({ version: 2, advertInt: 1, backupPriority: 1 });
      // keepalived's integer microseconds truncate 7812.5 µs and 996093.75 µs
      expect(hi.skewMs).to.equal(7.812);
      expect(lo.skewMs).to.equal(996.093);
      expect(hi.masterDownMs).to.be.lessThan(lo.masterDownMs);
    });

    it('VRRPv3 skew follows keepalived\'s integer microseconds (centisecond interval × 625 / 16)', () => {
      // 0.07 s, priority 151: 105 × 7 × 625 / 16 = 28710.9375 µs, truncated to 28710 µs
      expect(failoverBound({ version: 3, advertInt: 0.07, backupPriority: 151 }).skewMs).to.equal(28.71);
    });

    it('reads version, advert interval and priority from the backup instance', () => {
      const b = failoverBoundFor(drBackupV3.vrrpInstances![0]!);
      expect(b.masterDownMs).to.equal(721.875);
      // a VRRPv3 backup adopts the master's advert interval
      expect(failoverBoundFor(drBackupV3.vrrpInstances![0]!, 1).masterDownMs).to.equal(3609.375);
    });
  });

  describe('preemptBound', () => {
    it('no earlier than preempt_delay, within preempt_delay + one advert + master down + tolerance', () => {
      const b = preemptBound({ version: 2, advertInt: 1, priority: 150, preemptDelay: 2, toleranceMs: 500 });
      // master down with priority 150: 3 + 106/256 s = 3.414062 s (keepalived truncates to whole µs)
      expect(b.earliestMs).to.equal(2000);
      expect(b.latestMs).to.be.closeTo(2000 + 1000 + 3414.062 + 500, 1e-9);
      expect(b.formula).to.equal('MASTER no earlier than preempt_delay 2 s, and within preempt_delay + advert_int 1 s + master down interval 3.414062 s + tolerance 0.5 s = 6.914062 s');
    });
  });

  describe('health checker bounds', () => {
    it('takes keepalived\'s defaults for what the model leaves out', () => {
      expect(checkTiming({}, { check: { type: 'TCP_CHECK' } })).to.deep.equal({ checker: 'TCP_CHECK', delayLoop: 60, retry: 1, delayBeforeRetry: 1, connectTimeout: 5 });
      expect(checkTiming({ delayLoop: 2 }, { check: { type: 'HTTP_GET', url: { path: '/' } } })).to.deep.equal({ checker: 'HTTP_GET', delayLoop: 2, retry: 1, delayBeforeRetry: 3, connectTimeout: 5 });
      expect(checkTiming({ delayLoop: 2 }, { check: { type: 'MISC_CHECK', miscPath: '/bin/true' } })).to.deep.equal({ checker: 'MISC_CHECK', delayLoop: 2, retry: 0, delayBeforeRetry: 1, connectTimeout: 2 });
    });

    it('removal: delay_loop + (retry + 1) × connect_timeout + retry × delay_before_retry', () => {
      const vs = natMaster.virtualServers![0]!;
      const b = healthRemovalBound(checkTiming(vs, vs.realServers[1]!));
      // TCP_CHECK delay_loop 2, connect_timeout 1, retry 2, delay_before_retry 0.5: 2 + 3 × 1 + 2 × 0.5
      expect(b.boundMs).to.equal(6000);
      expect(b.toleranceMs).to.equal(1000);
      expect(b.formula).to.equal('delay_loop 2 s + (retry 2 + 1) × connect_timeout 1 s + retry 2 × delay_before_retry 0.5 s = 6 s (TCP_CHECK)');
      expect(healthRemovalBound({ delayLoop: 6, retry: 3, delayBeforeRetry: 3, connectTimeout: 3, toleranceMs: 10 }).boundMs).to.equal(6 * 1000 + 4 * 3000 + 3 * 3000);
    });

    it('removal with retry 0 is one failed attempt after at most one delay_loop', () => {
      expect(healthRemovalBound({ checker: 'PING_CHECK', delayLoop: 1.5, retry: 0, delayBeforeRetry: 1, connectTimeout: 0.5 }).boundMs).to.equal(2000);
    });

    it('removal by MISC_CHECK: runs start max(delay_before_retry, misc_timeout) apart', () => {
      const vs = natMaster.virtualServers![0]!;
      // misc_timeout 2, retry 0 (the MISC default): 2 + 0 + 2
      expect(healthRemovalBound(checkTiming(vs, vs.realServers[2]!)).boundMs).to.equal(4000);
      expect(healthRemovalBound({ checker: 'MISC_CHECK', delayLoop: 2, retry: 2, delayBeforeRetry: 1, connectTimeout: 3 }).formula).to.equal(
        'delay_loop 2 s + retry 2 × max(delay_before_retry 1 s, misc_timeout 3 s) + misc_timeout 3 s = 11 s (MISC_CHECK)',
      );
    });

    it('reinsertion: an in-flight failure, then the longest gap; HTTP_GET rechecks every URL delay_loop apart', () => {
      const t = { delayLoop: 2, retry: 1, delayBeforeRetry: 3, connectTimeout: 1 };
      expect(healthReinsertionBound({ ...t, checker: 'TCP_CHECK' }).boundMs).to.equal(1000 + 3000);
      expect(healthReinsertionBound({ ...t, checker: 'HTTP_GET' }).boundMs).to.equal(1000 + 3000 + 2000);
      expect(healthReinsertionBound({ ...t, checker: 'HTTP_GET', urls: 3 }).boundMs).to.equal(1000 + 3000 + 6000);
      expect(healthReinsertionBound({ ...t, checker: 'HTTP_GET', fastRecovery: true }).boundMs).to.equal(4000);
      expect(healthReinsertionBound({ ...t, checker: 'MISC_CHECK', connectTimeout: 5 }).boundMs).to.equal(5000 + 5000);
    });
  });
});
