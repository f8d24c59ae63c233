import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { DEFAULT_RELEASE_NAME, RELEASE_FLAGS_USAGE, resolveTarget } from './keepalived/releases.js';
import { prepareValidate, validateRunOptions } from './validate/command.js';
import { HarnessError, errUsage, isHarnessError } from './errors.js';
import { parseExpectSpec } from './expect/spec.js';
import { buildLab } from './lab/build.js';
import { labPaths } from './lab/paths.js';
import { endpointOf, labDown, labStatus, labUp, readState, stateRelease } from './lab/vm.js';
import { readLockup } from './lab/watchdog.js';
import { DEFAULT_RELEASE, LAB_RELEASES, parseRelease } from './lab/recipe.js';
import { doctor, formatDoctor, installHostPackages, missingHostPackages, installCommand } from './runtime/doctor.js';
import { smoke } from './smoke.js';
import { buildExplainer } from './suite/evidence.js';
import { loadPlan } from './suite/load-plan.js';
import { lintCommand } from './lint/command.js';
import { compareCommand } from './compare/command.js';
import { benchCommand } from './bench/command.js';
import { benchSectionsOfRun } from './bench/html.js';
import { rerender, listRuns, formatRuns } from './report/index.js';
import { failureLine, labText } from './report/format.js';
import { describeNemeses } from './nemesis/registry.js';
import { createProgress, renderCheckTable, type EndStatus, type Progress } from './report/terminal.js';
import { availableSuites, keepalivedSuites, runSuites, suiteNames, type RunResult } from './suite/runner.js';
import { formatShard, parseShard, shardOf } from './suite/shard.js';
import { formatMatrixPlan, planMatrix } from './suite/matrix.js';
import { mergeReportsCommand } from './report/merge.js';
import { buildTopology, teardownTopology } from './topology/builder.js';
import { findNode, formatTable, ipvsTable, nodeTable, shippedTopologies, topologyFile, topologyName } from './topology/commands.js';
import { findHostNode } from './topology/hosts.js';
import type { Node } from './runtime/node.js';
import { checkLabRelease, resolveRuntime } from './runtime/select.js';
import { labRequest, type LabRequest } from './runtime/release.js';
import { runCleanup, signalExitCode } from './util/cleanup.js';
import { log, type Logger } from './util/log.js';
import { REPO_ROOT } from './lab/paths.js';
import path from 'node:path';

/** A description in the help's right-hand column, wrapped to its width. */
function helpColumn(text: string, width = 72): string {
  const lines: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) (lines.push(line), (line = w));
    else line = line ? `${line} ${w}` : w;
  }
  return [...lines, line].join(`\n${' '.repeat(45)}`);
}

/** The suites, keepalived ones apart, from suites/ (so the help cannot lag behind a new suite). */
function suiteList(): string {
  const ha = keepalivedSuites();
  const plain = suiteNames().filter((s) => !ha.includes(s));
  return `${plain.join(', ')}${ha.length ? `, and on keepalived topologies ${ha.join(', ')}` : ''}`;
}

/** The lab flags of the commands that start the lab, and what they do (run's help says it, the others point to it). */
const LAB_FLAGS_USAGE = `[--release ${LAB_RELEASES.join('|')}] [--restart]`;
const LAB_FLAGS_HELP = `--release ${LAB_RELEASES.join('|')} runs in that Debian release's lab (without it: the running lab, else ${DEFAULT_RELEASE}) and results.json records it (runtime.release); a lab of another release running is an error (ERR_LVS_LAB_OTHER_RELEASE, exit 1) unless --restart, which stops it and boots this one; --release with --docker-host (or DOCKER_HOST) is a usage error: it chooses a lab`;

