import { HarnessError } from '../errors.js';
import type { History, OpEvent } from '../history/history.js';
import type { NodeProcess } from '../runtime/node.js';
import type { StartedTopology } from '../topology/builder.js';
import { agentBundle } from './bundle.js';
import { decodeEvent, type AgentCommand, type AgentEvent } from './protocol.js';

export const AGENT_PATH = '/opt/lvs-harness/agent.cjs';

type Pending = { resolve: (r: CommandResult) => void; reject: (e: Error) => void; ops: OpEvent[]; summary?: Record<string, unknown>; what: string };

export interface CommandResult {
  ops: OpEvent[];
  summary?: Record<string, unknown>;
}

let seq = 0;

/**
 * A running load agent in one client node. Commands go in on its stdin; every operation it
 * reports is appended to the history as it arrives (streamed, not collected at the end).
 */
export class Agent {
  private pending = new Map<string, Pending>();
  private buf = '';
  private exited?: string;
  stderr = '';

  private constructor(
    readonly node: string,
    private readonly proc: NodeProcess,
    private readonly history: History,
  ) {}

  static async start(st: StartedTopology, node: string, history: History): Promise<Agent> {
    await st.exec(node, ['mkdir', '-p', '/opt/lvs-harness']);
    await st.exec(node, ['sh', '-c', 'cat > "$1"', 'sh', AGENT_PATH], { input: await agentBundle() });
    // streamed over the node's spawn (a DockerNode: a hijacked docker exec; an SshNode: a channel)
    const proc = await st.host(node).spawn(['node', AGENT_PATH]);
    const agent = new Agent(node, proc, history);
    proc.stderr.on('data', (b: Buffer) => (agent.stderr += b.toString()));
    let ready: () => void;
    const readyP = new Promise<void>((r) => (ready = r));
    proc.stdout.on('data', (b: Buffer) => agent.onData(b.toString(), ready));
    proc.stdin.on('error', () => {});
    // as soon as its output ends (the exit status may take the engine a moment longer), or the node goes away
    proc.stdout.once('end', () => agent.onExit('its stream ended'));
    proc.exit.then(
      () => agent.onExit('its stream ended'),
      (e: Error) => agent.onExit(e.message),
    );
    await Promise.race([readyP, new Promise((_, rej) => setTimeout(() => rej(new HarnessError('ERR_LVS_AGENT', `the load agent in ${node} did not start within 30 s: ${agent.stderr.trim()}`)), 30_000).unref())]);
    return agent;
  }

  private onData(text: string, ready: () => void) {
    this.buf += text;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 1);
      const e = decodeEvent(line);
      if (e) this.onEvent(e, ready);
    }
  }

  private onEvent(e: AgentEvent, ready: () => void) {
    switch (e.type) {
      case 'ready':
        ready();
        return;
      case 'op': {
        const { type: _t, ...rest } = e;
        const op: OpEvent = { type: 'op', node: this.node, ...rest };
        this.history.append(op);
        for (const p of this.pending.values()) p.ops.push(op);
        return;
      }
      case 'summary': {
        const p = this.pending.get(e.id);
        if (p) p.summary = e.data;
        return;
      }
      case 'clock': {
        const p = this.pending.get(e.id);
        if (p) p.summary = { now: e.now };
        return;
      }
      case 'done': {
        const p = this.pending.get(e.id);
        this.pending.delete(e.id);
        p?.resolve({ ops: p.ops, summary: p.summary });
        return;
      }
      case 'error': {
        const p = this.pending.get(e.id);
        this.pending.delete(e.id);
        p?.reject(new HarnessError('ERR_LVS_AGENT', `load agent in ${this.node}: ${p.what} failed: ${e.message}`));
      }
    }
  }

  private onExit(why: string) {
    if (this.exited) return;
    this.exited = why;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new HarnessError('ERR_LVS_AGENT', `the load agent in ${this.node} stopped (${why}) during ${p.what}: ${this.stderr.trim()}`));
    }
  }

  /**
   * Sends one command; resolves with the operations it produced once the agent says it is done.
   * When `o.cancel` settles first, the agent ends the command before its next request (an http
   * series), and it resolves with what it did until then.
   */
  run(cmd: DistributiveOmit<AgentCommand, 'id'>, timeoutMs = 300_000, o: { cancel?: Promise<unknown> } = {}): Promise<CommandResult> {
    if (this.exited) return Promise.reject(new HarnessError('ERR_LVS_AGENT', `the load agent in ${this.node} is gone (${this.exited})`));
    const id = `${cmd.cmd}-${++seq}`;
    const what = `${cmd.cmd}${'host' in cmd ? ` ${cmd.host}:${cmd.port}` : ''}`;
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HarnessError('ERR_LVS_TIMEOUT', `load agent in ${this.node}: ${what} did not finish within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, {
        what,
        ops: [],
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.proc.stdin.write(JSON.stringify({ ...cmd, id }) + '\n');
      const cancel = () => {
        if (this.pending.has(id) && !this.exited) this.proc.stdin.write(JSON.stringify({ cmd: 'cancel', id: `cancel-${id}`, target: id }) + '\n');
      };
      o.cancel?.then(cancel, cancel);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.proc.stdin.write(JSON.stringify({ cmd: 'exit', id: 'exit' }) + '\n');
    this.proc.stdin.end();
    await new Promise((r) => setTimeout(r, 100));
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Offset of a node's clock from the host's, NTP style: the node's reading against the midpoint
 * of the host's send and receive times; the uncertainty is half the round trip.
 */
export async function clockOffset(agent: Agent): Promise<{ offsetMs: number; uncertaintyMs: number }> {
  let best = { offsetMs: 0, uncertaintyMs: Infinity };
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const r = await agent.run({ cmd: 'clock' });
    const t1 = Date.now();
    const now = r.summary!.now as number;
    const u = (t1 - t0) / 2;
    if (u < best.uncertaintyMs) best = { offsetMs: now - (t0 + t1) / 2, uncertaintyMs: u };
  }
  return best;
}
