/**
 * The file-system glob behind `include`: glob(3) with GLOB_BRACE as keepalived calls it —
 * `*`, `?`, `[…]`, csh braces `{a,b}`, `\` escapes; a wildcard does not match a leading '.';
 * the matches of each brace alternative sorted, alternatives in written order; directories
 * left out (keepalived skips them). Node 20 has no fs.glob, hence this.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const MAX_ALTERNATIVES = 1000;

/** csh brace expansion; an unpaired `{` or one without a comma stays literal */
export function expandBraces(pattern: string): string[] {
  const out: string[] = [];
  const work = [pattern];
  while (work.length) {
    const p = work.shift()!;
    const b = findBrace(p);
    if (!b) {
      out.push(p);
      if (out.length >= MAX_ALTERNATIVES) break;
      continue;
    }
    const pre = p.slice(0, b.open);
    const post = p.slice(b.close + 1);
    const alts = b.commas.map((c, i) => p.slice(i === 0 ? b.open + 1 : b.commas[i - 1]! + 1, c));
    alts.push(p.slice((b.commas[b.commas.length - 1] ?? b.open) + 1, b.close));
    work.unshift(...alts.map((a) => pre + a + post));
    if (work.length + out.length > MAX_ALTERNATIVES) work.length = Math.max(0, MAX_ALTERNATIVES - out.length);
  }
  return out;
}

function findBrace(p: string): { open: number; close: number; commas: number[] } | undefined {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '\\') {
      i++;
      continue;
    }
    if (p[i] !== '{') continue;
    let depth = 0;
    const commas: number[] = [];
    for (let j = i; j < p.length; j++) {
      const c = p[j];
      if (c === '\\') j++;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        if (commas.length) return { open: i, close: j, commas };
        break;
      } else if (c === ',' && depth === 1) commas.push(j);
    }
  }
  return undefined;
}

const hasMagic = (seg: string) => /(^|[^\\])[*?[]/.test(seg);
const unescape = (seg: string) => seg.replace(/\\(.)/g, '$1');

function segmentRegExp(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '\\' && i + 1 < seg.length) re += escapeRe(seg[++i]!);
    else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        let body = seg.slice(i + 1, close);
        if (body[0] === '!') body = '^' + body.slice(1);
        re += '[' + body.replace(/\\/g, '\\\\') + ']';
        i = close;
      }
    } else re += escapeRe(c);
  }
  try {
    return new RegExp('^' + re + '$', 's');
  } catch {
    return new RegExp('^' + escapeRe(unescape(seg)) + '$', 's');
  }
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function globOne(pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const segs = pattern.split('/').filter((s) => s !== '');
  let bases = [absolute ? '/' : '.'];
  for (const seg of segs) {
    const next: string[] = [];
    for (const base of bases) {
      if (!hasMagic(seg)) {
        const p = path.join(base, unescape(seg));
        if (exists(p)) next.push(p);
        continue;
      }
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      const re = segmentRegExp(seg);
      for (const n of names.sort()) if ((n[0] !== '.' || seg[0] === '.') && re.test(n)) next.push(path.join(base, n));
    }
    bases = next;
  }
  return bases.filter((p) => !isDir(p));
}

/** The files `pattern` matches on the real file system, in the order keepalived reads them. */
export function fsGlob(pattern: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const alt of expandBraces(pattern)) for (const m of globOne(alt)) if (!seen.has(m)) (seen.add(m), out.push(m));
  return out;
}

/** A pattern with a wildcard may legitimately match nothing (an empty conf.d); a plain path may not. */
export const isWildcard = (pattern: string) => hasMagic(pattern) || findBrace(pattern) !== undefined;
