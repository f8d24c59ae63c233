import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError, errUsage } from '../errors.js';
import type { History } from '../history/history.js';
import { bodyFilesScript, bodyUrlPath } from '../images/rs-app.js';
import { readState } from '../lab/vm.js';
import { REPORTERS, withHtmlSections } from '../report/index.js';
import type { RunFailure } from '../report/results.js';
import type { Progress } from '../report/terminal.js';
import { describeEnvironment, fileRevision } from '../runtime/environment.js';
import type { LabRequest } from '../runtime/release.js';
import { resolveRuntime, type Runtime } from '../runtime/select.js';
import type { RecordedCheck } from '../suite/context.js';
import { buildExplainer } from '../suite/evidence.js';
import { faultsHeld } from '../suite/faults.js';
import { runPipeline, stage, type PipelineDeps } from '../suite/pipeline.js';
import { buildTopology, teardownTopology, type StartedTopology } from '../topology/builder.js';
import { topologyFile } from '../topology/commands.js';
import type { Plan, PlannedService } from '../topology/planner.js';
import { loadPlan } from '../suite/load-plan.js';
import { getNemesis, parseFaultSpec } from '../nemesis/registry.js';
import { resolveTargets } from '../nemesis/common.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { withCeilingRatios } from './ceiling.js';
import { benchSection } from './html.js';
import type { BenchSettings } from './options.js';
import { rampNext } from './ramp.js';
import { BENCH_SCHEMA_V1, parseBench, type BenchEnvironment, type BenchMode, type BenchPoint, type BenchReport, type BenchRepetition, type BenchService, type ConnectionMode, type ModeName } from './schema.js';
import { errorsOf, modeKnees, summarisePoint } from './summarise.js';
import { parseQuiet, parseRepetition, quietScript, renderWrkScript, repetitionOf, writeScriptArgv, wrkRepetitionScript, type WrkRun } from './wrk.js';

/**
 * `lvs-harness bench <topology…>`: for each topology, build it, and for each of its TCP
 * services ramp wrk's concurrency through the VIP (keep-alive and a new connection per
 * request, each body size) until the knee, with the same load straight to one real server
 * beside it in the same rounds (the ceiling); then write reports/<run-id>/ as any run
 * (results.json, history.ndjson, junit.xml, summary.md, report.html with bench's section)
 * and bench.json. It is a configuration of the run pipeline (suite/pipeline.ts): one stage
 * per topology (its build, the wrk script and bodies, the faults held, the ramps, its
 * teardown), and bench.json as the pipeline's results step.
 */

export interface BenchRunOptions extends BenchSettings {
  /** shipped names or YAML files */
  topologies: string[];
  /** the directory the run directory goes under (default reports/) */
  out?: string;
  dockerHost?: string;
  /** `--release`, `--restart`: the lab to run in */
  lab?: LabRequest;
  log?: Logger;
  progress?: Progress;
}

export interface BenchRunResult {
  runId: string;
  reportDir: string;
  benchFile?: string;
  report?: BenchReport;
  error?: RunFailure;
  reports: { written: string[]; failed: { file: string; message: string }[] };
}

/** the bench row of a service's balancing: an IPVS forwarding method, or HAProxy for `proxy` */
export function benchModeOf(s: PlannedService): ModeName | undefined {
  if (s.mode === 'proxy') return 'haproxy';
  if (s.mode === 'mixed') return undefined;
  return s.mode;
}

/** The services bench can load with wrk: TCP on one port, an IPv4 VIP, one forwarding mode. */
export function benchServices(p: Plan): { services: PlannedService[]; skipped: string[] } {
  const services: PlannedService[] = [];
  const skipped: string[] = [];
  for (const s of p.services) {
    const why = s.protocol !== 'tcp' ? 'not TCP' : s.fwmark ? 'a firewall-mark service' : s.port === undefined ? 'no port' : s.family !== 4 ? 'IPv6' : !benchModeOf(s) ? 'mixed forwarding methods' : !s.realServers.length ? 'no real server' : undefined;
    if (why) skipped.push(`${s.name} (${why})`);
    else services.push(s);
  }
  return { services, skipped };
}

