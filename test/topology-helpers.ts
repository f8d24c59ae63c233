import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { HarnessError } from '../harness/errors.js';
import { keepalivedTestArgv, parseKeepalivedTestOutput } from '../harness/keepalived/render.js';
import { REPO_ROOT } from '../harness/lab/paths.js';
import { parseTopology } from '../harness/topology/loader.js';

/** Shared by the topology and keepalived unit tests: shipped files, variants of them, and the errors a user reads. */
export const shippedText = (name: string) => readFileSync(path.join(REPO_ROOT, 'topologies', `${name}.yaml`), 'utf8');

export type Doc = any;

/** A shipped topology as plain data, changed by `change`, written back as YAML. */
export function variantText(name: string, change: (doc: Doc) => void): string {
  const doc = YAML.parse(shippedText(name));
  change(doc);
  return YAML.stringify(doc);
}

/** The error parseTopology throws, as the lines a user reads. */
export function problems(text: string, file: string): string[] {
  try {
    parseTopology(text, file);
  } catch (e) {
    expect(e).to.be.instanceOf(HarnessError, `expected a topology error, got ${String(e)}`);
    expect((e as HarnessError).code).to.equal('ERR_LVS_TOPOLOGY');
    return (e as HarnessError).message.split('\n');
  }
  throw new Error(`expected ${file} to be rejected`);
}

/**
 * `keepalived --config-test` on a file, the way keepalived would run it on a director: in a
 * fresh network namespace that has the interfaces the file names (when unshare works here),
 * asserting that nothing but the allowed kinds of diagnostic came out.
 */
export function expectConfigTestClean(file: string, interfaces: readonly string[], netns: boolean): void {
  const argv = keepalivedTestArgv(file);
  // the interfaces travel as positional parameters, never spliced into the script text
  const r = netns
    ? spawnSync('unshare', ['--net', '--', 'sh', '-c', 'n=$1; shift; i=0; while [ $i -lt $n ]; do ip link add "$1" type veth peer name "kp$i" || exit 90; shift; i=$((i+1)); done; exec "$@"', 'sh', String(interfaces.length), ...interfaces, ...argv], { encoding: 'utf8' })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const diags = parseKeepalivedTestOutput(r.stderr, file);
  // the scripts a file names do not exist on the host; without a namespace neither do its interfaces
  const allowed = netns ? ['script'] : ['script', 'interface'];
  expect(r.signal, r.stderr).to.equal(null);
  expect(diags.filter((d) => !allowed.includes(d.kind)), r.stderr).to.deep.equal([]);
  expect(r.status, r.stderr).to.be.oneOf(diags.length ? [5] : [0]);
}
