/**
 * A node the harness runs commands on, whatever it is: a Docker container today, a real host
 * over SSH (ssh-node.ts) for issue 14. After Jepsen's `Remote` protocol and testcontainers'
 * container handle: commands are argv (never shell text: quoting happens once, in the
 * implementation), a non-zero exit throws unless asked not to, and one deadline covers the
 * whole exchange.
 *
 * What a node cannot do is said up front in `capabilities`, so a nemesis that needs to SIGKILL
 * or pause a node can refuse a physical host at plan time instead of failing halfway.
 */
import type { Readable, Writable } from 'node:stream';
import type { ExecResult } from './exec.js';

export type { ExecResult } from './exec.js';

/** The same options as `execIn` (exec.ts). */
export interface ExecOptions {
  /** one deadline for the whole call, connecting included (default 120 s): ERR_LVS_TIMEOUT past it */
  timeoutMs?: number;
  /** written to the command's stdin, then closed; without it stdin is closed at once */
  input?: string | Buffer;
  /** resolve with the exit code instead of throwing ERR_LVS_EXEC_FAILED on a non-zero exit */
  allowFailure?: boolean;
}

/** How a spawned command ended: an exit code, or the signal that ended it (`SIGTERM`). */
export interface ExitStatus {
  exitCode: number | null;
  signal: string | null;
}

/**
 * A command left running, its output streamed (log tails, watchers, load generators). Read both
 * streams, or resume() the one not wanted: over SSH, output nobody reads stalls the command once
 * the channel's window is full.
 */
export interface NodeProcess {
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** end() it to send EOF */
  readonly stdin: Writable;
  /**
   * Resolves when the command ends (a non-zero exit resolves too: look at exitCode). Rejects
   * only when the node itself went away (ERR_LVS_SSH_LOST). Already marked handled: not
   * awaiting it never raises an unhandled rejection.
   */
  readonly exit: Promise<ExitStatus>;
  /** Sends the signal (default TERM, without the SIG prefix) and, if it has not ended a moment later, drops the command's channel. */
  kill(signal?: string): void;
}

/** What the harness may do to the node itself, beyond running commands in it. */
export interface NodeCapabilities {
  /** SIGKILL the whole node (docker kill) */
  kill: boolean;
  /** stop it cleanly (docker stop) */
  stop: boolean;
  /** start it again after stop or kill */
  start: boolean;
  /** freeze every process in it (docker pause, cgroup freezer) */
  pause: boolean;
}

export interface Node {
  /** the topology's name for it (lb1, rs2): used in every message */
  readonly name: string;
  readonly capabilities: NodeCapabilities;
  exec(argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(argv: readonly string[]): Promise<NodeProcess>;
  /** Writes the file whole (replaced at once: a reader sees the old or the new text); `mode` as 0o644. */
  writeFile(path: string, text: string | Buffer, mode?: number): Promise<void>;
  readFile(path: string): Promise<string>;
  /**
   * The shell text a person would type to run argv on this node by hand, for messages such as
   * "could not undo, run this": `ssh -p 2222 root@10.0.0.5 'ip addr del …'`.
   */
  handCommand(argv: readonly string[]): string;
  /** Frees the connection; a later call may open it again. */
  close(): Promise<void>;
}
