/**
 * Enough of sh to read the scripts operators keep their ipvsadm rules in: comments, quotes,
 * `\` continuations, `;` `&&` `||` `|` lists, redirections, here-documents (skipped), and
 * simple variables (`VIP=10.0.0.1`, then `$VIP`, `${VIP}`, `${VIP:-default}`). What cannot
 * be known without running the script (command substitution, loops, conditionals,
 * functions, positional parameters) is reported and skipped, never guessed.
 */
export interface ShellCommand {
  line: number;
  /** the command's text as written (its logical line) */
  text: string;
  /** words after expansion and quote removal, leading assignments and sudo removed */
  words: string[];
  redirects: { op: string; target: string }[];
}

export interface ShellNotes {
  warn(line: number, message: string): void;
  skip(line: number, text: string, reason: string): void;
}

type Part = { text: string; quoted: boolean } | { name: string; quoted: boolean; fallback?: string } | { unknown: string };
type Token = { op: string } | { parts: Part[]; raw: string };

const OPENERS = new Set(['if', 'for', 'while', 'until', 'case', 'select', 'function', '{', '(']);
const CLOSERS = new Set(['fi', 'done', 'esac', '}', ')']);
const PREFIXES = new Set(['sudo', 'command', 'exec', 'nohup', 'time']);

class Unterminated extends Error {}

