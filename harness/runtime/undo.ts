/**
 * The undo journal: every change the harness makes on a host it does not own (an address, an
 * iptables rule, a qdisc, a sysctl, a file) is written down with the argv that reverts it,
 * before the change is made, in a JSON file rewritten after each record. A container is thrown
 * away at the end of a run; a real host is not, so after a crash or Ctrl-C a later process loads
 * the file and undoes what is left (`lvs-harness` or by hand: each failure comes with the exact
 * command to type).
 *
 * Write ahead: record, then change. An undo may so run for a change that never happened, so
 * undo commands should accept "already gone" (`ip addr del` of a missing address fails: it is
 * reported, and harmless).
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import type { ExecOptions, Node } from './node.js';

export interface UndoEntry {
  id: number;
  /** the node's name; absent for a journal of one node */
  node?: string;
  /** what the change was, for people: "10.0.0.100/32 on eth0" */
  what: string;
  /** argv that reverts it */
  undo: string[];
  /** when it was recorded (ISO 8601) */
  at: string;
}

export interface UndoFailure {
  entry: UndoEntry;
  error: string;
  /** the exact command to run by hand (an ssh line for an SSH node) */
  byHand: string;
}

export interface UndoReport {
  undone: UndoEntry[];
  failed: UndoFailure[];
  /** entries of nodes not given to undoAll: left in the journal */
  skipped: UndoEntry[];
}

const VERSION = 1;

/** The file's text for these entries. */
export const serializeJournal = (entries: readonly UndoEntry[]): string => JSON.stringify({ version: VERSION, entries }, null, 2) + '\n';

/** Entries read back from a journal file's JSON; ERR_LVS_UNDO_JOURNAL naming the file when it is not one. */
export function parseJournal(data: unknown, file: string): UndoEntry[] {
  const bad = (why: string) => new HarnessError('ERR_LVS_UNDO_JOURNAL', `${file}: not an undo journal (${why})`, { details: { file } });
  if (typeof data !== 'object' || data === null) throw bad('not an object');
  const { version, entries } = data as { version?: unknown; entries?: unknown };
  if (version !== VERSION) throw bad(`version ${JSON.stringify(version)}, this harness reads ${VERSION}`);
  if (!Array.isArray(entries)) throw bad('no entries list');
  return entries.map((e: unknown, i) => {
    const x = e as Partial<UndoEntry> | null;
    const ok =
      typeof x === 'object' && x !== null &&
      Number.isInteger(x.id) && typeof x.what === 'string' && typeof x.at === 'string' &&
      (x.node === undefined || typeof x.node === 'string') &&
      Array.isArray(x.undo) && x.undo.length > 0 && x.undo.every((a) => typeof a === 'string');
    if (!ok) throw bad(`entry ${i} is malformed: ${JSON.stringify(e)}`);
    return { id: x.id!, ...(x.node === undefined ? {} : { node: x.node }), what: x.what!, undo: [...x.undo!], at: x.at! };
  });
}

/** The order to undo in: the last change first. */
export const undoOrder = (entries: readonly UndoEntry[]): UndoEntry[] => [...entries].sort((a, b) => b.id - a.id);

/** For people: what could not be undone, each with the command to run by hand. Empty when all was. */
export function formatUndoReport(r: UndoReport, file?: string): string {
  if (!r.failed.length && !r.skipped.length) return '';
  const lines: string[] = [];
  if (r.failed.length) {
    lines.push(`could not undo ${r.failed.length} change${r.failed.length === 1 ? '' : 's'}${file ? ` (still in ${file})` : ''}; run by hand, in this order:`);
    for (const f of r.failed) {
      lines.push(`  ${f.entry.node ? `${f.entry.node}: ` : ''}${f.entry.what}: ${f.error.split('\n')[0]}`);
      lines.push(`    ${f.byHand}`);
    }
  }
  if (r.skipped.length) lines.push(`not tried, their nodes were not given: ${r.skipped.map((e) => `${e.node ?? '?'}: ${e.what}`).join('; ')}`);
  return lines.join('\n');
}

/** Codes that say the node cannot be reached at all: the rest of its entries are not tried. */
const UNREACHABLE = new Set(['ERR_LVS_SSH_CONNECT', 'ERR_LVS_SSH_AUTH', 'ERR_LVS_SSH_HOST_KEY']);

export class UndoJournal {
  readonly file: string;
  private list: UndoEntry[];
  private nextId: number;
  private writing: Promise<void> = Promise.resolve();