const CLIENT_TIMEOUT_EXTRA_MS = 120_000;

/** a point's key as the log and the history name it */
const pointName = (mode: string, connection: ConnectionMode, size: number, c: number) => `${mode} ${connection} ${size} B c=${c}`;

interface Target {
  mode: ModeName;
  url: (size: number) => string;
}

class ServiceBench {
  readonly points = new Map<ModeName, BenchPoint[]>();

  constructor(
    private readonly st: StartedTopology,
    private readonly client: string,
    private readonly o: BenchRunOptions,
    private readonly history: History,
    private readonly where: string,
    private readonly log: Logger,
  ) {}

  private async repetition(t: Target, run: WrkRun, warmup: number, label: string): Promise<BenchRepetition> {
    const script = wrkRepetitionScript(run, warmup);
    const r = await this.st.exec(this.client, ['sh', '-c', script], { allowFailure: true, timeoutMs: (run.seconds + warmup) * 1000 + CLIENT_TIMEOUT_EXTRA_MS });
    const { wrk, cpu } = parseRepetition(r.stdout, r.stderr);
    const rep = repetitionOf(wrk, cpu);
    this.history.append({ type: 'observe', t: Date.now(), node: this.client, what: 'bench-repetition', data: { where: this.where, mode: t.mode, connection: run.connection, url: run.url, concurrency: run.concurrency, ...rep, ...(cpu ? { softirqCores: cpu.softirqCores } : {}) } });
    const errs = errorsOf(rep);
    this.log(`${this.where} ${label}: ${rep.rate.toFixed(0)}/s, p99 ${rep.latency.p99Ms?.toFixed(1) ?? '—'} ms${errs ? `, ${errs} errors` : ''}${rep.directorCpuCores !== undefined ? `, kernel ${rep.directorCpuCores.toFixed(2)} cores` : ''}`);
    return rep;
  }

  /**
   * One point of the ramp for the mode, the ceiling's point at the same load in the same rounds
   * (repetition i of both back to back, so that ceiling.ts can pair them), warm-up first.
   */
  private async point(mode: Target, ceiling: Target | undefined, connection: ConnectionMode, size: number, c: number): Promise<BenchPoint> {
    const reps: { [k: string]: BenchRepetition[] } = { mode: [], ceiling: [] };
    for (let i = 0; i < this.o.repeat; i++) {
      const warm = i === 0 ? this.o.warmupSeconds : 0;
      for (const [k, t] of [['mode', mode], ['ceiling', ceiling]] as const) {
        if (!t) continue;
        const run: WrkRun = { url: t.url(size), concurrency: c, seconds: this.o.seconds, connection };
        reps[k]!.push(await this.repetition(t, run, warm, `${pointName(t.mode, connection, size, c)} ${i + 1}/${this.o.repeat}`));
      }
    }
    const key = { concurrency: c, sizeBytes: size, connection };
    if (ceiling) this.add('ceiling', summarisePoint(key, reps.ceiling!));
    const p = summarisePoint(key, reps.mode!);
    this.add(mode.mode, p);
    return p;
  }

  private add(mode: ModeName, p: BenchPoint) {
    this.points.set(mode, [...(this.points.get(mode) ?? []), p]);
  }

  /** The ramp of every (size, connection mode), each until its knee. */
  async ramp(mode: Target, ceiling: Target | undefined): Promise<void> {
    for (const size of this.o.sizes)
      for (const connection of this.o.connections) {
        const measured: BenchPoint[] = [];
        for (;;) {
          const next = rampNext(
            measured.map((p) => ({ concurrency: p.concurrency, rates: p.repetitions.map((r) => r.rate), errorRate: p.errorRate })),
            { steps: this.o.steps },
          );
          if ('knee' in next) {
            this.log(`${this.where} ${mode.mode} ${connection} ${size} B: knee ${next.knee.concurrency !== undefined ? `at ${next.knee.concurrency} connections, ${next.knee.rate?.toFixed(0)}/s` : 'not reached'} (${next.knee.reason})`);
            break;
          }
          measured.push(await this.point(mode, ceiling, connection, size, next.next));
        }
      }
  }

