/**
 * keepalived's `read_line()` as a stream of items (a keyword line, a `{`, a `}`), each with the
 * file and line it was read from: files and includes, comments, `@` conditionals, `$`
 * definitions and expansion, `~SEQ` / `~LST` repetition and the brace split. One explicit stack
 * of line sources replaces keepalived's include stack, line residue, multiline pointer and
 * sequence list, so that no input can recurse deeply; every loop is bounded by the limits below.
 */
import path from 'node:path';
import type { ConfProblem, ConfProblemCode, Loc, ParseOptions } from './ast.js';
import { expand, misreadDefinition, readDefinitionLine, standardDefinitions, type Definition, type DefinitionContext } from './definitions.js';
import { isWildcard } from './glob.js';
import { decomment, MAX_LINE_BYTES, splitAtBrace, splitWords, stripContinuation, tooLong } from './lex.js';
import { parseLst, parseSeq } from './sequence.js';

export const LIMITS = {
  /** characters read over all files */
  totalChars: 16 * 1024 * 1024,
  /** lines processed, counting every ~SEQ repetition and expanded line */
  lines: 1_000_000,
  /** characters processed, expansions included: a definition can blow a line up at each use */
  work: 64 * 1024 * 1024,
  /** keepalived sets none: it recurses until it runs out of file descriptors */
  includeDepth: 32,
  /** re-reading a line after an expansion produced `@` or `$` */
  expansionPasses: 8,
};

export interface Item extends Loc {
  kind: 'words' | 'open' | 'close';
  words: string[];
  includedFrom: Loc[];
  /** the item starts its physical line (not a residue after a brace, not an expansion) */
  lead: boolean;
  /** the physical line's leading white space, when `lead` */
  indent: string;
}

interface FileSource {
  kind: 'file';
  file: string;
  lines: string[];
  next: number;
  includedFrom: Loc[];
  /** this file and the files that included it, resolved: a loop is a file already here */
  chain: string[];
  binaryReported: boolean;
  pwd?: string;
}
interface LinesSource {
  kind: 'lines';
  lines: string[];
  next: number;
  at: Loc;
  owner: FileSource;
}
interface RepSource {
  kind: 'rep';
  values: Iterator<Array<[string, string]>>;
  text: string;
  at: Loc;
  owner: FileSource;
}
type Source = FileSource | LinesSource | RepSource;

export interface ReadResult {
  problems: ConfProblem[];
  files: string[];
  /** reading stopped early (too-large): the brace balance at the end means nothing */
  truncated: boolean;
}

interface Io {
  readFile: (p: string) => string;
  glob: (pattern: string) => string[];
}

export class Reader {
  private readonly stack: Source[] = [];
  private readonly defs: Map<string, Definition> = standardDefinitions();
  private multiline: Definition | undefined;
  private readonly problems: ConfProblem[] = [];
  private readonly seen = new Set<string>();
  private readonly files: string[] = [];
  private chars = 0;
  private lines = 0;
  private work = 0;
  private truncated = false;

  constructor(
    private readonly opts: ParseOptions,
    private readonly io: Io,
  ) {}

