import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The harness's layers, lowest first. A directory of harness/ (or a file at its top, named
 * without .ts) may import its own files and those of every layer below its own, never one
 * beside or above it; so no two directories can import each other, directly or round a loop.
 */
const LAYERS: readonly { units: readonly string[]; why: string }[] = [
  { units: ['errors', 'stats'], why: 'leaves: the error type and the statistics, importing nothing of the harness' },
  { units: ['util'], why: 'helpers over Node and Docker (argv, waits, logs, cleanup, JSON files, Docker endpoints) that know nothing of LVS' },
  { units: ['history', 'images', 'haproxy', 'ipvs', 'expect'], why: 'vocabularies, pure: the run history, the real-server image, HAProxy config, IPVS rules and tables, --expect targets' },
  { units: ['keepalived'], why: "keepalived.conf as a language and a model, whose virtual servers are IPVS rules" },
  { units: ['lint'], why: "static rules over an operator's keepalived.conf and ipvsadm rules" },
  { units: ['lab'], why: 'the lab VM: recipe, build steps, boot, paths' },
  { units: ['runtime'], why: 'where containers run (a local engine or the lab), commands in nodes, the environment a report names' },
  { units: ['topology'], why: 'a topology file to a plan, and the plan built in a runtime and verified' },
  { units: ['diagnose'], why: 'causes of a failure, from node evidence read against the plan' },
  { units: ['checkers'], why: 'pure verdicts over observations and histories, and the --expect targets applied to them' },
  { units: ['load', 'nemesis'], why: 'what acts on a running topology: the load agents that write the history, the faults' },
  { units: ['observe'], why: 'reads a running topology into what the checkers judge' },
  { units: ['report'], why: "results.json (the record of each check) and what is rendered from it" },
  { units: ['suite'], why: 'runs suites: builds, loads, observes, records, and writes the reports' },
  { units: ['smoke', 'validate', 'compare', 'bench'], why: 'commands made of the layers below' },
  { units: ['cli'], why: 'the command line, on top of everything' },
];

// ---- reading imports ------------------------------------------------------------------------

/**
 * The source with its comments and the text of its template literals blanked (newlines kept, so
 * lines still count): what is left is code and plain strings, where every import names its module.
 * Strings and regular expressions are skipped whole, so a quote or a slash in one opens nothing.
 */
function codeOf(src: string): string {
  const out = src.split('');
  const n = src.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let i = 0;
  let braces = 0;
  /** brace depth at each open template's `${` */
  const templates: number[] = [];
  /** the last significant character: `a` after a value (word, string, closing bracket), else the punctuator */
  let prev = '';
  /** a template's text up to its end (false) or to a `${` (true), blanked */
  const templateText = (): boolean => {
    const from = i;
    let opens = false;
    while (i < n) {
      const c = src[i];
      if (c === '\\') i += 2;
      else if (c === '`') break;
      else if (c === '$' && src[i + 1] === '{') {
        opens = true;
        break;
      } else i++;
    }
    blank(from, i);
    i += opens ? 2 : 1;
    return opens;
  };
  while (i < n) {
    const c = src[i]!;
    const d = src[i + 1];
    if (c === '/' && (d === '/' || d === '*')) {
      const end = d === '/' ? src.indexOf('\n', i) : src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : d === '/' ? end : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      for (i++; i < n && src[i] !== c && src[i] !== '\n'; i++) if (src[i] === '\\') i++;
      i++;
      prev = 'a';
    } else if (c === '`' || (c === '}' && templates.at(-1) === braces - 1)) {
      if (c === '}') templates.pop(), braces--;
      i++;
      if (templateText()) templates.push(braces++);
      prev = 'a';
    } else if (c === '/' && (prev === '' || /[-(,=:[!&|?{};+*%<>~^]/.test(prev) || /\b(?:return|typeof|case|do|else|in|of|void|yield|await)\s*$/.test(src.slice(Math.max(0, i - 12), i)))) {
      // a regular expression
      let inClass = false;
      for (i++; i < n && src[i] !== '\n'; i++) {
        if (src[i] === '\\') i++;
        else if (src[i] === '[') inClass = true;
        else if (src[i] === ']') inClass = false;
        else if (src[i] === '/' && !inClass) break;
      }
      i++;
      prev = 'a';
    } else {
      if (c === '{') braces++;
      else if (c === '}') braces--;
      if (!/\s/.test(c)) prev = /[\w$)\]]/.test(c) ? 'a' : c;
      i++;
    }
  }
  return out.join('');
}

interface ImportSite {
  spec: string;
  /** where the statement starts */
  line: number;
  /** the statement's source lines, joined, for messages */
  text: string;
}

