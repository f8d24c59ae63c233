/**
 * `lvs-harness validate --keepalived A.conf [--peer B.conf] [--ipvsadm RULES] [--suite …]`: the
 * operator's own files, linted, then run for real in the lab. Lint first (its findings go into the
 * report), then a lab topology derived from the files, whose directors run the operator's own
 * keepalived.conf translated into the lab (keepalived -t inside the node checks it as written),
 * then the suites that apply, through the same run pipeline as `run`.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { HarnessError } from '../errors.js';
import { parseRulesFile } from '../ipvs/parse-rules.js';
import { DEFAULT_RELEASE, type KeepalivedRelease } from '../keepalived/conf/keywords.js';
import { lint } from '../lint/lint.js';
import type { ValidateSection } from '../report/results.js';
import type { RunOptions } from '../suite/runner.js';
import { KEEPALIVED_CONF, type Plan } from '../topology/planner.js';
import { derive, type Derived } from './derive.js';
import { formatNote } from './notes.js';
import { planDerived } from './plan.js';
import { leftovers, rewriteConf } from './rewrite.js';
import { keepalivedSource, type KeepalivedSource } from './sources.js';
import { translationTable } from './table.js';

export interface ValidateInput {
  keepalived?: string;
  peer?: string;
  ipvsadm?: string;
  instance?: string;
  release?: KeepalivedRelease;
}

export interface Prepared {
  plan: Plan;
  derived: Derived;
  section: ValidateSection;
  /** the suites that apply to what the files configure */
  suites: string[];
  /** the text the terminal shows before the run: findings, translation, notes */
  preface: string;
}

/** Where a file the top file reads lands in the node: the same place relative to /etc/keepalived. */
function nodePath(top: string, file: string): string {
  if (file === top) return KEEPALIVED_CONF;
  const rel = path.relative(path.dirname(top), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? path.posix.join('/etc/keepalived/included', path.basename(file)) : path.posix.join('/etc/keepalived', rel.split(path.sep).join('/'));
}

/** The operator's files for one director, translated; interfaces stay `@net:<network>` for the builder to bind. */
function translatedFiles(src: KeepalivedSource, d: Derived, director: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const file of src.parsed.files) {
    const text = src.texts.get(file);
    if (text === undefined) continue;
    const r = rewriteConf(text, d.translation, director, (net) => `@net:${net}`);
    const left = leftovers(r.text, d.translation, director);
    if (left.length)
      throw new HarnessError('ERR_LVS_VALIDATE', `${file}: ${[...new Set(left)].join(', ')} would reach the lab untranslated`, { hint: 'the translation table lists what validate maps; report the line that holds these words' });
    // sources are read as latin1 (every byte a character); a file in UTF-8 goes back to the node as it was
    const bytes = Buffer.from(r.text, 'latin1');
    const utf8 = bytes.toString('utf8');
    out.push({ path: nodePath(src.file, file), text: Buffer.from(utf8, 'utf8').equals(bytes) ? utf8 : r.text });
  }
  return out;
}

/** One row per translation: networks, addresses, interfaces. */
function translationRows(d: Derived): ValidateSection['translation'] {
  const t = d.translation;
  return [
    ...t.networks.map((n) => ({ kind: 'network' as const, theirs: n.theirs.join(', ') || '(no address in the files)', lab: `${n.name} ${n.subnet}` })),
    ...[...t.addresses].map(([theirs, lab]) => ({ kind: 'address' as const, theirs, lab: t.outside.has(theirs) ? `${lab} (outside the lab: nothing answers)` : lab })),
    ...[...t.interfaces].flatMap(([director, m]) => [...m].map(([theirs, net]) => ({ kind: 'interface' as const, director, theirs, lab: `the device on ${net}` }))),
  ];
}

