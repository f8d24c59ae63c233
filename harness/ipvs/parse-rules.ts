import { readFileSync } from 'node:fs';
import type { PortNames } from './address.js';
import { RulesTable } from './apply.js';
import { hostSetupOf, type HostSetupStep } from './host-setup.js';
import { parseCommand } from './ipvsadm-command.js';
import { RulesParseError, WordError, type RuleLoc } from './rules-error.js';
import type { VirtualServiceRule } from './rules.js';
import { systemServices, type ServicesTable } from './services.js';
import { ScriptReader } from './shell.js';

/**
 * ipvsadm rules as operators hand them over: the output of `ipvsadm -S` (with or without -n,
 * which is also what `ipvsadm -R` reads), or a shell script of ipvsadm commands. Both go
 * through one command reader and one table, so a script means what running it would leave
 * in the kernel.
 */
export interface RulesNote {
  file: string;
  line: number;
  message: string;
}

export interface SkippedLine extends RulesNote {
  text: string;
}

export interface ParsedRules {
  services: VirtualServiceRule[];
  warnings: RulesNote[];
  /** addresses, routes, links and sysctls the script sets up besides the table */
  hostSetup: HostSetupStep[];
  /** commands the parser read past: not ipvsadm, or ipvsadm without effect on the table */
  skipped: SkippedLine[];
  source: 'save' | 'script';
}

export interface ParseRulesOptions {
  /** how port names (`:http`) are resolved; `keep` leaves them as names. Default: /etc/services and built-in names */
  services?: ServicesTable | 'keep';
  /** the form, when not to be detected from the first line */
  form?: 'save' | 'script';
}

const SAVE_COMMAND = /^(-[AaEeDdC]|--(add|edit|delete)-(service|server)(=|$)|--clear$)/;
const BIN = /(^|\/)ipvsadm$/;

/** Which form a text is in: save when its first command line starts with an option. */
export function detectForm(text: string): 'save' | 'script' {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line && !line.startsWith('#')) return line.startsWith('-') ? 'save' : 'script';
  }
  return 'save';
}

export function parseRules(text: string, file: string, opts: ParseRulesOptions = {}): ParsedRules {
  return readRules(text, { file, names: opts.services ?? systemServices(), form: opts.form ?? detectForm(text), annotate: true });
}

export function parseRulesFile(path: string, opts: ParseRulesOptions = {}): ParsedRules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RulesParseError(0, path, `cannot read the rules file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path, word: path, allowed: 'a readable ipvsadm -S file or shell script' });
  }
  return parseRules(text, path, opts);
}

/** The reader behind parseRules and parseSave (which passes no file and wants bare rules). */
export function readRules(text: string, o: { file?: string; names: PortNames; form: 'save' | 'script'; annotate: boolean }): ParsedRules {
  const file = o.file ?? '<input>';
  const out: ParsedRules = { services: [], warnings: [], hostSetup: [], skipped: [], source: o.form };
  const table = new RulesTable();
  const warned = new Set<string>();
  const warn = (line: number, message: string) => {
    // a host name or an unknown scheduler repeated on every -a line is said once
    if (warned.has(message)) return;
    warned.add(message);
    out.warnings.push({ file, line, message });
  };
  const run = (words: readonly string[], line: number, text: string, save: boolean) => {
    try {
      if (save && !SAVE_COMMAND.test(words[0] ?? '')) throw new WordError(words[0] ?? '', 'expected -A or -a', '-A, -a (and -E, -e, -D, -d, -C, which ipvsadm -R also reads)');
      const cmd = parseCommand(words, o.names, { warn: (m) => warn(line, m) });
      if (cmd.kind === 'other') {
        if (/^-(R|-restore)/.test(cmd.option)) warn(line, `${text}: restores rules from its standard input, which the parser does not read; skipped`);
        out.skipped.push({ file, line, text, message: `ipvsadm ${cmd.option} does not change the table` });
        return;
      }
      table.apply(cmd, o.annotate ? { file, line } : undefined);
    } catch (e) {
      if (!(e instanceof WordError)) throw e;
      throw new RulesParseError(line, text, e.why, { file: o.file, word: e.word, allowed: e.allowed });
    }
  };

  if (o.form === 'save') {
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line && !line.startsWith('#')) run(line.split(/\s+/), i + 1, line, true);
    });
  } else {
    const reader = new ScriptReader({
      warn,
      skip: (line, text, message) => out.skipped.push({ file, line, text, message }),
    });
    for (const c of reader.commands(text)) {
      if (BIN.test(c.words[0]!)) {
        if (c.words.length === 1) out.skipped.push({ file, line: c.line, text: c.text, message: 'ipvsadm without options lists the table' });
        else run(c.words.slice(1), c.line, c.text, false);
        continue;
      }
      const steps = hostSetupOf(c, file);
      if (steps) out.hostSetup.push(...steps);
      else out.skipped.push({ file, line: c.line, text: c.text, message: c.words[0]!.startsWith('-') ? 'an option where a command belongs: an ipvsadm -S line in a script needs "ipvsadm" before it' : `${c.words[0]} is not ipvsadm` });
    }
  }
  out.services = o.annotate ? table.services : table.services.map(bare);
  return out;
}

/** A rule without the reader's annotations, as parseSave has always returned them. */
function bare(s: VirtualServiceRule): VirtualServiceRule {
  const { loc: _l, hostName: _h, ...rest } = s;
  return { ...rest, realServers: s.realServers.map(({ loc: _rl, hostName: _rh, writtenPort: _rw, ...r }) => r) };
}

export type { RuleLoc };