/** The help, with the shipped topologies and suites read from the checkout. */
export const help = (): string => `lvs-harness — chaos and conformance tests for Linux Virtual Server (IPVS) and keepalived

Usage:
  lvs-harness main [--shard i/n] [--parallel N] ${LAB_FLAGS_USAGE} [--docker-host URL]
                                             the main job: start the runtime (the lab by default), run the IPVS
                                             smoke check and the modes suite on nat, dr, tun and fullnat; one
                                             reports/<run-id>/results.json per run; exit 1 when a check fails;
                                             --shard i/n: the smoke check and shard i of n of the topologies;
                                             --parallel N: N topologies at a time (default 2); --release as run
  lvs-harness smoke ${LAB_FLAGS_USAGE} [--docker-host URL]
                                             the IPVS smoke check alone; --release as run
  lvs-harness up <topology> ${LAB_FLAGS_USAGE} [--docker-host URL]
                                             ${helpColumn(`build a topology (file, or shipped name: ${shippedTopologies().join(' ')}), print its nodes, leave it running; --release as run`)}
  lvs-harness down <topology> | --all        undo what a run changed on a topology's SSH hosts, remove its containers and networks (all of the harness's)
  lvs-harness exec <node> [--topology T] -- <argv...>
                                             run a command in a node (a container, or over SSH a host of a
                                             topology that is up); its output and exit code are passed through
  lvs-harness ipvs <node> [--topology T] [--json]
                                             the node's IPVS table with connection and packet counters
  lvs-harness run <topology> --suite <name> [--suite <name>…|all] [--fault <spec>…] [--grep <regex>] [--expect <targets>] [--keep] ${LAB_FLAGS_USAGE} [--docker-host URL]
                                             ${helpColumn(
                                               `build (or reuse) the topology, run suites (${suiteList()}) and write reports/<run-id>/: results.json, history.ndjson, junit.xml, summary.md, report.html, also when the run ends in an error; exit 1 when a check fails or the run ends in an error. --fault <name>[=<param>]:<target>[:<duration>] injects a fault while the suites run (kill, stop, pause, restart, kill-keepalived, kill-haproxy, kill-app, link-down, partition a/b, netem-delay, netem-loss, health), healed after the duration or at the end; --suite all: every suite that can judge something on the topology (a keepalived suite only with a pair, sync only with sync_daemon, protocols only with a UDP, firewall-mark or IPv6 service, and the schedulers dh, lblc and lblcr only with a firewall-mark service over several addresses; what is left out is logged with why and recorded in results.json); --grep runs only the tests whose title matches (kill-haproxy); --expect failover=2s,removal=10s,errors=0 fails a check whose measured value is past the operator's target (keys: failover, removal, reinsertion, preemption, errors), over the topology's expect: section. ${LAB_FLAGS_HELP}`,
                                             )}
  lvs-harness matrix <topology…> --suite <name> [--suite <name>…|all] [--shard i/n] [--out DIR] [--list] [--docker-host URL]
                                             ${helpColumn("every topology × suite pair (all: every suite; keepalived suites only on topologies with a keepalived pair), each topology's suites in one run; --shard i/n runs only shard i of n of the pairs (as Playwright's --shard: the n shards together run every pair once, cut where the estimated time balances), --out DIR writes the runs under DIR instead of reports/, --list prints the shard's pairs and runs nothing; prints a table as main does; exit 1 when a check fails")}
  lvs-harness faults                         the faults with their targets and parameters
  lvs-harness lint FILE… [--pair A B] ${RELEASE_FLAGS_USAGE} [--instance ID] [--format text|json|sarif]
                                             check keepalived.conf files without the lab: what keepalived rejects or
                                             silently changes, and, for a pair, what splits the brain or blocks a
                                             failover; --release (default ${DEFAULT_RELEASE_NAME}) or --keepalived-version
                                             picks the keepalived whose keywords count; exit 1 on an error or
                                             warning, 2 on a usage error
  lvs-harness validate --keepalived A.conf [--peer B.conf] [--ipvsadm RULES] [--suite <name>…] [--expect <targets>] [--instance ID] ${RELEASE_FLAGS_USAGE} [--restart] [--keep] [--docker-host URL]
                                             ${helpColumn("an operator's own files run for real: lint them (for the keywords of --release's keepalived, or --keepalived-version's), derive a lab topology (one director per file, the real servers and VIPs they name, a client), print the translation of their addresses and interfaces into the lab, run their own keepalived.conf translated (keepalived -t inside the node first) and the suites that apply (modes; failover, health, sync for a pair); reports as run, with the findings and the translation; exit codes as run. --release also runs them in that release's lab, as run's --release (--keepalived-version alone picks no lab)")}
  lvs-harness report <run-dir>               ${helpColumn("render junit.xml, summary.md and report.html again from a run's results.json and history.ndjson, and a bench run's Bench section from its bench.json (or a line saying why it cannot be read)")}
  lvs-harness merge-reports DIR… [--out DIR]
                                             ${helpColumn('the runs of a sharded matrix as one run: reads each run directory (or every run directory under DIR) and writes one results.json (every check and error with its run of origin, grouped as <topology>/<suite>; the worst verdict), history.ndjson, junit.xml, summary.md and report.html to --out DIR (default reports/<new run-id>); exit 0 once written, 1 when a report file could not be written, 2 on bad input')}
  lvs-harness runs [--reports DIR] [--json]  past runs, newest first, with their verdicts
  lvs-harness compare RUN_A RUN_B [--format text|json] [--html FILE]
                                             ${helpColumn('two run directories side by side: checks whose verdict changed, measured times (with a rank test over the repetitions), distributions and the environment (kernel, keepalived, ipvsadm, Docker); exit 1 when a check went from pass to fail, 2 on a usage error')}
  lvs-harness bench <topology…> [--seconds N] [--repeat N] [--size BYTES…] [--concurrency 1,4,16,64,256] [--connection keep-alive|new-connection] [--warmup S] [--out DIR] ${LAB_FLAGS_USAGE} [--docker-host URL]
                                             ${helpColumn("performance: for each topology's TCP services, wrk in the client through the VIP (keep-alive requests/s and new connections/s, each --size of body, default 1KiB and 256KiB) up a concurrency ramp until over 1% errors or no more rise (the knee), --repeat repetitions per point (default 3, --seconds 10 each, a warm-up excluded), the same load straight to one real server beside it (the ceiling), and the lab VM's kernel CPU per 1,000 new connections/s from /proc/stat; writes reports/<run-id>/ with bench.json and report.html's charts; haproxy-ha gives the HAProxy row; --release as run")}
  lvs-harness bench --compare OLD NEW [--format text|json] [--all]
                                             ${helpColumn('two bench runs (bench.json or their run directories): per figure (rate and p99 over the ceiling, errors, kernel CPU) the change and whether it is beyond the repetitions\' noise (Mann-Whitney U, α 0.05, changes under 2% are noise); exit 1 on a regression, 2 on a usage error')}
  lvs-harness lab build [--release ${LAB_RELEASES.join('|')}] [--force] [--json]
                                             ${helpColumn(`build every lab artefact of a Debian release (default ${DEFAULT_RELEASE}: kernel 6.1, keepalived 2.2.7; trixie: kernel 6.12, keepalived 2.3.3) from Debian's archive; each release's build is cached side by side`)}
  lvs-harness lab up [--release ${LAB_RELEASES.join('|')}] [--restart] [--memory MiB] [--cpus N] [--port N] [--accel tcg|kvm] [--timeout S] [--cold] [--json]
                                             ${helpColumn(`boot the lab VM and wait until its Docker API answers; without --release the running lab, else ${DEFAULT_RELEASE}. One lab runs at a time: a lab of another release running is an error, unless --restart (stop it, boot this one)`)}
  lvs-harness lab status [--release R] [--json]
                                             ${helpColumn('{ running, release, pid, endpoint, kernel, ipvs, uptimeSeconds }; with --release, exit 3 unless a lab of that release runs')}
  lvs-harness lab env                        shell exports pointing docker, dockerode and testcontainers at the lab
  lvs-harness lab down [--release R]         stop the lab VM; idempotent (with --release, only a lab of that release)
  lvs-harness doctor [--fix] [--json]        what this machine has, what is missing, and how to install it
  lvs-harness setup                          install missing host packages (root; asks on a terminal, automatic with CI=true)

Environment:
  DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH   an explicit engine (skips the lab)
  LVS_HARNESS_LAB_HOME     where lab artefacts and state live (default: .cache/lab in the checkout)
  LVS_HARNESS_LAB_PORT     the lab's Docker API port on 127.0.0.1 (default 23750)
  LVS_HARNESS_LAB_ACCEL    tcg (default) or kvm
`;