/** The suites that judge what the files configure. */
export function suitesFor(plan: Plan): string[] {
  const out = ['modes'];
  const ipvs = plan.services.filter((s) => s.mode !== 'proxy');
  if (plan.vrrp?.length) out.push('failover');
  // keepalived checks every real server of an IPVS service (TCP_CHECK when the file names none)
  if (plan.vrrp?.length && ipvs.length) out.push('health');
  if (plan.vrrp?.length && plan.nodes.some((n) => n.keepalived?.globalDefs?.lvsSyncDaemon)) out.push('sync');
  return out;
}

export function prepareValidate(input: ValidateInput): Prepared {
  const release = input.release ?? DEFAULT_RELEASE;
  const confs = [input.keepalived, input.peer].filter((x): x is string => !!x);
  if (!confs.length && !input.ipvsadm) throw new HarnessError('ERR_LVS_USAGE', 'validate: give --keepalived FILE (and --peer FILE for a pair), or --ipvsadm RULES for a single director');
  if (input.peer && !input.keepalived) throw new HarnessError('ERR_LVS_USAGE', 'validate: --peer goes with --keepalived (the two directors of a pair)');
  const results = lint({ files: confs.length === 1 ? confs : [], ...(confs.length === 2 ? { pair: [confs[0]!, confs[1]!] as [string, string] } : {}), ...(input.ipvsadm ? { ipvsadm: input.ipvsadm } : {}), release, ...(input.instance ? { instance: input.instance } : {}) });
  const findings = results.flatMap((r) => r.findings).map((f) => ({ rule: f.rule, severity: f.severity, file: f.file, line: f.line, message: f.message, hint: f.hint }));
  const opts = input.instance ? { instance: input.instance } : {};
  const sources = confs.map((f) => keepalivedSource(f, opts));
  const derived = derive({ keepalived: sources, ...(input.ipvsadm ? { rules: { file: input.ipvsadm, rules: parseRulesFile(input.ipvsadm) } } : {}), name: 'validate' });
  const { plan } = planDerived(derived);
  // the directors run the operator's files, not the model rendered from the derived topology
  const nodes = plan.nodes.map((n) => {
    const i = derived.directors.findIndex((d) => d.name === n.name && d.file);
    return i >= 0 && sources[i] ? { ...n, keepalivedFiles: translatedFiles(sources[i]!, derived, n.name) } : n;
  });
  const texts = nodes.flatMap((n) => n.keepalivedFiles ?? []).map((f) => `${f.path}\n${f.text}`);
  const hash = createHash('sha256').update(plan.hash).update(texts.join('\0')).digest('hex').slice(0, 12);
  const planned: Plan = { ...plan, nodes, hash };
  const notes = derived.notes.map(formatNote);
  const section: ValidateSection = { sources: [...confs, ...(input.ipvsadm ? [input.ipvsadm] : [])], findings, translation: translationRows(derived), notes };
  const serious = findings.filter((f) => f.severity !== 'info');
  const preface = [
    `lint: ${findings.filter((f) => f.severity === 'error').length} errors, ${findings.filter((f) => f.severity === 'warning').length} warnings, ${findings.filter((f) => f.severity === 'info').length} info`,
    ...serious.map((f) => `  ${f.file}:${f.line}: ${f.severity} ${f.rule}: ${f.message}`),
    '',
    'translation into the lab:',
    translationTable(derived.translation).replace(/^/gm, '  '),
    ...(notes.length ? ['', 'notes:', ...notes.map((n) => `  ${n}`)] : []),
    '',
  ].join('\n');
  return { plan: planned, derived, section, suites: suitesFor(planned), preface };
}

/** The run options of a prepared validation (what `run` would take, with the plan made here). */
export function validateRunOptions(p: Prepared, o: Omit<RunOptions, 'topologyFile' | 'suites' | 'plan' | 'validate'> & { suites?: string[] }): RunOptions {
  return { ...o, topologyFile: p.section.sources[0]!, suites: o.suites?.length ? o.suites : p.suites, plan: p.plan, validate: p.section };
}
