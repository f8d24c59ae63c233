import { HarnessError } from '../errors.js';
import type { NodeProcess } from '../runtime/node.js';
import type { StartedTopology } from '../topology/builder.js';
import { sleep } from '../util/wait.js';
import type { NodeObservations } from './timeline.js';
import { parseWatchLine, watchArgv, type WatchLine } from './watch-script.js';

/**
 * One node's in-node watcher (watch-script.ts), streamed over one exec. When the stream ends
 * while the harness still watches (the node was killed, or restarted by a heal), it starts the
 * watcher again as soon as the node runs, so one NodeWatch covers a whole scenario.
 */
export class NodeWatch {
  readonly lines: WatchLine[] = [];
  /** one entry per exec stream: its first and last stamp */
  readonly streams: { first: number; last: number }[] = [];
  private stream?: NodeProcess;
  private stopped = false;
  private lastRecv = 0;
  private restarting?: Promise<void>;

  private constructor(
    private readonly st: StartedTopology,
    readonly node: string,
    private readonly table: boolean,
  ) {}

  /** Starts watching (the IPVS table too with `table`) and waits (up to `timeoutMs`) for the node's first report. */
  static async start(st: StartedTopology, node: string, o: { table?: boolean; timeoutMs?: number } = {}): Promise<NodeWatch> {
    const timeoutMs = o.timeoutMs ?? 30_000;
    const w = new NodeWatch(st, node, !!o.table);
    await w.open(timeoutMs);
    return w;
  }

  private async open(timeoutMs: number): Promise<void> {
    // streamed over the node's spawn (a DockerNode: a hijacked docker exec)
    const stream = await this.st.host(this.node).spawn(watchArgv({ table: this.table }));
    this.stream = stream;
    const out = stream.stdout;
    const err = stream.stderr;
    let errText = '';
    stream.stdin.on('error', () => {});
    err.on('data', (b: Buffer) => (errText = (errText + b.toString()).slice(-2000)));
    let buf = '';
    let span: { first: number; last: number } | undefined;
    let first: () => void;
    const firstP = new Promise<void>((r) => (first = r));
    out.on('data', (b: Buffer) => {
      this.lastRecv = Date.now();
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = parseWatchLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (l) {
          this.lines.push(l);
          if (!span) this.streams.push((span = { first: l.t, last: l.t }));
          span.last = Math.max(span.last, l.t);
          if (l.kind === 'A') first();
        }
      }
    });
    const ended = () => {
      if (this.stream !== stream) return;
      this.stream = undefined;
      if (!this.stopped) this.restarting ??= this.reopen().finally(() => (this.restarting = undefined));
    };
    // as soon as its output ends (the exit status may take the engine a moment longer), or the node goes away
    out.once('end', ended);
    stream.exit.then(ended, ended);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        firstP,
        new Promise<never>((_, rej) => {
          timer = setTimeout(() => rej(new HarnessError('ERR_LVS_TIMEOUT', `the watcher in ${this.node} printed nothing within ${timeoutMs / 1000} s${errText ? `: ${errText.trim()}` : ''}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The node went away (killed, restarted): watch again once it runs, until stopped. */
  private async reopen(): Promise<void> {
    while (!this.stopped) {
      await sleep(300);
      if (this.stopped) return;
      try {
        await this.open(10_000);
        return;
      } catch {
        // not running yet (killed, paused, being restarted): try again
      }
    }
  }

  /** Live view for waits: up when its stream runs and spoke within the last 2 s (ticks of 200 ms). */
  current(): { up: boolean; addresses: string[] } {
    const up = !!this.stream && Date.now() - this.lastRecv < 2000;
    let addresses: string[] = [];
    for (const l of this.lines) if (l.kind === 'A') addresses = l.addresses;
    return { up, addresses: up ? addresses : [] };
  }

  async stop(): Promise<NodeObservations> {
    this.stopped = true;
    const s = this.stream;
    const liveAtEnd = !!s;
    if (s) {
      const done = new Promise<boolean>((r) => {
        s.stdout.once('end', () => r(true));
        s.exit.then(() => r(true), () => r(true));
        setTimeout(() => r(false), 5000).unref();
      });
      // the script exits on a line (or EOF) on its standard input
      s.stdin.write('q\n');
      s.stdin.end();
      // still running 5 s later: ended
      if (!(await done)) s.kill();
    }
    await this.restarting;
    return { node: this.node, lines: this.lines, streams: this.streams, liveAtEnd };
  }
}
