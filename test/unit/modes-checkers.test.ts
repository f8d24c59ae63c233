import { expect } from 'chai';
import * as modes from '../../harness/checkers/modes.js';
import { mergeValidity } from '../../harness/checkers/types.js';
import { counterDelta, parseArping, parseNetDev, parseProbeOutput, probeOps, probeTargets } from '../../harness/observe/modes.js';

const answer = (source: string, server: string, seenClient = source): modes.ProbeAnswer => ({ source, ok: true, rc: 0, status: 200, server, rip: '10.0.0.1', seenClient });
const timeout = (source: string): modes.ProbeAnswer => ({ source, ok: false, rc: 28, status: 0 });
const C = (inPkts: number, outPkts: number, conns = 3) => ({ conns, inPkts, outPkts, inBytes: inPkts * 60, outBytes: outPkts * 60 });

describe('modes checkers', () => {
  describe('every real server answers through the VIP', () => {
    it('passes when all answer and nothing fails', () => {
      const r = modes.everyRealServerAnswers([answer('c', 'rs1'), answer('c', 'rs2'), answer('c', 'rs3')], ['rs1', 'rs2', 'rs3'], '10.0.0.100');
      expect(r.valid).to.equal(true);
    });
    it('fails when one real server never answers, naming it and who did', () => {
      const r = modes.everyRealServerAnswers([answer('c', 'rs3'), answer('c', 'rs3')], ['rs1', 'rs2', 'rs3'], '10.0.0.100');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('no answer from rs1, rs2 (answers came from rs3 ×2)');
    });
    it('fails on timeouts, saying so', () => {
      const r = modes.everyRealServerAnswers([timeout('c'), timeout('c')], ['rs1'], '10.0.0.100');
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('2 of 2 requests failed (timeout); no answer from rs1');
    });
    it('fails when no request was made', () => {
      expect(modes.everyRealServerAnswers([], ['rs1'], 'v').valid).to.equal(false);
    });
    describe('over the destinations of a fwmark service', () => {
      const dests = ['10.0.0.100:8080', '10.0.0.101:8080'];
      const at = (target: string, a: modes.ProbeAnswer) => ({ ...a, target });
      it('passes when every destination answers, fails naming one that does not', () => {
        const ok = [at(dests[0]!, answer('c', 'rs1')), at(dests[1]!, answer('c', 'rs2'))];
        expect(modes.everyRealServerAnswers(ok, ['rs1', 'rs2'], '10.0.0.100', dests).valid).to.equal(true);
        const r = modes.everyRealServerAnswers([...ok.slice(0, 1), at(dests[0]!, answer('d', 'rs2')), at(dests[1]!, timeout('c'))], ['rs1', 'rs2'], '10.0.0.100', dests);
        expect(r.valid).to.equal(false);
        expect(r.detail).to.equal('1 of 3 requests failed (timeout); no answer through 10.0.0.101:8080');
      });
      it('is unknown when a destination was never probed', () => {
        const r = modes.everyRealServerAnswers([at(dests[0]!, answer('c', 'rs1')), at(dests[0]!, answer('d', 'rs2'))], ['rs1', 'rs2'], '10.0.0.100', dests);
        expect(r.valid).to.equal('unknown');
        expect(r.detail).to.equal('no request was sent to 10.0.0.101:8080, so whether it answers is not known');
      });
    });
  });

  it('NAT: real servers see the client address, or the check names what they saw', () => {
    expect(modes.realServersSeeClient([answer('10.1.0.3', 'rs1'), answer('10.1.0.4', 'rs2')]).valid).to.equal(true);
    const bad = modes.realServersSeeClient([answer('10.1.0.3', 'rs1', '10.2.0.1')]);
    expect(bad.valid).to.equal(false);
    expect(bad.detail).to.contain('saw 10.2.0.1 instead of the client address');
    expect(modes.realServersSeeClient([timeout('x')]).valid).to.equal('unknown');
  });

  it('full-NAT: real servers see the DIP', () => {
    expect(modes.realServersSeeDip([answer('10.1.0.3', 'rs1', '10.2.0.2')], ['10.2.0.2']).valid).to.equal(true);
    expect(modes.realServersSeeDip([answer('10.1.0.3', 'rs1')], ['10.2.0.2']).valid).to.equal(false);
  });

  it('NAT: the director carries the replies; with no answered connection there were none to carry', () => {
    expect(modes.directorCarriesReplies(C(30, 30), 6).valid).to.equal(true);
    expect(modes.directorCarriesReplies(C(30, 0), 6).valid).to.equal(false);
    // one stray packet out (a reset) for connections that all failed would have passed
    const none = modes.directorCarriesReplies(C(12, 1, 0), 0);
    expect(none.valid).to.equal('unknown');
    expect(none.detail).to.equal('no connection was answered, so there were no replies for the director to carry');
  });

  it('DR/TUN: replies bypass the director; reply packets through it fail; no traffic or no answer is unknown', () => {
    expect(modes.repliesBypassDirector(C(30, 0), 6).valid).to.equal(true);
    const bad = modes.repliesBypassDirector(C(30, 24), 6);
    expect(bad.valid).to.equal(false);
    expect(bad.detail).to.equal('24 reply packets went through the director');
    expect(modes.repliesBypassDirector(C(0, 0), 0).valid).to.equal('unknown');
    // TUN with rp_filter=1: every request times out, the director forwards SYNs and sends nothing back
    const timedOut = modes.repliesBypassDirector(C(48, 0), 0);
    expect(timedOut.valid).to.equal('unknown');
    expect(timedOut.detail).to.equal('no connection was answered (48 packets in), so no reply could show which way it went');
    expect(modes.repliesBypassDirector(C(48, 3), 0).valid).to.equal(false);
  });

  it('TUN: every real server receives IP-in-IP', () => {
    expect(modes.realServersReceiveIpip({ rs1: 4, rs2: 4 }, ['rs1', 'rs2']).valid).to.equal(true);
    const bad = modes.realServersReceiveIpip({ rs1: 4, rs2: 0 }, ['rs1', 'rs2']);
    expect(bad.valid).to.equal(false);
    expect(bad.detail).to.equal('no IP-in-IP arrived on rs2');
  });

  describe('only the director answers ARP for the VIP', () => {
    const macs = { directorMacs: { director: '02:42:0a:00:00:02' }, realServerMacs: { rs1: '02:42:0a:00:00:0b', rs2: '02:42:0a:00:00:0c' } };
    it('passes with the director alone', () => {
      expect(modes.onlyDirectorAnswersArp({ vip: 'v', replies: ['02:42:0A:00:00:02', '02:42:0a:00:00:02'], ...macs }).valid).to.equal(true);
    });
    it('fails when a real server answers (DR without arp_ignore), naming it', () => {
      const r = modes.onlyDirectorAnswersArp({ vip: '10.0.0.100', replies: ['02:42:0a:00:00:02', '02:42:0a:00:00:0c'], ...macs });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.contain('answered by rs2 (02:42:0a:00:00:0c)');
    });
    it('fails when nobody answers', () => {
      expect(modes.onlyDirectorAnswersArp({ vip: 'v', replies: [], ...macs }).valid).to.equal(false);
    });
  });

  it('verdicts merge false > unknown > true', () => {
    expect(mergeValidity([true, 'unknown', true])).to.equal('unknown');
    expect(mergeValidity([true, 'unknown', false])).to.equal(false);
    expect(mergeValidity([true, true])).to.equal(true);
    // no verdict is no evidence
    expect(mergeValidity([])).to.equal('unknown');
  });
});