  modes(): BenchMode[] {
    return [...this.points.entries()]
      .sort(([a], [b]) => Number(a === 'ceiling') - Number(b === 'ceiling'))
      .map(([mode, points]) => ({ mode, points, knees: modeKnees(points, { steps: this.o.steps }) }));
  }
}

/**
 * How the client reaches a real server without IPVS. On one network (DR, TUN, HAProxy) it is
 * straight; in NAT the real servers sit on a network of their own, reached through the
 * director. There the client is attached to the real server's network for the ceiling (and
 * detached afterwards), so that the director is not even a router on the path; when that
 * fails the director routes, and the path says so.
 */
async function ceilingPath(st: StartedTopology, client: string, rs: PlannedService['realServers'][number]): Promise<{ path: string; undo: () => Promise<void> }> {
  const via = async () => (await st.exec(client, ['ip', 'route', 'get', rs.rip], { allowFailure: true })).stdout.match(/\svia\s(\S+)/)?.[1];
  const none = async () => {};
  const gw = await via();
  if (!gw) return { path: `straight from ${client} to ${rs.name} (${rs.rip}) on network ${rs.network}`, undo: none };
  const router = st.plan.nodes.find((n) => n.interfaces.some((i) => i.address === gw))?.name ?? gw;
  const net = st.plan.networks.find((n) => n.name === rs.network);
  const node = st.host(client);
  // attaching needs a node that can join the runtime's networks (a container); a host cannot
  const life = node.capabilities.networks ? node.lifecycle : undefined;
  if (net && life) {
    const attached = await life.attachNetwork(net.dockerName).then(
      () => true,
      () => false,
    );
    if (attached) {
      const undo = () => life.detachNetwork(net.dockerName).catch(() => {});
      if (!(await via())) return { path: `straight from ${client} to ${rs.name} (${rs.rip}): ${client} attached to network ${rs.network} for the ceiling (otherwise routed through ${router})`, undo };
      await undo();
    }
  }
  return { path: `through ${router} (${gw}) as a plain IP router, no IPVS: ${client} could not be attached to network ${rs.network}; the ceiling includes the director's forwarding`, undo: none };
}

/** Every body size answers with its length, through the VIP and straight from the real server, before a point is measured. */
async function checkBodies(st: StartedTopology, client: string, urls: string[], sizes: readonly number[]): Promise<void> {
  const checks = urls.flatMap((u) => sizes.map((s) => ({ url: `${u}${bodyUrlPath(s)}`, size: s })));
  const script = checks.map((c) => `printf '%s ' ${c.url}; curl -s -o /dev/null -m 20 -w '%{http_code} %{size_download}\\n' ${c.url} || echo fail`).join('\n');
  const out = (await st.exec(client, ['sh', '-c', script], { allowFailure: true, timeoutMs: 60_000 + checks.length * 20_000 })).stdout;
  const bad = checks.filter((c) => !out.split('\n').some((l) => l === `${c.url} 200 ${c.size}`));
  if (bad.length)
    throw new HarnessError('ERR_LVS_BENCH', `from ${client}, ${bad.map((b) => b.url).join(', ')} did not answer 200 with the body's size:\n  ${out.trim().split('\n').join('\n  ')}`, {
      hint: 'the real servers serve /bytes/<N> since builder revision 3: remove a topology left from before (lvs-harness down --all) and run again',
    });
}

/** the VM counts as quiet under this many busy cores (of the lab's 2, an idle emulated VM shows 0.1–0.3) */
export const QUIET_CORES = 0.5;
const QUIET_DEADLINE_MS = 120_000;