  problem(at: Loc, code: ConfProblemCode, severity: 'error' | 'warning', message: string): void {
    // a ~SEQ or a definition repeats one line's problem many times: say it once
    const key = `${code}\0${at.file}\0${at.line}\0${code === 'unterminated-quote' ? '' : message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.problems.push({ file: at.file, line: Math.max(1, at.line), code, severity, message });
  }

  /** Reads the top file (already in memory) and feeds every item to `emit`. */
  run(text: string, file: string, emit: (item: Item) => void): ReadResult {
    this.openFile(file, text, [], []);
    while (this.stack.length && !this.truncated) this.step(emit);
    return { problems: this.problems, files: this.files, truncated: this.truncated };
  }

  private openFile(file: string, text: string, includedFrom: Loc[], parentChain: string[]): void {
    this.files.push(file);
    this.chars += text.length;
    if (this.chars > LIMITS.totalChars) {
      this.problem(includedFrom[includedFrom.length - 1] ?? { file, line: 1 }, 'too-large', 'error', `the configuration passes ${LIMITS.totalChars} characters (with includes); reading stopped at ${file}`);
      this.truncated = true;
      return;
    }
    const chain = [...parentChain, path.resolve(file)];
    this.stack.push({ kind: 'file', file, lines: text.split('\n'), next: 0, includedFrom, chain, binaryReported: false });
  }

  private step(emit: (item: Item) => void): void {
    const top = this.stack[this.stack.length - 1]!;
    if (++this.lines > LIMITS.lines) {
      const at = top.kind === 'file' ? { file: top.file, line: top.next + 1 } : top.at;
      this.problem(at, 'too-large', 'error', `the configuration expands to more than ${LIMITS.lines} lines (~SEQ, includes, definitions); reading stopped here`);
      this.truncated = true;
      return;
    }
    if (top.kind === 'file') {
      if (top.next >= top.lines.length) return void this.stack.pop();
      const line = top.next + 1;
      const raw = top.lines[top.next++]!.replace(/\r+$/, '');
      const at = { file: top.file, line };
      if (raw.includes('\0')) {
        if (!top.binaryReported) this.problem(at, 'binary-input', 'error', `NUL bytes: keepalived ignores a line holding one ("configuration appears to have embedded NULs"); this file does not look like a configuration`);
        top.binaryReported = true;
        return this.blank(at);
      }
      if (raw.includes('\uFFFD') && !top.binaryReported) {
        top.binaryReported = true;
        this.problem(at, 'binary-input', 'warning', 'bytes that are not UTF-8 text');
      }
      if (tooLong(raw)) {
        this.problem(at, 'line-too-long', 'error', `line of ${Buffer.byteLength(raw)} bytes: keepalived reads ${MAX_LINE_BYTES} bytes of a line at most, logs "line too long - ignoring", and reads the rest as a line of its own; this parser ignores the whole line`);
        return this.blank(at);
      }
      if (!raw) return this.blank(at);
      const d = decomment(raw);
      if (d.unterminatedQuote) this.problem(at, 'unterminated-quote', 'error', `a '"' is never closed: keepalived logs "Unterminated quote", keeps '#' and '!' after it, and drops the rest of the line from the quote on`);
      if (!d.text) return;
      return this.line(d.text, at, top, true, /^[ \t]*/.exec(raw)![0], emit);
    }
    if (top.kind === 'lines') {
      if (top.next >= top.lines.length) return void this.stack.pop();
      return this.line(top.lines[top.next++]!, top.at, top.owner, false, '', emit);
    }
    const r = top.values.next();
    if (r.done) return void this.stack.pop();
    for (const [name, value] of r.value) this.defs.set(name, { value, multiline: false });
    this.line(top.text, top.at, top.owner, false, '', emit);
  }

  /** a blank line ends a multiline definition (keepalived checks the raw length) */
  private blank(_at: Loc): void {
    if (this.multiline) this.endMultiline();
  }

  private endMultiline(): void {
    if (this.multiline && !this.multiline.value) this.multiline.multiline = false;
    this.multiline = undefined;
  }

  private ctx(owner: FileSource): DefinitionContext {
    owner.pwd ??= path.resolve(path.dirname(owner.file));
    return { defs: this.defs, pwd: owner.pwd, instance: this.opts.instance, env: this.opts.env };
  }

  private line(text: string, at: Loc, owner: FileSource, lead: boolean, indent: string, emit: (item: Item) => void): void {
    this.work += text.length;
    if (this.work > LIMITS.work) {
      this.problem(at, 'too-large', 'error', `the configuration expands to more than ${LIMITS.work} characters (~SEQ, includes, definitions); reading stopped here`);
      this.truncated = true;
      return;
    }
    if (this.multiline) {
      const c = stripContinuation(text);
      if (c.continued) {
        if (c.text) this.multiline.value += c.text + '\n';
      } else {
        this.multiline.value += c.text;
        this.endMultiline();
      }
      return;
    }
    let buf = text;
    let misread = false;
    for (let pass = 0; ; pass++) {
      if (buf[0] === '@') {
        const rev = buf[1] === '^';
        const m = /[ \t]/.exec(buf.slice(rev ? 2 : 1));
        if (!m) return;
        const id = buf.slice(rev ? 2 : 1, (rev ? 2 : 1) + m.index);
        const match = this.opts.instance !== undefined && id === this.opts.instance;
        if (match === rev) return;
        buf = buf.slice((rev ? 2 : 1) + m.index).replace(/^[ \t]+/, '');
      }
      if (buf[0] === '$') {
        const def = readDefinitionLine(buf);
        if (def) {
          const d: Definition = { value: def.value, multiline: def.continued };
          this.defs.set(def.name, d);
          if (def.continued) this.multiline = d;
          return;
        }
        const why = misreadDefinition(buf);
        if (why) this.problem(at, 'bad-definition', 'error', why);
        misread ||= why !== undefined;
      }
      if (buf.startsWith('~SEQ') || buf.startsWith('~LST')) {
        const r = buf[1] === 'S' ? parseSeq(buf, this.ctx(owner)) : parseLst(buf);
        if (!r.ok) return this.problem(at, 'bad-seq', 'error', r.message);
        this.stack.push({ kind: 'rep', values: r.rep.values()[Symbol.iterator](), text: r.rep.text, at, owner });
        return;
      }
      if (buf[0] === '~' || !buf.includes('$')) break;
      const exp = expand(buf, this.ctx(owner));
      for (const p of exp.problems) if (!(misread && p.code === 'undefined-variable')) this.problem(at, p.code, p.severity, p.message);
      if (!exp.changed) break;
      for (const rest of exp.multilineRests) this.stack.push({ kind: 'lines', lines: rest, next: 0, at, owner });
      buf = decomment(exp.text).text;
      lead = false;
      // keepalived's manual: a line that expands to `@id …` or to further `$` is read again
      if (!(buf[0] === '@' || buf.includes('$')) || pass + 1 >= LIMITS.expansionPasses) break;
    }
    if (!buf) return;
    const include = /^include([rmwba]?)[ \t\n\r\f\v][ \t]*/.exec(buf);
    if (include) return this.include(buf.slice(include[0].length), include[1] ?? '', at, owner);
    const split = splitAtBrace(buf);
    if (split.residue) this.stack.push({ kind: 'lines', lines: [split.residue], next: 0, at, owner });
    const head = split.head;
    if (head === '{' || head === '}') return emit({ kind: head === '{' ? 'open' : 'close', words: [], file: at.file, line: at.line, includedFrom: owner.includedFrom, lead, indent });
    const w = splitWords(head);
    if (w.unmatchedQuote) this.problem(at, 'unterminated-quote', 'error', `a word starts with '"' that is never closed: keepalived logs "Unmatched quote" and drops the rest of the line`);
    if (w.words.length) emit({ kind: 'words', words: w.words, file: at.file, line: at.line, includedFrom: owner.includedFrom, lead, indent });
  }

  private include(pattern: string, variant: string, at: Loc, owner: FileSource): void {
    if (!pattern) return;
    const kw = `include${variant}`;
    const includedFrom = [...owner.includedFrom, { file: at.file, line: at.line }];
    if (includedFrom.length > LIMITS.includeDepth) {
      this.problem(at, 'include-depth', 'error', `${kw} ${pattern}: includes nested more than ${LIMITS.includeDepth} deep; keepalived has no limit and goes on until it runs out of open files. Not followed`);
      return;
    }
    const resolved = path.isAbsolute(pattern) ? pattern : path.join(path.dirname(owner.file), pattern);
    let matches: string[];
    try {
      matches = this.io.glob(resolved);
    } catch (e) {
      this.problem(at, 'include-missing', 'error', `${kw} ${pattern}: cannot list ${resolved} (${(e as Error).message})`);
      return;
    }
    if (!matches.length) {
      const wild = isWildcard(pattern);
      const strict = variant === 'w' || variant === 'a' || (!wild && variant === 'm');
      const silent = variant === '' ? `; plain include skips it silently` : '';
      this.problem(at, 'include-missing', wild && !strict ? 'warning' : 'error', wild ? `${kw} ${pattern}: no file matches ${resolved}${silent}` : `${kw} ${pattern}: ${resolved} does not exist${silent}`);
      return;
    }
    const opened: Array<[string, string]> = [];
    for (const m of matches) {
      if (owner.chain.includes(path.resolve(m))) {
        this.problem(at, 'include-loop', 'error', `${kw} ${pattern}: ${m} is already being read (${owner.chain.join(' → ')}); keepalived would include it again and again until it runs out of open files. Not followed`);
        continue;
      }
      try {
        opened.push([m, this.io.readFile(m)]);
      } catch (e) {
        this.problem(at, 'include-missing', 'error', `${kw} ${pattern}: cannot read ${m} (${(e as Error).message}); keepalived skips it`);
      }
    }
    // the first match is read first: it goes on top of the stack
    const frames: Source[] = [];
    for (const [m, text] of opened) {
      const before = this.stack.length;
      this.openFile(m, text, includedFrom, owner.chain);
      if (this.truncated) return;
      frames.push(...this.stack.splice(before));
    }
    this.stack.push(...frames.reverse());
  }
}
