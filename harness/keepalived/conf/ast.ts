/**
 * keepalived.conf as keepalived's own parser (lib/parser.c) sees it, before any meaning is given
 * to a keyword: a tree of lines, each a keyword with its arguments and, when a `{ … }` block
 * follows, its children. Every node carries the file and line it came from (after includes,
 * `@` conditionals, `$` definitions and `~SEQ` repetition are applied), so that findings can name
 * them. The grammar layer (parse.ts) produces it; the typed model (model-parse.ts) and the lint
 * rules read it.
 */

/** Where a node or a problem comes from. `line` is 1-based, in `file` (an included file's own path). */
export interface Loc {
  file: string;
  line: number;
}

export interface ConfNode extends Loc {
  /** the first word of the line, exactly as written (keywords are case-sensitive in keepalived) */
  keyword: string;
  /** the other words of the line before any `{`; double-quoted words have their quotes removed and stay one word */
  args: string[];
  /** present when a `{ … }` block follows the line (on the same line or the next), possibly empty */
  children?: ConfNode[];
  /**
   * the line of the `}` that closes the block, when it is in this node's own file: a finding
   * about a brace can then name the line it stands on, not only the last line inside the block
   */
  endLine?: number;
  /** the chain of include lines that brought this node in, outermost first (empty for the top file) */
  includedFrom?: Loc[];
}

export type ConfProblemCode =
  | 'unbalanced-open' // a `{` never closed (reported at the line that opened it)
  | 'unbalanced-close' // a `}` with no open block
  | 'include-missing' // an include whose pattern matched nothing / a file that cannot be read
  | 'include-loop' // a file including itself, directly or not
  | 'include-depth' // nesting past keepalived's limit
  | 'bad-seq' // a ~SEQ(...) keepalived would refuse
  | 'undefined-variable' // $NAME used but never defined
  | 'bad-definition' // a $NAME=... line keepalived would refuse
  | 'unterminated-quote'
  | 'binary-input' // NUL bytes or undecodable input
  | 'too-large'
  | 'line-too-long' // a line (or its expansion) past keepalived's 1023-byte line buffer
  | 'unexpected-open'; // a `{` that follows no keyword line: keepalived ignores it

export interface ConfProblem extends Loc {
  code: ConfProblemCode;
  severity: 'error' | 'warning';
  message: string;
}

export interface ParsedConf {
  /** the top-level nodes, in file order with includes spliced in where they stand */
  nodes: ConfNode[];
  problems: ConfProblem[];
  /** every file read, in the order read (the top file first) */
  files: string[];
}

export interface ParseOptions {
  /** `keepalived --instance ID`: which `@ID` / `@^ID` lines apply (default: none, so `@ID` lines are dropped and `@^ID` kept) */
  instance?: string;
  /** reads an included file; default fs.readFileSync. Tests pass an in-memory map. */
  readFile?: (path: string) => string;
  /** lists the files a glob pattern matches, sorted; default a glob over the real file system */
  glob?: (pattern: string) => string[];
  /** the environment `${_ENV NAME}` reads; without it `${_ENV …}` stays as written */
  env?: Record<string, string | undefined>;
}
