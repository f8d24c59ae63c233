/**
 * keepalived.conf to a ConfNode tree, as keepalived's lib/parser.c reads it (see reader.ts for
 * the line level, tree.ts for the braces). Never throws: whatever goes wrong is a ConfProblem
 * with a file and a line.
 */
import { readFileSync } from 'node:fs';
import type { ConfProblem, ParsedConf, ParseOptions } from './ast.js';
import { fsGlob } from './glob.js';
import { LIMITS, Reader } from './reader.js';
import { TreeBuilder } from './tree.js';

export type { ParsedConf, ParseOptions } from './ast.js';

/** keepalived reads bytes; text that is not UTF-8 is read as Latin-1 so that every byte stays one character */
export function decodeConf(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

const readDefault = (p: string): string => {
  const b = readFileSync(p);
  if (b.length > LIMITS.totalChars) throw new Error(`${b.length} bytes, more than the ${LIMITS.totalChars} read at most`);
  return decodeConf(b);
};

export function parseConfText(text: string, file: string, opts: ParseOptions = {}): ParsedConf {
  const tree = new TreeBuilder();
  try {
    const reader = new Reader(opts, { readFile: opts.readFile ?? readDefault, glob: opts.glob ?? fsGlob });
    const r = reader.run(typeof text === 'string' ? text : String(text), file, (item) => tree.add(item));
    tree.finish(r.truncated);
    return { nodes: tree.nodes, problems: sortProblems([...r.problems, ...tree.problems], r.files), files: r.files };
  } catch (e) {
    // a bug here must not take a lint run down with it: say where reading stopped
    const problem: ConfProblem = { file, line: 1, code: 'too-large', severity: 'error', message: `internal parser error, configuration not fully read: ${(e as Error)?.message ?? String(e)}` };
    return { nodes: tree.nodes, problems: [...tree.problems, problem], files: [file] };
  }
}

export function parseConfFile(file: string, opts: ParseOptions = {}): ParsedConf {
  let text: string;
  try {
    text = (opts.readFile ?? readDefault)(file);
  } catch (e) {
    return {
      nodes: [],
      files: [],
      problems: [{ file, line: 1, code: 'include-missing', severity: 'error', message: `cannot read ${file} (${(e as Error)?.message ?? String(e)}); keepalived logs "Failed to open configuration file" and runs with no configuration` }],
    };
  }
  return parseConfText(text, file, opts);
}

/** by file, in the order the files were read, then by line */
function sortProblems(problems: ConfProblem[], files: string[]): ConfProblem[] {
  const rank = (f: string) => {
    const i = files.indexOf(f);
    return i < 0 ? files.length : i;
  };
  return problems
    .map((p, i) => ({ p, i, f: rank(p.file) }))
    .sort((a, b) => a.f - b.f || a.p.line - b.p.line || a.i - b.i)
    .map(({ p }) => p);
}
