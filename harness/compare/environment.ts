import { releaseText } from '../report/format.js';
import type { Results } from '../report/results.js';

/**
 * Where each run ran, field by field, with the differences marked: an upgrade shows here
 * (lab release Debian 12 bookworm → Debian 13 trixie, lab kernel 6.1 → 6.12, keepalived 2.2.7 → 2.3.3)
 * before it shows in any check.
 */

export interface EnvironmentRow {
  field: string;
  /** undefined: the run did not record it (results@0, or a local engine rather than the lab) */
  a?: string;
  b?: string;
  differs: boolean;
  /** what runs on the directors and decides IPVS and VRRP behaviour, as against the host's tools */
  underTest: boolean;
}

const FIELDS: { field: string; underTest: boolean; of: (r: Results) => string | number | undefined }[] = [
  // recorded since lab releases (runtime.release): a run before them says nothing, rather than a guess
  { field: 'lab release', underTest: true, of: (r) => (r.runtime?.release ? releaseText(r.runtime.release) : undefined) },
  { field: 'lab kernel', underTest: true, of: (r) => r.environment?.lab?.kernel },
  { field: 'keepalived', underTest: true, of: (r) => r.environment?.lab?.keepalived },
  { field: 'ipvsadm', underTest: true, of: (r) => r.environment?.lab?.ipvsadm },
  { field: 'docker', underTest: true, of: (r) => r.environment?.lab?.docker },
  { field: 'node image', underTest: true, of: (r) => r.runtime?.nodeImage },
  { field: 'runtime', underTest: false, of: (r) => r.runtime?.kind },
  { field: 'topology', underTest: false, of: (r) => r.topology.name },
  { field: 'plan hash', underTest: false, of: (r) => r.topology.plan },
  { field: 'topology revision', underTest: false, of: (r) => r.topology.configRevision },
  { field: 'suites', underTest: false, of: (r) => r.suites.join(', ') },
  { field: 'host OS', underTest: false, of: (r) => r.environment?.host.os },
  { field: 'host kernel', underTest: false, of: (r) => r.environment?.host.kernel },
  { field: 'host CPUs', underTest: false, of: (r) => r.environment?.host.cpus },
  { field: 'Node.js', underTest: false, of: (r) => r.environment?.host.node },
  { field: 'lvs-harness', underTest: false, of: (r) => r.environment && `${r.environment.harness.version} (${r.environment.harness.git})` },
];

export function environmentRows(a: Results, b: Results): EnvironmentRow[] {
  return FIELDS.flatMap(({ field, underTest, of }) => {
    const x = of(a);
    const y = of(b);
    if (x === undefined && y === undefined) return [];
    const sa = x === undefined ? undefined : String(x);
    const sb = y === undefined ? undefined : String(y);
    return [{ field, ...(sa !== undefined ? { a: sa } : {}), ...(sb !== undefined ? { b: sb } : {}), differs: sa !== sb, underTest }];
  });
}
