import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import { REPO_ROOT } from '../lab/paths.js';
import type { Node } from './node.js';

/**
 * What a report needs to say where it was measured: the host, the kernel and tools the
 * directors ran on (read inside a node, since that is what the suites exercised), and the
 * harness and topology revisions. Every probe is best effort: "unknown" rather than a failed run.
 */
const run = promisify(execFile);

async function git(args: string[]): Promise<string | undefined> {
  try {
    return (await run('git', ['-C', REPO_ROOT, ...args], { timeout: 5_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

/** The harness checkout's revision, with "-dirty" when its tracked files differ from it. */
export async function harnessRevision(): Promise<string> {
  const head = await git(['rev-parse', '--short=12', 'HEAD']);
  if (!head) return 'unknown';
  const dirty = await git(['status', '--porcelain', '--untracked-files=no']);
  return dirty ? `${head}-dirty` : head;
}

/** The last commit that changed a file, with "-dirty" when it has changed since; undefined outside git. */
export async function fileRevision(file: string): Promise<string | undefined> {
  const rel = path.relative(REPO_ROOT, path.resolve(file));
  if (rel.startsWith('..')) return undefined;
  const rev = await git(['log', '-1', '--format=%h', '--', rel]);
  if (!rev) return (await git(['ls-files', '--error-unmatch', rel])) === undefined ? 'untracked' : undefined;
  const dirty = await git(['status', '--porcelain', '--', rel]);
  return dirty ? `${rev}-dirty` : rev;
}

const harnessVersion = (): string => {
  try {
    return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

/** Where a run was measured, as results.json keeps it (report/results.ts). */
export interface Environment {
  host: { os: string; kernel: string; node: string; cpus: number; memoryMiB: number };
  /** absent when the suites ran on a local Docker engine rather than the lab VM */
  lab?: { kernel: string; docker: string; ipvsadm: string; keepalived: string };
  harness: { version: string; git: string };
}

/** The host and harness part alone, at once: what a report says when nothing else could be read. */
export function hostEnvironment(git = 'unknown'): Environment {
  const host = { os: `${os.type()} ${os.release()} ${os.arch()}`, kernel: os.release(), node: process.version, cpus: os.cpus().length, memoryMiB: Math.round(os.totalmem() / 2 ** 20) };
  return { host, harness: { version: harnessVersion(), git } };
}

/** Without a node (a run that never got one), the host and harness only. */
export async function describeEnvironment(docker?: Docker, node?: Node): Promise<Environment> {
  const env = hostEnvironment(await harnessRevision());
  if (!docker || !node) return env;
  const probe = async (argv: string[], pick: RegExp) => {
    const r = await node.exec(argv, { allowFailure: true, timeoutMs: 20_000 }).catch(() => undefined);
    return (`${r?.stdout ?? ''}\n${r?.stderr ?? ''}`.match(pick)?.[1] ?? 'unknown').trim();
  };
  const [kernel, ipvsadm, keepalived, dockerVersion] = await Promise.all([
    probe(['uname', '-r'], /^\s*(\S+)/),
    probe(['ipvsadm', '--version'], /ipvsadm (v[\d.]+)/),
    probe(['keepalived', '--version'], /Keepalived (v[\d.]+)/i),
    docker
      .version()
      .then((v) => v.Version)
      .catch(() => 'unknown'),
  ]);
  env.lab = { kernel, docker: dockerVersion, ipvsadm, keepalived };
  return env;
}
