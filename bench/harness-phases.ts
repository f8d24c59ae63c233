/**
 * Benchmark: the harness's own overhead, phase by phase, over repeats. Prints minimum, median
 * and maximum for each phase; asserts nothing (performance goals live here, not in tests).
 *   npm run bench:harness [-- --repeat 3 --topology nat --topology nat-ha --suite modes --skip-lab-boot]
 * Phases: the lab build (from its cache), the lab's boot (down, then up), and for each topology:
 * topology up, each suite, teardown (the timings every run records in its results.json).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildLab } from '../harness/lab/build.js';
import { REPO_ROOT } from '../harness/lab/paths.js';
import { labDown, labUp } from '../harness/lab/vm.js';
import { resolveRuntime } from '../harness/runtime/select.js';
import { runSuites } from '../harness/suite/runner.js';
import { createProgress } from '../harness/report/terminal.js';
import { teardown } from '../harness/topology/builder.js';
import { percentile } from '../harness/stats.js';

const { values } = parseArgs({
  options: {
    repeat: { type: 'string', default: '3' },
    topology: { type: 'string', multiple: true },
    suite: { type: 'string', multiple: true },
    'skip-lab-boot': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const repeat = Math.max(1, Number(values.repeat));
const topologies = values.topology?.length ? values.topology : (await readdir(path.join(REPO_ROOT, 'topologies'))).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort();
const suites = values.suite?.length ? values.suite : ['modes'];
const quiet = () => {};
const samples = new Map<string, number[]>();
const add = (phase: string, ms: number) => (samples.get(phase) ?? samples.set(phase, []).get(phase)!).push(ms);
const say = (m: string) => process.stderr.write(`${m}\n`);

let t = Date.now();
await buildLab({ log: quiet });
add('lab build (cached)', Date.now() - t);
if (!values['skip-lab-boot']) {
  for (let i = 0; i < repeat; i++) {
    await labDown({ log: quiet });
    t = Date.now();
    await labUp({ log: quiet });
    add('lab up (boot)', Date.now() - t);
    say(`lab up ${i + 1}/${repeat}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
} else await labUp({ log: quiet });

const { docker } = await resolveRuntime({ log: quiet });
for (const topo of topologies) {
  for (let i = 0; i < repeat; i++) {
    // every repeat builds from nothing: a topology left up would be reused
    await teardown(docker, { topology: topo }, quiet);
    // a progress sink that writes nothing: the table below is the output, not mocha's reporter
    const r = await runSuites({ topologyFile: path.join(REPO_ROOT, 'topologies', `${topo}.yaml`), suites, log: quiet, progress: createProgress({ tty: false, write: () => {}, intervalMs: 0 }) });
    const res = JSON.parse(await readFile(path.join(r.reportDir, 'results.json'), 'utf8')) as { timings?: Record<string, number> };
    const tm = res.timings ?? {};
    if (tm.build !== undefined) add(`${topo}: up`, tm.build);
    for (const s of suites) if (tm[`suite:${s}`] !== undefined) add(`${topo}: ${s}`, tm[`suite:${s}`]!);
    if (tm.teardown !== undefined) add(`${topo}: teardown`, tm.teardown);
    say(`${topo} ${i + 1}/${repeat}: ${Object.entries(tm).map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`).join(', ')}${r.valid === true ? '' : ` (verdict ${String(r.valid)}${r.error ? `: ${r.error.message}` : ''})`}`);
  }
}

const rows = [...samples].map(([phase, xs]) => ({ phase, n: xs.length, minS: Math.min(...xs) / 1000, medianS: percentile([...xs].sort((a, b) => a - b), 50) / 1000, maxS: Math.max(...xs) / 1000 }));
if (values.json) process.stdout.write(`${JSON.stringify({ repeat, suites, rows }, null, 2)}\n`);
else {
  const w = Math.max(...rows.map((r) => r.phase.length), 5);
  process.stdout.write(`${'phase'.padEnd(w)}  ${'n'.padStart(2)}  ${'min s'.padStart(7)}  ${'median s'.padStart(8)}  ${'max s'.padStart(7)}\n`);
  for (const r of rows) process.stdout.write(`${r.phase.padEnd(w)}  ${String(r.n).padStart(2)}  ${r.minS.toFixed(1).padStart(7)}  ${r.medianS.toFixed(1).padStart(8)}  ${r.maxS.toFixed(1).padStart(7)}\n`);
}
process.exit(0);