  private constructor(file: string, entries: UndoEntry[]) {
    this.file = file;
    this.list = entries;
    this.nextId = entries.reduce((m, e) => Math.max(m, e.id), 0) + 1;
  }

  /** The journal in `file`: what a crashed run left there, or a new empty one (the file is written on the first record). */
  static async open(file: string): Promise<UndoJournal> {
    let data: unknown;
    try {
      data = await readJsonFile(file, 'ERR_LVS_UNDO_JOURNAL');
    } catch (e) {
      if ((e as HarnessError).message?.endsWith(': no such file')) return new UndoJournal(file, []);
      throw e;
    }
    return new UndoJournal(file, parseJournal(data, file));
  }

  /** The entries in the order they were recorded. */
  get entries(): readonly UndoEntry[] {
    return this.list;
  }

  /** Writes the change down (on disk before it returns) and returns its id, for forget(). */
  async record(what: string, undo: readonly string[], node?: Node | string): Promise<number> {
    if (!undo.length) throw new HarnessError('ERR_LVS_UNDO_JOURNAL', `undo of "${what}": an empty command`);
    const name = typeof node === 'string' ? node : node?.name;
    const entry: UndoEntry = { id: this.nextId++, ...(name === undefined ? {} : { node: name }), what, undo: [...undo], at: new Date().toISOString() };
    this.list.push(entry);
    await this.persist();
    return entry.id;
  }

  /** The change was reverted the ordinary way (a nemesis healed): drop its entry. */
  async forget(id: number): Promise<void> {
    this.list = this.list.filter((e) => e.id !== id);
    await this.persist();
  }

  /**
   * Records the change, then makes it. When the command fails with an exit code (so it ran and
   * refused), the entry is dropped again; when the connection is lost or the deadline passes,
   * it stays: the change may have happened.
   */
  async apply(node: Node, what: string, argv: readonly string[], undo: readonly string[], opts: Omit<ExecOptions, 'allowFailure'> = {}): Promise<number> {
    const id = await this.record(what, undo, node);
    try {
      await node.exec(argv, opts);
    } catch (e) {
      if ((e as HarnessError).code === 'ERR_LVS_EXEC_FAILED') await this.forget(id);
      throw e;
    }
    return id;
  }

  /**
   * Runs every undo, the last change first, on the node it was recorded for (entries without a
   * node on the only node given). A failure does not stop the others; each is reported with the
   * command to run by hand, and stays in the journal (the file is removed once it is empty).
   */
  async undoAll(nodes: Node | readonly Node[], opts: { timeoutMs?: number } = {}): Promise<UndoReport> {
    const list = Array.isArray(nodes) ? (nodes as readonly Node[]) : [nodes as Node];
    const byName = new Map(list.map((n) => [n.name, n]));
    const report: UndoReport = { undone: [], failed: [], skipped: [] };
    const unreachable = new Map<string, string>();
    for (const entry of undoOrder(this.list)) {
      const node = entry.node === undefined ? (list.length === 1 ? list[0] : undefined) : byName.get(entry.node);
      if (!node) {
        report.skipped.push(entry);
        continue;
      }
      const byHand = node.handCommand(entry.undo);
      const down = unreachable.get(node.name);
      if (down) {
        report.failed.push({ entry, error: `not tried: ${down}`, byHand });
        continue;
      }
      try {
        await node.exec(entry.undo, { timeoutMs: opts.timeoutMs ?? 60_000 });
        report.undone.push(entry);
        this.list = this.list.filter((e) => e.id !== entry.id);
        await this.persist();
      } catch (e) {
        const err = e as HarnessError;
        const error = err.code ? `${err.code}: ${err.message}` : String(e);
        report.failed.push({ entry, error, byHand });
        if (UNREACHABLE.has(err.code)) unreachable.set(node.name, error.split('\n')[0]!);
      }
    }
    await this.persist();
    return report;
  }

  /** Rewrites the file (or removes it when empty): a temporary file, synced, then renamed over it. One write at a time. */
  private persist(): Promise<void> {
    const text = this.list.length ? serializeJournal(this.list) : undefined;
    const write = async () => {
      if (text === undefined) {
        await rm(this.file, { force: true });
        return;
      }
      await mkdir(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
    };
    const next = this.writing.then(write, write);
    this.writing = next.catch(() => {});
    return next.then(
      () => {},
      (e: NodeJS.ErrnoException) => {
        throw new HarnessError('ERR_LVS_UNDO_JOURNAL', `cannot write the undo journal ${this.file} (${e.code ?? e.message})`, { cause: e, details: { file: this.file } });
      },
    );
  }
}
