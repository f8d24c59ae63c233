/**
 * `$NAME=VALUE` definitions and their expansion, after `check_definition()`, `find_definition()`
 * and `replace_param()` in keepalived's lib/parser.c. Expansion rescans what it inserted
 * (definitions may use definitions), so it is bounded here: keepalived itself loops forever on
 * `$A=$A` and stops at its 1023-byte line buffer.
 */
import { MAX_LINE_BYTES, tooLong } from './lex.js';

export interface Definition {
  /** for a multiline definition, its lines joined by '\n' */
  value: string;
  multiline: boolean;
  /** keepalived's pre-defined names (`_PWD`, `_RANDOM`, …), computed at use */
  std?: 'pwd' | 'instance' | 'random' | 'env';
}

export interface DefinitionContext {
  defs: Map<string, Definition>;
  /** the directory of the file being read (keepalived: its working directory, moved there on include) */
  pwd: string;
  instance?: string;
  env?: Record<string, string | undefined>;
}

export interface ExpandProblem {
  code: 'undefined-variable' | 'bad-definition' | 'line-too-long';
  severity: 'error' | 'warning';
  message: string;
}

export interface Expansion {
  text: string;
  changed: boolean;
  /** the later lines of each multiline definition used, in the order used (the last is read first) */
  multilineRests: string[][];
  problems: ExpandProblem[];
}

/** keepalived's own definitions; a user definition of the same name replaces them */
export function standardDefinitions(): Map<string, Definition> {
  return new Map<string, Definition>([
    ['_PWD', { value: '', multiline: false, std: 'pwd' }],
    ['_INSTANCE', { value: '', multiline: false, std: 'instance' }],
    ['_RANDOM', { value: '', multiline: false, std: 'random' }],
    ['_ENV', { value: '', multiline: false, std: 'env' }],
    ['_HASH', { value: '#', multiline: false }],
    ['_BANG', { value: '!', multiline: false }],
  ]);
}

const PARAMS: Record<string, { min: number; max: number; numbers: boolean }> = {
  random: { min: 0, max: 2, numbers: true },
  env: { min: 1, max: 1, numbers: false },
};

function isAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c === '_');
}
function isWordChar(c: string | undefined): boolean {
  return isAlpha(c) || (c !== undefined && c >= '0' && c <= '9');
}

export interface DefinitionLine {
  name: string;
  /** the value's first line (empty when the line ends in a lone `\`) */
  value: string;
  /** the line ended in `\`: the following lines continue the value */
  continued: boolean;
}

/**
 * `check_definition()`: `$NAME=VALUE` with no blank before `=`. Returns undefined when the line
 * is not a definition (keepalived then reads it as an ordinary line).
 */
export function readDefinitionLine(buf: string): DefinitionLine | undefined {
  if (buf[0] !== '$' || !isAlpha(buf[1])) return undefined;
  let p = 2;
  while (p < buf.length && buf[p] !== '=') {
    if (!isWordChar(buf[p])) return undefined;
    p++;
  }
  if (buf[p] !== '=') return undefined;
  const name = buf.slice(1, p);
  let value = buf.slice(p + 1).replace(/^[ \t]+/, '');
  let continued = false;
  if (value.endsWith('\\')) {
    continued = true;
    value = value.slice(0, -1).replace(/[ \t]+$/, '');
    if (value) value += '\n';
  }
  return { name, value, continued };
}

/** A line that looks meant as a definition but that keepalived reads as an ordinary line. */
export function misreadDefinition(buf: string): string | undefined {
  const m = /^\$(\S*?)([ \t]*)=/.exec(buf);
  if (!m) return undefined;
  const name = m[1] ?? '';
  if (m[2]) return `"$${name} =": keepalived allows no blank before '=', so this line is not a definition but a keyword "$${name}"`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
    return `"$${name}=": a definition name is letters, digits and '_' and does not start with a digit, so keepalived reads this line as a keyword`;
  return undefined;
}

interface Ref {
  name: string;
  /** characters from the `$` to the end of the reference */
  length: number;
  params?: string[];
  atLineEnd: boolean;
}

