/**
 * keepalived.conf as keepalived itself reads it. The grammar layer nests blocks by their braces;
 * keepalived does not: its process_stream (lib/parser.c) looks each line's keyword up in the
 * current block's table and, for a keyword it does not know there, logs "Unknown keyword", ignores
 * the `{` that follows ("Unexpected '{' - ignoring") and reads that block's lines as lines of the
 * current block, so the `}` meant for the unknown block ends the current one. One missing `}` thus
 * moves every later block up or down a level. This module replays that reading over the nested
 * tree and reports what it changed, so lint and the typed model see what keepalived will run.
 */
import type { ConfNode, Loc } from './ast.js';
import { keywordVerdict, type KeywordLifecycle, type KeywordVerdict } from '../releases.js';
import { keywordTable, type KeepalivedRelease, type KeywordTable } from './keywords.js';
import { nearest } from './nearest.js';

export type ReadIssueCode =
  /** a keyword the block does not know */
  | 'unknown-keyword'
  /** a top-level block (global_defs, vrrp_instance, …) inside another block: a `}` is missing before it */
  | 'misplaced-block'
  /** a `{ … }` after a keyword that takes none: keepalived ignores the `{`, and the `}` ends the enclosing block */
  | 'unexpected-block'
  /** a block keyword without its `{` */
  | 'missing-open'
  /** a `}` left over at the top level (keepalived: Unknown keyword '}') */
  | 'extra-close'
  /** a keyword the release reads but announces as deprecated */
  | 'deprecated-keyword';

export interface ReadIssue extends Loc {
  code: ReadIssueCode;
  keyword: string;
  /** the keywords of the blocks around it, outermost first, as keepalived reads them */
  path: string[];
  /** the enclosing block's opening line, when there is one */
  enclosing?: Loc & { keyword: string; args: string[] };
  /** nearest known keyword of that block (unknown-keyword) */
  suggestion?: string;
  /** the keyword's life explains the issue (unknown-keyword: too new or removed; deprecated-keyword: deprecated) */
  verdict?: KeywordVerdict;
  /** lines of its block that keepalived reads as part of the enclosing block (misplaced/unexpected) */
  absorbed?: string[];
  /** for extra-close whose `}` stands in another file than its block: the block's last line, all that is known (otherwise `line` is the `}`'s own) */
  after?: number;
}

export interface Reading {
  /** the nodes as keepalived nests them; unknown keywords stay in place, marked */
  nodes: ReadNode[];
  issues: ReadIssue[];
}

export interface ReadNode extends ConfNode {
  children?: ReadNode[];
  /** true when keepalived does not know the keyword in this block */
  unknown?: boolean;
}

type Ev = { t: 'line'; n: ConfNode; parent?: ConfNode } | { t: '{'; n: ConfNode } | { t: '}'; n: ConfNode };

function linearize(nodes: readonly ConfNode[], parent: ConfNode | undefined, out: Ev[]): Ev[] {
  for (const n of nodes) {
    out.push({ t: 'line', n, parent });
    if (n.children) {
      out.push({ t: '{', n });
      linearize(n.children, n, out);
      out.push({ t: '}', n });
    }
  }
  return out;
}

const lastLine = (n: ConfNode): number => Math.max(n.line, ...(n.children ?? []).filter((c) => c.file === n.file).map(lastLine));
const plain = (n: ConfNode): ReadNode => ({ file: n.file, line: n.line, keyword: n.keyword, args: n.args, ...(n.includedFrom ? { includedFrom: n.includedFrom } : {}) });

class Reader {
  private i = 0;
  readonly issues: ReadIssue[] = [];
  /** nodes whose block keepalived does not open: their lines and `}` are consequences, reported once with them */
  private readonly foreign = new Map<ConfNode, ReadIssue>();
  private readonly top: KeywordTable;

  constructor(
    private readonly ev: Ev[],
    private readonly release: KeepalivedRelease,
    private readonly lifecycle?: readonly KeywordLifecycle[],
  ) {
    this.top = keywordTable(release, lifecycle);
  }

