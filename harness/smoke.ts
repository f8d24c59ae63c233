import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type Docker from 'dockerode';
import type { CheckResult, Validity } from './checkers/types.js';
import { History } from './history/history.js';
import type { RunFailure } from './report/results.js';
import { describeEnvironment } from './runtime/environment.js';
import type { RecordedCheck } from './suite/context.js';
import { RunRecord } from './suite/record.js';
import { REPO_ROOT } from './lab/paths.js';
import { newRunId } from './util/run-id.js';
import { execIn } from './runtime/exec.js';
import { HARNESS_LABEL } from './runtime/node-image.js';
import type { LabRequest } from './runtime/release.js';
import { resolveRuntime, runtimeRecord, type Runtime } from './runtime/select.js';
import { onCleanup } from './util/cleanup.js';
import { log as defaultLog, type Logger } from './util/log.js';


export interface SmokeResult {
  runId: string;
  /** absent when the run ended before it had a runtime */
  runtime?: { kind: string; reason: string; endpoint: string; kernel: string; dockerVersion: string; release?: string };
  checks: RecordedCheck[];
  valid: Validity;
  reportDir: string;
  /** the error that ended the check early, with its phase; its reports are written all the same */
  error?: RunFailure;
}

/** What the reports show for the topology: the smoke check builds one container and no plan. */
const SMOKE_TOPOLOGY = { name: 'smoke', file: 'harness/smoke.ts', plan: 'none', reused: false };

/**
 * The smallest end-to-end conformance run: in the chosen runtime, a NET_ADMIN container from
 * the node image programs a virtual service into kernel IPVS and reads it back. It is a run
 * like any other: results@1 and the same five files in reports/<run-id>/, whatever ends it.
 */
export async function smoke(opts: { dockerHost?: string; lab?: LabRequest; log?: Logger; runtime?: Runtime; reportsDir?: string } = {}): Promise<SmokeResult> {
  const log = opts.log ?? defaultLog;
  const runId = newRunId();
  const reportDir = path.join(opts.reportsDir ?? path.join(REPO_ROOT, 'reports'), runId);
  await mkdir(reportDir, { recursive: true });
  const history = await History.open(path.join(reportDir, 'history.ndjson'));
  const record = new RunRecord({ runId, dir: reportDir, startedAt: new Date(), suites: ['smoke'], topology: SMOKE_TOPOLOGY, history, log });
  const checks: RecordedCheck[] = [];
  record.checks = checks;
  const check = (c: CheckResult) => checks.push({ ...c, suite: 'smoke', group: 'ipvs' });
  let runtime: SmokeResult['runtime'];
  let container: Docker.Container | undefined;
  let unregister = () => {};
  let error: { e: unknown; phase: string } | undefined;
  try {
    const rt = opts.runtime ?? (await record.step('runtime', () => resolveRuntime({ dockerHost: opts.dockerHost, log, ...(opts.lab ? { lab: opts.lab } : {}) })));
    record.runtime = runtimeRecord(rt);
    const info = (await rt.docker.info()) as { KernelVersion: string; ServerVersion: string };
    runtime = { kind: rt.kind, reason: rt.reason, endpoint: rt.endpoint.kind === 'tcp' ? `tcp://${rt.endpoint.host}:${rt.endpoint.port}` : `unix://${rt.endpoint.socketPath}`, kernel: info.KernelVersion, dockerVersion: info.ServerVersion, ...(rt.release ? { release: rt.release } : {}) };
    const c = await record.step('build', async () => {
      container = await rt.docker.createContainer({
        Image: rt.nodeImage,
        Cmd: ['sleep', 'infinity'],
        Labels: { [HARNESS_LABEL]: 'true', [`${HARNESS_LABEL}.run`]: runId, [`${HARNESS_LABEL}.role`]: 'smoke' },
        HostConfig: { CapAdd: ['NET_ADMIN'], NetworkMode: 'none' },
      });
      const created = container;
      unregister = onCleanup('smoke container', () => created.remove({ force: true }).catch(() => {}));
      await created.start();
      log(`smoke: container ${created.id.slice(0, 12)} from ${rt.nodeImage}`);
      return created;
    });
    record.environment = describeEnvironment(rt.docker, c);
    await record.step('suite', async () => {
      const rules = [
        ['ipvsadm', '-A', '-t', '10.0.0.1:80', '-s', 'rr'],
        ['ipvsadm', '-a', '-t', '10.0.0.1:80', '-r', '10.0.0.2:80', '-m', '-w', '1'],
        ['ipvsadm', '-a', '-t', '10.0.0.1:80', '-r', '10.0.0.3:80', '-m', '-w', '2'],
      ];
      for (const argv of rules) await execIn(c, argv);
      const saved = (await execIn(c, ['ipvsadm', '-S', '-n'])).stdout.trim().split('\n');
      const expected = ['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1', '-a -t 10.0.0.1:80 -r 10.0.0.3:80 -m -w 2'];
      check({
        name: 'ipvs-program-readback',
        valid: expected.every((l) => saved.includes(l)) && saved.length === expected.length,
        observed: saved,
        expected,
        detail: 'rules added with ipvsadm -A/-a are read back by ipvsadm -S -n in the same network namespace',
      });
      const procIpvs = await execIn(c, ['cat', '/proc/net/ip_vs'], { allowFailure: true });
      check({
        name: 'kernel-ipvs',
        valid: procIpvs.exitCode === 0 && procIpvs.stdout.includes('IP Virtual Server'),
        observed: procIpvs.stdout.split('\n')[0] || procIpvs.stderr.trim(),
        expected: 'IP Virtual Server version …',
        detail: `kernel ${info.KernelVersion}`,
      });
    }, 'suite:smoke');
  } catch (e) {
    error = { e, phase: record.phase };
  }
  // the environment is read from the container, so it is settled before the container goes
  await record.environment?.catch(() => undefined);
  if (container) {
    const c = container;
    await record.step('teardown', () => c.remove({ force: true })).catch((e: unknown) => {
      // a container already gone is what teardown wanted
      if ((e as { statusCode?: number }).statusCode !== 404) error ??= { e, phase: 'teardown' };
    });
  }
  unregister();
  await history.close();
  const out = await record.finish(error ? { error: error.e, phase: error.phase } : {});
  return { runId, ...(runtime ? { runtime } : {}), checks, valid: out.results.valid, reportDir, ...(out.results.error ? { error: out.results.error } : {}) };
}