type Opts = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Opts>(argv: string[], options: O, where: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  } catch (e) {
    throw errUsage(`${where}: ${(e as Error).message.split('\n')[0]}`, `see \`lvs-harness --help\``);
  }
}

/** `--release` and `--restart` of a command that starts the lab (run, main, up, validate, bench, smoke). */
const LAB_FLAGS = { release: { type: 'string' }, restart: { type: 'boolean' } } as const;

/**
 * A command's lab flags, said wrong (an unknown release, a release beside --docker-host) as a
 * usage error, and a lab of another release running as lab up's refusal: both before anything runs.
 */
async function labFlags(values: Record<string, unknown>, dockerHost: string | undefined, command: string): Promise<LabRequest> {
  const lab = labRequest({ release: values.release, restart: values.restart, dockerHost, env: process.env, command });
  await checkLabRelease(lab);
  return lab;
}

function intOpt(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw errUsage(`--${name}: "${String(v)}" is not a whole number from ${min} to ${max}`);
  return n;
}

const print = (o: unknown) => process.stdout.write((typeof o === 'string' ? o : JSON.stringify(o, null, 2)) + '\n');

/**
 * Progress for a run: on a terminal one line redrawn in place on stderr (and the harness's log
 * lines become its steps, so nothing tears it); elsewhere plain timestamped lines.
 */
function runProgress(): { progress: Progress; log: Logger } {
  const tty = !!process.stderr.isTTY && !process.env.CI;
  const progress = createProgress({ tty, write: (t) => process.stderr.write(t), columns: process.stderr.columns });
  return { progress, log: tty ? (m) => progress.step(m) : log };
}

/** Progress of one of several runs side by side: plain lines, each led by the run's topology. */
function prefixedProgress(topology: string): { progress: Progress; log: Logger } {
  const write = (t: string) => process.stderr.write(t.replace(/^\[([0-9:]+)\] /gm, `[$1] ${topology}: `));
  const progress = createProgress({ tty: false, write });
  return { progress, log: (m) => progress.step(m) };
}

/** The end of a run on the terminal: the error that ended it, every check (failures first), then where the report is. */
function printRunEnd(r: RunResult): void {
  print('');
  const ended = r.error ? [{ title: r.error.phase, message: failureLine(r)!, suite: r.interrupted ? 'interrupted' : 'error' }] : [];
  print(renderCheckTable(r.checks, { errors: [...ended, ...r.errors], color: !!process.stdout.isTTY, width: process.stdout.columns ?? 120 }));
  if (r.error && !r.interrupted) process.stderr.write(`lvs-harness: ${r.error.code ? `${r.error.code}: ` : ''}${r.error.message}${r.error.hint ? `\n  → ${r.error.hint}` : ''}\n`);
  for (const f of r.reports.failed) print(`report file not written: ${f.file}: ${f.message}`);
  const lab = r.runtime?.kind === 'lab' ? labText(r) : undefined;
  if (lab) print(`lab:     ${lab}`);
  print(`results: ${r.reportDir}/results.json`);
  print(`report:  ${r.reportDir}/report.html`);
}

const statusOf = (r: RunResult): EndStatus => (r.interrupted ? 'interrupted' : r.error ? 'error' : r.valid === true ? 'passed' : r.valid === false ? 'failed' : 'unknown');

