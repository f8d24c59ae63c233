import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { oneVipHolder } from '../../harness/checkers/vip-holder.js';
import { compressIPv6, parseProcIpVs } from '../../harness/ipvs/proc.js';
import { changesOnly, holderSamples, narrowFrozen, observedUntil, tableTimeline, type NodeObservations } from '../../harness/observe/timeline.js';
import { parseWatchLine, WATCH_SCRIPT, watchArgv, type WatchLine } from '../../harness/observe/watch-script.js';

// /proc/net/ip_vs as kernel 6.1 prints it (a NAT service, an fwmark service with persistence, an IPv6 service)
const PROC = [
  'IP Virtual Server version 1.2.1 (size=4096)',
  'Prot LocalAddress:Port Scheduler Flags',
  '  -> RemoteAddress:Port Forward Weight ActiveConn InActConn',
  'TCP  0A590A64:0050 rr  ',
  '  -> 0A59140D:0050      Masq    1      0          0         ',
  '  -> 0A59140B:0050      Masq    3      2          17        ',
  'FWM  00000001 wlc persistent 300 FFFFFF00',
  '  -> 0A59140B:0000      Route   0      0          0         ',
  'TCP  [fd89:0010:0000:0000:0000:0000:0000:0100]:0050 sh  ',
  '  -> [fd89:0020:0000:0000:0000:0000:0000:0011]:0050      Masq    1      0          0         ',
];

describe('in-node watcher: /proc/net/ip_vs', () => {
  it('reads services and real servers into the keys ipvsadm -Ln prints', () => {
    const t = parseProcIpVs(PROC);
    expect(t.map((s) => `${s.protocol} ${s.key} ${s.scheduler}`)).to.deep.equal(['TCP 10.89.10.100:80 rr', 'FWM 1 wlc', 'TCP [fd89:10::100]:80 sh']);
    expect(t[0]!.realServers).to.deep.equal([
      { address: '10.89.20.13', port: 80, forward: 'Masq', weight: 1, activeConns: 0, inactiveConns: 0 },
      { address: '10.89.20.11', port: 80, forward: 'Masq', weight: 3, activeConns: 2, inactiveConns: 17 },
    ]);
    expect(t[1]).to.include({ persistent: 300, mask: '255.255.255.0' });
    expect(t[1]!.realServers[0]).to.include({ address: '10.89.20.11', port: 0, forward: 'Route', weight: 0 });
    expect(t[2]!.realServers[0]!.address).to.equal('fd89:20::11');
  });

  it('skips what it does not know and never throws on a torn read', () => {
    for (let cut = 0; cut < PROC.join('\n').length; cut += 7) expect(() => parseProcIpVs(PROC.join('\n').slice(0, cut).split('\n'))).not.to.throw();
    expect(parseProcIpVs(['garbage', '  -> 0A59140D:0050 Masq 1 0 0', 'TCP zz:0050 rr'])).to.deep.equal([]);
  });

  it('compresses IPv6 the way ipvsadm prints it', () => {
    expect(compressIPv6('fd89:0010:0000:0000:0000:0000:0000:0100')).to.equal('fd89:10::100');
    expect(compressIPv6('2001:0db8:0000:0001:0000:0000:0000:0001')).to.equal('2001:db8:0:1::1');
    expect(compressIPv6('0000:0000:0000:0000:0000:0000:0000:0001')).to.equal('::1');
    expect(compressIPv6('2001:0db8:0001:0002:0003:0004:0005:0006')).to.equal('2001:db8:1:2:3:4:5:6');
  });
});