/**
 * Waits until the lab VM is quiet (under QUIET_CORES busy over a 2 s window), up to a deadline:
 * under emulation the engine stays busy for a while after a topology is built or removed, and
 * a point measured then measures the engine. Returns the last reading and whether it was quiet.
 */
async function waitQuiet(st: StartedTopology, client: string, log: Logger, where: string): Promise<{ cores?: number; quiet: boolean; waitedS: number }> {
  const t0 = Date.now();
  let cores: number | undefined;
  while (Date.now() - t0 < QUIET_DEADLINE_MS) {
    const r = await st.exec(client, ['sh', '-c', quietScript(2)], { allowFailure: true, timeoutMs: 30_000 });
    cores = parseQuiet(r.stdout);
    // no reading at all (no /proc/stat): nothing to wait for
    if (cores === undefined || cores < QUIET_CORES) return { ...(cores !== undefined ? { cores } : {}), quiet: true, waitedS: (Date.now() - t0) / 1000 };
  }
  const waitedS = (Date.now() - t0) / 1000;
  log(`${where}: the lab VM stayed busy (${cores!.toFixed(2)} cores) for ${waitedS.toFixed(0)} s; measuring anyway`);
  return { ...(cores !== undefined ? { cores } : {}), quiet: false, waitedS };
}

async function emulationOf(rt: Runtime): Promise<BenchEnvironment['emulation']> {
  if (rt.kind !== 'lab') return rt.kind === 'local' ? 'none' : 'unknown';
  const st = await readState().catch(() => undefined);
  return st?.accel ?? 'unknown';
}

const DIRECTOR_CPU_HOW =
  "measured as the lab VM's softirq time from /proc/stat: IPVS runs in softirq context, which no container's cgroup is charged for, and /proc/stat is not namespaced, so its aggregate cpu line read inside the client node just before and after each measured run (one exec with wrk, against /proc/uptime) is the whole VM kernel's system + irq + softirq time, in cores. It includes the client's and the real servers' network stacks too: the ceiling's figure is that share without the director, and the difference is the director's. HAProxy's own user-space time (the haproxy row) is not in it.";

/** What a bench run calls on the outside world, so that a test can run one without an engine. */
export interface BenchDeps extends PipelineDeps {
  buildTopology: (rt: Runtime, plan: Plan, o: { log: Logger }) => Promise<StartedTopology>;
  teardown: (rt: Runtime, topology: string, log: Logger) => Promise<unknown>;
}

const BENCH_DEPS: BenchDeps = {
  resolveRuntime: (r) => resolveRuntime(r),
  buildTopology: (rt, plan, b) => buildTopology(rt, plan, { ...b, explain: buildExplainer }),
  teardown: (rt, topology, log) => teardownTopology(rt.docker, topology, log),
};