async function labCommand(sub: string | undefined, rest: string[]): Promise<number> {
  switch (sub) {
    case 'build': {
      const { values } = parse(rest, { release: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, 'lab build');
      const release = parseRelease(values.release) ?? DEFAULT_RELEASE;
      const r = await buildLab({ force: !!values.force, release });
      if (values.json) print(r);
      else {
        const steps = Object.entries(r.steps).map(([k, v]) => `${k}: ${v === 'cached' ? 'cached' : `${v} s`}`).join(', ');
        print(`${r.release} lab ${r.artifacts.key} ready in ${r.seconds} s (${steps})\nkernel ${r.artifacts.kernelPackage}, node image ${r.artifacts.nodeImageTag}${r.release === DEFAULT_RELEASE ? '' : `\nboot it: lvs-harness lab up --release ${r.release}`}`);
      }
      return 0;
    }
    case 'up': {
      const { values } = parse(
        rest,
        { release: { type: 'string' }, restart: { type: 'boolean' }, memory: { type: 'string' }, cpus: { type: 'string' }, port: { type: 'string' }, accel: { type: 'string' }, timeout: { type: 'string' }, cold: { type: 'boolean' }, json: { type: 'boolean' } },
        'lab up',
      );
      const release = parseRelease(values.release);
      if (values.accel !== undefined && values.accel !== 'tcg' && values.accel !== 'kvm') throw errUsage(`--accel: "${String(values.accel)}" is not tcg or kvm`);
      const st = await labUp({
        memoryMiB: intOpt(values.memory, 'memory', 512, 65536),
        cpus: intOpt(values.cpus, 'cpus', 1, 64),
        port: intOpt(values.port, 'port', 1024, 65535),
        accel: values.accel as 'tcg' | 'kvm' | undefined,
        timeoutMs: (intOpt(values.timeout, 'timeout', 10, 3600) ?? 600) * 1000,
        cold: !!values.cold,
        release,
        restart: !!values.restart,
      });
      print(values.json ? st : `${st.release} lab running: pid ${st.pid}, ${st.endpoint}, kernel ${st.kernel}, ipvs ${st.ipvs ? 'loaded' : 'missing'}, docker ${st.docker}\nrun \`eval "$(lvs-harness lab env)"\` to point docker at it`);
      return 0;
    }
    case 'status': {
      const { values } = parse(rest, { release: { type: 'string' }, json: { type: 'boolean' } }, 'lab status');
      const release = parseRelease(values.release);
      const st = await labStatus();
      const other = st.running && release && st.release !== release;
      if (values.json) print(st);
      else if (other) print(`not running: the running lab is ${st.release} (pid ${st.pid}), not ${release}; switch with \`lvs-harness lab up --release ${release} --restart\``);
      else {
        const lockup = st.running ? undefined : await readLockup();
        print(
          st.running
            ? `running ${st.release}: pid ${st.pid}, ${st.endpoint}, kernel ${st.kernel}, ipvs ${st.ipvs ? 'loaded' : 'no'}, docker ${st.docker}, up ${st.uptimeSeconds} s, RSS ${st.rssMiB} MiB`
            : `not running${lockup ? ` (at ${lockup.at} the watchdog stopped it: ${lockup.summary}; its console is in ${labPaths().lastConsole})` : ''}`,
        );
      }
      return st.running && !other ? 0 : 3;
    }
    case 'env': {
      parse(rest, {}, 'lab env');
      const st = await readState();
      if (!st) throw new HarnessError('ERR_LVS_LAB_DOWN', 'the lab is not running', { hint: 'start it: lvs-harness lab up' });
      const ep = endpointOf(st);
      print(
        [
          `export DOCKER_HOST=tcp://127.0.0.1:${st.port}`,
          'export DOCKER_TLS_VERIFY=1',
          `export DOCKER_CERT_PATH=${st.tlsDir}`,
          // the lab has no registry to pull testcontainers' reaper from; lvs-harness reaps by label
          'export TESTCONTAINERS_RYUK_DISABLED=true',
          `# ${stateRelease(st)} lab, node image: ${st.nodeImageTag}; certificate files: ${ep.kind === 'tcp' ? ep.tls?.certPath : ''}`,
        ].join('\n'),
      );
      return 0;
    }
    case 'down': {
      const { values } = parse(rest, { release: { type: 'string' } }, 'lab down');
      const release = parseRelease(values.release);
      const r = await labDown({ release });
      if (r.otherRelease) print(`left running: the running lab is ${r.otherRelease}, not ${release} (\`lvs-harness lab down\` stops whichever runs)`);
      else print(r.stopped.length ? `lab stopped (pid ${r.stopped.join(', ')})` : 'lab was not running');
      return 0;
    }
    default:
      throw errUsage(`lab: unknown subcommand "${sub ?? ''}" (build, up, status, env, down)`);
  }
}

async function setup(): Promise<number> {
  const missing = await missingHostPackages();
  if (!missing.length) return 0;
  const cmd = installCommand(missing)!;
  const root = !process.getuid || process.getuid() === 0;
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  let consent = root && (ci || process.env.LVS_HARNESS_INSTALL === '1');
  if (root && !consent && process.stdin.isTTY) {
    const { createInterface } = await import('node:readline/promises');
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const a = await rl.question(`lvs-harness needs these Debian packages: ${missing.join(' ')}\nInstall them now with apt-get? [Y/n] `);
    rl.close();
    consent = !/^n/i.test(a.trim());
  }
  if (!consent)
    throw new HarnessError('ERR_LVS_MISSING_PACKAGES', `missing host packages: ${missing.join(' ')}`, {
      hint: `install them as root:\n    ${cmd}\n  (setup installs them by itself as root with CI=true or LVS_HARNESS_INSTALL=1)`,
    });
  await installHostPackages(missing, log);
  const still = await missingHostPackages();
  if (still.length) throw new HarnessError('ERR_LVS_MISSING_PACKAGES', `still missing after apt-get: ${still.join(' ')}`);
  return 0;
}

/** The shipped topologies the main job checks, one per forwarding mode. */
export const MAIN_TOPOLOGIES = ['nat', 'dr', 'tun', 'fullnat'] as const;

/**
 * The node `exec` and `ipvs` act on: a real host of a topology built here (over SSH, no lab
 * needed), else the node's container in the running lab.
 */
async function commandNode(name: string, topology: string | undefined, dockerHost: string | undefined): Promise<Node> {
  const host = await findHostNode(name, topology);
  if (host) return host;
  const rt = await resolveRuntime({ dockerHost, log, startLab: false });
  return findNode(rt.docker, name, topology);
}

async function runSmoke(rest: string[]): Promise<number> {
  const { values } = parse(rest, { 'docker-host': { type: 'string' }, ...LAB_FLAGS }, 'smoke');
  const dockerHost = values['docker-host'] as string | undefined;
  const lab = await labFlags(values, dockerHost, 'smoke');
  const r = await smoke({ dockerHost, lab });
  for (const c of r.checks) print(`${c.valid === true ? 'PASS' : c.valid === false ? 'FAIL' : 'UNKNOWN'}  ${c.name}${c.detail ? `  (${c.detail})` : ''}`);
  print(`${r.checks.filter((c) => c.valid === true).length} passed, ${r.checks.filter((c) => c.valid !== true).length} failed`);
  if (r.runtime) print(`runtime: ${r.runtime.kind}${r.runtime.release ? ` ${r.runtime.release}` : ''} (${r.runtime.endpoint}, kernel ${r.runtime.kernel}, Docker ${r.runtime.dockerVersion})`);
  if (r.error) print(`ERROR smoke: ${failureLine(r)}`);
  print(`report: ${r.reportDir}/results.json`);
  return r.valid === true && !r.error ? 0 : 1;
}

/** The main job: the IPVS smoke check, then the modes suite on every shipped topology. */
async function runMain(rest: string[]): Promise<number> {
  const { values } = parse(rest, { 'docker-host': { type: 'string' }, shard: { type: 'string' }, parallel: { type: 'string' }, ...LAB_FLAGS }, 'main');
  const dockerHost = values['docker-host'] as string | undefined;
  const lab = labRequest({ release: values.release, restart: values.restart, dockerHost, env: process.env, command: 'main' });
  // --shard i/n: this machine's part of the topologies (read before anything runs); the smoke check runs in every shard
  const shard = parseShard(values.shard as string | undefined, 'main');
  const topologies = shardOf(MAIN_TOPOLOGIES, shard);
  if (shard) print(`main shard ${formatShard(shard)}: ${topologies.length ? topologies.join(', ') : `no topology (${MAIN_TOPOLOGIES.length} over ${shard.total} shards)`} after the smoke check`);
  // the overview page, reports/main-<run-id>/index.html, links every run's report
  const { OVERVIEW_PREFIX, writeMainOverview } = await import('./report/overview.js');
  const overviewId = `${OVERVIEW_PREFIX}${(await import('./util/run-id.js')).newRunId()}`;
  const startedAt = new Date();
  await checkLabRelease(lab);
  const smokeResult = await smoke({ dockerHost, lab });
  const smokeMs = Date.now() - startedAt.getTime();
  const mainRuns: { topology: string; result: RunResult; ms: number }[] = [];
  const rows: [string, string, number, number, string][] = [['smoke', smokeResult.error ? 'ERROR' : smokeResult.runtime!.kind, smokeResult.checks.filter((c) => c.valid === true).length, smokeResult.checks.filter((c) => c.valid !== true).length + (smokeResult.error ? 1 : 0), `${smokeResult.reportDir}/results.json`]];
  if (smokeResult.error) print(`ERROR smoke: ${failureLine(smokeResult)}`);
  // without a working smoke check (or runtime) every topology would fail the same way, slowly
  let stop = !!smokeResult.error;
  // --parallel N topologies at a time (default 2): their subnets differ, and one's waits (an
  // estimator period, a probe's timeout) are the other's CPU time. Side by side, each run's
  // lines carry its topology's name; the table keeps the topologies' order.
  const parallel = values.parallel === undefined ? 2 : Number(values.parallel);
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 8) throw errUsage(`main: --parallel ${String(values.parallel)}: expected a whole number of topologies at a time from 1 to 8`);
  const done: ({ rows: TableRow[]; lines: string[]; run: { topology: string; result: RunResult; ms: number } } | undefined)[] = topologies.map(() => undefined);
  let next = 0;
  const worker = async () => {
    while (!stop && next < topologies.length) {
      const i = next++;
      const t = topologies[i]!;
      const { progress, log: runLog } = parallel > 1 ? prefixedProgress(t) : runProgress();
      const t0 = Date.now();
      const r = await runSuites({ topologyFile: topologyFile(t), suites: ['modes'], dockerHost, lab, log: runLog, progress }).catch((e) => {
        progress.end('error');
        throw e;
      });
      progress.end(statusOf(r));
      const passed = r.checks.filter((c) => c.valid === true).length;
      const lines: string[] = [];
      if (r.error) lines.push(`ERROR ${t}: ${failureLine(r)}`);
      for (const c of r.checks.filter((x) => x.valid !== true)) lines.push(`FAIL  ${t}: ${c.group}: ${c.name}\n        ${c.detail ?? ''}`);
      for (const e of r.errors) lines.push(`ERROR ${t}: ${e.title}: ${e.message}`);
      for (const l of lines) print(l);
      done[i] = { rows: [[`${t} modes`, r.error ? 'ERROR' : r.valid === true ? 'pass' : 'FAIL', passed, r.checks.length - passed + r.errors.length + (r.error ? 1 : 0), `${r.reportDir}/report.html`]], lines, run: { topology: t, result: r, ms: Date.now() - t0 } };
      if (r.error?.phase === 'runtime') stop = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, topologies.length) }, worker));
  for (const d of done) {
    if (!d) continue;
    rows.push(...d.rows);
    mainRuns.push(d.run);
  }
  print('');
  for (const [what, verdict, p, f, report] of rows) print(`${what.padEnd(14)} ${verdict.padEnd(5)} ${String(p).padStart(3)} passed ${String(f).padStart(3)} failed   ${report}`);
  const passed = rows.reduce((a, r) => a + r[2], 0);
  const failed = rows.reduce((a, r) => a + r[3], 0);
  print(`${passed} passed, ${failed} failed`);
  if (smokeResult.runtime?.kind === 'lab') print(`the ${smokeResult.runtime.release ? `${smokeResult.runtime.release} ` : ''}lab stays up for the next run; stop it with \`lvs-harness lab down\``);
  // last: the one page to open; a page that could not be written changes no exit code
  print(
    await writeMainOverview({ id: overviewId, startedAt, smoke: smokeResult, smokeMs, runs: mainRuns, planned: topologies }).then(
      (file) => `overview: ${file}`,
      (e: unknown) => `overview not written: ${(e as Error).message}`,
    ),
  );
  return failed ? 1 : 0;
}