/** Every module a file names: import/export … from, import '…', and import('…') in code or in a type; type-only ones too. */
function importsOf(src: string): ImportSite[] {
  const code = codeOf(src);
  const lines = src.split('\n');
  const patterns = [
    // a statement: at a line's start or after a `;`
    /(?<=^|;)[ \t]*((?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:[\w$]+|\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?)\s*from\s*(['"])([^'"\n]+)\2)/gm,
    /(?<=^|;)[ \t]*(import\s*(['"])([^'"\n]+)\2)/gm,
    /()\bimport\s*\(\s*(['"])([^'"\n]+)\2\s*\)/g,
  ];
  const sites: ImportSite[] = [];
  for (const re of patterns)
    for (const m of code.matchAll(re)) {
      const start = m.index + m[0].length - (m[1] || m[0]).length;
      const line = code.slice(0, start).split('\n').length;
      const last = line + (m[0].match(/\n/g)?.length ?? 0);
      sites.push({ spec: m[3]!, line, text: lines.slice(line - 1, last).map((l) => l.trim()).join(' ') });
    }
  return sites.sort((a, b) => a.line - b.line);
}

// ---- the graph --------------------------------------------------------------------------------

interface Edge {
  /** harness-relative, posix: `ipvs/edit.ts` */
  file: string;
  line: number;
  text: string;
  from: string;
  /** the unit imported from, or `outside harness/` */
  to: string;
}

/** `ipvs/edit.ts` → ipvs, `diagnose/rules/arp.ts` → diagnose, `cli.ts` → cli. */
const unitOf = (rel: string) => rel.split('/')[0]!.replace(/\.(?:[cm]?[jt]s)$/, '');

/** Imports between units (harness-relative file → source); packages and node: modules are not edges, a relative path out of harness/ is. */
function edgesOf(files: Readonly<Record<string, string>>): Edge[] {
  const edges: Edge[] = [];
  for (const [file, src] of Object.entries(files))
    for (const s of importsOf(src)) {
      if (!s.spec.startsWith('.')) continue;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), s.spec));
      const to = target.startsWith('../') ? 'outside harness/' : unitOf(target);
      if (to !== unitOf(file)) edges.push({ file, line: s.line, text: s.text, from: unitOf(file), to });
    }
  return edges;
}

/** Groups of units that import each other round a loop (strongly connected components of two or more), each sorted. */
function cyclesOf(edges: readonly Edge[]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    if (!next.has(e.from)) next.set(e.from, new Set());
    if (!next.has(e.to)) next.set(e.to, new Set());
    next.get(e.from)!.add(e.to);
  }
  // Tarjan
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do onStack.delete((w = stack.pop()!)), scc.push(w);
    while (w !== v);
    if (scc.length > 1) found.push(scc.sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** The edges that the layers forbid, one line each: `harness/ipvs/edit.ts:3 ipvs → topology (layer 8 is above layer 3): import …`. */
function violationsOf(edges: readonly Edge[], layers: readonly { units: readonly string[] }[]): string[] {
  const level = new Map(layers.flatMap((l, i) => l.units.map((u) => [u, i + 1] as const)));
  const out: string[] = [];
  for (const e of edges) {
    const [a, b] = [level.get(e.from), level.get(e.to)];
    const why = a === undefined ? `${e.from} is in no layer` : b === undefined ? `${e.to} is in no layer` : a <= b ? `layer ${b} is ${a === b ? 'beside' : 'above'} layer ${a}` : undefined;
    if (why) out.push(`harness/${e.file}:${e.line} ${e.from} → ${e.to} (${why}): ${e.text}`);
  }
  return out;
}

/** harness/**\/*.ts, by harness-relative path. */
function harnessSources(): Record<string, string> {
  const root = fileURLToPath(new URL('../../harness/', import.meta.url));
  const files: Record<string, string> = {};
  for (const f of readdirSync(root, { recursive: true, encoding: 'utf8' }))
    if (f.endsWith('.ts')) files[f.split(path.sep).join('/')] = readFileSync(path.join(root, f), 'utf8');
  return files;
}

// ---- the tests --------------------------------------------------------------------------------

describe('import graph of harness/', () => {
  describe('the checker itself', () => {
    it('finds every form of import, on its own line, and none in comments', () => {
      const src = [
        "import a from './a.js';",
        "import type { B } from '../b/b.js';",
        'import {',
        '  c,',
        '  type C,',
        "} from '../c/c.js';",
        "export * from '../d/d.js';",
        "export { e, type E } from './e.js';",
        "import './side-effect.js';",
        "const f = await import('../f/f.js');",
        "let g: import('../g/g.js').G;",
        "// import h from '../h/h.js';",
        "/* import('../i/i.js') */ const re = /'[/*]/;",
        "const s = \"// not a comment\"; import j, { k } from '../j/j.js';",
        'const t = `${x}` + `/* ${"}"} */`;',
        "const u = `\nimport v from '../v/v.js';\n`;",
        "import * as l from '../l/l.js';",
      ].join('\n');
      const got = importsOf(src).map((s) => `${s.line} ${s.spec}`);
      expect(got).to.deep.equal(['1 ./a.js', '2 ../b/b.js', '3 ../c/c.js', '7 ../d/d.js', '8 ./e.js', '9 ./side-effect.js', '10 ../f/f.js', '11 ../g/g.js', '14 ../j/j.js', '19 ../l/l.js']);
      expect(importsOf(src).find((s) => s.line === 3)!.text).to.equal("import { c, type C, } from '../c/c.js';");
    });

    it('reports an upward import with its file, line and text, a loop as a cycle, and a clean set as nothing', () => {
      const layers = [{ units: ['util'] }, { units: ['ipvs'] }, { units: ['topology'] }];
      const clean = {
        'util/wait.ts': "export const sleep = 1;\n",
        'ipvs/rules.ts': "import { sleep } from '../util/wait.js';\n",
        'topology/planner.ts': "import type { Rule } from '../ipvs/rules.js';\nimport { sleep } from '../util/wait.js';\nimport { x } from './net.js';\n",
      };
      expect(violationsOf(edgesOf(clean), layers)).to.deep.equal([]);
      expect(cyclesOf(edgesOf(clean))).to.deep.equal([]);

      const upward = { ...clean, 'ipvs/edit.ts': "import { hostPort } from './rules.js';\nimport type { Plan } from '../topology/planner.js';\n" };
      expect(violationsOf(edgesOf(upward), layers)).to.deep.equal(["harness/ipvs/edit.ts:2 ipvs → topology (layer 3 is above layer 2): import type { Plan } from '../topology/planner.js';"]);
      expect(cyclesOf(edgesOf(upward))).to.deep.equal([['ipvs', 'topology']]);

      const sideways = { 'a/x.ts': "import { y } from '../b/y.js';\n", 'b/y.ts': '', 'c.ts': "import '../test/z.js';\n" };
      expect(violationsOf(edgesOf(sideways), [{ units: ['a', 'b'] }])).to.deep.equal([
        "harness/a/x.ts:1 a → b (layer 1 is beside layer 1): import { y } from '../b/y.js';",
        "harness/c.ts:1 c → outside harness/ (c is in no layer): import '../test/z.js';",
      ]);
    });
  });

  describe('the harness', () => {
    const files = harnessSources();
    const edges = edgesOf(files);

    it('reads every file of harness/', () => {
      expect(Object.keys(files)).to.include.members(['cli.ts', 'errors.ts', 'ipvs/edit.ts', 'diagnose/rules/arp.ts']);
      expect(edges.length).to.be.greaterThan(100);
    });

    it('puts every directory in exactly one layer, and names none that is gone', () => {
      const units = new Set(Object.keys(files).map(unitOf));
      const named = LAYERS.flatMap((l) => l.units);
      expect(named.filter((u, i) => named.indexOf(u) !== i), 'in two layers').to.deep.equal([]);
      expect([...units].filter((u) => !named.includes(u)), 'in no layer of LAYERS').to.deep.equal([]);
      expect(named.filter((u) => !units.has(u)), 'in LAYERS but not in harness/').to.deep.equal([]);
      expect(LAYERS.every((l) => l.why.length > 0)).to.equal(true);
    });

    it('has no cycle between directories', () => {
      const cycles = cyclesOf(edges);
      // within each loop, the imports to cut: those that LAYERS does not let through
      const detail = cycles.map((c) => {
        const inLoop = edges.filter((e) => c.includes(e.from) && c.includes(e.to));
        const against = inLoop.filter((e) => violationsOf([e], LAYERS).length);
        return `${c.join(' ⇄ ')}:\n${(against.length ? against : inLoop).map((e) => `  harness/${e.file}:${e.line} ${e.from} → ${e.to}: ${e.text}`).join('\n')}`;
      });
      expect(cycles, `directories importing each other:\n${detail.join('\n')}`).to.deep.equal([]);
    });

    it('imports only downward, layer by layer', () => {
      const bad = violationsOf(edges, LAYERS);
      expect(bad, `imports against the layers (LAYERS in ${path.basename(fileURLToPath(import.meta.url))}):\n  ${bad.join('\n  ')}`).to.deep.equal([]);
    });
  });
});
