/**
 * Which keywords keepalived accepts in which block, per release: 2.2.7's tree (keyword-tree.ts)
 * with what each later release added or removed (../releases.ts, where each keyword's life and
 * its deprecation are kept with their sources). Lint compares an operator's file against the
 * release it will run on (`--release`, `--keepalived-version`), since a keyword 2.3.3 added is
 * "Unknown keyword" to 2.2.7.
 */
import { compareVersions, DEBIAN_RELEASES, DEFAULT_RELEASE_NAME, KEEPALIVED_VERSIONS, KEYWORD_LIFECYCLE, type KeepalivedVersion, type KeywordLifecycle } from '../releases.js';
import { TREE_2_2_7, type Encoded } from './keyword-tree.js';

/** a keepalived version (the name predates the Debian releases in ../releases.ts) */
export type KeepalivedRelease = KeepalivedVersion;
export const RELEASES: readonly KeepalivedRelease[] = KEEPALIVED_VERSIONS;
export const DEFAULT_RELEASE: KeepalivedRelease = DEBIAN_RELEASES.find((r) => r.name === DEFAULT_RELEASE_NAME)!.keepalived;

export interface KeywordInfo {
  /** the keywords of its `{ … }` block, when it takes one */
  block?: KeywordTable;
  /** its block holds values (addresses, names), not keywords */
  values?: boolean;
}
export type KeywordTable = ReadonlyMap<string, KeywordInfo>;

/** The oldest version we have a keyword tree of: keyword-tree.ts is its tree; later versions add and remove from it. */
const BASE: KeepalivedRelease = '2.2.7';

/** Keywords `release` reads that its tree's base does not, or the base reads and `release` does not, as `block.keyword` paths. */
function changesFor(release: KeepalivedRelease, lifecycle: readonly KeywordLifecycle[]): { added: string[]; removed: Set<string> } {
  const added: string[] = [];
  const removed = new Set<string>();
  for (const e of lifecycle)
    for (const b of e.blocks) {
      const at = b ? `${b}.${e.keyword}` : e.keyword;
      if (e.introduced && compareVersions(e.introduced, BASE) > 0 && compareVersions(e.introduced, release) <= 0) added.push(at);
      if (e.removed && compareVersions(e.removed, release) <= 0) removed.add(at);
    }
  return { added, removed };
}

function decode(e: Encoded, path: string, changes: { added: string[]; removed: Set<string> }): Map<string, KeywordInfo> {
  const out = new Map<string, KeywordInfo>();
  const at = (k: string) => (path ? `${path}.${k}` : k);
  for (const w of e._.split(/\s+/).filter(Boolean)) {
    const values = w.endsWith('=');
    out.set(values ? w.slice(0, -1) : w, { values });
  }
  for (const [k, v] of Object.entries(e)) if (k !== '_' && typeof v !== 'string') out.set(k, { block: decode(v, at(k), changes) });
  for (const a of changes.added) {
    const i = a.lastIndexOf('.');
    if (a.slice(0, Math.max(0, i)) === path) out.set(a.slice(i + 1), {});
  }
  for (const k of [...out.keys()]) if (changes.removed.has(at(k))) out.delete(k);
  return out;
}

const cache = new Map<KeepalivedRelease, KeywordTable>();

/**
 * The top-level keyword table of a release (global_defs, vrrp_instance, virtual_server, …).
 * `lifecycle` replaces keepalived's own keyword history (tests); such a table is not cached.
 */
export function keywordTable(release: KeepalivedRelease = DEFAULT_RELEASE, lifecycle?: readonly KeywordLifecycle[]): KeywordTable {
  if (lifecycle) return decode(TREE_2_2_7, '', changesFor(release, lifecycle));
  let t = cache.get(release);
  if (!t) cache.set(release, (t = decode(TREE_2_2_7, '', changesFor(release, KEYWORD_LIFECYCLE))));
  return t;
}

/** The table of the block at `path` (keywords from the top), or undefined when no such block exists. */
export function tableAt(path: readonly string[], release: KeepalivedRelease = DEFAULT_RELEASE): KeywordTable | undefined {
  let t: KeywordTable | undefined = keywordTable(release);
  for (const k of path) t = t?.get(k)?.block;
  return t;
}