type TableRow = [what: string, verdict: string, passed: number, failed: number, report: string];

/** The table main and matrix end with: one row per run, then the totals. */
function printRunTable(rows: readonly TableRow[]): { passed: number; failed: number } {
  const w = Math.max(14, ...rows.map((r) => r[0].length));
  for (const [what, verdict, p, f, report] of rows) print(`${what.padEnd(w)} ${verdict.padEnd(5)} ${String(p).padStart(3)} passed ${String(f).padStart(3)} failed   ${report}`);
  const passed = rows.reduce((a, r) => a + r[2], 0);
  const failed = rows.reduce((a, r) => a + r[3], 0);
  print(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}

/**
 * `lvs-harness matrix <topology…> --suite S… [--shard i/n] [--out DIR] [--list]`: the topology ×
 * suite pairs, or the shard's, each topology's suites in one runSuites call (one build serves
 * them: harness/suite/matrix.ts says why pairs are the unit a shard is cut from). Prints the
 * shard's jobs, then per run what main prints, then main's table; exit 1 when anything failed.
 */
async function runMatrix(rest: string[]): Promise<number> {
  const { values, positionals } = parse(rest, { suite: { type: 'string', multiple: true }, shard: { type: 'string' }, out: { type: 'string' }, list: { type: 'boolean' }, 'docker-host': { type: 'string' } }, 'matrix');
  const shard = parseShard(values.shard as string | undefined, 'matrix');
  const out = values.out as string | undefined;
  if (out !== undefined && !out.trim()) throw errUsage('matrix: --out needs a directory, e.g. --out shard-reports');
  // every topology file is read and planned here: a bad one fails before anything is built
  const p = await planMatrix({ topologies: positionals, suites: (values.suite as unknown as string[] | undefined) ?? [], ...(shard ? { shard } : {}) });
  print(formatMatrixPlan(p));
  if (values.list) return 0;
  const dockerHost = values['docker-host'] as string | undefined;
  const rows: TableRow[] = [];
  const notRun: string[] = [];
  let stop = false;
  for (const g of p.groups) {
    const t = g.topology.name;
    const what = `${t} ${g.suites.join(',')}`;
    // a runtime that failed fails every run after it the same way, slowly
    if (stop) {
      notRun.push(what);
      continue;
    }
    const { progress, log: runLog } = runProgress();
    const r = await runSuites({ topologyFile: g.topology.file, suites: g.suites, dockerHost, ...(out !== undefined ? { reportsDir: out } : {}), log: runLog, progress }).catch((e) => {
      progress.end('error');
      throw e;
    });
    progress.end(statusOf(r));
    const passed = r.checks.filter((c) => c.valid === true).length;
    rows.push([what, r.error ? 'ERROR' : r.valid === true ? 'pass' : 'FAIL', passed, r.checks.length - passed + r.errors.length + (r.error ? 1 : 0), `${r.reportDir}/report.html`]);
    if (r.error) print(`ERROR ${t}: ${failureLine(r)}`);
    stop = r.error?.phase === 'runtime';
    for (const c of r.checks.filter((x) => x.valid !== true)) print(`FAIL  ${t}: ${c.suite}: ${c.group}: ${c.name}\n        ${c.detail ?? ''}`);
    for (const e of r.errors) print(`ERROR ${t}: ${e.title}: ${e.message}`);
  }
  print('');
  const { failed } = printRunTable(rows);
  if (notRun.length) print(`not run, the runtime having failed: ${notRun.join('; ')}`);
  return failed || notRun.length ? 1 : 0;
}

/**
 * A command's entries of the help (`lvs-harness run --help`): each usage line of that command
 * with its description, then where the rest is. The whole help when the command has none.
 */
export function commandHelp(cmd: string): string {
  const lines = help().split('\n');
  const out: string[] = [];
  let inCmd = false;
  for (const l of lines) {
    if (/^  lvs-harness /.test(l)) inCmd = l.startsWith(`  lvs-harness ${cmd} `) || l === `  lvs-harness ${cmd}`;
    else if (!/^\s{20,}\S/.test(l)) inCmd = false;
    if (inCmd) out.push(l);
  }
  return out.length ? `Usage:\n${out.join('\n')}\n\nEverything else (topologies, suites, environment): lvs-harness --help` : help();
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `<command> --help` (before a `--`): that command's help, not an unknown option
  const flags = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (cmd && !['-h', '--help', 'help'].includes(cmd) && (flags.includes('--help') || flags.includes('-h'))) {
    print(commandHelp(cmd));
    return 0;
  }
  switch (cmd) {
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      print(help());
      return cmd === undefined ? 2 : 0;
    case 'lab':
      return labCommand(rest[0], rest.slice(1));
    case 'doctor': {
      const { values } = parse(rest, { fix: { type: 'boolean' }, json: { type: 'boolean' } }, 'doctor');
      if (values.fix) await installHostPackages(await missingHostPackages(), log);
      const r = await doctor(log);
      print(values.json ? r : formatDoctor(r));
      return r.checks.some((c) => !c.ok && !c.optional) ? 1 : 0;
    }
    case 'setup':
      return setup();
    case 'up': {
      const { values, positionals } = parse(rest, { 'docker-host': { type: 'string' }, ...LAB_FLAGS }, 'up');
      if (positionals.length !== 1) throw errUsage(`up: give one topology (a YAML file, or ${shippedTopologies().join(', ')})`);
      const dockerHost = values['docker-host'] as string | undefined;
      const lab = labRequest({ release: values.release, restart: values.restart, dockerHost, env: process.env, command: 'up' });
      const file = topologyFile(positionals[0]!);
      const p = await loadPlan(file, log);
      await checkLabRelease(lab);
      const rt = await resolveRuntime({ dockerHost, log, lab });
      const st = await buildTopology(rt, p, { keep: true, log, explain: buildExplainer });
      print(nodeTable(st));
      print(`topology ${p.topology} ${st.reused ? 'was already up' : `up in ${((st.timings.total ?? 0) / 1000).toFixed(1)} s`} (${rt.kind}${rt.release ? ` ${rt.release}` : ''}); \`lvs-harness down ${p.topology}\` removes it`);
      return 0;
    }
    case 'down': {
      const { values, positionals } = parse(rest, { all: { type: 'boolean' }, 'docker-host': { type: 'string' } }, 'down');
      if (!values.all && positionals.length !== 1) throw errUsage('down: give one topology, or --all');
      const name = values.all ? undefined : await topologyName(positionals[0]!);
      let rt;
      try {
        rt = await resolveRuntime({ dockerHost: values['docker-host'] as string | undefined, log, startLab: false });
      } catch (e) {
        if (!isHarnessError(e) || e.code !== 'ERR_LVS_LAB_DOWN') throw e;
      }
      // what a run changed on SSH hosts is undone also when the lab is down (its journal is local)
      const n = await teardownTopology(rt?.docker, name, log);
      if (!rt) print('no containers to remove: the lab is not running');
      else print(n ? `removed ${values.all ? 'every topology' : name}` : `nothing to remove${name ? ` for ${name}` : ''}`);
      return 0;
    }
    case 'exec': {
      const dd = rest.indexOf('--');
      if (dd < 0) throw errUsage('exec: put the command after --, e.g. lvs-harness exec director -- ipvsadm -Ln');
      const { values, positionals } = parse(rest.slice(0, dd), { topology: { type: 'string' }, 'docker-host': { type: 'string' } }, 'exec');
      const argv = rest.slice(dd + 1);
      if (positionals.length !== 1 || !argv.length) throw errUsage('exec: lvs-harness exec <node> [--topology T] -- <argv...>');
      const node = await commandNode(positionals[0]!, values.topology as string | undefined, values['docker-host'] as string | undefined);
      try {
        const r = await node.exec(argv, { allowFailure: true, timeoutMs: 3600_000 });
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        return r.exitCode;
      } finally {
        await node.close().catch(() => {});
      }
    }
    case 'ipvs': {
      const { values, positionals } = parse(rest, { topology: { type: 'string' }, json: { type: 'boolean' }, 'docker-host': { type: 'string' } }, 'ipvs');
      if (positionals.length !== 1) throw errUsage('ipvs: lvs-harness ipvs <node> [--topology T] [--json]');
      const node = await commandNode(positionals[0]!, values.topology as string | undefined, values['docker-host'] as string | undefined);
      try {
        const t = await ipvsTable(node);
        print(values.json ? t : formatTable(t));
        return 0;
      } finally {
        await node.close().catch(() => {});
      }
    }
    case 'run': {
      const { values, positionals } = parse(
        rest,
        { suite: { type: 'string', multiple: true }, fault: { type: 'string', multiple: true }, grep: { type: 'string' }, expect: { type: 'string', multiple: true }, keep: { type: 'boolean' }, 'docker-host': { type: 'string' }, ...LAB_FLAGS },
        'run',
      );
      if (positionals.length !== 1) throw errUsage('run: give one topology, e.g. lvs-harness run topologies/dr.yaml --suite modes');
      const suites = (values.suite as unknown as string[] | undefined) ?? [];
      if (!suites.length) throw errUsage(`run: name at least one --suite (${(await availableSuites()).join(', ')}, or all)`);
      const dockerHost = values['docker-host'] as string | undefined;
      const lab = labRequest({ release: values.release, restart: values.restart, dockerHost, env: process.env, command: 'run' });
      const { progress, log: runLog } = runProgress();
      const faults = (values.fault as unknown as string[] | undefined) ?? [];
      const grep = values.grep as string | undefined;
      if (grep !== undefined) {
        try {
          new RegExp(grep);
        } catch (e) {
          throw errUsage(`run: --grep ${JSON.stringify(grep)} is not a regular expression (${(e as Error).message})`);
        }
      }
      // parsed before anything is built: a bad target is a usage error (exit 2)
      const expectSpecs = (values.expect as unknown as string[] | undefined) ?? [];
      const expect = expectSpecs.length ? parseExpectSpec(expectSpecs.join(',')) : undefined;
      await checkLabRelease(lab);
      const r = await runSuites({ topologyFile: topologyFile(positionals[0]!), suites, faults, ...(grep !== undefined ? { grep } : {}), ...(expect ? { expect } : {}), keep: !!values.keep, dockerHost, lab, log: runLog, progress }).catch((e) => {
        progress.end('error');
        throw e;
      });
      progress.end(statusOf(r));
      printRunEnd(r);
      return r.valid === true ? 0 : 1;
    }
    case 'report': {
      const { positionals } = parse(rest, {}, 'report');
      if (positionals.length !== 1) throw errUsage('report: lvs-harness report <run-dir> (a directory under reports/ with results.json)');
      const dir = positionals[0]!;
      // a bench run's page has bench's section, drawn again from its bench.json
      const out = await rerender(dir, { sections: benchSectionsOfRun });
      for (const w of out.warnings) log(w);
      for (const f of out.written) print(`wrote ${f}`);
      for (const e of out.errors) print(`not written: ${e.file}: ${e.error.message}`);
      return out.errors.length ? 1 : 0;
    }
    case 'lint': {
      const r = lintCommand(rest);
      print(r.text);
      return r.code;
    }
    case 'validate': {
      const { values } = parse(
        rest,
        {
          keepalived: { type: 'string' },
          peer: { type: 'string' },
          ipvsadm: { type: 'string' },
          suite: { type: 'string', multiple: true },
          expect: { type: 'string', multiple: true },
          grep: { type: 'string' },
          instance: { type: 'string' },
          release: { type: 'string' },
          'keepalived-version': { type: 'string' },
          restart: { type: 'boolean' },
          keep: { type: 'boolean' },
          'docker-host': { type: 'string' },
        },
        'validate',
      );
      for (const f of ['keepalived', 'peer', 'ipvsadm'] as const) {
        const file = values[f] as string | undefined;
        if (file !== undefined && !existsSync(file)) throw errUsage(`validate: --${f} ${file}: no such file`);
      }
      const expectSpecs = (values.expect as unknown as string[] | undefined) ?? [];
      const expect = expectSpecs.length ? parseExpectSpec(expectSpecs.join(',')) : undefined;
      // one --release: the keywords lint counts (as --keepalived-version would) and the lab the files run in
      const target = resolveTarget({ release: values.release as string | undefined, keepalivedVersion: values['keepalived-version'] as string | undefined }, 'validate');
      const release = target.version;
      const dockerHost = values['docker-host'] as string | undefined;
      const lab = labRequest({
        release: values.release,
        restart: values.restart,
        dockerHost,
        env: process.env,
        command: 'validate',
        hint: `for the keywords of ${target.release.name}'s keepalived alone, --keepalived-version ${target.version}`,
      });
      const prepared = prepareValidate({
        ...(values.keepalived ? { keepalived: values.keepalived as string } : {}),
        ...(values.peer ? { peer: values.peer as string } : {}),
        ...(values.ipvsadm ? { ipvsadm: values.ipvsadm as string } : {}),
        ...(values.instance ? { instance: values.instance as string } : {}),
        ...(release ? { release } : {}),
      });
      await checkLabRelease(lab);
      process.stderr.write(prepared.preface + '\n');
      const { progress, log: runLog } = runProgress();
      const suites = (values.suite as unknown as string[] | undefined) ?? [];
      const grep = values.grep as string | undefined;
      const r = await runSuites(
        validateRunOptions(prepared, { suites, ...(expect ? { expect } : {}), ...(grep !== undefined ? { grep } : {}), keep: !!values.keep, dockerHost, lab, log: runLog, progress }),
      ).catch((e) => {
        progress.end('error');
        throw e;
      });
      progress.end(statusOf(r));
      printRunEnd(r);
      return r.valid === true ? 0 : 1;
    }
    case 'faults': {
      parse(rest, {}, 'faults');
      print(describeNemeses());
      return 0;
    }
    case 'compare': {
      const r = await compareCommand(rest, { color: !!process.stdout.isTTY && !process.env.NO_COLOR });
      print(r.text);
      // stderr: stdout may be the JSON a script parses
      if (r.html) process.stderr.write(`compare page: ${r.html}\n`);
      return r.code;
    }
    case 'runs': {
      const { values } = parse(rest, { reports: { type: 'string' }, json: { type: 'boolean' } }, 'runs');
      const list = await listRuns((values.reports as string | undefined) ?? path.join(REPO_ROOT, 'reports'));
      print(values.json ? list : list.length ? formatRuns(list) : 'no runs yet: lvs-harness run <topology> --suite <name>');
      return 0;
    }
    case 'main':
      return runMain(rest);
    case 'matrix':
      return runMatrix(rest);
    case 'merge-reports': {
      const r = await mergeReportsCommand(rest, { reportsDir: path.join(REPO_ROOT, 'reports') });
      print(r.text);
      return r.code;
    }
    case 'smoke':
      return runSmoke(rest);
    case 'bench': {
      const { progress, log: runLog } = runProgress();
      const r = await benchCommand(rest, { log: runLog, progress }).catch((e) => {
        progress.end('error');
        throw e;
      });
      // a --compare never started the progress line
      if (!rest.includes('--compare')) progress.end(r.code ? 'error' : 'passed');
      print(r.text);
      return r.code;
    }
    default:
      throw errUsage(`unknown command "${cmd}"`, 'see `lvs-harness --help`');
  }
}

export async function cli(argv: string[]): Promise<never> {
  let code: number;
  try {
    code = await main(argv);
  } catch (e) {
    code = isHarnessError(e) && e.code === 'ERR_LVS_USAGE' ? 2 : 1;
    process.stderr.write(`lvs-harness: ${isHarnessError(e) ? e.describe() : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  } finally {
    await runCleanup();
  }
  process.exit(signalExitCode() ?? code);
}

export { labPaths };