export async function runBench(o: BenchRunOptions, deps: Partial<BenchDeps> = {}): Promise<BenchRunResult> {
  const d: BenchDeps = { ...BENCH_DEPS, ...deps };
  const log = o.log ?? defaultLog;
  const progress = o.progress;
  if (!o.topologies.length) throw errUsage('bench: name at least one topology (e.g. lvs-harness bench nat dr), or --compare OLD NEW');
  // every file is read and planned first: a bad one fails before anything is built
  const planned: { file: string; plan: Plan; services: PlannedService[] }[] = [];
  for (const t of o.topologies) {
    const file = topologyFile(t);
    const plan = await loadPlan(file, log);
    const { services, skipped } = benchServices(plan);
    if (!services.length) throw errUsage(`bench: topology ${plan.topology} has no service bench can load (TCP on a port, an IPv4 VIP, one forwarding method); skipped: ${skipped.join(', ') || 'none'}`);
    if (skipped.length) log(`bench: ${plan.topology}: not benched: ${skipped.join(', ')}`);
    if (!plan.nodes.some((n) => n.role === 'client')) throw errUsage(`bench: topology ${plan.topology} has no client node to run wrk in`);
    // a fault's target must exist in every topology benched: said before anything is built
    for (const f of o.faults ?? []) {
      const spec = parseFaultSpec(f);
      try {
        resolveTargets(plan, spec.name, getNemesis(spec.name).targets, spec.target);
      } catch (e) {
        throw errUsage(`bench: --fault ${f}: in topology ${plan.topology}: ${(e as Error).message}`, (e as { hint?: string }).hint);
      }
    }
    planned.push({ file, plan, services });
  }
  let bench: BenchReport | undefined;
  let benchAbsent = 'the run ended before bench measured a point, so no bench.json was written';
  // the same section `lvs-harness report` draws again from bench.json (benchSectionsOfRun, given to rerender)
  const reporters = withHtmlSections(REPORTERS, () => benchSection(bench ? { report: bench } : { absent: benchAbsent }));
  const checks: RecordedCheck[] = [];
  const topologies: BenchReport['topologies'] = [];
  const cost: BenchReport['harness']['topologies'] = [];
  let environment: BenchEnvironment | undefined;
  let benchFile: string | undefined;
  const out = await runPipeline(
    {
      reportsDir: o.out,
      log,
      progress,
      record: {
        suites: ['bench'],
        topology: { name: planned.map((p) => p.plan.topology).join('+'), file: planned.map((p) => p.file).join(','), plan: planned.map((p) => p.plan.hash).join('+'), reused: false },
        configRevision: fileRevision(planned[0]!.file),
        reporters,
      },
      dockerHost: o.dockerHost,
      lab: o.lab,
    },
    (run) => {
      const { runId, dir, startedAt, history, record } = run;
      record.checks = checks;
      let runtime: Runtime;
      let emulation: BenchEnvironment['emulation'];
      return {
        async onRuntime(rt) {
          runtime = rt;
          emulation = await emulationOf(rt);
        },
        // each topology in turn: built, benched and taken down before the next is built
        stages: planned.map(({ plan, services }) => {
          const timing = `bench:${plan.topology}`;
          let upSeconds = 0;
          let entry: BenchReport['harness']['topologies'][number] | undefined;
          let measured: BenchService[] = [];
          return stage<StartedTopology>({
            key: plan.topology,
            describe: `topology ${plan.topology}`,
            async build(rt) {
              const t0 = Date.now();
              const st = await d.buildTopology(rt, plan, { log });
              upSeconds = (Date.now() - t0) / 1000;
              return st;
            },
            async ready(st) {
              log(`topology ${plan.topology} ${st.reused ? 'reused' : `up in ${upSeconds.toFixed(1)} s`}`);
              cost.push((entry = { topology: plan.topology, upSeconds }));
              if (!environment) {
                const director = st.nodes('director')[0];
                const envP = describeEnvironment(runtime.docker, director ? st.host(director.name) : undefined);
                record.environment = envP;
                const env = await envP;
                const client = st.nodes('client')[0]!.name;
                const wrkVersion = (await st.exec(client, ['sh', '-c', 'wrk -v 2>&1 | head -n 1'], { allowFailure: true }).catch(() => undefined))?.stdout.match(/^(wrk \S+)/)?.[1];
                const haproxy = director ? (await st.exec(director.name, ['haproxy', '-v'], { allowFailure: true }).catch(() => undefined))?.stdout.match(/version (\S+)/)?.[1] : undefined;
                environment = { ...env, emulation, ...(wrkVersion ? { generator: wrkVersion } : { generator: 'wrk' }), ...(haproxy ? { haproxy } : {}) };
              }
              progress?.phase('bench');
              measured = await record.step('bench', () => prepareBench(st, plan, o, topologies), timing);
            },
            // faults held through every point (--fault): injected once the nodes are ready, healed
            // (also on an error or Ctrl-C, through injectFault's cleanup) before the teardown
            faults: (st) => faultsHeld(run, { st, history, now: () => Date.now() }, o.faults ?? [], { phase: 'bench', timing, label: plan.topology }),
            workload: (st) => record.step('bench', () => benchServicesOf(st, plan, services, o, history, measured, checks, st.nodes('client')[0]!.name, log), timing),
            reused: (st) => st.reused,
            async teardown(rt) {
              const t1 = Date.now();
              await d.teardown(rt, plan.topology, log);
              if (entry) entry.downSeconds = (Date.now() - t1) / 1000;
            },
            // a teardown that fails after a bench error must not hide it: said beside it
            teardownError: { title: `teardown ${plan.topology}`, suite: 'bench' },
          });
        }),
        async results(failed) {
          if (!topologies.length && failed) return;
          const finishedAt = new Date();
          const raw: BenchReport = withCeilingRatios({
            schema: BENCH_SCHEMA_V1,
            runId,
            startedAt: startedAt.toISOString(),
            finishedAt: finishedAt.toISOString(),
            environment: environment ?? { ...(await describeEnvironment()), emulation: 'unknown', generator: 'wrk' },
            settings: { seconds: o.seconds, warmupSeconds: o.warmupSeconds, repeat: o.repeat, steps: o.steps, sizes: o.sizes, connections: o.connections, generator: 'wrk', ...(o.faults?.length ? { faults: o.faults } : {}) },
            directorCpu: { source: 'lab-softirq', how: DIRECTOR_CPU_HOW },
            harness: { topologies: cost, suites: [], totalSeconds: (finishedAt.getTime() - startedAt.getTime()) / 1000 },
            // a service cut short before its first point has nothing to show
            topologies: topologies.map((t) => ({ ...t, services: t.services.filter((s) => s.modes.length) })),
          });
          try {
            // JSON has no NaN or undefined: what the reader will see is what is validated
            bench = parseBench(JSON.parse(JSON.stringify(raw)), 'bench.json');
            benchFile = path.join(dir, 'bench.json');
            const tmp = `${benchFile}.${process.pid}.tmp`;
            await writeFile(tmp, JSON.stringify(bench, null, 2) + '\n');
            await rename(tmp, benchFile);
          } catch (e) {
            benchFile = undefined;
            benchAbsent = `bench.json not written: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`;
            throw e;
          }
        },
      };
    },
    { resolveRuntime: d.resolveRuntime },
  );
  return { runId: out.runId, reportDir: out.dir, ...(benchFile ? { benchFile } : {}), ...(bench ? { report: bench } : {}), ...(out.results.error ? { error: out.results.error } : {}), reports: { written: [...out.reports.written, ...(benchFile ? [benchFile] : [])], failed: out.reports.failed } };
}

