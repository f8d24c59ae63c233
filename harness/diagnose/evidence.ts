/**
 * The evidence script's output (script.ts) as typed evidence per node. Every item keeps its
 * command and its raw lines, so a cause can quote them; the typed views are read from those lines.
 * Never throws: a node that did not answer, a section cut short or text that is not the script's
 * is evidence too ("nothing gathered", "section ended early").
 */
import { parseConnections, parseList, type ConnEntry, type TableService } from '../ipvs/table.js';
import { BEGIN, END, EVIDENCE_COMMANDS, type ItemKey } from './script.js';
import { parseAddrs, parseLinks, parseNeigh, parseRoutes, parseSysctls, type Addr, type Link, type Neigh, type Route, type Sysctl } from './parse-net.js';

export interface EvidenceItem {
  key: ItemKey;
  command: string;
  lines: string[];
  /** the command's exit status; undefined when the section never ended (the script was cut off) */
  exitCode?: number;
  /** lines the command printed, when more than the section shows */
  totalLines?: number;
}

export interface ConnLine extends ConnEntry {
  line: string;
}

export interface NodeEvidence {
  node: string;
  /** why nothing (or not everything) could be gathered: the node is down, the exec timed out */
  error?: string;
  items: Partial<Record<ItemKey, EvidenceItem>>;
  sysctls: Map<string, Sysctl>;
  addrs: Addr[];
  links: Link[];
  routes: Route[];
  neigh: Neigh[];
  ipvs: TableService[];
  conns: ConnLine[];
}

const commandOf = new Map(EVIDENCE_COMMANDS.map((c) => [c.key, c.command]));

/** Evidence of a node that could not be asked (stopped, killed, the exec failed). */
export function unreachable(node: string, error: string): NodeEvidence {
  return parseEvidence(node, '', { error });
}

/** Reads the script's stdout for `node`. `error` says why the exec itself failed, if it did. */
export function parseEvidence(node: string, stdout: unknown, o: { error?: string } = {}): NodeEvidence {
  const text = typeof stdout === 'string' ? stdout : '';
  const items: NodeEvidence['items'] = {};
  let cur: EvidenceItem | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    const b = line.startsWith(`${BEGIN} `) ? line.slice(BEGIN.length + 1).trim() : undefined;
    if (b !== undefined) {
      const key = b as ItemKey;
      cur = commandOf.has(key) ? { key, command: commandOf.get(key)!, lines: [] } : undefined;
      if (cur) items[key] = cur;
      continue;
    }
    const e = line.startsWith(`${END} `) ? line.slice(END.length + 1).match(/^(\S+) rc=(\d+) lines=(\d*)/) : undefined;
    if (e) {
      if (cur && cur.key === e[1]) {
        cur.exitCode = Number(e[2]);
        if (e[3] && Number(e[3]) > cur.lines.length) cur.totalLines = Number(e[3]);
      }
      cur = undefined;
      continue;
    }
    if (cur) cur.lines.push(line);
  }
  for (const it of Object.values(items)) while (it.lines.length && it.lines[it.lines.length - 1] === '') it.lines.pop();
  const lines = (k: ItemKey) => items[k]?.lines ?? [];
  const ended = Object.values(items).filter((i) => i.exitCode === undefined).map((i) => i.key);
  const error = [o.error, ended.length ? `sections cut short: ${ended.join(', ')}` : undefined, !o.error && !text.trim() ? 'the node printed nothing' : undefined].filter(Boolean).join('; ');
  return {
    node,
    ...(error ? { error } : {}),
    items,
    sysctls: parseSysctls(lines('sysctl')),
    addrs: parseAddrs(lines('addr')),
    links: parseLinks(lines('link')),
    routes: [...parseRoutes(lines('route'), 4), ...parseRoutes(lines('route6'), 6)],
    neigh: parseNeigh(lines('neigh')),
    ipvs: safe(() => parseList(lines('ipvs').join('\n')), []),
    conns: lines('ipvs-conns').flatMap((line) => safe(() => parseConnections(line), []).map((c) => ({ ...c, line }))),
  };
}

function safe<T>(f: () => T, fallback: T): T {
  try {
    return f();
  } catch {
    return fallback;
  }
}
