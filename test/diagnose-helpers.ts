import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { parseEvidence, type NodeEvidence } from '../harness/diagnose/evidence.js';
import { BEGIN, END } from '../harness/diagnose/script.js';
import { REPO_ROOT } from '../harness/lab/paths.js';
import { parseTopology } from '../harness/topology/loader.js';
import { plan, type Plan } from '../harness/topology/planner.js';

/** Shared by the diagnose tests: recorded evidence (test/fixtures/diagnose), overlays of it, plans of the shipped topologies. */
const DIR = path.join(REPO_ROOT, 'test', 'fixtures', 'diagnose');

export const fixtureText = (dir: string, node: string) => readFileSync(path.join(DIR, dir, `${node}.txt`), 'utf8');

/** The sections of a script output, by key, each with its begin and end lines. */
function sections(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of text.replace(/\n$/, '').split('\n')) {
    if (line.startsWith(`${BEGIN} `)) out.set(line.slice(BEGIN.length + 1), (cur = [line]));
    else if (cur) {
      cur.push(line);
      if (line.startsWith(`${END} `)) cur = undefined;
    }
  }
  return out;
}

/** `base` with the sections `overlay` has replaced (or added). */
export function overlaid(base: string, overlay: string): string {
  const b = sections(base);
  for (const [k, v] of sections(overlay)) b.set(k, v);
  return [...b.values()].map((v) => v.join('\n')).join('\n') + '\n';
}

/** Every node's evidence of a base directory, with an overlay directory's sections on top. */
export function evidenceOf(base: string, overlay?: string, edit: Record<string, (text: string) => string> = {}): Record<string, NodeEvidence> {
  const out: Record<string, NodeEvidence> = {};
  for (const f of readdirSync(path.join(DIR, base)).filter((x) => x.endsWith('.txt'))) {
    const node = f.slice(0, -4);
    let text = fixtureText(base, node);
    if (overlay) {
      try {
        text = overlaid(text, fixtureText(overlay, node));
      } catch {
        /* the overlay leaves this node as it is */
      }
    }
    out[node] = parseEvidence(node, edit[node] ? edit[node](text) : text);
  }
  return out;
}

export const shippedPlan = (name: string, change?: (doc: any) => void): Plan => {
  const doc = YAML.parse(readFileSync(path.join(REPO_ROOT, 'topologies', `${name}.yaml`), 'utf8'));
  change?.(doc);
  return plan(parseTopology(YAML.stringify(doc), `topologies/${name}.yaml`));
};
