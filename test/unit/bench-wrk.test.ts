import { expect } from 'chai';
import { isHarnessError } from '../../harness/errors.js';
import { busyCoresBetween, kernelCpuBetween, parseQuiet, quietScript, parseProcStat, parseRepetition, parseWrkOutput, renderWrkScript, repetitionOf, WRK_MARK, WRK_SCRIPT_PATH, wrkArgv, wrkRepetitionScript } from '../../harness/bench/wrk.js';
import { parseBench } from '../../harness/bench/schema.js';
import { summarisePoint } from '../../harness/bench/summarise.js';
import { report, mode } from './bench-fixture.js';
import { WRK_KEEPALIVE, WRK_NEWCONN, WRK_REFUSED } from './bench-wrk-fixture.js';

const throwsCode = (fn: () => unknown, code: string, re?: RegExp) => {
  try {
    fn();
  } catch (e) {
    expect(isHarnessError(e), String(e)).to.equal(true);
    expect((e as { code: string }).code).to.equal(code);
    if (re) expect((e as Error).message).to.match(re);
    return;
  }
  expect.fail('did not throw');
};

describe('bench wrk: the Lua script', () => {
  const lua = renderWrkScript();

  it('defines done() only (no per-request Lua), printing one marked line', () => {
    expect(lua).to.match(/^done = function\(summary, latency, requests\)$/m);
    expect(lua).not.to.match(/^(request|response|setup|init|delay)\s*=/m);
    expect(lua).to.include(`io.write(string.format('${WRK_MARK} {`);
    for (const k of ['connect', 'read', 'write', 'status', 'timeout']) expect(lua).to.include(`"${k}":%.0f`);
    for (const p of [50, 90, 99]) expect(lua).to.include(`latency:percentile(${p})`);
  });

  it('writes null latency when nothing was answered (wrk\'s min is then UINT64_MAX and its mean NaN)', () => {
    expect(lua).to.match(/local lat = 'null'\n\s+if summary\.requests > 0 then/);
  });

  it('argv: threads never above the connections, Connection: close only for new connections, the script', () => {
    const ka = wrkArgv({ url: 'http://10.89.10.100:80/bytes/1024', concurrency: 1, seconds: 3, connection: 'keep-alive' });
    expect(ka).to.deep.equal(['wrk', '-t', '1', '-c', '1', '-d', '3s', '--timeout', '5s', '-s', WRK_SCRIPT_PATH, 'http://10.89.10.100:80/bytes/1024']);
    const nc = wrkArgv({ url: 'http://x/', concurrency: 64, seconds: 10, connection: 'new-connection' });
    expect(nc.slice(1, 3)).to.deep.equal(['-t', '2']);
    expect(nc.slice(-3)).to.deep.equal(['-H', 'Connection: close', 'http://x/']);
  });

  it('one repetition: the warm-up first (its output dropped), then /proc/stat around the measured run only', () => {
    const s = wrkRepetitionScript({ url: 'http://x/', concurrency: 4, seconds: 3, connection: 'keep-alive' }, 2);
    const lines = s.trim().split('\n');
    expect(lines[0]).to.match(/^wrk .* -d 2s .* >\/dev\/null 2>&1 \|\| true$/);
    expect(lines[1]).to.equal('echo LVSH-STAT; cat /proc/uptime /proc/stat');
    expect(lines[2]).to.match(/^wrk .* -d 3s /);
    expect(lines.at(-1)).to.equal('exit $rc');
    expect(wrkRepetitionScript({ url: 'http://x/', concurrency: 4, seconds: 3, connection: 'keep-alive' }, 0)).not.to.include('/dev/null');
  });
});

