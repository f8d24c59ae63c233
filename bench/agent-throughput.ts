/**
 * Benchmark: the load agent's throughput in the lab beside reference tools in the same client
 * (wrk from the node image, and a curl loop), as one run of the run pipeline: it builds the
 * topology, measures, takes it down and writes reports/<run-id>/ like every run (a check per
 * generator holding its rate, the history an observation per measurement). Prints the numbers;
 * judges only that each generator got answers.
 *   npm run bench:agent [-- --topology nat --seconds 10 --connections 8]
 */
import { parseArgs } from 'node:util';
import type { RecordedCheck } from '../harness/report/results.js';
import { Agent } from '../harness/load/driver.js';
import { clientSources } from '../harness/observe/modes.js';
import { runPipeline, stage } from '../harness/suite/pipeline.js';
import { loadPlan } from '../harness/suite/load-plan.js';
import { buildTopology, teardown, type StartedTopology } from '../harness/topology/builder.js';
import { topologyFile } from '../harness/topology/commands.js';
import { log } from '../harness/util/log.js';

const { values } = parseArgs({ options: { topology: { type: 'string', default: 'nat' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const file = topologyFile(values.topology!);
const p = await loadPlan(file, log);
const svc = p.services.find((s) => s.protocol === 'tcp' && s.port !== undefined && !s.vip.includes(':'))!;
const client = p.nodes.find((n) => n.role === 'client')!.name;
const url = `http://${svc.vip}:${svc.port}/`;
const rows: { what: string; conc: string; rate: number; errors: number }[] = [];
const checks: RecordedCheck[] = [];

const out = await runPipeline({ log, record: { suites: ['bench:agent'], topology: { name: p.topology, file, plan: p.hash, reused: false } } }, (run) => {
  run.record.checks = checks;
  let agent: Agent | undefined;
  const measured = (what: string, conc: string, rate: number, errors: number) => {
    rows.push({ what, conc, rate, errors });
    run.history.append({ type: 'observe', t: Date.now(), node: client, what: 'bench-generator', data: { generator: what, concurrency: conc, url, seconds, rate, errors } });
    checks.push({
      suite: 'bench:agent',
      group: `${p.topology} ${svc.name}`,
      name: `${what}: requests answered`,
      valid: rate > 0,
      observed: { rate: Math.round(rate * 10) / 10, errors },
      expected: 'a rate above zero',
      rule: 'a benchmark: it measures, and judges only that the load got through',
      detail: `${rate.toFixed(1)} req/s, ${errors} errors (${conc}, ${seconds} s)`,
    });
  };
  return {
    stages: [
      stage<StartedTopology>({
        describe: `topology ${p.topology}`,
        build: (rt) => buildTopology(rt, p, { log }),
        async workload(st) {
          run.progress?.phase('bench');
          const a = (agent = await Agent.start(st, client, run.history));
          for (const mode of ['keep-alive', 'new-connection'] as const) {
            const t0 = Date.now();
            const r = await a.run({ cmd: 'load', host: svc.vip, port: svc.port!, connections, durationS: seconds, mode, sources: clientSources(st, client, svc.vipNetwork) }, (seconds + 60) * 1000);
            const ok = r.ops.filter((o) => o.outcome === 'ok').length;
            const secs = (r.summary?.duration as number | undefined) ?? (Date.now() - t0) / 1000;
            measured(`agent (autocannon) ${mode}`, `${connections} conns`, ok / secs, r.ops.length - ok);
          }
          for (const [label, extra] of [['wrk keep-alive', []], ['wrk new-connection', ['-H', 'Connection: close']]] as const) {
            const r = await st.exec(client, ['wrk', '-t', '2', '-c', String(connections), '-d', `${seconds}s`, ...extra, url], { timeoutMs: (seconds + 60) * 1000 });
            const rps = Number(r.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0);
            const errors = Number(r.stdout.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)?.slice(1).reduce((s, n) => s + Number(n), 0) ?? 0);
            measured(label, `${connections} conns`, rps, errors);
          }
          const loop = await st.exec(client, ['sh', '-c', 'end=$(($(date +%s) + $1)); n=0; while [ $(date +%s) -lt $end ]; do curl -s -o /dev/null -H "Connection: close" "$2" && n=$((n+1)); done; echo $n', 'loop', String(seconds), url], { timeoutMs: (seconds + 60) * 1000 });
          measured('curl loop new-connection', '1 conn', Number(loop.stdout.trim()) / seconds, 0);
        },
        release: async () => {
          await agent?.stop();
        },
        reused: (st) => st.reused,
        teardown: (rt) => teardown(rt.docker, { topology: p.topology }, log),
      }),
    ],
  };
});

console.log(`\nthroughput through ${svc.vip}:${svc.port} (${p.topology}, ${svc.scheduler}), ${seconds} s each, lab under software emulation`);
for (const r of rows) console.log(`${r.what.padEnd(34)} ${r.conc.padEnd(9)} ${r.rate.toFixed(1).padStart(8)} req/s   errors ${r.errors}`);
const agentKa = rows.find((r) => r.what === 'agent (autocannon) keep-alive')?.rate;
const wrkKa = rows.find((r) => r.what === 'wrk keep-alive')?.rate;
if (agentKa && wrkKa) console.log(`agent ÷ wrk, keep-alive: ${(agentKa / wrkKa).toFixed(2)} (bench drives wrk)`);
if (out.results.error) console.log(`error in ${out.results.error.phase}: ${out.results.error.message}`);
console.log(`results: ${out.dir}/results.json`);
process.exit(out.results.error || out.results.valid !== true ? 1 : 0);
