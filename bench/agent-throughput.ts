/**
 * Benchmark: the load agent's throughput in the lab beside reference tools in the same
 * topology (wrk from the node image, and a curl loop). Prints numbers; asserts nothing.
 *   npm run bench:agent [-- --topology nat --seconds 10 --connections 8]
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { History } from '../harness/history/history.js';
import { REPO_ROOT } from '../harness/lab/paths.js';
import { Agent } from '../harness/load/driver.js';
import { clientSources } from '../harness/observe/modes.js';
import { resolveRuntime } from '../harness/runtime/select.js';
import { buildTopology } from '../harness/topology/builder.js';
import { loadTopology } from '../harness/topology/loader.js';
import { plan } from '../harness/topology/planner.js';

const { values } = parseArgs({ options: { topology: { type: 'string', default: 'nat' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rt = await resolveRuntime();
const p = plan(await loadTopology(path.join(REPO_ROOT, 'topologies', `${values.topology}.yaml`)));
const st = await buildTopology(rt, p);
const svc = p.services[0]!;
const client = p.nodes.find((n) => n.role === 'client')!.name;
const url = `http://${svc.vip}:${svc.port}/`;
const rows: [string, string, number, number][] = [];
const history = new History();
const agent = await Agent.start(st, client, history);
try {
  for (const mode of ['keep-alive', 'new-connection'] as const) {
    const t0 = Date.now();
    const r = await agent.run({ cmd: 'load', host: svc.vip, port: svc.port!, connections, durationS: seconds, mode, sources: clientSources(st, client, svc.vipNetwork) }, (seconds + 60) * 1000);
    const ok = r.ops.filter((o) => o.outcome === 'ok').length;
    const secs = (r.summary?.duration as number | undefined) ?? (Date.now() - t0) / 1000;
    rows.push([`agent (autocannon) ${mode}`, `${connections} conns`, ok / secs, r.ops.length - ok]);
  }
  for (const [label, extra] of [['wrk keep-alive', []], ['wrk new-connection', ['-H', 'Connection: close']]] as const) {
    const r = await st.exec(client, ['wrk', '-t', '2', '-c', String(connections), '-d', `${seconds}s`, ...extra, url], { timeoutMs: (seconds + 60) * 1000 });
    const rps = Number(r.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0);
    const errors = Number(r.stdout.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0);
    rows.push([label, `${connections} conns`, rps, errors]);
  }
  const loop = await st.exec(client, ['sh', '-c', 'end=$(($(date +%s) + $1)); n=0; while [ $(date +%s) -lt $end ]; do curl -s -o /dev/null -H "Connection: close" "$2" && n=$((n+1)); done; echo $n', 'loop', String(seconds), url], { timeoutMs: (seconds + 60) * 1000 });
  rows.push(['curl loop new-connection', '1 conn', Number(loop.stdout.trim()) / seconds, 0]);
} finally {
  await agent.stop();
  await st.down();
}
console.log(`\nthroughput through ${svc.vip}:${svc.port} (${p.topology}, ${svc.scheduler}), ${seconds} s each, lab under software emulation`);
for (const [what, conc, rps, errs] of rows) console.log(`${what.padEnd(34)} ${conc.padEnd(9)} ${rps.toFixed(1).padStart(8)} req/s   errors ${errs}`);
