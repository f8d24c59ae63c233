import { createReadStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { HarnessError } from '../errors.js';
import type { Logger } from '../util/log.js';

export const HARNESS_LABEL = 'io.lvs-harness';

/** Loads the node image into an engine that lacks it (docker import of the built root file system). */
export async function ensureNodeImage(docker: Docker, tag: string, rootfsTar: string, log: Logger): Promise<void> {
  try {
    await docker.getImage(tag).inspect();
    return;
  } catch {
    /* not there yet */
  }
  log(`loading ${tag} into the engine`);
  const [repo, version] = tag.split(':') as [string, string];
  const stream = (await docker.importImage(createReadStream(rootfsTar) as never, { repo, tag: version, changes: ['CMD ["sleep","infinity"]'] } as never)) as unknown as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
  await docker.getImage(tag).inspect();
}

/** Runs one short-lived container to completion and returns its exit code and output. */
export async function runOnce(
  docker: Docker,
  image: string,
  cmd: string[],
  opts: { capAdd?: string[]; timeoutMs?: number; labels?: Record<string, string> } = {},
): Promise<{ exitCode: number; output: string }> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: cmd,
    Labels: { [HARNESS_LABEL]: 'true', ...opts.labels },
    HostConfig: { CapAdd: opts.capAdd, AutoRemove: false },
  });
  try {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (b: Buffer) => chunks.push(b));
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    container.modem.demuxStream(stream, out, out);
    await container.start();
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const res = (await Promise.race([
      container.wait(),
      new Promise((_, rej) => setTimeout(() => rej(new HarnessError('ERR_LVS_TIMEOUT', `\`${cmd.join(' ')}\` in ${image} did not finish within ${timeoutMs / 1000} s`)), timeoutMs).unref()),
    ])) as { StatusCode: number };
    await new Promise((r) => setTimeout(r, 50));
    return { exitCode: res.StatusCode, output: Buffer.concat(chunks).toString() };
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}