/** `find_definition()` on the text after a `$`: `NAME` (then blank, `,`, `)` or end) or `{NAME [params]}`. */
function readRef(buf: string, at: number): Ref | undefined {
  const braces = buf[at] === '{';
  let p = braces ? at + 1 : at;
  if (!isAlpha(buf[p])) return undefined;
  const nameStart = p;
  while (isWordChar(buf[p])) p++;
  const name = buf.slice(nameStart, p);
  if (!braces) {
    const c = buf[p];
    if (c !== undefined && c !== ' ' && c !== '\t' && c !== ',' && c !== ')') return undefined;
    return { name, length: p - at + 1, atLineEnd: p === buf.length };
  }
  const paramStart = p;
  while (p < buf.length && (buf[p] === ' ' || buf[p] === '\t' || isWordChar(buf[p]))) p++;
  const paramText = buf.slice(paramStart, p);
  if (paramText && /[ \t]$/.test(paramText)) return undefined;
  if (buf[p] !== '}') return undefined;
  const params = paramText.trim() ? paramText.trim().split(/[ \t]+/) : undefined;
  return { name, length: p + 1 - at + 1, params, atLineEnd: p + 1 === buf.length };
}

/** The text a defined name stands for, or undefined when it cannot be known here (left as written). */
function valueOf(def: Definition, ref: Ref, ctx: DefinitionContext, problems: ExpandProblem[]): string | undefined {
  const spec = def.std ? PARAMS[def.std] : undefined;
  if (ref.params) {
    if (!spec) return undefined;
    if (spec.numbers && ref.params.some((x) => !/^\d+$/.test(x))) {
      problems.push({ code: 'bad-definition', severity: 'error', message: `\${${ref.name} …} takes numbers only; keepalived leaves it as written` });
      return undefined;
    }
    if (ref.params.length < spec.min || ref.params.length > spec.max) {
      problems.push({ code: 'bad-definition', severity: 'error', message: `\${${ref.name} …} takes ${spec.min} to ${spec.max} parameters, not ${ref.params.length}; keepalived leaves it as written` });
      return undefined;
    }
  } else if (spec && spec.min > 0) return undefined;
  switch (def.std) {
    case 'pwd':
      return ctx.pwd;
    case 'instance':
      return ctx.instance;
    case 'random':
      return undefined; // a new number each run: nothing stable to put in the tree
    case 'env':
      return ctx.env ? (ctx.env[ref.params?.[0] ?? ''] ?? '') : undefined;
    default:
      return def.value;
  }
}

const MAX_REPLACEMENTS = 1000;

/** `replace_param()`: replaces every defined `$NAME` / `${NAME}`; undefined ones stay as written. */
export function expand(line: string, ctx: DefinitionContext): Expansion {
  let buf = line;
  let pos = 0;
  let changed = false;
  let count = 0;
  const multilineRests: string[][] = [];
  const problems: ExpandProblem[] = [];
  const reported = new Set<string>();
  for (;;) {
    const i = buf.indexOf('$', pos);
    if (i < 0 || i + 1 >= buf.length) break;
    const ref = readRef(buf, i + 1);
    const def = ref ? ctx.defs.get(ref.name) : undefined;
    if (!ref || !def || (def.multiline && !ref.atLineEnd)) {
      if (ref && !reported.has(ref.name)) {
        reported.add(ref.name);
        problems.push({
          code: 'undefined-variable',
          severity: 'warning',
          message: def
            ? `$${ref.name} is a multiline definition, which keepalived expands only at the end of a line; here it stays as written`
            : `$${ref.name} is not defined (above this line); keepalived leaves it as written`,
        });
      }
      pos = i + 1;
      continue;
    }
    const value = valueOf(def, ref, ctx, problems);
    if (value === undefined) {
      pos = i + 1;
      continue;
    }
    let insert = value;
    if (def.multiline) {
      const nl = value.indexOf('\n');
      insert = nl < 0 ? value : value.slice(0, nl);
      if (nl >= 0) multilineRests.push(value.slice(nl + 1).split('\n'));
    }
    const next = buf.slice(0, i) + insert + buf.slice(i + ref.length);
    if (tooLong(next)) {
      problems.push({ code: 'line-too-long', severity: 'error', message: `expanding $${ref.name} makes the line longer than keepalived's ${MAX_LINE_BYTES} bytes; keepalived stops expanding it there` });
      break;
    }
    buf = next;
    changed = true;
    if (++count > MAX_REPLACEMENTS) {
      problems.push({ code: 'bad-definition', severity: 'error', message: `expanding $${ref.name} does not end (a definition that uses itself?); keepalived would loop on this line` });
      break;
    }
    // keepalived stops at a value starting with `~` so that it is read as a ~SEQ/~LST line
    if (/^[ \t]*~/.test(value)) break;
  }
  return { text: buf, changed, multilineRests, problems };
}
