import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { History, type FaultEvent } from '../../harness/history/history.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { labUp } from '../../harness/lab/vm.js';
import { injectFault, runFault } from '../../harness/nemesis/registry.js';
import type { ActiveFault, FaultTarget } from '../../harness/nemesis/types.js';
import { resolveRuntime } from '../../harness/runtime/select.js';
import { buildTopology, type StartedTopology } from '../../harness/topology/builder.js';
import { loadTopology } from '../../harness/topology/loader.js';
import { plan, type Plan } from '../../harness/topology/planner.js';
import { waitFor } from '../../harness/util/wait.js';
import { rejection } from '../helpers.js';

/**
 * Every fault in the real lab on the shipped DR topology: its effect is observed from another
 * node while it is in (a request fails, a round trip is longer, a route is gone), and is gone
 * after heal; the history holds one start and one end event per fault, in that order.
 * Only `dr` is brought up here and only `dr` is removed: other topologies may share the lab.
 */
const quiet = () => {};
const DR = path.join(REPO_ROOT, 'topologies', 'dr.yaml');
const VIP = '10.89.30.100';
const RIP: Record<string, string> = { rs1: '10.89.30.11', rs2: '10.89.30.12', rs3: '10.89.30.13' };

describe('nemesis: faults in the real lab (dr)', function () {
  this.timeout(20 * 60_000);
  let p: Plan;
  let st: StartedTopology;
  const history = new History();
  let env: FaultTarget;
  const timings: string[] = [];

  /** the HTTP status the client gets, '000' when nothing answered within the time */
  const http = async (url: string, seconds = 2) =>
    (await st.exec('client', ['curl', '-s', '-o', '/dev/null', '-m', String(seconds), '-w', '%{http_code}', url], { allowFailure: true })).stdout.trim();
  const body = async (url: string) => (await st.exec('client', ['curl', '-s', '-m', '2', url], { allowFailure: true })).stdout.trim();
  /** round trips from the client: sent, received, and the RTTs ping printed */
  async function ping(addr: string, count: number, from = 'client'): Promise<{ received: number; rtts: number[] }> {
    const r = await st.exec(from, ['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', addr], { allowFailure: true, timeoutMs: 60_000 });
    const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
    return { received: rtts.length, rtts };
  }
  const faultEvents = (fault: string, target: string) => history.events.filter((e): e is FaultEvent => e.type === 'fault' && e.fault === fault && e.target === target);
  function expectStartEnd(fault: string, target: string): FaultEvent[] {
    const ev = faultEvents(fault, target);
    expect(ev.map((e) => e.phase), `${fault} on ${target}: events`).to.deep.equal(['start', 'end']);
    expect(ev[0]!.t, `${fault}: start before end`).to.be.at.most(ev[1]!.t);
    expect(ev[0]!.detail, `${fault}: start detail`).to.be.a('string').and.not.equal('');
    // the history's order is the order of time for one fault
    expect(history.events.indexOf(ev[0]!)).to.be.below(history.events.indexOf(ev[1]!));
    return ev;
  }
  /** inject, timed */
  async function inject(spec: string): Promise<ActiveFault> {
    const t0 = Date.now();
    const f = await injectFault(env, spec);
    timings.push(`${spec}: inject ${Date.now() - t0} ms`);
    return f;
  }
  async function heal(f: ActiveFault, spec: string): Promise<void> {
    const t0 = Date.now();
    await f.heal();
    timings.push(`${spec}: heal ${Date.now() - t0} ms`);
  }

  before(async function () {
    this.timeout(10 * 60_000);
    await labUp({ log: quiet });
    const rt = await resolveRuntime({ log: quiet });
    p = plan(await loadTopology(DR));
    const t0 = Date.now();
    // never reuse: a leftover dr may hold the remains of a fault (a killed node not restored)
    st = await buildTopology(rt, p, { log: quiet, reuse: false });
    timings.push(`build dr: ${Date.now() - t0} ms`);
    env = { st, history, now: () => Date.now() };
  });

  after(async () => {
    if (timings.length) process.stderr.write(`\n    nemesis timings:\n      ${timings.join('\n      ')}\n`);
    await st?.down(quiet);
  });

  it('pause: rs1 answers nothing while frozen, and again after unpause', async () => {
    expect(await http(`http://${RIP.rs1}/`)).to.equal('200');
    const f = await inject('pause:rs1');
    try {
      expect((await st.host('rs1').lifecycle!.state()).paused).to.equal(true);
      expect(await http(`http://${RIP.rs1}/`), 'HTTP to a paused rs1').to.equal('000');
    } finally {
      await heal(f, 'pause:rs1');
    }
    expect((await st.host('rs1').lifecycle!.state()).paused).to.equal(false);
    expect(await http(`http://${RIP.rs1}/`)).to.equal('200');
    const [s, e] = expectStartEnd('pause', 'rs1');
    expect(s!.detail).to.equal('docker pause lvsh-dr-rs1');
    expect(e!.detail).to.match(/^docker unpause lvsh-dr-rs1 \(healing took \d+ ms\)$/);
  });

  it('partition client/rs1: neither reaches the other, everyone else still does; heal removes exactly its rules', async () => {
    expect(await http(`http://${RIP.rs1}/`)).to.equal('200');
    const f = await inject('partition:client/rs1');
    try {
      expect(await http(`http://${RIP.rs1}/`), 'client → rs1').to.equal('000');
      expect(await http(`http://${RIP.rs2}/`), 'client → rs2 (not partitioned)').to.equal('200');
      expect((await ping('10.89.30.3', 2, 'rs1')).received, 'rs1 → client ping').to.equal(0);
      // every source address of the client is cut, not only its first
      const fromLast = await st.exec('client', ['curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', '--interface', '10.89.30.21', `http://${RIP.rs1}/`], { allowFailure: true });
      expect(fromLast.stdout.trim(), 'client (source 10.89.30.21) → rs1').to.equal('000');
      expect((await st.exec('rs1', ['iptables', '-S'])).stdout.match(/lvs-harness partition client\/rs1/g)).to.have.length(32);
    } finally {
      await heal(f, 'partition:client/rs1');
    }
    expect(await http(`http://${RIP.rs1}/`)).to.equal('200');
    for (const n of ['client', 'rs1']) expect((await st.exec(n, ['iptables', '-S'])).stdout, `${n} rules after heal`).not.to.contain('lvs-harness partition');
    expectStartEnd('partition', 'client/rs1');
  });

  it('netem-delay=300ms on rs1: the client\'s round trips to rs1 take 300 ms more, then not', async () => {
    const base = await ping(RIP.rs1!, 5);
    expect(base.received).to.equal(5);
    expect(Math.max(...base.rtts), 'RTT before').to.be.below(100);
    const f = await inject('netem-delay=300ms:rs1');
    let during: number[] = [];
    try {
      during = (await ping(RIP.rs1!, 5)).rtts;
    } finally {
      await heal(f, 'netem-delay=300ms:rs1');
    }
    expect(during, 'RTTs during').to.have.length(5);
    // 300 ms ± 10 % jitter on rs1's replies
    expect(Math.min(...during), 'shortest RTT during').to.be.at.least(270);
    const afterRtts = (await ping(RIP.rs1!, 5)).rtts;
    expect(afterRtts).to.have.length(5);
    expect(Math.max(...afterRtts), 'RTT after heal').to.be.below(100);
    expect((await st.exec('rs1', ['tc', 'qdisc', 'show'])).stdout).not.to.contain('netem');
    const [s] = expectStartEnd('netem-delay', 'rs1');
    expect(s!.detail).to.match(/^tc qdisc add dev eth\d+ root netem delay 300ms 30000us \(lan 10\.89\.30\.11\)$/);
    timings.push(`netem-delay: RTT before max ${Math.max(...base.rtts)} ms, during min ${Math.min(...during)} ms, after max ${Math.max(...afterRtts)} ms`);
  });

  it('netem-loss=50% on rs1: replies go missing, then none do', async () => {
    const f = await inject('netem-loss=50%:rs1');
    let during = { received: 0, rtts: [] as number[] };
    try {
      during = await ping(RIP.rs1!, 30);
    } finally {
      await heal(f, 'netem-loss=50%:rs1');
    }
    // at 50 % loss the chance of 30 of 30 answered is 1e-9
    expect(during.received, 'answered of 30 during').to.be.below(30);
    expect((await ping(RIP.rs1!, 10)).received, 'answered of 10 after').to.equal(10);
    expectStartEnd('netem-loss', 'rs1');
    timings.push(`netem-loss=50%: ${during.received} of 30 answered during`);
  });

  it('link-down on rs1: unreachable and its default route gone; after heal reachable with the same routes', async () => {
    const routes = async () => (await st.exec('rs1', ['ip', '-4', 'route', 'show'])).stdout.trim();
    const before = await routes();
    expect(before).to.match(/^default via 10\.89\.30\.1 /m);
    const f = await inject('link-down:rs1');
    try {
      expect((await ping(RIP.rs1!, 2)).received, 'client → rs1 ping').to.equal(0);
      expect(await routes(), 'rs1 routes while down').not.to.match(/^default /m);
      expect((await st.exec('rs1', ['ip', '-o', 'link', 'show', 'eth0'])).stdout).to.match(/state DOWN/);
    } finally {
      await heal(f, 'link-down:rs1');
    }
    expect(await routes(), 'rs1 routes after heal').to.equal(before);
    await waitFor('rs1 to answer the client\'s ping after link up', async () => (await ping(RIP.rs1!, 1)).received === 1, { timeoutMs: 15_000, intervalMs: 200 });
    expect(await http(`http://${RIP.rs1}/`)).to.equal('200');
    expectStartEnd('link-down', 'rs1');
  });

  it('health on rs2: /health answers 503 while the app still serves, then 200', async () => {
    expect(await http(`http://${RIP.rs2}/health`)).to.equal('200');
    const f = await inject('health:rs2');
    try {
      expect(await http(`http://${RIP.rs2}/health`), '/health during').to.equal('503');
      expect(await http(`http://${RIP.rs2}/`), '/ during').to.equal('200');
    } finally {
      await heal(f, 'health:rs2');
    }
    expect(await http(`http://${RIP.rs2}/health`)).to.equal('200');
    expectStartEnd('health', 'rs2');
  });

  it('kill rs3: the container is gone; after heal rs3 runs, serves on its RIP and behind the VIP again', async () => {
    const f = await inject('kill:rs3');
    try {
      expect((await st.host('rs3').lifecycle!.state()).running).to.equal(false);
      expect(await http(`http://${RIP.rs3}/`), 'HTTP to a killed rs3').to.equal('000');
    } finally {
      await heal(f, 'kill:rs3');
    }
    expect((await st.host('rs3').lifecycle!.state()).running).to.equal(true);
    expect(await http(`http://${RIP.rs3}/`)).to.equal('200');
    // the VIP on lo and the ARP sysctls are back: rr over three servers reaches rs3 within three requests
    const servers = new Set<string>();
    for (let i = 0; i < 6; i++) servers.add((await body(`http://${VIP}/`)).match(/server=(\S+)/)?.[1] ?? 'none');
    expect([...servers].sort(), 'servers answering through the VIP').to.deep.equal(['rs1', 'rs2', 'rs3']);
    const [s, e] = expectStartEnd('kill', 'rs3');
    expect(s!.detail).to.equal('docker kill -s KILL lvsh-dr-rs3');
    expect(e!.detail).to.match(/^docker start lvsh-dr-rs3; restoreNode\(rs3\) \(healing took \d+ ms\)$/);
  });

  it('kill-app on rs2: its RIP refuses connections; after heal nginx and the UDP echo answer again', async () => {
    const f = await inject('kill-app:rs2');
    try {
      const r = await st.exec('client', ['curl', '-s', '-o', '/dev/null', '-m', '2', `http://${RIP.rs2}/`], { allowFailure: true });
      expect(r.exitCode, 'curl exit (7: connection refused)').to.equal(7);
      expect((await st.exec('rs2', ['pgrep', '-x', 'nginx'], { allowFailure: true })).exitCode).to.equal(1);
    } finally {
      await heal(f, 'kill-app:rs2');
    }
    expect(await http(`http://${RIP.rs2}/`)).to.equal('200');
    const udp = await st.exec('client', ['sh', '-c', 'echo hi | nc -u -w 1 "$1" 53', 'sh', RIP.rs2!], { allowFailure: true });
    expect(udp.stdout, 'UDP echo of rs2').to.contain('rs2');
    expectStartEnd('kill-app', 'rs2');
  });

  it('restart rs1: ends when rs1 is back; start and end events come together', async () => {
    const t0 = Date.now();
    await inject('restart:rs1');
    timings.push(`restart:rs1 took ${Date.now() - t0} ms`);
    expect(await http(`http://${RIP.rs1}/`)).to.equal('200');
    expect((await st.exec('rs1', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'lo'])).stdout).to.contain(`${VIP}/32`);
    const [s, e] = expectStartEnd('restart', 'rs1');
    expect(e!.t - s!.t, 'restart window (ms)').to.be.above(0);
  });

  it('runFault holds pause:rs3:3s for three seconds, the fault in for all of it', async () => {
    const t0 = Date.now();
    const run = runFault(env, 'pause:rs3:3s');
    await waitFor('rs3 to be paused by runFault', async () => (await st.host('rs3').lifecycle!.state()).paused, { timeoutMs: 10_000, intervalMs: 100 });
    const pausedAt = Date.now();
    const r = await run;
    const wall = Date.now() - t0;
    expect((await st.host('rs3').lifecycle!.state()).paused).to.equal(false);
    expect(r.endedAt - r.startedAt, 'fault window (ms)').to.be.within(3000, 8000);
    expect(Date.now() - pausedAt, 'paused until healed').to.be.at.least(2500);
    expectStartEnd('pause', 'rs3');
    timings.push(`runFault pause:rs3:3s: window ${r.endedAt - r.startedAt} ms, wall ${wall} ms`);
  });

  it('stop on a director that runs no keepalived fails saying so, and injects nothing', async () => {
    const e = await rejection(injectFault(env, 'stop:director'));
    expect(e.code).to.equal('ERR_LVS_NEMESIS');
    expect(e.message).to.equal('stop on director: no keepalived process runs there (pgrep -x keepalived found none)');
    expect(faultEvents('stop', 'director')).to.deep.equal([]);
  });

  it('Ctrl-C heals an active fault: a partition injected by another process is gone after SIGINT', async () => {
    const code = `
      import { resolveRuntime } from './harness/runtime/select.js';
      import { buildTopology } from './harness/topology/builder.js';
      import { loadTopology } from './harness/topology/loader.js';
      import { plan } from './harness/topology/planner.js';
      import { History } from './harness/history/history.js';
      import { injectFault } from './harness/nemesis/registry.js';
      const rt = await resolveRuntime({ log: () => {} });
      const st = await buildTopology(rt, plan(await loadTopology(${JSON.stringify(DR)})), { log: () => {} });
      await injectFault({ st, history: new History(), now: () => Date.now() }, 'partition:client/rs2');
      process.stdout.write('INJECTED\\n');
      setInterval(() => {}, 1000);
    `;
    // ping, which the kernel answers: this test does not depend on rs2's app
    expect((await ping(RIP.rs2!, 1)).received, 'client → rs2 ping before the child\'s partition').to.equal(1);
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      await waitFor(
        'the child to inject partition:client/rs2',
        () => {
          if (out.includes('INJECTED')) return true;
          if (child.exitCode !== null) throw Object.assign(new Error(`the child exited with ${child.exitCode}: ${err.trim()}`), { fatal: true });
          return false;
        },
        { timeoutMs: 120_000, intervalMs: 200 },
      );
      expect((await ping(RIP.rs2!, 2)).received, 'client → rs2 ping during the child\'s partition').to.equal(0);
      child.kill('SIGINT');
      const exitCode = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 60 s'), 60_000))]);
      expect(exitCode, `child exit (stderr: ${err.trim()})`).to.equal(130);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(err).to.contain('SIGINT: cleaning up');
    for (const n of ['client', 'rs2']) expect((await st.exec(n, ['iptables', '-S'])).stdout, `${n} rules after Ctrl-C`).not.to.contain('lvs-harness partition');
    expect((await ping(RIP.rs2!, 2)).received, 'client → rs2 ping after Ctrl-C').to.equal(2);
  });

  it('the history holds every fault of this run, each started before it ended', () => {
    const ev = history.events.filter((e): e is FaultEvent => e.type === 'fault');
    const open = new Map<string, FaultEvent>();
    for (const e of ev) {
      const k = `${e.fault} ${e.target}`;
      if (e.phase === 'start') {
        expect(open.has(k), `${k} started twice without an end`).to.equal(false);
        open.set(k, e);
      } else {
        expect(open.get(k), `${k} ended without a start`).to.not.equal(undefined);
        expect(e.t).to.be.at.least(open.get(k)!.t);
        open.delete(k);
      }
    }
    expect([...open.keys()], 'faults never ended').to.deep.equal([]);
    expect(ev.length, 'fault events').to.be.at.least(2);
  });
});