describe('bench wrk: parsing what it printed in the lab', () => {
  it('keep-alive: totals, errors, latency in µs', () => {
    const r = parseWrkOutput(WRK_KEEPALIVE.stdout);
    // wrk's own text beside it: 2318 requests in 2.02s, latency max 20.92ms
    expect(r).to.deep.include({ requests: 2318, durationS: 2.01737, bytes: 3059760 });
    expect(r.latencyUs).to.deep.equal({ min: 1150, mean: 2749.901, max: 20920, p50: 2461, p90: 4243, p99: 6984 });
    expect(r.errors).to.deep.equal({ connect: 0, read: 0, write: 0, status: 0, timeout: 0 });
    expect(r.latencyUs!.p50).to.be.at.most(r.latencyUs!.p90);
    expect(r.latencyUs!.p90).to.be.at.most(r.latencyUs!.p99);
    expect(r.latencyUs!.p99).to.be.at.most(r.latencyUs!.max);
    expect(r.latencyUs!.min).to.be.at.most(r.latencyUs!.p50);
  });

  it('a repetition: the rate of good answers per second, latency in ms, the kernel CPU of the window', () => {
    const { wrk, cpu } = parseRepetition(WRK_NEWCONN.stdout);
    expect(cpu, 'kernel CPU').to.not.equal(undefined);
    // uptime 1719.60 → 1721.86 around a 2.08 s run
    expect(cpu!.seconds).to.be.closeTo(2.26, 1e-9);
    expect(cpu!.kernelCores).to.be.within(0, 2.5);
    expect(cpu!.softirqCores).to.be.within(0, cpu!.kernelCores);
    const rep = repetitionOf(wrk, cpu);
    expect(rep.rate).to.be.closeTo(wrk.requests / wrk.durationS, 1e-9);
    expect(rep.latency.p99Ms).to.equal(wrk.latencyUs!.p99 / 1000);
    expect(rep.directorCpuCores).to.equal(cpu!.kernelCores);
    // valid in bench.json, as a point's repetition
    const p = summarisePoint({ concurrency: 4, sizeBytes: 1024, connection: 'new-connection' }, [rep]);
    expect(p.directorCpuPer1000!.median).to.be.closeTo((cpu!.kernelCores * 1000) / rep.rate, 1e-9);
    expect(() => parseBench(JSON.parse(JSON.stringify(report([{ ...mode('nat', [rep]) }]))), 'bench.json')).not.to.throw();
  });

  it('nothing listening: wrk stops before done(), and the error says what wrk said', () => {
    throwsCode(() => parseRepetition(WRK_REFUSED.stdout, WRK_REFUSED.stderr), 'ERR_LVS_BENCH_WRK', /no result line[\s\S]*unable to connect to 10\.89\.10\.100:81 Connection refused/);
  });

  it('socket errors by kind and no latency (nothing answered during the run): rate 0, still valid bench.json', () => {
    const line = `${WRK_MARK} {"requests":0,"durationUs":1000000,"bytes":0,"errors":{"connect":12,"read":0,"write":0,"status":0,"timeout":3},"latencyUs":null}`;
    const wrk = parseWrkOutput(line);
    expect(wrk.latencyUs).to.equal(null);
    const rep = repetitionOf(wrk);
    expect(rep.rate).to.equal(0);
    expect(rep.errors).to.deep.equal({ connect: 12, timeout: 3 });
    expect(rep.latency.p99Ms).to.equal(null);
    const p = summarisePoint({ concurrency: 1, sizeBytes: 1024, connection: 'keep-alive' }, [rep]);
    expect(p.errorRate).to.equal(1);
    expect(() => parseBench(JSON.parse(JSON.stringify(report([mode('nat', [rep])]))), 'bench.json')).not.to.throw();
  });

  it('answers that are not 2xx count as status errors, not as good answers', () => {
    const line = `${WRK_MARK} {"requests":100,"durationUs":2000000,"bytes":1,"errors":{"connect":0,"read":0,"write":0,"status":10,"timeout":0},"latencyUs":{"min":100,"mean":200.5,"max":900,"p50":200,"p90":300,"p99":800}}`;
    const rep = repetitionOf(parseWrkOutput(line));
    expect(rep.ok).to.equal(90);
    expect(rep.rate).to.equal(45);
    expect(rep.errors).to.deep.equal({ status: 10 });
  });

  it('no result line, a line that is not JSON, a field that is not a count: ERR_LVS_BENCH_WRK with what it saw', () => {
    throwsCode(() => parseWrkOutput('unable to connect to 10.0.0.1:80 Connection refused\n', ''), 'ERR_LVS_BENCH_WRK', /no result line[\s\S]*Connection refused/);
    throwsCode(() => parseWrkOutput(`${WRK_MARK} {"requests":`), 'ERR_LVS_BENCH_WRK', /not JSON/);
    throwsCode(() => parseWrkOutput(`${WRK_MARK} {"requests":-1,"durationUs":1,"bytes":0,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latencyUs":null}`), 'ERR_LVS_BENCH_WRK', /requests is not a count/);
    throwsCode(() => parseWrkOutput(`${WRK_MARK} {"requests":1,"durationUs":1,"bytes":0,"errors":{"connect":0,"read":0,"write":0,"status":0},"latencyUs":null}`), 'ERR_LVS_BENCH_WRK', /errors\.timeout/);
    throwsCode(() => parseWrkOutput(`${WRK_MARK} {"requests":1,"durationUs":0,"bytes":0,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latencyUs":null}`), 'ERR_LVS_BENCH_WRK', /durationUs/);
    throwsCode(() => parseWrkOutput(`${WRK_MARK} {"requests":1,"durationUs":5,"bytes":0,"errors":{"connect":0,"read":0,"write":0,"status":0,"timeout":0},"latencyUs":{"min":1}}`), 'ERR_LVS_BENCH_WRK', /latencyUs\.mean/);
  });
});