/** What a topology's ramps need on its nodes: wrk's script in the client, the body sizes on the real servers; its entry in bench.json. */
async function prepareBench(st: StartedTopology, plan: Plan, o: BenchRunOptions, topologies: BenchReport['topologies']): Promise<BenchService[]> {
  const client = st.nodes('client')[0]!.name;
  await st.exec(client, writeScriptArgv, { input: renderWrkScript() });
  // any --size beyond the builder's defaults, on every real server at once
  await Promise.all(plan.nodes.filter((n) => n.app).map((n) => st.exec(n.name, ['sh', '-c', bodyFilesScript(o.sizes)])));
  const out: BenchService[] = [];
  topologies.push({ topology: plan.topology, services: out });
  return out;
}

async function benchServicesOf(
  st: StartedTopology,
  plan: Plan,
  services: PlannedService[],
  o: BenchRunOptions,
  history: History,
  out: BenchService[],
  checks: RecordedCheck[],
  client: string,
  log: Logger,
): Promise<void> {
  for (const svc of services) {
    const mode = benchModeOf(svc)!;
    const rs = svc.realServers[0]!;
    const where = `${plan.topology}/${svc.name}`;
    const { path: cPath, undo } = await ceilingPath(st, client, rs);
    log(`${where}: ceiling ${cPath}`);
    const entry: BenchService = { service: svc.name, vip: svc.vip, port: svc.port!, modes: [], ceilingPath: cPath };
    out.push(entry);
    try {
      const vipUrl = `http://${svc.vip}:${svc.port}`;
      const ripUrl = `http://${rs.rip}:${rs.port}`;
      await checkBodies(st, client, [vipUrl, ripUrl], o.sizes);
      const q = await waitQuiet(st, client, log, where);
      log(`${where}: lab VM ${q.quiet ? 'quiet' : 'busy'} (${q.cores?.toFixed(2) ?? '?'} busy cores) after ${q.waitedS.toFixed(0)} s`);
      history.append({ type: 'observe', t: Date.now(), node: client, what: 'bench-quiet', data: { where, ...q } });
      const b = new ServiceBench(st, client, o, history, where, log);
      try {
        await b.ramp({ mode, url: (s) => `${vipUrl}${bodyUrlPath(s)}` }, { mode: 'ceiling', url: (s) => `${ripUrl}${bodyUrlPath(s)}` });
      } finally {
        // what was measured before an error stays in bench.json
        entry.modes = b.modes();
      }
    } finally {
      await undo();
    }
    for (const m of entry.modes) {
      const errs = m.points.filter((p) => p.errorRate > 0.01);
      checks.push({
        suite: 'bench',
        group: where,
        name: `${m.mode}: every ramp measured`,
        valid: m.points.length > 0 && m.points.some((p) => p.rate.median > 0),
        observed: m.knees.map((k) => `${k.connection} ${k.sizeBytes} B: knee ${k.concurrency ?? '—'} (${k.reason}) ${k.rate?.toFixed(0) ?? '—'}/s`).join('; '),
        expected: 'a rate above zero at some point of the ramp',
        rule: 'bench measures; it judges only that the load got through at all',
        detail: `${m.points.length} points${errs.length ? `; over 1% errors at ${errs.map((p) => `${p.connection} ${p.sizeBytes} B c=${p.concurrency}`).join(', ')}` : ''}`,
      });
    }
  }
}

