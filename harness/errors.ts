/**
 * Coded errors (after mocha's lib/errors.js): every error a user can hit carries a
 * stable code, what happened, and what to do about it.
 */
export class HarnessError extends Error {
  readonly code: string;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, message: string, opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'HarnessError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }

  /** The text a user sees: what happened, then what to do. */
  describe(): string {
    return this.hint ? `${this.code}: ${this.message}\n  → ${this.hint}` : `${this.code}: ${this.message}`;
  }
}

export const isHarnessError = (e: unknown): e is HarnessError => e instanceof HarnessError;

export const errCommandFailed = (argv: readonly string[], code: number | null, signal: string | null, stderr: string) =>
  new HarnessError(
    'ERR_LVS_COMMAND_FAILED',
    `\`${argv.join(' ')}\` ${signal ? `was killed by ${signal}` : `exited with ${code}`}${stderr.trim() ? `:\n${indent(tail(stderr, 20))}` : ''}`,
    { details: { argv, code, signal } },
  );

export const errCommandMissing = (cmd: string, pkg: string) =>
  new HarnessError('ERR_LVS_MISSING_TOOL', `\`${cmd}\` is not installed`, {
    hint: `install it: apt-get install -y --no-install-recommends ${pkg}   (or run \`lvs-harness doctor --fix\` as root)`,
  });

export const errTimeout = (what: string, ms: number, last?: string) =>
  new HarnessError('ERR_LVS_TIMEOUT', `timed out after ${(ms / 1000).toFixed(1)} s waiting for ${what}${last ? ` (last seen: ${last})` : ''}`);

export const errUsage = (message: string, hint?: string) => new HarnessError('ERR_LVS_USAGE', message, { hint });

export function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

export function indent(text: string, by = '    '): string {
  return text
    .split('\n')
    .map((l) => by + l)
    .join('\n');
}

/*
 * Remote hosts over SSH (harness/runtime/ssh-node.ts). Every message names the host as
 * `name (user@host:port)`, so a run over several hosts says which one failed.
 */

/** The host could not be reached, or did not finish the SSH handshake in time. */
export const errSshConnect = (where: string, what: string, opts: { hint?: string; cause?: unknown } = {}) =>
  new HarnessError('ERR_LVS_SSH_CONNECT', `cannot connect to ${where}: ${what}`, opts);

/** The host answered but refused every key we offered. */
export const errSshAuth = (where: string, what: string, opts: { hint?: string; cause?: unknown } = {}) =>
  new HarnessError('ERR_LVS_SSH_AUTH', `SSH authentication to ${where} failed: ${what}`, opts);

/** The host's key is unknown, or differs from the pinned or known one: the connection is refused. */
export const errSshHostKey = (where: string, what: string, opts: { hint?: string; details?: Record<string, unknown> } = {}) =>
  new HarnessError('ERR_LVS_SSH_HOST_KEY', `host key of ${where}: ${what}`, opts);

/** The connection went away while a command ran: whether the command took effect is unknown. */
export const errSshLost = (where: string, what: string, opts: { hint?: string; cause?: unknown } = {}) =>
  new HarnessError('ERR_LVS_SSH_LOST', `lost the SSH connection to ${where} ${what}`, opts);
