/**
 * Lint of operators' keepalived.conf files: parse each (grammar layer), read it as keepalived
 * does, type it, run every per-file rule and, for `--pair A B`, the pair rules. Pure apart from
 * reading the files; no lab, no network.
 */
import { readFileSync } from 'node:fs';
import { parseRules, parseRulesFile, type ParsedRules } from '../ipvs/parse-rules.js';
import { RulesParseError } from '../ipvs/rules-error.js';
import type { ParsedConf, ParseOptions } from '../keepalived/conf/ast.js';
import { DEFAULT_RELEASE, type KeepalivedRelease } from '../keepalived/conf/keywords.js';
import { parseConfFile } from '../keepalived/conf/parse.js';
import { typeConf } from '../keepalived/conf/typed-build.js';
import type { KeywordLifecycle } from '../keepalived/releases.js';
import { boundRules } from './rules-bounds.js';
import { ipvsadmRules, type IpvsadmRule, type LintedRules } from './rules-ipvsadm.js';
import { pairRules } from './rules-pair.js';
import { structureRules } from './rules-structure.js';
import { topologyRules } from './rules-topology.js';
import { valueRules } from './rules-values.js';
import type { Finding, LintedFile, Rule, Severity } from './types.js';

const KEEPALIVED_RULES: readonly Rule[] = [...structureRules, ...valueRules, ...topologyRules, ...boundRules, ...pairRules];
/** every rule id once (SARIF descriptors, the README table): the ipvsadm forms of dr-port and vip-not-held share the keepalived rule's id */
export const RULES: readonly (Rule | IpvsadmRule)[] = [...KEEPALIVED_RULES, ...ipvsadmRules.filter((r) => !KEEPALIVED_RULES.some((k) => k.id === r.id))];

export interface LintRequest {
  files: readonly string[];
  /** two of `files` (or extra ones) linted as the two directors of one VRRP pair */
  pair?: readonly [string, string];
  release?: KeepalivedRelease;
  /** an `ipvsadm -S` save or a script of ipvsadm commands, linted alone and against `files` and `pair` */
  ipvsadm?: string;
  /** keepalived --instance: which `@ID` lines apply */
  instance?: string;
  /** for tests: file contents instead of the disk */
  readFile?: (path: string) => string;
  /** for tests: another keyword history than keepalived's own (harness/keepalived/releases.ts) */
  lifecycle?: readonly KeywordLifecycle[];
}

export interface LintResult {
  file: string;
  /** a keepalived.conf's tree, or the rules read from the --ipvsadm file (undefined when a line stopped the parser) */
  parsed: ParsedConf | ParsedRules | undefined;
  findings: Finding[];
}

/** One file parsed, read as keepalived reads it, and typed. */
export function loadForLint(file: string, release: KeepalivedRelease, opts: Pick<ParseOptions, 'instance' | 'readFile'> & { lifecycle?: readonly KeywordLifecycle[] } = {}): LintedFile {
  const parsed = parseConfFile(file, { instance: opts.instance, readFile: opts.readFile });
  const { reading, typed } = typeConf(parsed, release, opts.lifecycle);
  const lines = new Map<string, string[] | null>();
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'latin1'));
  const source = (f: string, line: number) => {
    if (!lines.has(f)) {
      try {
        lines.set(f, read(f).split('\n'));
      } catch {
        lines.set(f, null);
      }
    }
    return lines.get(f)?.[line - 1];
  };
  return { file, parsed, reading, typed, source };
}

/** The --ipvsadm file parsed; a refused line is kept for its finding, anything else is a bug and throws. */
function loadRules(file: string, readFile?: (path: string) => string): LintedRules {
  try {
    return { file, parsed: readFile ? parseRules(readFile(file), file) : parseRulesFile(file) };
  } catch (e) {
    if (e instanceof RulesParseError) return { file, error: e };
    throw e;
  }
}

const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Runs a rule; a rule that throws becomes one finding saying so, never a crashed lint. */
function run(rule: Rule | IpvsadmRule, files: readonly LintedFile[], release: KeepalivedRelease, rules?: LintedRules): Finding[] {
  try {
    return rule.scope === 'ipvsadm' ? rule.check(rules!, files) : rule.check(files, { release });
  } catch (e) {
    return [{ rule: rule.id, severity: 'warning', file: rules?.file ?? files[0]?.file ?? '', line: 1, message: `rule ${rule.id} failed on this input: ${(e as Error)?.message ?? String(e)}`, hint: 'report this as a bug of lvs-harness lint' }];
  }
}

export function lint(req: LintRequest): LintResult[] {
  const release = req.release ?? DEFAULT_RELEASE;
  const names = [...new Set([...req.files, ...(req.pair ?? [])])];
  const loaded = new Map(names.map((f) => [f, loadForLint(f, release, { instance: req.instance, readFile: req.readFile, lifecycle: req.lifecycle })]));
  const byFile = new Map<string, Finding[]>(names.map((f) => [f, []]));
  const put = (fs: Finding[], owner: string) => {
    for (const x of fs) (byFile.get(x.file) ?? byFile.get(owner)!).push(x);
  };
  for (const f of loaded.values()) for (const r of KEEPALIVED_RULES) if (r.scope === 'file') put(run(r, [f], release), f.file);
  if (req.pair) {
    const pair = [loaded.get(req.pair[0])!, loaded.get(req.pair[1])!];
    for (const r of KEEPALIVED_RULES) if (r.scope === 'pair') put(run(r, pair, release), pair[0]!.file);
  }
  const rules = req.ipvsadm !== undefined ? loadRules(req.ipvsadm, req.readFile) : undefined;
  if (rules) {
    byFile.set(rules.file, byFile.get(rules.file) ?? []);
    for (const r of ipvsadmRules) put(run(r, [...loaded.values()], release, rules), rules.file);
  }
  const all = rules && !names.includes(rules.file) ? [...names, rules.file] : names;
  return all.map((file) => ({
    file,
    parsed: loaded.get(file)?.parsed ?? rules?.parsed,
    findings: byFile.get(file)!.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1) || RANK[a.severity] - RANK[b.severity]),
  }));
}
