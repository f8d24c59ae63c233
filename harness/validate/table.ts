import type { Translation } from './translation.js';

/** The translation as the operator reads it in the terminal and the report: theirs on the left, the lab's on the right. */
export function translationTable(t: Translation): string {
  const rows: [string, string, string][] = [['their network', 'lab network', 'lab subnet']];
  for (const n of t.networks) rows.push([n.theirs.join(', ') || '(an interface with no address in the files)', n.name, n.subnet]);
  rows.push(['', '', ''], ['their address', 'lab address', 'where']);
  for (const [theirs, lab] of t.addresses) rows.push([theirs, lab, t.outside.has(theirs) ? 'outside the lab (nothing answers)' : (t.networkOf(lab) ?? '')]);
  rows.push(['', '', ''], ['their interface', 'lab network', 'director']);
  for (const [d, m] of t.interfaces) for (const [i, n] of m) rows.push([i, `${n} (device named when the node starts)`, d]);
  const w = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => (r.every((x) => !x) ? '' : `${r[0].padEnd(w[0]!)}  ${r[1].padEnd(w[1]!)}  ${r[2]}`.trimEnd())).join('\n');
}
