import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CheckResult } from './checkers/types.js';
import { REPO_ROOT } from './lab/paths.js';
import { newRunId } from './util/run-id.js';
import { execIn } from './runtime/exec.js';
import { HARNESS_LABEL } from './runtime/node-image.js';
import { resolveRuntime, type Runtime } from './runtime/select.js';
import { onCleanup } from './util/cleanup.js';
import { log as defaultLog, type Logger } from './util/log.js';


export interface SmokeResult {
  runId: string;
  runtime: { kind: string; reason: string; endpoint: string; kernel: string; dockerVersion: string };
  checks: CheckResult[];
  valid: boolean;
  reportDir: string;
}


/**
 * The smallest end-to-end conformance run: in the chosen runtime, a NET_ADMIN container from
 * the node image programs a virtual service into kernel IPVS and reads it back.
 */
export async function smoke(opts: { dockerHost?: string; log?: Logger; runtime?: Runtime; reportsDir?: string } = {}): Promise<SmokeResult> {
  const log = opts.log ?? defaultLog;
  const runId = newRunId();
  const rt = opts.runtime ?? (await resolveRuntime({ dockerHost: opts.dockerHost, log }));
  const info = (await rt.docker.info()) as { KernelVersion: string; ServerVersion: string };
  const checks: CheckResult[] = [];
  const container = await rt.docker.createContainer({
    Image: rt.nodeImage,
    Cmd: ['sleep', 'infinity'],
    Labels: { [HARNESS_LABEL]: 'true', [`${HARNESS_LABEL}.run`]: runId, [`${HARNESS_LABEL}.role`]: 'smoke' },
    HostConfig: { CapAdd: ['NET_ADMIN'], NetworkMode: 'none' },
  });
  const remove = () => container.remove({ force: true }).catch(() => {});
  const unregister = onCleanup('smoke container', remove);
  try {
    await container.start();
    log(`smoke: container ${container.id.slice(0, 12)} from ${rt.nodeImage}`);
    const rules = [
      ['ipvsadm', '-A', '-t', '10.0.0.1:80', '-s', 'rr'],
      ['ipvsadm', '-a', '-t', '10.0.0.1:80', '-r', '10.0.0.2:80', '-m', '-w', '1'],
      ['ipvsadm', '-a', '-t', '10.0.0.1:80', '-r', '10.0.0.3:80', '-m', '-w', '2'],
    ];
    for (const argv of rules) await execIn(container, argv);
    const saved = (await execIn(container, ['ipvsadm', '-S', '-n'])).stdout.trim().split('\n');
    const expected = ['-A -t 10.0.0.1:80 -s rr', '-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1', '-a -t 10.0.0.1:80 -r 10.0.0.3:80 -m -w 2'];
    checks.push({
      name: 'ipvs-program-readback',
      valid: expected.every((l) => saved.includes(l)) && saved.length === expected.length,
      observed: saved,
      expected,
      detail: 'rules added with ipvsadm -A/-a are read back by ipvsadm -S -n in the same network namespace',
    });
    const procIpvs = await execIn(container, ['cat', '/proc/net/ip_vs'], { allowFailure: true });
    checks.push({
      name: 'kernel-ipvs',
      valid: procIpvs.exitCode === 0 && procIpvs.stdout.includes('IP Virtual Server'),
      observed: procIpvs.stdout.split('\n')[0] || procIpvs.stderr.trim(),
      expected: 'IP Virtual Server version …',
      detail: `kernel ${info.KernelVersion}`,
    });
  } finally {
    await remove();
    unregister();
  }
  const reportDir = path.join(opts.reportsDir ?? path.join(REPO_ROOT, 'reports'), runId);
  await mkdir(reportDir, { recursive: true });
  const result: SmokeResult = {
    runId,
    runtime: { kind: rt.kind, reason: rt.reason, endpoint: rt.endpoint.kind === 'tcp' ? `tcp://${rt.endpoint.host}:${rt.endpoint.port}` : `unix://${rt.endpoint.socketPath}`, kernel: info.KernelVersion, dockerVersion: info.ServerVersion },
    checks,
    valid: checks.every((c) => c.valid === true),
    reportDir,
  };
  await writeFile(path.join(reportDir, 'results.json'), JSON.stringify({ schema: 'lvs-harness/results@0', suite: 'smoke', ...result }, null, 2));
  return result;
}
