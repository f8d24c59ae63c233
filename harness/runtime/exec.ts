import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs argv inside a running container. Unlike testcontainers' exec(), a non-zero exit
 * throws, with the command, the container and its stderr in the message. One deadline covers
 * the whole exchange (creating the exec, its output, its exit code): an engine that stops
 * answering halfway fails the call instead of hanging the run.
 */
export async function execIn(
  container: Docker.Container,
  argv: readonly string[],
  opts: { allowFailure?: boolean; timeoutMs?: number; input?: string | Buffer } = {},
): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let stream: NodeJS.ReadWriteStream | undefined;
  let started = false;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      (stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
      const where = started ? '' : ' (the Docker engine did not start it: is it answering?)';
      reject(new HarnessError('ERR_LVS_TIMEOUT', `\`${argv.join(' ')}\` in ${container.id.slice(0, 12)} did not finish within ${timeoutMs / 1000} s${where}`));
    }, timeoutMs);
  });
  const run = async (): Promise<ExecResult> => {
    const exec = await container.exec({ Cmd: [...argv], AttachStdout: true, AttachStderr: true, AttachStdin: opts.input !== undefined });
    stream = await exec.start({ hijack: true, stdin: opts.input !== undefined });
    started = true;
    const out = new PassThrough();
    const err = new PassThrough();
    const o: Buffer[] = [];
    const e: Buffer[] = [];
    out.on('data', (b: Buffer) => o.push(b));
    err.on('data', (b: Buffer) => e.push(b));
    container.modem.demuxStream(stream, out, err);
    if (opts.input !== undefined) stream.end(opts.input);
    await new Promise<void>((resolve, reject) => {
      stream!.on('end', resolve);
      stream!.on('error', reject);
    });
    const info = await exec.inspect();
    const res = { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(o).toString(), stderr: Buffer.concat(e).toString() };
    if (res.exitCode !== 0 && !opts.allowFailure)
      throw new HarnessError('ERR_LVS_EXEC_FAILED', `\`${argv.join(' ')}\` in container ${container.id.slice(0, 12)} exited with ${res.exitCode}: ${(res.stderr || res.stdout).trim()}`);
    return res;
  };
  try {
    return await Promise.race([run(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