  /** One block's lines until its `}` (process_stream); `opener` is the line that opened it. */
  read(table: KeywordTable, path: string[], opener: ConfNode | undefined, needOpen: boolean): ReadNode[] {
    const out: ReadNode[] = [];
    const enclosing = opener ? { file: opener.file, line: opener.line, keyword: opener.keyword, args: opener.args } : undefined;
    while (this.i < this.ev.length) {
      const e = this.ev[this.i++]!;
      if (needOpen) {
        needOpen = false;
        if (e.t === '{') continue;
        if (opener) this.issues.push({ code: 'missing-open', file: opener.file, line: opener.line, keyword: opener.keyword, path: path.slice(0, -1) });
      }
      if (e.t === '{') continue; // reported with the keyword it follows
      if (e.t === '}') {
        if (opener) return out;
        // the `}` of a block keepalived never opened belongs to the issue already reported for it
        // the `}` of e.n: its own line when the parser saw it in e.n's file; otherwise only the block's last line is known
        if (!this.foreign.has(e.n)) this.issues.push({ code: 'extra-close', file: e.n.file, line: e.n.endLine ?? lastLine(e.n), ...(e.n.endLine === undefined ? { after: lastLine(e.n) } : {}), keyword: e.n.keyword, path: [], enclosing: { file: e.n.file, line: e.n.line, keyword: e.n.keyword, args: e.n.args } });
        continue;
      }
      const n = e.n;
      const info = table.get(n.keyword);
      const cause = e.parent && this.foreign.get(e.parent);
      if (!info) {
        out.push({ ...plain(n), unknown: true });
        if (cause) {
          cause.absorbed!.push(n.keyword);
          if (n.children) this.foreign.set(n, cause);
          continue;
        }
        const isTop = path.length > 0 && this.top.get(n.keyword)?.block !== undefined;
        // a keyword this release does not read because it came later or went earlier: the release-keyword rule says so
        const v = isTop ? undefined : keywordVerdict(path, n.keyword, this.release, this.lifecycle);
        const verdict = v && v.kind !== 'deprecated' ? v : undefined;
        const issue: ReadIssue = isTop
          ? { code: 'misplaced-block', file: n.file, line: n.line, keyword: n.keyword, path, enclosing, absorbed: [] }
          : {
              code: 'unknown-keyword',
              file: n.file,
              line: n.line,
              keyword: n.keyword,
              path,
              enclosing,
              ...(verdict ? { verdict } : { suggestion: nearest(n.keyword, table.keys()) }),
              ...(n.children ? { absorbed: [] } : {}),
            };
        this.issues.push(issue);
        if (n.children) this.foreign.set(n, issue);
        continue;
      }
      const verdict = keywordVerdict(path, n.keyword, this.release, this.lifecycle);
      if (verdict?.kind === 'deprecated') this.issues.push({ code: 'deprecated-keyword', file: n.file, line: n.line, keyword: n.keyword, path, enclosing, verdict });
      if (info.block) {
        out.push({ ...plain(n), children: this.read(info.block, [...path, n.keyword], n, true) });
      } else if (info.values) {
        out.push({ ...plain(n), children: this.values(n) });
      } else {
        out.push(plain(n));
        if (n.children) {
          const issue: ReadIssue = { code: 'unexpected-block', file: n.file, line: n.line, keyword: n.keyword, path, enclosing, absorbed: [] };
          this.issues.push(issue);
          this.foreign.set(n, issue);
        }
      }
    }
    // end of input inside a block: the grammar layer reports the unclosed `{`
    return out;
  }

  /** A value block (virtual_ipaddress, track_script, …): its lines are values up to the matching `}`. */
  private values(n: ConfNode): ReadNode[] {
    const e = this.ev[this.i];
    if (!e || e.t !== '{' || e.n !== n) {
      this.issues.push({ code: 'missing-open', file: n.file, line: n.line, keyword: n.keyword, path: [] });
      return [];
    }
    this.i++;
    const out: ReadNode[] = [];
    let depth = 1;
    while (this.i < this.ev.length && depth > 0) {
      const v = this.ev[this.i++]!;
      if (v.t === '{') depth++;
      else if (v.t === '}') depth--;
      else out.push(plain(v.n));
    }
    return out;
  }
}

/** Reads the grammar layer's tree the way `release` of keepalived does (`lifecycle`: another keyword history than keepalived's, for tests). */
export function readAsKeepalived(nodes: readonly ConfNode[], release: KeepalivedRelease, lifecycle?: readonly KeywordLifecycle[]): Reading {
  const r = new Reader(linearize(nodes, undefined, []), release, lifecycle);
  const out = r.read(keywordTable(release, lifecycle), [], undefined, false);
  return { nodes: out, issues: r.issues };
}
