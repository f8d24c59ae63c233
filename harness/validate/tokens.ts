/**
 * The words of keepalived.conf text where translation may touch them: outside comments (`!` or
 * `#` outside double quotes, unless escaped, as keepalived's decomment() reads them), split at
 * white space, quotes, braces and the `=` of a `$NAME=VALUE` definition. Offsets let a rewrite
 * splice replacements into the text and keep every other byte.
 */
export interface Token {
  start: number;
  end: number;
  text: string;
  line: number;
}

const SEPARATOR = new Set([' ', '\t', '\r', '\f', '\v', '"', '{', '}', '=', ',', '(', ')']);

export function confTokens(text: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let pos = 0;
  while (pos <= text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    lineTokens(text, pos, end, line, out);
    if (nl < 0) break;
    pos = nl + 1;
    line++;
  }
  return out;
}

function lineTokens(text: string, from: number, to: number, line: number, out: Token[]): void {
  let quote = false;
  let start = -1;
  const close = (i: number) => {
    if (start >= 0 && i > start) out.push({ start, end: i, text: text.slice(start, i), line });
    start = -1;
  };
  for (let i = from; i < to; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < to) {
      // `\#` and `\!` are not comments; the escape belongs to the word
      if (start < 0) start = i;
      i++;
      continue;
    }
    if (c === '"') quote = !quote;
    if (!quote && (c === '!' || c === '#')) {
      close(i);
      return;
    }
    if (SEPARATOR.has(c)) close(i);
    else if (start < 0) start = i;
  }
  close(to);
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^(${OCTET}(\\.${OCTET}){3})((/\\d{1,2})|(-\\d{1,3}))?$`);

/** An IPv4 literal as keepalived writes it: ADDRESS, ADDRESS/PREFIX or a group's ADDRESS-LAST. */
export function ipv4Word(word: string): { address: string; suffix: string } | undefined {
  const m = IPV4.exec(word);
  if (!m) return undefined;
  return { address: m[1]!, suffix: word.slice(m[1]!.length) };
}

/** The address words of a text outside comments, with their lines. */
export function addressWords(text: string): { address: string; line: number }[] {
  return confTokens(text).flatMap((t) => {
    const a = ipv4Word(t.text);
    return a ? [{ address: a.address, line: t.line }] : [];
  });
}