/** The terminal's end of a bench run: each mode's knees over the ceiling, then where the files are. */
export function formatBenchEnd(r: BenchRunResult): string {
  const lines: string[] = [''];
  for (const t of r.report?.topologies ?? [])
    for (const s of t.services) {
      lines.push(`${t.topology}/${s.service} (${s.vip}:${s.port}); ceiling ${s.ceilingPath ?? ''}`);
      for (const m of s.modes)
        for (const k of m.knees) {
          const p = m.points.find((x) => x.concurrency === k.concurrency && x.sizeBytes === k.sizeBytes && x.connection === k.connection);
          const cpu = p?.directorCpuPer1000?.median;
          lines.push(
            `  ${m.mode.padEnd(8)} ${k.connection.padEnd(14)} ${String(k.sizeBytes).padStart(8)} B  knee ${String(k.concurrency ?? '—').padStart(4)} conns ${(k.rate?.toFixed(0) ?? '—').padStart(7)}/s  p99 ${p?.latency.p99Ms?.toFixed(1) ?? '—'} ms${k.ratio !== undefined ? `  ${k.ratio.toFixed(2)} of the ceiling` : ''}${cpu !== undefined && k.connection === 'new-connection' ? `  kernel ${cpu.toFixed(3)} cores per 1,000/s` : ''}  (${k.reason})`,
          );
        }
    }
  if (r.error) lines.push(`ERROR ${r.error.phase}: ${r.error.code ? `${r.error.code}: ` : ''}${r.error.message}${r.error.hint ? `\n  → ${r.error.hint}` : ''}`);
  for (const f of r.reports.failed) lines.push(`report file not written: ${f.file}: ${f.message}`);
  if (r.benchFile) lines.push(`bench:   ${r.benchFile}`);
  lines.push(`results: ${r.reportDir}/results.json`, `report:  ${r.reportDir}/report.html`);
  return lines.join('\n');
}
