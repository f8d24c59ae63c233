import { expect } from 'chai';
import { flowAffinity, fwmarkRotation, portsShareServer } from '../../harness/checkers/protocols.js';
import type { OpEvent, Outcome } from '../../harness/history/history.js';

const VIP = '10.89.10.100';
const SERVERS = [
  { name: 'rs1', weight: 1 },
  { name: 'rs2', weight: 1 },
  { name: 'rs3', weight: 1 },
];

/** a UDP datagram from src:srcPort to the VIP's port 53 */
const dgram = (t: number, src: string, srcPort: number, server: string | undefined, outcome: Outcome = 'ok'): OpEvent => ({
  type: 'op',
  t,
  latencyMs: 1,
  node: 'client',
  op: 'udp',
  src,
  srcPort,
  dst: VIP,
  dstPort: 53,
  outcome,
  ...(server ? { server } : {}),
});

/** an HTTP request from src to the VIP on dstPort */
const http = (t: number, src: string, dstPort: number, server: string | undefined, outcome: Outcome = 'ok'): OpEvent => ({
  type: 'op',
  t,
  latencyMs: 1,
  node: 'client',
  op: 'http',
  src,
  srcPort: 40000 + t,
  dst: VIP,
  dstPort,
  outcome,
  ...(server ? { server } : {}),
});

/** `n` datagrams of each flow, interleaved in time: flow i's k-th datagram at k * 100 + i */
function flows(list: { src: string; srcPort: number; servers: string[] }[], n: number): OpEvent[] {
  const out: OpEvent[] = [];
  list.forEach((f, i) => {
    for (let k = 0; k < n; k++) out.push(dgram(k * 100 + i, f.src, f.srcPort, f.servers[k % f.servers.length]));
  });
  return out;
}

