/**
 * The character-level steps keepalived's lib/parser.c applies to one line: `decomment()`,
 * the split of a line at its first `{` or `}` (in `read_line()`), and the word split of
 * `alloc_strvec_r()`. Each mirrors the C so that the tree holds what keepalived would act on,
 * quirks included (e.g. a `"` inside a word ends the word).
 */

/** keepalived's `fgets(buf, MAXBUF = 1024)`: a line of 1023 bytes or more does not fit. */
export const MAX_LINE_BYTES = 1023;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
}
function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

export interface Decommented {
  text: string;
  /** an odd number of `"` outside escapes: keepalived logs "Unterminated quote" */
  unterminatedQuote: boolean;
}

/**
 * `decomment()`: strips leading blanks, a comment (`!` or `#` outside double quotes), the `\` of
 * `\#` / `\!` outside quotes, and trailing blanks. A trailing lone `\` is kept (it marks a
 * continued multiline definition; on any other line it stays a word).
 */
export function decomment(line: string): Decommented {
  let s = line.replace(/^[ \t]+/, '');
  if (!/[!#"\\]/.test(s)) return { text: trimEnd(s), unterminatedQuote: false };
  let quote = false;
  let cont = false;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') {
      quote = !quote;
      out += c;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= s.length) {
        cont = true;
        i++;
        break;
      }
      const n = s[i + 1]!;
      if (!quote && (n === '#' || n === '!')) out += n;
      else out += c + n;
      i += 2;
    } else if (!quote && (c === '!' || c === '#')) {
      break;
    } else {
      out += c;
      i++;
    }
  }
  s = trimEnd(out);
  if (cont) s += '\\';
  return { text: s, unterminatedQuote: quote };
}

/**
 * `read_line()`'s brace split: a line is cut before its first `{` or `}` outside double quotes;
 * a brace that starts the line becomes a line of its own. Returns the head to use now and the
 * residue keepalived reads next (without re-reading the file), or no residue.
 */
export function splitAtBrace(buf: string): { head: string; residue?: string } {
  let p = -1;
  if (buf[0] === '{' || buf[0] === '}') p = 0;
  else {
    let i = 0;
    while (i < buf.length) {
      const c = buf[i]!;
      if (c === '{' || c === '}') {
        p = i;
        break;
      }
      if (c === '"') {
        const close = buf.indexOf('"', i + 1);
        if (close < 0) break; // an unclosed quote hides any later brace, as in keepalived
        i = close + 1;
        continue;
      }
      i++;
    }
  }
  if (p < 0) return { head: trimEnd(buf) };
  if (p === 0) {
    const rest = trimEnd(buf.slice(1).replace(/^[ \t]+/, ''));
    return rest ? { head: buf[0]!, residue: rest } : { head: buf[0]! };
  }
  return { head: trimEnd(buf.slice(0, p)), residue: trimEnd(buf.slice(p)) };
}

export interface Words {
  words: string[];
  /** a `"` opening a word had no closing `"`: keepalived drops the rest of the line */
  unmatchedQuote: boolean;
}

function trimEnd(t: string): string {
  let e = t.length;
  while (e > 0 && (t[e - 1] === ' ' || t[e - 1] === '\t')) e--;
  return e === t.length ? t : t.slice(0, e);
}

/** `alloc_strvec_r()`: words split on white space; a word starting with `"` runs to the next `"`. */
export function splitWords(s: string): Words {
  const words: string[] = [];
  let i = 0;
  for (;;) {
    while (isWs(s[i])) i++;
    if (i >= s.length) break;
    if (s[i] === '"') {
      const close = s.indexOf('"', i + 1);
      if (close < 0) return { words, unmatchedQuote: true };
      words.push(s.slice(i + 1, close));
      i = close + 1;
    } else {
      let j = i;
      while (j < s.length && !isWs(s[j]) && s[j] !== '"') j++;
      words.push(s.slice(i, j));
      i = j;
    }
  }
  return { words, unmatchedQuote: false };
}

/** Trailing blanks before a continuation `\` go too, as in `check_definition()`. */
export function stripContinuation(s: string): { text: string; continued: boolean } {
  if (!s.endsWith('\\')) return { text: s, continued: false };
  let end = s.length - 1;
  while (end > 0 && isBlank(s[end - 1])) end--;
  return { text: s.slice(0, end), continued: true };
}

/** UTF-8 length, computed only when it could matter (a character is at most 3 bytes in a JS string unit). */
export function tooLong(line: string): boolean {
  if (line.length * 3 < MAX_LINE_BYTES) return false;
  return Buffer.byteLength(line, 'utf8') >= MAX_LINE_BYTES;
}
