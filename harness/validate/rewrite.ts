import { confTokens, ipv4Word } from './tokens.js';
import type { Translation } from './translation.js';

/**
 * The operator's keepalived.conf text with their addresses and interface names replaced by the
 * lab's, word by word; comments and every other byte stay as written, so the director runs
 * their file. Interface names become device names, which exist only once the node runs (the
 * builder binds networks to devices), hence `deviceOf`, asked per lab network.
 */
export interface RewriteResult {
  text: string;
  /** words that looked like theirs but have no lab counterpart, with their lines */
  untranslated: { word: string; line: number }[];
}

export function rewriteConf(text: string, t: Translation, director: string, deviceOf: (network: string) => string): RewriteResult {
  const ifaces = t.interfaces.get(director) ?? new Map<string, string>();
  const untranslated: RewriteResult['untranslated'] = [];
  let out = '';
  let last = 0;
  for (const tok of confTokens(text)) {
    const next = translateWord(tok.text, t, ifaces, deviceOf);
    if (next === undefined) {
      if (ipv4Word(tok.text)) untranslated.push({ word: tok.text, line: tok.line });
      continue;
    }
    out += text.slice(last, tok.start) + next;
    last = tok.end;
  }
  return { text: out + text.slice(last), untranslated };
}

function translateWord(word: string, t: Translation, ifaces: Map<string, string>, deviceOf: (network: string) => string): string | undefined {
  const a = ipv4Word(word);
  if (a) {
    const lab = t.addresses.get(a.address);
    return lab === undefined ? undefined : lab + a.suffix;
  }
  // an interface, or an address label written after it (eth0:vip)
  const colon = word.indexOf(':');
  const name = colon < 0 ? word : word.slice(0, colon);
  const net = ifaces.get(name);
  return net === undefined ? undefined : deviceOf(net) + (colon < 0 ? '' : word.slice(colon));
}

/** Their words left in a translated text outside comments (a test, and validate's own guard before it starts a director). */
export function leftovers(text: string, t: Translation, director: string): string[] {
  const theirs = new Set([...t.addresses.keys(), ...(t.interfaces.get(director)?.keys() ?? [])]);
  return confTokens(text)
    .map((tok) => ipv4Word(tok.text)?.address ?? tok.text.split(':')[0]!)
    .filter((w) => theirs.has(w));
}