describe('protocol checkers (UDP flows, firewall marks)', () => {
  describe('flowAffinity', () => {
    it('passes when every flow keeps one server for ≥ minPerFlow datagrams and flows spread', () => {
      const ops = flows(
        [
          { src: '10.89.10.3', srcPort: 40001, servers: ['rs1'] },
          { src: '10.89.10.3', srcPort: 40002, servers: ['rs2'] },
          { src: '10.89.10.4', srcPort: 40001, servers: ['rs3'] },
          { src: '10.89.10.4', srcPort: 40002, servers: ['rs1'] },
        ],
        16,
      );
      const r = flowAffinity(ops, { minPerFlow: 16, servers: 3 });
      expect(r.valid).to.equal(true, r.detail);
      expect(r.detail).to.equal('4 flows, each on one server for 16+ datagrams, over 3 servers');
      expect(r.observed).to.deep.equal({
        flows: [
          { flow: '10.89.10.3:40001', server: 'rs1', datagrams: 16 },
          { flow: '10.89.10.3:40002', server: 'rs2', datagrams: 16 },
          { flow: '10.89.10.4:40001', server: 'rs3', datagrams: 16 },
          { flow: '10.89.10.4:40002', server: 'rs1', datagrams: 16 },
        ],
        serversUsed: ['rs1', 'rs2', 'rs3'],
        unanswered: 0,
      });
      expect(r.expected).to.deep.equal({ perFlow: '≥ 16 datagrams, all on one server', serversUsed: '> 1' });
    });

    it('tells flows apart by source port as well as address (IPv6 sources too)', () => {
      const ops = flows(
        [
          { src: 'fd89:10::7', srcPort: 36466, servers: ['rs1'] },
          { src: 'fd89:10::7', srcPort: 36467, servers: ['rs2'] },
        ],
        5,
      );
      const r = flowAffinity(ops, { minPerFlow: 5, servers: 2 });
      expect(r.valid).to.equal(true, r.detail);
      expect((r.observed as { flows: { flow: string }[] }).flows.map((f) => f.flow)).to.deep.equal(['fd89:10::7:36466', 'fd89:10::7:36467']);
    });

    it('fails when a flow is split across two servers, naming the flow and the servers', () => {
      const ops = flows(
        [
          { src: '10.89.10.3', srcPort: 40001, servers: ['rs1'] },
          { src: '10.89.10.3', srcPort: 40002, servers: ['rs2', 'rs2', 'rs2', 'rs3'] },
          { src: '10.89.10.4', srcPort: 40001, servers: ['rs3'] },
        ],
        8,
      );
      const r = flowAffinity(ops, { minPerFlow: 8, servers: 3 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('flow 10.89.10.3:40002 reached rs2 and rs3');
    });

    it('a split flow fails even when it has too few datagrams to confirm the others', () => {
      const ops = [...flows([{ src: '10.89.10.3', srcPort: 40001, servers: ['rs1', 'rs2'] }], 2), ...flows([{ src: '10.89.10.4', srcPort: 40001, servers: ['rs1'] }], 1)];
      const r = flowAffinity(ops, { minPerFlow: 10, servers: 3 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('flow 10.89.10.3:40001 reached rs1 and rs2');
    });

    it('fails when every flow lands on one server although there are as many flows as servers', () => {
      const ops = flows(
        [
          { src: '10.89.10.3', srcPort: 40001, servers: ['rs2'] },
          { src: '10.89.10.3', srcPort: 40002, servers: ['rs2'] },
          { src: '10.89.10.4', srcPort: 40001, servers: ['rs2'] },
        ],
        10,
      );
      const r = flowAffinity(ops, { minPerFlow: 10, servers: 3 });
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('all 3 flows landed on rs2');
    });

    it('does not ask for spread with fewer flows than servers', () => {
      const ops = flows(
        [
          { src: '10.89.10.3', srcPort: 40001, servers: ['rs2'] },
          { src: '10.89.10.3', srcPort: 40002, servers: ['rs2'] },
        ],
        10,
      );
      const r = flowAffinity(ops, { minPerFlow: 10, servers: 3 });
      expect(r.valid).to.equal(true, r.detail);
      expect((r.expected as { serversUsed: string }).serversUsed).to.equal('any');
    });

    it('is unknown when a flow has too few datagrams', () => {
      const ops = [
        ...flows([{ src: '10.89.10.3', srcPort: 40001, servers: ['rs1'] }], 16),
        ...flows([{ src: '10.89.10.3', srcPort: 40002, servers: ['rs2'] }], 3),
        ...flows([{ src: '10.89.10.4', srcPort: 40001, servers: ['rs3'] }], 16),
      ];
      const r = flowAffinity(ops, { minPerFlow: 16, servers: 3 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('too few answers to confirm: 10.89.10.3:40002 3');
    });

    it('counts only answered datagrams toward a flow, and reports the unanswered', () => {
      const ops = [
        ...flows([{ src: '10.89.10.3', srcPort: 40001, servers: ['rs1'] }], 4),
        dgram(1000, '10.89.10.3', 40001, undefined, 'timeout'),
        dgram(1001, '10.89.10.3', 40001, undefined, 'timeout'),
      ];
      const r = flowAffinity(ops, { minPerFlow: 5, servers: 2 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('too few answers to confirm: 10.89.10.3:40001 4');
      expect((r.observed as { unanswered: number }).unanswered).to.equal(2);
    });

    it('is unknown with one real server, where no flow can be split', () => {
      const ops = flows([{ src: '10.89.10.3', srcPort: 40001, servers: ['rs1'] }], 8);
      const r = flowAffinity(ops, { minPerFlow: 5, servers: 1 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('1 real server: a flow cannot be split, so affinity cannot be told from its absence; needs ≥ 2');
      // the same flow answered by two servers of a two-server service fails
      expect(flowAffinity(flows([{ src: '10.89.10.3', srcPort: 40001, servers: ['rs1', 'rs2'] }], 8), { minPerFlow: 5, servers: 2 }).valid).to.equal(false);
    });

    it('is unknown when nothing was answered', () => {
      const ops = [0, 1, 2].map((t) => dgram(t, '10.89.10.3', 40001, undefined, 'timeout'));
      const r = flowAffinity(ops, { minPerFlow: 1, servers: 3 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no datagram was answered (3 unanswered)');
      expect(flowAffinity([], { minPerFlow: 1, servers: 3 }).valid).to.equal('unknown');
    });
  });

  describe('portsShareServer', () => {
    const PORTS = [8080, 8081];
    /** each client asks `n` times on each port, alternating; home(client) is where it lands */
    const sessions = (clients: string[], n: number, home: (c: string, port: number) => string) => {
      const out: OpEvent[] = [];
      let t = 0;
      for (let k = 0; k < n; k++) for (const c of clients) for (const p of PORTS) out.push(http(t++, c, p, home(c, p)));
      return out;
    };

    it("passes when each client's connections to both ports reach one server", () => {
      const home: Record<string, string> = { '10.89.10.3': 'rs1', '10.89.10.4': 'rs2', '10.89.10.5': 'rs3' };
      const r = portsShareServer(sessions(Object.keys(home), 3, (c) => home[c]!), { ports: PORTS, minPerClient: 6 });
      expect(r.valid).to.equal(true, r.detail);
      expect(r.detail).to.equal('3 clients, each on one server across ports 8080 and 8081, over 3 servers');
      expect(r.name).to.equal('ports 8080 and 8081 of a client reach one real server');
      const clients = (r.observed as { clients: { client: string; servers: string[]; ports: number[]; answers: number }[] }).clients;
      expect(clients.map(({ client, servers, ports, answers }) => ({ client, servers, ports, answers }))).to.deep.equal([
        { client: '10.89.10.3', servers: ['rs1'], ports: [8080, 8081], answers: 6 },
        { client: '10.89.10.4', servers: ['rs2'], ports: [8080, 8081], answers: 6 },
        { client: '10.89.10.5', servers: ['rs3'], ports: [8080, 8081], answers: 6 },
      ]);
    });

    it("fails when a client's port 8080 lands on rs1 and 8081 on rs2", () => {
      const r = portsShareServer(
        sessions(['10.89.10.3', '10.89.10.4'], 3, (c, p) => (c === '10.89.10.3' ? (p === 8080 ? 'rs1' : 'rs2') : 'rs3')),
        { ports: PORTS, minPerClient: 6 },
      );
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('10.89.10.3 reached rs1 on 8080, rs2 on 8081');
    });

    it('is unknown for a client that used only one of the ports', () => {
      const ops = [...sessions(['10.89.10.3'], 3, () => 'rs1'), ...[0, 1, 2, 3, 4, 5].map((k) => http(100 + k, '10.89.10.4', 8080, 'rs2'))];
      const r = portsShareServer(ops, { ports: PORTS, minPerClient: 6 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('cannot confirm: 10.89.10.4 used ports 8080 with 6 answers');
    });

    it('is unknown when every answer came from one server (no client could have reached two)', () => {
      const r = portsShareServer(sessions(['10.89.10.3', '10.89.10.4', '10.89.10.5'], 3, () => 'rs1'), { ports: PORTS, minPerClient: 6 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('every answer came from rs1: with one server no client could reach two, so this shows nothing about persistence');
    });

    it('is unknown for a client with fewer answers than minPerClient', () => {
      const r = portsShareServer(sessions(['10.89.10.3'], 2, () => 'rs1'), { ports: PORTS, minPerClient: 6 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('cannot confirm: 10.89.10.3 used ports 8080,8081 with 4 answers');
    });

    it('ignores refused connections; nothing answered is unknown', () => {
      const refused = [0, 1, 2, 3].map((k) => http(k, '10.89.10.3', PORTS[k % 2]!, undefined, 'refused'));
      const r = portsShareServer(refused, { ports: PORTS, minPerClient: 1 });
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('no answered connections');
    });
  });

  describe('fwmarkRotation', () => {
    const ROT = ['rs1', 'rs2', 'rs3'];
    /** n connections alternating 8080/8081, each answered by servers(i) */
    const conns = (n: number, server: (i: number) => string | undefined, outcome: (port: number) => Outcome = () => 'ok') =>
      Array.from({ length: n }, (_, i) => {
        const port = i % 2 ? 8081 : 8080;
        const o = outcome(port);
        return http(i, '10.89.10.3', port, o === 'ok' ? server(i) : undefined, o);
      });

    it('passes when connections to both ports share one perfect rotation', () => {
      const r = fwmarkRotation(conns(12, (i) => ROT[i % 3]), SERVERS, [8080, 8081]);
      expect(r.valid).to.equal(true, r.detail);
      expect(r.detail).to.equal('4 rounds, each spread ≤ 1');
      expect(r.name).to.equal('rr rotates over connections to ports 8080 and 8081 together');
      const o = r.observed as { answeredByPort: Record<string, number>; failedByPort: Record<string, number>; connections: number };
      expect(o.answeredByPort).to.deep.equal({ 8080: 6, 8081: 6 });
      expect(o.failedByPort).to.deep.equal({ 8080: 0, 8081: 0 });
      expect(o.connections).to.equal(12);
      expect(r.rule).to.match(/the ports of a firewall mark share that one rotation$/);
    });

    it('fails when every connection to port 8081 was refused (its packets are not marked)', () => {
      const r = fwmarkRotation(
        conns(12, (i) => ROT[(i / 2) % 3], (p) => (p === 8081 ? 'refused' : 'ok')),
        SERVERS,
        [8080, 8081],
      );
      expect(r.valid).to.equal(false);
      expect(r.detail).to.include('no answer on port 8081');
      expect(r.detail).to.equal('no answer on port 8081 (6 failed): its packets are not marked into the service');
      const o = r.observed as { answeredByPort: Record<string, number>; failedByPort: Record<string, number> };
      expect(o.answeredByPort).to.deep.equal({ 8080: 6, 8081: 0 });
      expect(o.failedByPort).to.deep.equal({ 8080: 0, 8081: 6 });
    });

    it('fails when the rotation is broken, with the round that shows it', () => {
      const seq = ['rs1', 'rs2', 'rs3', 'rs1', 'rs1', 'rs2', 'rs3', 'rs2', 'rs1'];
      const r = fwmarkRotation(conns(seq.length, (i) => seq[i]), SERVERS, [8080, 8081]);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.equal('round 2 had {"rs1":2,"rs2":1,"rs3":0}');
    });

    it('fails when each port rotates on its own (two schedulers instead of one)', () => {
      // 8080: rs1 rs2 rs3 …, 8081: rs1 rs2 rs3 …, interleaved: rs1 rs1 rs2 rs2 rs3 rs3
      const r = fwmarkRotation(conns(12, (i) => ROT[Math.floor(i / 2) % 3]), SERVERS, [8080, 8081]);
      expect(r.valid).to.equal(false);
      expect(r.detail).to.match(/^round 1 had \{"rs1":2,"rs2":1,"rs3":0\}$/);
    });

    it('is unknown with fewer than two full rounds when every port answered', () => {
      const r = fwmarkRotation(conns(4, (i) => ROT[i % 3]), SERVERS, [8080, 8081]);
      expect(r.valid).to.equal('unknown');
      expect(r.detail).to.equal('only 1 full rounds observed; 2 needed');
    });
  });
});
