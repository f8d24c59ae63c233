import type Docker from 'dockerode';
import type { CheckResult, Validity } from './checkers/types.js';
import type { RunFailure } from './report/results.js';
import { DockerNode } from './runtime/docker-node.js';
import { describeEnvironment } from './runtime/environment.js';
import type { RecordedCheck } from './suite/context.js';
import { runPipeline, stage } from './suite/pipeline.js';
import { execIn } from './runtime/exec.js';
import { HARNESS_LABEL } from './runtime/node-image.js';
import type { LabRequest } from './runtime/release.js';
import type { Runtime } from './runtime/select.js';
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
 * like any other, through the run pipeline (suite/pipeline.ts): results@1 and the same five
 * files in reports/<run-id>/, whatever ends it. Its build is the one container, which the
 * pipeline removes at the end and on Ctrl-C; its workload, the program and read-back.
 */
export async function smoke(opts: { dockerHost?: string; lab?: LabRequest; log?: Logger; runtime?: Runtime; reportsDir?: string } = {}): Promise<SmokeResult> {
  const log = opts.log ?? defaultLog;
  const checks: RecordedCheck[] = [];
  const check = (c: CheckResult) => checks.push({ ...c, suite: 'smoke', group: 'ipvs' });
  let runtime: SmokeResult['runtime'];
  const out = await runPipeline({ reportsDir: opts.reportsDir, log, record: { suites: ['smoke'], topology: SMOKE_TOPOLOGY }, runtime: opts.runtime, dockerHost: opts.dockerHost, lab: opts.lab }, ({ runId, record }) => {
    record.checks = checks;
    let kernel = '';
    let docker: Docker;
    return {
      async onRuntime(rt) {
        docker = rt.docker;
        const info = (await rt.docker.info()) as { KernelVersion: string; ServerVersion: string };
        kernel = info.KernelVersion;
        runtime = { kind: rt.kind, reason: rt.reason, endpoint: rt.endpoint.kind === 'tcp' ? `tcp://${rt.endpoint.host}:${rt.endpoint.port}` : `unix://${rt.endpoint.socketPath}`, kernel: info.KernelVersion, dockerVersion: info.ServerVersion, ...(rt.release ? { release: rt.release } : {}) };
      },
      stages: [
        stage<Docker.Container>({
          async build(rt, own) {
            const created = await rt.docker.createContainer({
              Image: rt.nodeImage,
              Cmd: ['sleep', 'infinity'],
              Labels: { [HARNESS_LABEL]: 'true', [`${HARNESS_LABEL}.run`]: runId, [`${HARNESS_LABEL}.role`]: 'smoke' },
              HostConfig: { CapAdd: ['NET_ADMIN'], NetworkMode: 'none' },
            });
            own('smoke container', () =>
              created.remove({ force: true }).catch((e: unknown) => {
                // a container already gone is what teardown wanted
                if ((e as { statusCode?: number }).statusCode !== 404) throw e;
              }),
            );
            await created.start();
            log(`smoke: container ${created.id.slice(0, 12)} from ${rt.nodeImage}`);
            return created;
          },
          async ready(c) {
            // the probes by docker exec, as the suite's own commands (no node shell in the smoke container)
            record.environment = describeEnvironment(docker, new DockerNode('smoke', c, { shell: false }));
          },
          workload: (c) =>
            record.step(
              'suite',
              async () => {
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
                  detail: `kernel ${kernel}`,
                });
              },
              'suite:smoke',
            ),
          // the environment is read from the container, so it is settled before the container goes
          release: async () => {
            await record.environment?.catch(() => undefined);
          },
        }),
      ],
    };
  });
  return { runId: out.runId, ...(runtime ? { runtime } : {}), checks, valid: out.results.valid, reportDir: out.dir, ...(out.results.error ? { error: out.results.error } : {}) };
}