describe('in-node watcher: its lines', () => {
  it('parses stamps to lab milliseconds and each kind of line', () => {
    expect(parseWatchLine('H 1795980285.079710')).to.deep.equal({ kind: 'H', t: 1795980285079 });
    expect(parseWatchLine('A 1795980279.194674 127.0.0.1 10.89.130.2 10.89.130.100 ')).to.deep.equal({ kind: 'A', t: 1795980279194, addresses: ['127.0.0.1', '10.89.130.2', '10.89.130.100'] });
    expect(parseWatchLine('T 1795980279.206352 a|b')).to.deep.equal({ kind: 'T', t: 1795980279206, lines: ['a', 'b'] });
    // a comma as decimal separator (a locale) is the same stamp
    expect(parseWatchLine('H 1795980285,5')).to.deep.equal({ kind: 'H', t: 1795980285500 });
    for (const bad of ['', 'H', 'H x', 'X 1795980285.1', 'bash: ip: command not found']) expect(parseWatchLine(bad)).to.equal(undefined);
  });

  it('the script waits on address events (no polling), reads the table only where asked, and exits when its input closes', () => {
    expect(WATCH_SCRIPT).to.match(/ip -o monitor address/);
    expect(WATCH_SCRIPT).to.match(/\$table == 1 && -r \/proc\/net\/ip_vs/);
    expect(WATCH_SCRIPT).to.match(/read -r -t "\$p" _/);
    expect(WATCH_SCRIPT).to.match(/trap 'flush; pkill -P \$\$/);
    expect(WATCH_SCRIPT).not.to.match(/\bsleep\b/);
    // tick, table, ticks per batch (about FLUSH_MS)
    expect(watchArgv().slice(-3)).to.deep.equal(['0.200', '0', '2']);
    expect(watchArgv({ table: true }).slice(-3)).to.deep.equal(['0.050', '1', '6']);
  });

  it('run for real (bash here): every tick stamped, the stamps sent in batches, the last batch at exit', async () => {
    const child = spawn('bash', ['-c', WATCH_SCRIPT, 'lvs-harness-watch', '0.020', '0', '10'], { stdio: ['pipe', 'pipe', 'ignore'] });
    let chunks = 0;
    let text = '';
    child.stdout.on('data', (b: Buffer) => {
      chunks++;
      text += b.toString();
    });
    await new Promise((r) => setTimeout(r, 700));
    child.stdin.end('q\n');
    await new Promise((r) => child.on('close', r));
    const lines = text.split('\n').filter(Boolean).map(parseWatchLine);
    expect(lines.every(Boolean), text).to.equal(true);
    const ticks = lines.filter((l) => l!.kind === 'H');
    expect(ticks.length).to.be.greaterThan(10);
    // stamps in order, the unsent batch written at exit
    expect(ticks.map((l) => l!.t)).to.deep.equal([...ticks.map((l) => l!.t)].sort((a, b) => a - b));
    // one write per ten ticks (and the address lines): far fewer reads than lines
    expect(chunks).to.be.lessThan(Math.ceil(ticks.length / 10) + 4);
  });
});

/** A director that stamps every 50 ms from `from` to `to` (inclusive), holding `addrs` (changing at the given times). */
function director(node: string, from: number, to: number, addrs: [number, string[]][], liveAtEnd = true): NodeObservations {
  const lines: WatchLine[] = [];
  for (let t = from; t <= to; t += 50) {
    for (const [at, a] of addrs) if (at > t - 50 && at <= t) lines.push({ kind: 'A', t, addresses: a });
    lines.push({ kind: 'H', t });
  }
  return { node, lines, streams: [{ first: from, last: to - ((to - from) % 50) }], liveAtEnd };
}

describe('in-node watcher: the holder timeline', () => {
  const VIP = '10.0.0.100';
  it('a killed MASTER holds nothing from its last stamp; the BACKUP takes over; one holder is judged on the ticks', () => {
    const d1 = director('d1', 0, 2000, [[0, ['10.0.0.2', VIP]]], false); // killed after 2 s
    const d2 = director('d2', 0, 8000, [[0, ['10.0.0.3']], [5000, ['10.0.0.3', VIP]]]);
    const s = holderSamples([d1, d2], [VIP]);
    expect(observedUntil([d1, d2])).to.equal(8000);
    const at = (t: number) => s.find((x) => x.t === t)!.holders;
    expect(at(1000)).to.deep.equal(['d1']);
    expect(at(2050)).to.deep.equal([]); // d1 silent, d2 not yet MASTER
    expect(at(6000)).to.deep.equal(['d2']);
    const judged = oneVipHolder(s, { settleFrom: 2000, settleMs: 3500 });
    expect(judged.valid).to.equal(true);
    expect((judged.observed as { resolutionMs: number }).resolutionMs).to.equal(50);
    // judged too early, the gap is an outage
    expect(oneVipHolder(s, { settleFrom: 2000, settleMs: 100 }).valid).to.equal(false);
  });

  it('a frozen director (a pause window from the history) holds nothing while paused and holds again when it thaws', () => {
    const lines: WatchLine[] = [{ kind: 'A', t: 0, addresses: [VIP] }];
    for (let t = 0; t <= 1000; t += 50) lines.push({ kind: 'H', t });
    for (let t = 4000; t <= 6000; t += 50) lines.push({ kind: 'H', t });
    const d1: NodeObservations = { node: 'd1', lines, streams: [{ first: 0, last: 6000 }], frozen: [{ from: 1000, to: 4000 }], liveAtEnd: true };
    const d2 = director('d2', 0, 6000, [[0, []]]);
    const s = holderSamples([d1, d2], [VIP]);
    expect(s.find((x) => x.t === 1000)!.holders).to.deep.equal([]); // the pause starts: a sample at its very start
    expect(s.find((x) => x.t === 2000)!.holders).to.deep.equal([]);
    expect(s.find((x) => x.t === 5000)!.holders).to.deep.equal(['d1']);
  });

  it('narrowFrozen: a pause starts just after the node\'s last stamp between its issue and Docker\'s "paused", never outside them', () => {
    // stamps every 50 ms until 1730, then nothing until the thaw at 6000 (the freezer took it at about 1750)
    const lines: WatchLine[] = [{ kind: 'A', t: 0, addresses: [VIP] }];
    for (let t = 0; t <= 1730; t += 10) if (t % 50 === 0 || t === 1730) lines.push({ kind: 'H', t });
    for (let t = 6000; t <= 7000; t += 50) lines.push({ kind: 'H', t });
    // fires: issued at 1000, docker said paused at 2400
    expect(narrowFrozen(lines, { from: 1000, by: 2400, to: 6000 })).to.deep.equal({ from: 1731, to: 6000 });
    // silent: nothing to narrow it with (no `by`, `by` not after the issue, no stamp after the issue)
    expect(narrowFrozen(lines, { from: 1000, to: 6000 })).to.deep.equal({ from: 1000, to: 6000 });
    expect(narrowFrozen(lines, { from: 1000, by: 900, to: 6000 })).to.deep.equal({ from: 1000, to: 6000 });
    expect(narrowFrozen(lines, { from: 1800, by: 2400 })).to.deep.equal({ from: 1800 });
    // a stamp at `by` itself: the window cannot start after `by`
    expect(narrowFrozen([{ kind: 'H', t: 2400 }], { from: 1000, by: 2400 })).to.deep.equal({ from: 2400 });
  });

  it('a frozen director holds the VIP until it froze, not from the moment the pause was issued', () => {
    const lines: WatchLine[] = [{ kind: 'A', t: 0, addresses: [VIP] }];
    for (let t = 0; t <= 1700; t += 50) lines.push({ kind: 'H', t });
    for (let t = 6000; t <= 7000; t += 50) lines.push({ kind: 'H', t });
    const frozen = [narrowFrozen(lines, { from: 1000, by: 2400, to: 6000 })];
    const d1: NodeObservations = { node: 'd1', lines, streams: [{ first: 0, last: 7000 }], frozen, liveAtEnd: true };
    const d2 = director('d2', 0, 7000, [[0, []], [2300, [VIP]]]);
    const s = holderSamples([d1, d2], [VIP]);
    const at = (t: number) => s.filter((x) => x.t <= t).at(-1)!.holders;
    expect(at(1500)).to.deep.equal(['d1']);
    expect(at(1800)).to.deep.equal([]);
    expect(at(2400)).to.deep.equal(['d2']);
    // while d1 is frozen (before it thaws and outranks d2 again): the gap 1701..2300 judged from the
    // freeze falls within a 0.72 s master-down bound + 1 s
    const frozenPart = (x: typeof s) => x.filter((y) => y.t < 5900);
    expect(oneVipHolder(frozenPart(s), { settleFrom: 1701, settleMs: 1722 }).valid).to.equal(true);
    // judged from the issue (1000) as before, the same gap ran past that window
    const unnarrowed = holderSamples([{ ...d1, frozen: [{ from: 1000, to: 6000 }] }, d2], [VIP]);
    const judged = oneVipHolder(frozenPart(unnarrowed), { settleFrom: 1000, settleMs: 1000 });
    expect(judged.valid).to.equal(false);
    expect(judged.detail).to.match(/^no director held/);
  });

  it('a silence inside a stream is a loop the CPU did not run, not a node without its addresses', () => {
    // seen in the lab: ticks over a second apart while a takeover loaded the node
    const slow: NodeObservations = { node: 'd1', lines: [{ kind: 'A', t: 0, addresses: [VIP] }, { kind: 'H', t: 900 }, { kind: 'H', t: 3300 }], streams: [{ first: 0, last: 3300 }], liveAtEnd: true };
    const other = director('d2', 0, 3300, [[0, []]]);
    expect(holderSamples([slow, other], [VIP]).every((x) => x.holders.join() === 'd1')).to.equal(true);
  });

  it('a stream that ended (a killed node) is down until its watcher streams again', () => {
    const lines: WatchLine[] = [{ kind: 'A', t: 0, addresses: [VIP] }, { kind: 'H', t: 500 }, { kind: 'A', t: 3000, addresses: [VIP] }, { kind: 'H', t: 3500 }];
    const d1: NodeObservations = { node: 'd1', lines, streams: [{ first: 0, last: 500 }, { first: 3000, last: 3500 }], liveAtEnd: true };
    const d2 = director('d2', 0, 3500, [[0, []]]);
    const s = holderSamples([d1, d2], [VIP]);
    expect(s.find((x) => x.t === 501)!.holders).to.deep.equal([]); // from just after its last stamp
    expect(s.find((x) => x.t === 2000)!.holders).to.deep.equal([]);
    expect(s.find((x) => x.t === 3000)!.holders).to.deep.equal(['d1']);
  });

  it('two holders at once is split brain, judged by the same checker', () => {
    const d1 = director('d1', 0, 4000, [[0, [VIP]]]);
    const d2 = director('d2', 0, 4000, [[0, []], [2000, [VIP]]]);
    const r = oneVipHolder(holderSamples([d1, d2], [VIP]), { settleFrom: 0, settleMs: 1000 });
    expect(r.valid).to.equal(false);
    expect(r.detail).to.match(/split brain on 10\.0\.0\.100: d1 and d2/);
  });

  it('keeps only changes for the history, with the first and last sample of each VIP', () => {
    const d1 = director('d1', 0, 1000, [[0, [VIP]], [500, []]]);
    const s = holderSamples([d1], [VIP, '10.0.0.101']);
    const kept = changesOnly(s, (x) => x.vip, (x) => x.holders.join());
    expect(kept.filter((x) => x.vip === VIP).map((x) => [x.t, x.holders.join()])).to.deep.equal([[0, 'd1'], [500, ''], [1000, '']]);
    expect(kept.filter((x) => x.vip === '10.0.0.101').length).to.equal(2);
  });

  it('a table timeline: the parsed table at every tick the node was up', () => {
    const lines: WatchLine[] = [{ kind: 'T', t: 0, lines: PROC }, { kind: 'H', t: 0 }, { kind: 'H', t: 50 }, { kind: 'T', t: 100, lines: PROC.slice(0, 4) }, { kind: 'H', t: 100 }, { kind: 'H', t: 3000 }];
    const tl = tableTimeline({ node: 'd', lines, streams: [{ first: 0, last: 100 }, { first: 3000, last: 3000 }], liveAtEnd: true });
    // 3000 starts a stream of its own (the node came back); the time between is not sampled
    expect(tl.map((x) => [x.t, x.table[0]?.realServers.length])).to.deep.equal([[0, 2], [50, 2], [100, 0], [3000, 0]]);
  });
});

describe("keepalived's console log as VRRP states (validate: the operator's file has no notify of ours)", () => {
  it('reads state entries and a stop, stamped with the lab clock the builder prefixed', async () => {
    const { parseKeepalivedLog } = await import('../../harness/observe/vrrp.js');
    const log = [
      '1795980542.100200 Sun Nov 29 19:49:02 2026: (VT) Entering BACKUP STATE (init)',
      '1795980546.250000 Sun Nov 29 19:49:06 2026: (VT) Receive advertisement timeout',
      '1795980546.251999 Sun Nov 29 19:49:06 2026: (VT) Entering MASTER STATE',
      '1795980547.9 Sun Nov 29 19:49:07 2026: (VT) sent 0 priority',
      'Sun Nov 29 19:49:07 2026: (VT) Entering FAULT STATE', // not stamped by the harness: no lab time
    ].join('\n');
    expect(parseKeepalivedLog(log, 'd1')).to.deep.equal([
      { t: 1795980542100, node: 'd1', instance: 'VT', state: 'BACKUP' },
      { t: 1795980546251, node: 'd1', instance: 'VT', state: 'MASTER' },
      { t: 1795980547900, node: 'd1', instance: 'VT', state: 'STOP' },
    ]);
    expect(parseKeepalivedLog('(VT) Entering MASTER STATE\n\u0000garbage', 'd1')).to.deep.equal([]);
  });
});
