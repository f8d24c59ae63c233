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
import { HarnessError } from '../errors.js';
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
  /**
   * A long one-off command (the node script) that should not wait for a session kept for many
   * commands: a DockerNode runs it by docker exec while its node shell starts beside it. Other
   * nodes ignore it (an SshNode runs every command on a channel of its own anyway).
   */
  oneOff?: boolean;
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
  /** freeze every process in it (docker pause, cgroup freezer), and thaw it */
  pause: boolean;
  /** restart it in one go (docker restart) */
  restart: boolean;
  /** attach it to one of the runtime's networks and detach it again (a Docker network by name) */
  networks: boolean;
}

/** What a node's lifecycle reports: running (a paused node is running too), paused, and the runtime's word for it. */
export interface NodeState {
  running: boolean;
  paused: boolean;
  /** `running`, `exited`, `paused`… as the runtime says it */
  status: string;
  /**
   * When its processes last ended (ms since the epoch, by the clock of the machine that runs it:
   * in the lab, the lab's clock), when it is not running and the runtime says so (Docker's
   * State.FinishedAt): when the runtime saw it end, later than the kill was issued (0.7 to 1.7 s
   * in the lab) and somewhat after its processes died.
   */
  endedAt?: number;
}

/**
 * What the harness may do to the node itself, each present when `capabilities` says so. A
 * DockerNode has them all; an SshNode has none and no lifecycle (a physical host is not killed, frozen or
 * rebooted by the harness). Call them through `requireCapability`, which refuses clearly.
 */
export interface NodeLifecycle {
  /** its state now */
  state(): Promise<NodeState>;
  /** SIGKILL every process in it at once (capability kill) */
  kill(): Promise<void>;
  /** stop it, SIGKILL after `graceMs` (capability stop) */
  stop(graceMs?: number): Promise<void>;
  /** start it after stop or kill (capability start) */
  start(): Promise<void>;
  /** start it, or thaw it, so that it runs; nothing when it runs already (capability start) */
  ensureRunning(): Promise<void>;
  /** restart it, SIGKILL after `graceMs` (capability restart) */
  restart(graceMs?: number): Promise<void>;
  /** freeze every process in it (capability pause) */
  pause(): Promise<void>;
  /** thaw it when it is frozen; commands run in it again (capability pause) */
  unpause(): Promise<void>;
  /** attach it to the runtime's network `name` (capability networks) */
  attachNetwork(name: string): Promise<void>;
  /** detach it from the network `name` (capability networks) */
  detachNetwork(name: string): Promise<void>;
}

export interface Node {
  /** the topology's name for it (lb1, rs2): used in every message */
  readonly name: string;
  readonly capabilities: NodeCapabilities;
  /** what the harness may do to the node itself, as far as `capabilities` allow; absent on a node that only runs commands */
  readonly lifecycle?: NodeLifecycle;
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

/** A node that can do nothing to itself: commands only (an SshNode). */
export const NO_CAPABILITIES: Readonly<NodeCapabilities> = Object.freeze({ kill: false, stop: false, start: false, pause: false, restart: false, networks: false });

/** What each capability is, as a refusal names it. */
const CAPABILITY_WORDS: Record<keyof NodeCapabilities, string> = {
  kill: 'be killed (SIGKILL to every process at once)',
  stop: 'be stopped',
  start: 'be started again',
  pause: 'be frozen (paused)',
  restart: 'be restarted',
  networks: 'be attached to a network and detached',
};

/** The lifecycle methods each capability brings. */
const CAPABILITY_METHODS: Record<keyof NodeCapabilities, readonly (keyof NodeLifecycle)[]> = {
  kill: ['kill'],
  stop: ['stop'],
  start: ['start', 'ensureRunning'],
  pause: ['pause', 'unpause'],
  restart: ['restart'],
  networks: ['attachNetwork', 'detachNetwork'],
};

/** The capabilities of `need` the node lacks (an empty list when it has them all). */
export const missingCapabilities = (node: Pick<Node, 'capabilities'>, need: readonly (keyof NodeCapabilities)[]): (keyof NodeCapabilities)[] => need.filter((c) => !node.capabilities[c]);

/**
 * The node's lifecycle, once it is known to have every capability in `need` (and `state`); else
 * ERR_LVS_NODE_UNSUPPORTED naming the node, what `forWhat` needed and what the node cannot do.
 * Asked before anything is done, so that a fault a node cannot take is refused, not half made.
 */
export function requireCapability(node: Node, need: readonly (keyof NodeCapabilities)[], forWhat: string): NodeLifecycle {
  const missing = missingCapabilities(node, need);
  const life = node.lifecycle;
  const absent = (['state', ...need.flatMap((c) => CAPABILITY_METHODS[c])] as const).filter((m) => typeof life?.[m] !== 'function');
  if (missing.length || absent.length) {
    const cannot = missing.length ? missing.map((c) => CAPABILITY_WORDS[c]).join(', nor ') : `report ${absent.join(', ')}`;
    throw new HarnessError('ERR_LVS_NODE_UNSUPPORTED', `${forWhat}: node ${node.name} cannot ${cannot}; nothing was done to it`, {
      hint: `${forWhat.split(' ')[0]} needs a node whose runtime can do that (a Docker container); ${node.name} runs commands only`,
      details: { node: node.name, missing, absent },
    });
  }
  return life!;
}

/**
 * writeFile over exec, for any node with a POSIX shell: a temporary file beside it, then a
 * rename, so a reader sees the old text or the new, never half. Without a mode, an existing
 * file keeps its mode and owner. The text goes in on stdin.
 */
const WRITE_FILE_SCRIPT = [
  'f=$1; t=$(dirname -- "$f")/.$(basename -- "$f").lvs-harness.$$',
  'trap \'rm -f -- "$t"\' EXIT',
  'cat > "$t" || exit 1',
  'if [ -n "$2" ]; then chmod "$2" "$t"; elif [ -e "$f" ]; then chmod "$(stat -c %a -- "$f")" "$t" && chown --reference="$f" "$t" 2>/dev/null; fi',
  'mv -f -- "$t" "$f" || exit 1',
  'trap - EXIT',
].join('\n');

export const writeFileArgv = (file: string, mode?: number): string[] => ['sh', '-c', WRITE_FILE_SCRIPT, 'sh', file, mode === undefined ? '' : mode.toString(8)];

export const readFileArgv = (file: string): string[] => ['cat', '--', file];

/** A failed writeFile or readFile (its command's result), naming the file and the node (`where`: as the node's messages name it). */
export const fileError = (verb: 'write' | 'read', file: string, where: string, node: string, r: ExecResult): HarnessError =>
  new HarnessError('ERR_LVS_EXEC_FAILED', `cannot ${verb} ${file} on ${where}: ${(verb === 'read' ? r.stderr.trim().replace(/^cat: /, '') : r.stderr.trim()) || `exit ${r.exitCode}`}`, { details: { file, node } });

/** A node that runs argv with a POSIX shell: writeFile and readFile for it, over its exec. */
type ShellNode = Pick<Node, 'name' | 'exec'> & { readonly where: string };

export async function writeFileOver(node: ShellNode, file: string, text: string | Buffer, mode?: number): Promise<void> {
  const r = await node.exec(writeFileArgv(file, mode), { input: text, allowFailure: true });
  if (r.exitCode !== 0) throw fileError('write', file, node.where, node.name, r);
}

export async function readFileOver(node: ShellNode, file: string): Promise<string> {
  const r = await node.exec(readFileArgv(file), { allowFailure: true });
  if (r.exitCode !== 0) throw fileError('read', file, node.where, node.name, r);
  return r.stdout;
}
