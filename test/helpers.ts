import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../harness/lab/paths.js';
import { HarnessError } from '../harness/errors.js';

/** Awaits a promise that must reject with a HarnessError, and returns that error. */
export async function rejection(p: Promise<unknown>): Promise<HarnessError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(HarnessError);
    return e as HarnessError;
  }
  throw new Error('expected a rejection');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the lvs-harness CLI as a user would, collecting its output and exit code. */
export function cli(args: string[], timeoutMs = 10 * 60_000): Promise<CliResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin', 'lvs-harness.mjs'), ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    });
  });
}
