import { byName, distributionOf } from '../report/data.js';
import { verdictOf, type Verdict } from '../report/format.js';
import type { CheckPair } from './match.js';

/**
 * The share of new connections per real server, as each run's distribution checks observed it,
 * side by side. Descriptive only: whether a share is right is the check's own verdict, against
 * the scheduler's promise, and that verdict's change is listed with the others.
 */

export interface ShareSide {
  verdict: Verdict;
  /** share per real server, 0..1 */
  observed: Record<string, number>;
  expected?: Record<string, number>;
  connections?: number;
}

export interface ShareRow {
  server: string;
  a?: number;
  b?: number;
  /** B − A in share (0.05 is five points); undefined when a side lacks the server */
  change?: number;
  expected?: number;
}

export interface DistributionComparison {
  suite: string;
  group: string;
  name: string;
  occurrence: number;
  a: ShareSide | null;
  b: ShareSide | null;
  rows: ShareRow[];
}

export function distributionComparisons(pairs: readonly CheckPair[]): DistributionComparison[] {
  const out: DistributionComparison[] = [];
  for (const p of pairs) {
    const da = p.a && distributionOf(p.a);
    const db = p.b && distributionOf(p.b);
    if (!da && !db) continue;
    const side = (d: NonNullable<typeof da>, valid: NonNullable<typeof p.a>['valid']): ShareSide => ({
      verdict: verdictOf(valid),
      observed: d.observed,
      ...(d.expected ? { expected: d.expected } : {}),
      ...(d.connections !== undefined ? { connections: d.connections } : {}),
    });
    const servers = [...new Set([...(da?.servers ?? []), ...(db?.servers ?? [])])].sort(byName);
    const rows = servers.map((server): ShareRow => {
      const a = da?.observed[server];
      const b = db?.observed[server];
      const expected = (db?.expected ?? da?.expected)?.[server];
      return { server, ...(a !== undefined ? { a } : {}), ...(b !== undefined ? { b } : {}), ...(a !== undefined && b !== undefined ? { change: b - a } : {}), ...(expected !== undefined ? { expected } : {}) };
    });
    out.push({ suite: p.suite, group: p.group, name: p.name, occurrence: p.occurrence, a: da && p.a ? side(da, p.a.valid) : null, b: db && p.b ? side(db, p.b.valid) : null, rows });
  }
  return out;
}
