/**
 * `~SEQ(var, start, step, end) TEXT`, `~SEQx(…)` and `~LST(var, v1, v2, …) TEXT` lines, after
 * `add_seq()` / `add_lst()` in keepalived's lib/parser.c: TEXT is read once per value with
 * `$var` defined to it. Parsing only; the reader in parse.ts produces the repetitions.
 */
import { expand, type DefinitionContext } from './definitions.js';

export interface Repetition {
  /** one assignment per repetition: variable name → value */
  values: () => Iterable<Array<[string, string]>>;
  text: string;
}

export type SeqResult = { ok: true; rep: Repetition } | { ok: false; message: string };

const skipBlanks = (s: string, p: number) => {
  while (s[p] === ' ' || s[p] === '\t') p++;
  return p;
};

/** C's strtol(s, &end, 0): optional sign, 0x hex, leading-0 octal; no digits → 0 and end = start */
export function strtol(s: string, start: number): { value: number; end: number } {
  let p = start;
  while (p < s.length && ' \t\n\r\f\v'.includes(s[p]!)) p++;
  let sign = 1;
  if (s[p] === '+' || s[p] === '-') {
    if (s[p] === '-') sign = -1;
    p++;
  }
  let base = 10;
  if (s[p] === '0' && (s[p + 1] === 'x' || s[p + 1] === 'X') && /[0-9a-fA-F]/.test(s[p + 2] ?? '')) {
    base = 16;
    p += 2;
  } else if (s[p] === '0') base = 8;
  const digits = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  const first = p;
  let value = 0;
  while (p < s.length && digits.test(s[p]!)) {
    value = Math.min(value * base + parseInt(s[p]!, base), Number.MAX_SAFE_INTEGER);
    p++;
  }
  if (p === first) return { value: 0, end: start };
  return { value: sign * value, end: p };
}

function seqValues(v: string, start: number, step: number, end: number, hex: boolean) {
  return function* (): Iterable<Array<[string, string]>> {
    for (let n = start; step > 0 ? n <= end : n >= end; n += step) yield [[v, hex ? n.toString(16) : String(n)]];
  };
}

export function parseSeq(buf: string, ctx: DefinitionContext): SeqResult {
  const bad = (why: string): SeqResult => ({ ok: false, message: `${why}; keepalived refuses "${buf}" and drops the line` });
  let p = 4;
  const hex = buf[p] === 'x';
  if (hex) p++;
  p = skipBlanks(buf, p);
  if (buf[p] !== '(') return bad(`~SEQ needs '(' after it`);
  p = skipBlanks(buf, p + 1);
  const varStart = p;
  while (p < buf.length && !' \t,)'.includes(buf[p]!)) p++;
  const v = buf.slice(varStart, p);
  p = skipBlanks(buf, p);
  if (p >= buf.length || buf[p] === ')' || !v || v[0] === '{') return bad('~SEQ needs a variable name and an end value');
  // keepalived skips whatever character is here without looking at it; anything but ',' is a typo
  if (buf[p] !== ',') return bad(`~SEQ expects ',' after the variable name, found '${buf[p]}'`);
  p = skipBlanks(buf, p + 1);
  const close = buf.indexOf(')', p);
  if (close < 0) return bad(`~SEQ is missing its ')'`);
  const raw = buf.slice(p, close + 1);
  if (raw.length + 1 > 3 * 20 + 3 + 1) return bad('~SEQ parameters are longer than keepalived reads');
  const exp = expand(raw, ctx);
  if (exp.multilineRests.length) return bad('a ~SEQ parameter is a multiline definition');
  const s = exp.text;
  const nums: number[] = [];
  let q = 0;
  for (;;) {
    const n = strtol(s, q);
    nums.push(n.value);
    q = skipBlanks(s, n.end);
    if (s[q] === ')') break;
    if (s[q] !== ',' || nums.length === 3) return bad('~SEQ takes one to three numbers: (var, end), (var, start, end) or (var, start, step, end)');
    q++;
  }
  let start: number, step: number, end: number;
  if (nums.length === 1) {
    end = nums[0]!;
    step = end < 1 ? -1 : 1;
    start = end < 0 ? -1 : 1;
  } else if (nums.length === 2) {
    [start, end] = [nums[0]!, nums[1]!];
    step = start <= end ? 1 : -1;
  } else {
    [start, step, end] = [nums[0]!, nums[1]!, nums[2]!];
    if (!step || (start < end && step < 0) || (start > end && step > 0)) return bad(`~SEQ step ${step} never gets from ${start} to ${end}`);
  }
  if (hex && (start < 0 || end < 0)) return bad('~SEQx takes positive numbers only');
  const text = buf.slice(skipBlanks(buf, close + 1));
  return { ok: true, rep: { values: seqValues(v, start, step, end, hex), text } };
}

export function parseLst(buf: string): SeqResult {
  const bad = (why: string): SeqResult => ({ ok: false, message: `${why}; keepalived refuses "${buf}" and drops the line` });
  const names: string[] = [];
  let p = skipBlanks(buf, 4);
  if (buf[p] !== '(') return bad(`~LST needs '(' after it`);
  p = skipBlanks(buf, p + 1);
  let endChar = ',';
  if (buf[p] === '{') {
    endChar = '}';
    p = skipBlanks(buf, p + 1);
  }
  for (;;) {
    const s0 = p;
    while (p < buf.length && !' \t,}'.includes(buf[p]!)) p++;
    names.push(buf.slice(s0, p));
    p = skipBlanks(buf, p);
    if (buf[p] === endChar) break;
    if (buf[p] !== ',') return bad('~LST variable names are separated by commas');
    p = skipBlanks(buf, p + 1);
  }
  if (buf[p] === '}') p = skipBlanks(buf, p + 1);
  if (buf[p] !== ',') return bad('~LST needs values after its variable names');
  p = skipBlanks(buf, p + 1);
  const sets: string[][] = [];
  for (;;) {
    let end = ',';
    if (buf[p] === '{') {
      end = '}';
      p = skipBlanks(buf, p + 1);
    }
    const set: string[] = [];
    for (;;) {
      const s0 = p;
      while (p < buf.length && !' \t,})'.includes(buf[p]!)) p++;
      set.push(buf.slice(s0, p));
      p = skipBlanks(buf, p);
      if (buf[p] === end || (buf[p] === ')' && end === ',')) break;
      if (buf[p] !== ',') return bad('~LST values are separated by commas');
      p = skipBlanks(buf, p + 1);
      if (set.length > names.length - 1) return bad(`~LST has more values in a set than its ${names.length} variable(s)`);
    }
    while (set.length < names.length) set.push('');
    sets.push(set);
    if (buf[p] === '}' && end === '}') p = skipBlanks(buf, p + 1);
    if (buf[p] === ')') break;
    if (buf[p] !== ',') return bad(`~LST is missing its ')'`);
    p = skipBlanks(buf, p + 1);
  }
  const text = buf.slice(skipBlanks(buf, p + 1));
  return {
    ok: true,
    rep: {
      text,
      values: function* () {
        for (const set of sets) yield names.map((n, i): [string, string] => [n, set[i] ?? '']);
      },
    },
  };
}