/** Splits one logical line into tokens; throws Unterminated when a quote runs past its end. */
function lex(src: string): { tokens: Token[]; heredocs: { delim: string; strip: boolean }[] } {
  const tokens: Token[] = [];
  const heredocs: { delim: string; strip: boolean }[] = [];
  let parts: Part[] | undefined;
  let raw = '';
  const lit = (t: string, quoted: boolean) => {
    parts ??= [];
    const last = parts[parts.length - 1];
    if (last && 'text' in last && last.quoted === quoted) last.text += t;
    else parts.push({ text: t, quoted });
  };
  const end = () => {
    if (parts) tokens.push({ parts, raw });
    parts = undefined;
    raw = '';
  };
  let i = 0;
  const dollar = (quoted: boolean) => {
    // at src[i] === '$'
    const rest = src.slice(i + 1);
    let m: RegExpMatchArray | null;
    if (rest.startsWith('(')) {
      const close = src.indexOf(')', i);
      parts = [...(parts ?? []), { unknown: 'command substitution $(...)' }];
      i = close < 0 ? src.length : close + 1;
    } else if ((m = rest.match(/^\{([A-Za-z_]\w*)\}/))) {
      parts = [...(parts ?? []), { name: m[1]!, quoted }];
      i += 1 + m[0].length;
    } else if ((m = rest.match(/^\{([A-Za-z_]\w*):?-([^}]*)\}/))) {
      parts = [...(parts ?? []), { name: m[1]!, quoted, fallback: m[2]! }];
      i += 1 + m[0].length;
    } else if ((m = rest.match(/^[A-Za-z_]\w*/))) {
      parts = [...(parts ?? []), { name: m[0], quoted }];
      i += 1 + m[0].length;
    } else if ((m = rest.match(/^(\{[^}]*\}?|[0-9@*#?$!-])/))) {
      parts = [...(parts ?? []), { unknown: `$${m[0]}` }];
      i += 1 + m[0].length;
    } else {
      lit('$', quoted);
      i++;
    }
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "'") {
      const close = src.indexOf("'", i + 1);
      if (close < 0) throw new Unterminated();
      raw += src.slice(i, close + 1);
      lit(src.slice(i + 1, close), true);
      i = close + 1;
    } else if (c === '"') {
      raw += c;
      lit('', true); // "" is an empty word, not no word
      i++;
      for (;;) {
        if (i >= src.length) throw new Unterminated();
        const d = src[i]!;
        if (d === '"') {
          raw += d;
          i++;
          break;
        }
        const start = i;
        if (d === '\\' && i + 1 < src.length && '"\\$`\n'.includes(src[i + 1]!)) {
          if (src[i + 1] !== '\n') lit(src[i + 1]!, true);
          i += 2;
        } else if (d === '$') dollar(true);
        else if (d === '`') {
          const close = src.indexOf('`', i + 1);
          if (close < 0) throw new Unterminated();
          (parts ??= []).push({ unknown: 'command substitution `...`' });
          i = close + 1;
        } else {
          lit(d, true);
          i++;
        }
        raw += src.slice(start, i);
      }
    } else if (c === '\\') {
      raw += src.slice(i, i + 2);
      if (i + 1 < src.length) lit(src[i + 1]!, true);
      i += 2;
    } else if (c === '$') {
      const start = i;
      dollar(false);
      raw += src.slice(start, i);
    } else if (c === '`') {
      const close = src.indexOf('`', i + 1);
      if (close < 0) throw new Unterminated();
      parts = [...(parts ?? []), { unknown: 'command substitution `...`' }];
      raw += src.slice(i, close + 1);
      i = close + 1;
    } else if (c === '#' && parts === undefined) {
      break;
    } else if (/\s/.test(c)) {
      end();
      i++;
    } else {
      const op = src.slice(i).match(/^(?:&&|\|\||;;|<<-|<<|>>|&>|[0-9]?>&[0-9-]|[0-9]>>?|>\||[;&|()<>])/)?.[0];
      // a digit glued to a word is part of it (10.0.0.1>x is rare; 2>x is a redirection)
      if (op && !(/^[0-9]/.test(op) && parts !== undefined)) {
        end();
        tokens.push({ op });
        i += op.length;
        if (op === '<<' || op === '<<-') {
          const m = src.slice(i).match(/^\s*(['"]?)([^\s'";&|<>]+)\1/);
          if (m) {
            heredocs.push({ delim: m[2]!, strip: op === '<<-' });
            tokens.push({ parts: [{ text: m[2]!, quoted: true }], raw: m[0].trim() });
            i += m[0].length;
          }
        }
      } else {
        raw += c;
        lit(c, false);
        i++;
      }
    }
  }
  end();
  return { tokens, heredocs };
}

type Value = string | { unknown: string; line: number };

export class ScriptReader {
  private readonly vars = new Map<string, Value>();
  private depth = 0;
  private block?: { line: number; keyword: string };

  constructor(private readonly notes: ShellNotes) {}

  /** The simple commands of the script, in order, each with its line. */
  *commands(text: string): Generator<ShellCommand> {
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const first = i;
      let src = lines[i]!;
      while (/(^|[^\\])(\\\\)*\\$/.test(src) && i + 1 < lines.length) src = src.slice(0, -1) + lines[++i]!;
      // a prompt copied with the command from a terminal (the seed articles show them)
      src = src.replace(/^\s*\[[^\]]*@[^\]]*\][#$]\s?/, '');
      let lexed: ReturnType<typeof lex> | undefined;
      for (;;) {
        try {
          lexed = lex(src);
          break;
        } catch (e) {
          if (!(e instanceof Unterminated)) throw e;
          if (i + 1 >= lines.length || i - first > 200) break;
          src += '\n' + lines[++i]!;
        }
      }
      if (!lexed) {
        this.notes.warn(first + 1, 'a quote is never closed; the rest of the script was skipped');
        return;
      }
      yield* this.list(lexed.tokens, first + 1, src.trim());
      for (const h of lexed.heredocs) {
        const start = i + 1;
        while (i + 1 < lines.length && (h.strip ? lines[i + 1]!.replace(/^\t+/, '') : lines[i + 1]!) !== h.delim) i++;
        if (i + 1 < lines.length) i++;
        if (i >= start) this.notes.skip(start + 1, lines.slice(start, i + 1).join('\n'), `here-document ending in ${h.delim}: its lines are input to a command, not commands`);
      }
    }
    if (this.depth > 0 && this.block) {
      this.notes.warn(this.block.line, `${this.block.keyword} block never closed: the parser cannot evaluate loops, conditionals or functions; everything after line ${this.block.line} was skipped`);
    }
  }

  private *list(tokens: Token[], line: number, text: string): Generator<ShellCommand> {
    let cmd: Token[] = [];
    const flush = function* (this: ScriptReader): Generator<ShellCommand> {
      if (cmd.length) {
        const c = this.simple(cmd, line, text);
        if (c) yield c;
      }
      cmd = [];
    }.bind(this);
    for (const t of tokens) {
      if ('op' in t && [';', ';;', '&&', '||', '|', '&'].includes(t.op)) {
        if (t.op === '||' && this.depth === 0) this.notes.warn(line, `"||" runs what follows only if what precedes fails; both sides were read as if they ran`);
        yield* flush();
      } else cmd.push(t);
    }
    yield* flush();
  }

  private simple(tokens: Token[], line: number, text: string): ShellCommand | undefined {
    const firstRaw = 'raw' in tokens[0]! ? tokens[0].raw : (tokens[0] as { op: string }).op;
    const isFunction = tokens.some((t) => 'op' in t && t.op === '(');
    if (OPENERS.has(firstRaw) || isFunction) {
      if (this.depth++ === 0) this.block = { line, keyword: isFunction && firstRaw !== '(' ? 'function' : firstRaw };
      return;
    }
    if (CLOSERS.has(firstRaw) && this.depth > 0) {
      if (--this.depth === 0) {
        const b = this.block!;
        this.notes.warn(b.line, `${b.keyword} block (lines ${b.line}-${line}) not understood, skipped: the parser cannot evaluate loops, conditionals or functions`);
        this.block = undefined;
      }
      return;
    }
    if (this.depth > 0) return;

    const words: Token[] = [];
    const redirects: { op: string; target: string }[] = [];
    for (let k = 0; k < tokens.length; k++) {
      const t = tokens[k]!;
      if ('op' in t) {
        const target = tokens[k + 1];
        const fd = /&[0-9-]$/.test(t.op);
        if (!fd && target && 'parts' in target) k++;
        redirects.push({ op: t.op, target: fd || !target || !('parts' in target) ? '' : this.expand([target], line, text)?.[0] ?? '' });
      } else words.push(t);
    }
    // leading assignments: a line of them sets variables, before a command they only set its environment
    let n = 0;
    while (n < words.length && /^[A-Za-z_]\w*=/.test((words[n] as { raw: string }).raw)) n++;
    const declare = ['export', 'readonly', 'declare', 'local', 'typeset'].includes((words[0] as { raw: string } | undefined)?.raw ?? '');
    if (n === words.length || declare) {
      for (const w of words.slice(declare ? 1 : 0) as { parts: Part[]; raw: string }[]) {
        const eq = w.raw.indexOf('=');
        if (eq < 0 || !/^[A-Za-z_]\w*$/.test(w.raw.slice(0, eq))) continue;
        this.assign(w, line);
      }
      if (declare || n > 0) return;
    }
    const expanded = this.expand(words.slice(n), line, text);
    if (!expanded) return;
    while (expanded.length && PREFIXES.has(expanded[0]!)) {
      const was = expanded.shift();
      if (was === 'sudo') while (expanded[0]?.startsWith('-')) expanded.shift();
    }
    if (!expanded.length) return;
    return { line, text, words: expanded, redirects };
  }

  private assign(w: { parts: Part[]; raw: string }, line: number): void {
    const name = w.raw.slice(0, w.raw.indexOf('='));
    // the value is the word after NAME=, with its quoting: drop the name's characters from the first part
    const parts = structuredClone(w.parts);
    let drop = name.length + 1;
    while (drop > 0 && parts.length) {
      const p = parts[0]!;
      if (!('text' in p)) break;
      if (p.text.length <= drop) {
        drop -= p.text.length;
        parts.shift();
      } else {
        p.text = p.text.slice(drop);
        drop = 0;
      }
    }
    const unknown = parts.find((p): p is { unknown: string } => 'unknown' in p);
    if (unknown) {
      this.vars.set(name, { unknown: unknown.unknown, line });
      return;
    }
    let value = '';
    for (const p of parts) {
      if ('text' in p) value += p.text;
      else if ('name' in p) {
        const v = this.vars.get(p.name);
        if (v !== undefined && typeof v !== 'string') {
          this.vars.set(name, v);
          return;
        }
        value += v ?? p.fallback ?? '';
      }
    }
    this.vars.set(name, value);
  }

  /** Words after expansion, or undefined (with a warning) when a value cannot be known. */
  private expand(words: Token[], line: number, text: string): string[] | undefined {
    const out: string[] = [];
    for (const w of words as { parts: Part[]; raw: string }[]) {
      let cur: string | undefined;
      for (const p of w.parts) {
        if ('unknown' in p) {
          this.notes.warn(line, `not understood, skipped: ${p.unknown} needs the script to run (${text})`);
          return;
        }
        if ('text' in p) {
          cur = (cur ?? '') + p.text;
          continue;
        }
        const v = this.vars.get(p.name) ?? p.fallback;
        if (v === undefined) {
          this.notes.warn(line, `not understood, skipped: $${p.name} is never set in the script (${text})`);
          return;
        }
        if (typeof v !== 'string') {
          this.notes.warn(line, `not understood, skipped: $${p.name} comes from ${v.unknown} at line ${v.line} (${text})`);
          return;
        }
        if (p.quoted) cur = (cur ?? '') + v;
        else {
          // unquoted: split on blanks, as the shell does
          const pieces = v.split(/[ \t\n]+/);
          pieces.forEach((piece, k) => {
            if (k > 0) {
              if (cur !== undefined && cur !== '') out.push(cur);
              cur = undefined;
            }
            if (piece !== '') cur = (cur ?? '') + piece;
          });
        }
      }
      if (cur !== undefined) out.push(cur);
    }
    return out;
  }
}
