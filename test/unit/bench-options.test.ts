import { expect } from 'chai';
import { benchCommand } from '../../harness/bench/command.js';
import { BENCH_DEFAULTS, parseBenchFlags, parseConcurrency, parseSize } from '../../harness/bench/options.js';
import { benchModeOf, benchServices } from '../../harness/bench/run.js';
import { isHarnessError } from '../../harness/errors.js';
import { topologyFile } from '../../harness/topology/commands.js';
import { loadTopology } from '../../harness/topology/loader.js';
import { plan } from '../../harness/topology/planner.js';

function usage(fn: () => unknown, re: RegExp) {
  try {
    fn();
  } catch (e) {
    // by its code: bench's driver is imported dynamically, and under mocha's tsx loader that can be a second instance of errors.ts (instanceof fails; the CLI is not affected)
    expect((isHarnessError(e) || (e as Error).name === 'HarnessError') && (e as { code?: string }).code, String(e)).to.equal('ERR_LVS_USAGE');
    expect((e as Error).message).to.match(re);
    return;
  }
  expect.fail('no usage error');
}

async function usageAsync(p: Promise<unknown>, re: RegExp) {
  try {
    await p;
  } catch (e) {
    // by its code: bench's driver is imported dynamically, and under mocha's tsx loader that can be a second instance of errors.ts (instanceof fails; the CLI is not affected)
    expect((isHarnessError(e) || (e as Error).name === 'HarnessError') && (e as { code?: string }).code, String(e)).to.equal('ERR_LVS_USAGE');
    expect((e as Error).message).to.match(re);
    return;
  }
  expect.fail('no usage error');
}

describe('bench flags', () => {
  it('defaults: 10 s, 5 repetitions (the fewest a corrected comparison can judge), 1 KiB and 256 KiB, 1..256 connections, both connection modes', () => {
    expect(parseBenchFlags({})).to.deep.equal(BENCH_DEFAULTS);
    expect(BENCH_DEFAULTS).to.deep.include({ seconds: 10, repeat: 5, faults: [], sizes: [1024, 262144], steps: [1, 4, 16, 64, 256], connections: ['keep-alive', 'new-connection'] });
  });

  it('reads what a user types', () => {
    const s = parseBenchFlags({ seconds: '2', repeat: '1', size: ['1KiB', '4096,1MiB'], concurrency: '16, 4,1,4', connection: ['new-connection'], warmup: '0' });
    expect(s).to.deep.equal({ seconds: 2, warmupSeconds: 0, repeat: 1, sizes: [1024, 4096, 1048576], steps: [1, 4, 16], connections: ['new-connection'], faults: [] });
    // faults held through the points, in their canonical form, each once
    expect(parseBenchFlags({ fault: ['netem-delay=20ms:director1', 'netem-delay=20ms:director1', 'netem-loss=5%:rs1'] }).faults).to.deep.equal(['netem-delay=20ms:director1', 'netem-loss=5%:rs1']);
    expect(parseSize('0')).to.equal(0);
    expect(parseSize('256KiB')).to.equal(262144);
    expect(parseConcurrency('256')).to.deep.equal([256]);
  });

  it('refuses each bad value naming the flag and what it allows', () => {
    usage(() => parseBenchFlags({ seconds: '0' }), /--seconds "0" is not a whole number from 1 to 3600/);
    usage(() => parseBenchFlags({ seconds: '2.5' }), /--seconds "2.5"/);
    usage(() => parseBenchFlags({ seconds: 'ten' }), /--seconds "ten"/);
    usage(() => parseBenchFlags({ repeat: '-1' }), /--repeat "-1" is not a whole number from 1 to 100/);
    usage(() => parseBenchFlags({ size: ['1k'] }), /--size "1k" is not a size in bytes .*1KiB/);
    usage(() => parseBenchFlags({ size: ['1GiB'] }), /--size "1GiB"/);
    usage(() => parseBenchFlags({ size: [String(128 * 1024 * 1024)] }), /from 0 to 67108864/);
    usage(() => parseBenchFlags({ concurrency: '1,,4' }), /--concurrency "1,,4" is not a comma-separated list/);
    usage(() => parseBenchFlags({ concurrency: '0' }), /--concurrency "0" is not a whole number from 1 to 10000/);
    usage(() => parseBenchFlags({ connection: ['close'] }), /--connection "close" is not one of keep-alive, new-connection/);
    usage(() => parseBenchFlags({ warmup: 'x' }), /--warmup "x"/);
    usage(() => parseBenchFlags({ fault: ['netem-delay=20ms:director1:10s'] }), /--fault "netem-delay=20ms:director1:10s": no duration: bench holds a fault through every point/);
    usage(() => parseBenchFlags({ fault: ['restart:rs1'] }), /--fault "restart:rs1": restart is over as soon as it is done/);
    usage(() => parseBenchFlags({ fault: ['slow:director1'] }), /"slow" is not a fault \(known: /);
  });

  it('the command: unknown flags, no topology, --compare misuse, a bad --format are usage errors before anything runs', async () => {
    const io = { log: () => {} };
    await usageAsync(benchCommand(['nat', '--bogus'], io), /bench: Unknown option '--bogus'/);
    await usageAsync(benchCommand([], io), /name at least one topology/);
    await usageAsync(benchCommand(['nat', '--format', 'json'], io), /--format and --all go with --compare/);
    await usageAsync(benchCommand(['--compare', 'a'], io), /give two bench runs, OLD .* \(got 1\)/);
    await usageAsync(benchCommand(['--compare', 'a', 'b', '--seconds', '3'], io), /--seconds only apply to a bench run/);
    await usageAsync(benchCommand(['--compare', 'a', 'b', '--format', 'xml'], io), /--format xml: use text or json/);
    await usageAsync(benchCommand(['--compare', '/nonexistent/old', '/nonexistent/new'], io), /OLD .*\/nonexistent\/old/);
    await usageAsync(benchCommand(['nat', '--seconds', '0'], io), /--seconds "0"/);
    await usageAsync(benchCommand(['--compare', 'a', 'b', '--fault', 'netem-delay:director1'], io), /--fault only apply to a bench run/);
    // a target the topology does not have: refused before anything is built
    await usageAsync(benchCommand(['nat', '--fault', 'netem-delay=20ms:director9'], io), /--fault netem-delay=20ms:director9: in topology nat: .*director9/);
  });
});

describe('bench: which services and rows', () => {
  const planned = async (t: string) => plan(await loadTopology(topologyFile(t)));

  it('nat: only the TCP web service (UDP, firewall mark and IPv6 are not for wrk), row nat', async () => {
    const { services, skipped } = benchServices(await planned('nat'));
    expect(services.map((s) => s.name)).to.deep.equal(['web']);
    expect(skipped).to.deep.equal(['echo (not TCP)', 'mark (a firewall-mark service)', 'web6 (IPv6)']);
    expect(benchModeOf(services[0]!)).to.equal('nat');
  });

  it('each shipped single-director topology gives its own row, haproxy-ha the haproxy row', async () => {
    for (const [t, m] of [['dr', 'dr'], ['tun', 'tun'], ['fullnat', 'fullnat'], ['haproxy-ha', 'haproxy']] as const) {
      const { services } = benchServices(await planned(t));
      expect(services.length, t).to.be.greaterThan(0);
      expect(services.map(benchModeOf), t).to.include(m);
    }
  });
});
