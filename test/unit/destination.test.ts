import { expect } from 'chai';
import { destinationHash, destinationLocality, dhBucket } from '../../harness/checkers/destination.js';
import type { OpEvent } from '../../harness/history/history.js';
import { ipToInt } from '../../harness/topology/net.js';

const D = ['10.89.10.100', '10.89.10.101', '10.89.10.102', '10.89.10.103'];
const SOURCES = ['10.89.10.3', '10.89.10.4', '10.89.10.5', '10.89.10.6'];
const three = ['rs1', 'rs2', 'rs3'].map((name) => ({ name, weight: 1 }));
let clock = 0;
const op = (dst: string, server: string | undefined, src = SOURCES[0]!, kind: OpEvent['op'] = 'http', outcome: OpEvent['outcome'] = 'ok'): OpEvent => ({
  type: 'op',
  t: ++clock,
  latencyMs: 1,
  node: 'client',
  op: kind,
  src,
  dst,
  dstPort: 8080,
  outcome,
  ...(server ? { server } : {}),
});
/** one connection from each source to each destination; where(dst, src) says which server answered */
const fromAll = (where: (dst: string, src: string) => string, dsts = D, sources = SOURCES) => sources.flatMap((src) => dsts.map((d) => op(d, where(d, src), src)));

describe('destination schedulers (dh, lblc, lblcr)', () => {
  describe('dhBucket', () => {
    it('is ip_vs_dh_hashkey: hash_32(ntohl(addr), 8), the top 8 bits of the 32-bit product with 0x61C88647', () => {
      for (const a of [...D, '192.168.255.254', '1.2.3.4']) expect(dhBucket(a), a).to.equal(Number(((BigInt(ipToInt(a)) * 0x61c88647n) & 0xffffffffn) >> 24n));
      // .100 to .103 fall in buckets that three servers deal as slots 1, 0, 0, 2
      expect(D.map((a) => dhBucket(a))).to.deep.equal([124, 222, 63, 161]);
      expect(D.map((a) => dhBucket(a) % 3)).to.deep.equal([1, 0, 0, 2]);
    });
  });

  describe('destinationHash (dh)', () => {
    // what kernel 6.1 did in the lab (its list holds rs3, rs2, rs1: slot 0 is rs3); any naming of the slots is right
    const table: Record<string, string> = { '10.89.10.100': 'rs2', '10.89.10.101': 'rs3', '10.89.10.102': 'rs3', '10.89.10.103': 'rs1' };

    it('passes when every destination stays on one server and they group as the hash table says', () => {
      const r = destinationHash(fromAll((d) => table[d]!), three);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('4 destinations from 4+ sources each, each always on one server: 10.89.10.100 → rs2, 10.89.10.101 + 10.89.10.102 → rs3, 10.89.10.103 → rs1');
    });

    it('fails when a destination reaches two servers (a scheduler that balances connections, such as rr)', () => {
      let n = 0;
      const r = destinationHash(fromAll(() => three[n++ % 3]!.name), three);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.match(/^10\.89\.10\.100 reached rs1 ×\d, rs2 ×\d/);
    });

    it('fails when every destination lands on one server although the hash spreads them (fo, or sh from one source)', () => {
      const r = destinationHash(fromAll(() => 'rs1'), three);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.contain('10.89.10.100 and 10.89.10.101 both went to rs1, though their buckets (124, 222) belong to different servers');
    });

    it('fails when destinations of one slot are split apart', () => {
      const r = destinationHash(fromAll((d) => (d === '10.89.10.101' ? 'rs1' : table[d]!)), three);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.contain('10.89.10.101 went to rs1 and 10.89.10.102 to rs3, though their buckets (222, 63) belong to one server');
    });

    it('is unknown with one destination, whatever the servers did', () => {
      const r = destinationHash(fromAll(() => 'rs1', [D[0]!]), three);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 destination: dh cannot be told from any other scheduler; needs ≥ 2');
      expect(destinationHash([], three).detail).to.equal('no answered connections');
    });

    it('is unknown when each destination was reached from one source only (a source hash would look the same)', () => {
      const r = destinationHash(fromAll((d) => table[d]!, D, [SOURCES[0]!]), three);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('each destination was reached from one source only, so a source hash would look the same');
    });
  });

  describe('destinationLocality (lblc, lblcr)', () => {
    const home: Record<string, string> = { '10.89.10.100': 'rs1', '10.89.10.101': 'rs2', '10.89.10.102': 'rs3', '10.89.10.103': 'rs1' };
    const held = (where: Record<string, string>) => [...D.map((d) => op(d, where[d], SOURCES[0], 'hold')), ...D.map((d) => op(d, 'rs9', SOURCES[0], 'release'))];

    it('passes when new destinations meet the held load on distinct servers and then stay where they went', () => {
      const r = destinationLocality([...held(home), ...fromAll((d) => home[d]!)], 'lblc', 3);
      expect(r.valid).to.equal(true);
      expect(r.detail).to.equal('4 destinations, each on one server over 20 connections (10.89.10.100 → rs1, 10.89.10.101 → rs2, 10.89.10.102 → rs3, 10.89.10.103 → rs1); the first 3 held on 3 different servers');
    });

    it('fails when a destination moves between servers (wlc or rr, which forget destinations)', () => {
      const r = destinationLocality([...held(home), ...fromAll((d, src) => (d === '10.89.10.102' && src === SOURCES[2] ? 'rs2' : home[d]!))], 'lblcr', 3);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('10.89.10.102 spread over rs3 ×4, rs2 ×1');
      expect(r.name).to.equal('lblcr keeps each destination on one server and sends new ones to the least loaded');
    });

    it('fails when a new destination joins a busy server while another is idle (everything on one server, as fo)', () => {
      const all1 = Object.fromEntries(D.map((d) => [d, 'rs1']));
      const r = destinationLocality([...held(all1), ...fromAll(() => 'rs1')], 'lblc', 3);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal(
        'new destination 10.89.10.101 went to rs1, which already held a connection to 10.89.10.100 while another server held none; new destination 10.89.10.102 went to rs1, which already held a connection to 10.89.10.100 while another server held none',
      );
    });

    it('is unknown with one destination', () => {
      const r = destinationLocality([op(D[0]!, 'rs1', SOURCES[0], 'hold'), ...fromAll(() => 'rs1', [D[0]!])], 'lblc', 3);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 destination: lblc cannot be told from any other scheduler; needs ≥ 2');
    });

    it('without held connections: unknown when everything sat on one server, judged when the destinations spread', () => {
      const one = destinationLocality(fromAll(() => 'rs2'), 'lblc', 3);
      expect(one.valid).to.equal('unknown');
      expect(one.detail).to.match(/^all 4 destinations on rs2 and no held connections/);
      expect(destinationLocality(fromAll((d) => home[d]!), 'lblc', 3).valid).to.equal(true);
    });
  });
});