describe('bench kernel CPU from /proc/stat', () => {
  const stat = (system: number, softirq: number) => `cpu  100 0 ${system} 5000 0 10 ${softirq} 0 0 0\ncpu0 50 0 1 2500 0 5 1 0 0 0\ncpu1 50 0 1 2500 0 5 1 0 0 0\nintr 1\n`;

  it('system + irq + softirq ticks over the uptime between two readings, in cores', () => {
    const c = kernelCpuBetween(`100.00 150.00\n${stat(200, 300)}`, `102.00 151.00\n${stat(260, 400)}`)!;
    expect(c.seconds).to.be.closeTo(2, 1e-9);
    // (60 + 0 + 100) ticks / 100 Hz / 2 s
    expect(c.kernelCores).to.be.closeTo(0.8, 1e-9);
    expect(c.softirqCores).to.be.closeTo(0.5, 1e-9);
    expect(parseProcStat(stat(1, 2))!.cpus).to.equal(2);
  });

  it('no reading, no time between them, or counters that went back: no figure rather than a wrong one', () => {
    expect(kernelCpuBetween('', '')).to.equal(undefined);
    expect(kernelCpuBetween(`100 1\n${stat(1, 1)}`, `100 1\n${stat(2, 2)}`)).to.equal(undefined);
    expect(kernelCpuBetween(`100 1\n${stat(5, 5)}`, `101 1\n${stat(2, 2)}`)).to.equal(undefined);
    expect(parseProcStat('cpu  a b c')).to.equal(undefined);
  });

  it('how busy the VM is (user + kernel) over a window: the wait for a quiet lab before a service is measured', () => {
    const st = (user: number, system: number, softirq: number) => `cpu  ${user} 0 ${system} 5000 0 0 ${softirq} 0 0 0\n`;
    expect(busyCoresBetween(`10.00 1\n${st(100, 100, 100)}`, `12.00 1\n${st(150, 120, 110)}`)).to.be.closeTo(0.4, 1e-9);
    const out = `LVSH-STAT\n10.00 1\n${st(100, 100, 100)}LVSH-STAT\n12.00 1\n${st(300, 120, 110)}`;
    expect(parseQuiet(out)).to.be.closeTo(1.15, 1e-9);
    expect(parseQuiet('')).to.equal(undefined);
    expect(quietScript(2)).to.match(/cat \/proc\/uptime \/proc\/stat; sleep 2; echo LVSH-STAT; cat \/proc\/uptime \/proc\/stat/);
  });
});