describe('modes observation parsers', () => {
  it('lays out probes so that a dozen reach each destination of a fwmark service, across sources', () => {
    const svc = { vip: '10.0.0.100', vips: ['10.0.0.100', '10.0.0.101'], family: 4 as const, fwmark: { mark: 1, ports: [8080, 8081] } };
    const t = probeTargets(svc, ['s1', 's2', 's3', 's4', 's5'], 1);
    expect(t).to.deep.equal([
      ['s1', '10.0.0.100:8080'],
      ['s2', '10.0.0.100:8081'],
      ['s3', '10.0.0.101:8080'],
      ['s4', '10.0.0.101:8081'],
      ['s5', '10.0.0.100:8080'],
    ]);
    expect(probeTargets({ vip: 'fd00::100', vips: ['fd00::100'], family: 6, port: 80 }, ['a'], 2)).to.deep.equal([
      ['a', '[fd00::100]:80'],
      ['a', '[fd00::100]:80'],
    ]);
    expect(parseProbeOutput('src=s1 dst=10.0.0.101:8081 rc=7 code=000')[0]).to.deep.include({ source: 's1', target: '10.0.0.101:8081', ok: false, rc: 7 });
  });

  it('reads the probe script output, answers and failures', () => {
    const out = [
      'src=10.89.10.3 rc=0 server=rs1 rip=10.89.20.11 client=10.89.10.3:44118 local=10.89.20.11:80 code=200',
      'src=10.89.10.4 rc=28 code=000',
      'src=10.89.10.5 rc=0 <html>oops</html> code=502',
    ].join('\n');
    const a = parseProbeOutput(out);
    expect(a).to.have.length(3);
    expect(a[0]).to.deep.include({ source: '10.89.10.3', ok: true, server: 'rs1', rip: '10.89.20.11', seenClient: '10.89.10.3', status: 200 });
    expect(a[1]).to.deep.include({ ok: false, rc: 28 });
    expect(a[2]).to.deep.include({ ok: false, status: 502 });
  });

  it('reads when each probe started and how long it took, and turns the probes into history operations', () => {
    const out = [
      'src=10.89.10.3 dst=10.89.10.100:80 rc=0 t=1796000000123 server=rs1 rip=10.89.20.11 client=10.89.10.3:44118 local=10.89.20.11:80 code=200 time=0.012345',
      'src=10.89.10.4 dst=[fd89:10::100]:80 rc=7 t=1796000000200  code=000 time=0.001000',
      'src=10.89.10.5 rc=0 t=1796000000300 server=rs2 rip=10.89.20.12 client=10.89.10.5:5353 code=200 time=41e-3',
    ].join('\n');
    const a = parseProbeOutput(out);
    expect(a[0]).to.deep.include({ t: 1796000000123, latencyMs: 12.3, server: 'rs1', ok: true });
    expect(a[2]).to.deep.include({ t: 1796000000300, latencyMs: 41, server: 'rs2' });
    const ops = probeOps(a.slice(0, 2), 'client', { vip: '10.89.10.100', port: 80, protocol: 'tcp' });
    expect(ops[0]).to.deep.include({ type: 'op', op: 'http', node: 'client', t: 1796000000123, latencyMs: 12.3, src: '10.89.10.3', dst: '10.89.10.100', dstPort: 80, outcome: 'ok', server: 'rs1', seen: '10.89.10.3', tag: 'modes' });
    expect(ops[1]).to.deep.include({ dst: 'fd89:10::100', dstPort: 80, outcome: 'refused', error: 'curl exit 7' });
    expect(probeOps(a.slice(2), 'client', { vip: '10.89.10.100', port: 53, protocol: 'udp' })[0]).to.deep.include({ op: 'udp', dstPort: 53, outcome: 'ok' });
    // an answer without a start time (an older probe) is not an operation of the history
    expect(probeOps(parseProbeOutput('src=s1 rc=0 code=200'), 'client', { vip: 'v', port: 80, protocol: 'tcp' })).to.deep.equal([]);
  });

  it('a large body through a tunnel: passes when answered, fails saying what happened when not', () => {
    const ok = modes.largeBodyPasses({ kind: 'large-body', service: 'web', bytes: 65536, ok: true, outcome: 'HTTP 200 in 41 ms' });
    expect(ok.valid).to.equal(true);
    expect(ok.detail).to.equal('65536 bytes sent, answered: HTTP 200 in 41 ms');
    const bad = modes.largeBodyPasses({ kind: 'large-body', service: 'web', bytes: 65536, ok: false, outcome: 'no answer within 10 s (curl timed out)' });
    expect(bad.valid).to.equal(false);
    expect(bad.detail).to.equal('65536 bytes sent, not answered: no answer within 10 s (curl timed out)');
  });

  it('reads arping replies (several MACs when several hosts answer)', () => {
    const out = `ARPING 10.89.30.100\n42 bytes from 02:42:0a:59:1e:02 (10.89.30.100): index=0 time=695.950 usec\n42 bytes from 02:42:0a:59:1e:0d (10.89.30.100): index=1 time=75.720 usec\n`;
    expect(parseArping(out)).to.deep.equal(['02:42:0a:59:1e:02', '02:42:0a:59:1e:0d']);
  });

  it('reads tunl0 packet counters from /proc/net/dev', () => {
    const out = `Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     120       2    0    0    0     0          0         0      120       2    0    0    0     0       0          0\n tunl0:    1536      24    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n`;
    expect(parseNetDev(out, 'tunl0')).to.deep.equal({ rxPackets: 24, txPackets: 0 });
    expect(parseNetDev(out, 'eth9')).to.equal(undefined);
  });

  it('subtracts counters', () => {
    expect(counterDelta(C(10, 5, 2), C(40, 5, 8))).to.deep.equal({ conns: 6, inPkts: 30, outPkts: 0, inBytes: 1800, outBytes: 0 });
  });
});
