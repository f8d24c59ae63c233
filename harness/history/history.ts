import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The history of a run: an append-only log of workload operations, faults and observations,
 * one JSON object per line (reports/<run-id>/history.ndjson). Checkers read only this.
 * Times are milliseconds since the epoch on the lab's clock (every container of a lab shares
 * the VM's kernel clock); host-side events are shifted by the measured host-to-lab offset.
 */
export type Outcome = 'ok' | 'refused' | 'reset' | 'timeout' | 'error';

export interface OpEvent {
  type: 'op';
  /** when the operation started, and how long it took */
  t: number;
  latencyMs: number;
  node: string;
  /** http | tcp | udp | hold (a TCP connection kept open) | release */
  op: 'http' | 'tcp' | 'udp' | 'hold' | 'release';
  src: string;
  srcPort?: number;
  dst: string;
  dstPort: number;
  outcome: Outcome;
  status?: number;
  /** real server identity from the answer */
  server?: string;
  rip?: string;
  /** the client address the real server saw */
  seen?: string;
  /** held connections: an id to pair hold with release */
  conn?: string;
  error?: string;
  /** free-form tags the workload sets (phase names) */
  tag?: string;
}

export interface FaultEvent {
  type: 'fault';
  t: number;
  phase: 'start' | 'end';
  fault: string;
  target: string;
  detail?: string;
  /** start events: by when the fault was certainly in effect (ActiveFault.inEffectBy) */
  by?: number;
}

export interface ObservationEvent {
  type: 'observe';
  t: number;
  node: string;
  /** ipvs-table | ipvs-conns | ipvs-edit | clock | note */
  what: string;
  data: unknown;
}

export type HistoryEvent = OpEvent | FaultEvent | ObservationEvent;

export class History {
  readonly events: HistoryEvent[] = [];
  private out?: WriteStream;

  static async open(file?: string): Promise<History> {
    const h = new History();
    if (file) {
      await mkdir(path.dirname(file), { recursive: true });
      h.out = createWriteStream(file, { flags: 'a' });
    }
    return h;
  }

  append(e: HistoryEvent): void {
    this.events.push(e);
    this.out?.write(JSON.stringify(e) + '\n');
  }

  ops(filter: (e: OpEvent) => boolean = () => true): OpEvent[] {
    return this.events.filter((e): e is OpEvent => e.type === 'op' && filter(e));
  }

  async close(): Promise<void> {
    const out = this.out;
    if (!out) return;
    this.out = undefined;
    await new Promise<void>((r) => out.end(r));
  }
}

export function parseHistory(text: string): HistoryEvent[] {
  return text
    .split('\n')
    .map((l, i) => ({ l, n: i + 1 }))
    .filter(({ l }) => l.trim())
    .map(({ l, n }) => {
      try {
        return JSON.parse(l) as HistoryEvent;
      } catch {
        throw new Error(`history line ${n} is not JSON: ${l.slice(0, 80)}`);
      }
    });
}

export const readHistory = async (file: string) => parseHistory(await readFile(file, 'utf8'));

/**
 * The nodes each `pause` fault of the history froze, and when: from its start (issued), `by` when
 * it was certainly in effect, to its end (absent: it lasted to the end).
 */
export function pauseWindows(events: readonly HistoryEvent[]): Record<string, { from: number; by?: number; to?: number }[]> {
  const out: Record<string, { from: number; by?: number; to?: number }[]> = {};
  for (const e of events) {
    if (e.type !== 'fault' || e.fault !== 'pause') continue;
    for (const node of e.target.split('/')) {
      const ws = (out[node] ??= []);
      if (e.phase === 'start') ws.push({ from: e.t, ...(e.by !== undefined ? { by: e.by } : {}) });
      else if (ws.length && ws[ws.length - 1]!.to === undefined) ws[ws.length - 1]!.to = e.t;
    }
  }
  return out;
}
