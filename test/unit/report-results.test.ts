import { expect } from 'chai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadResults, RESULTS_SCHEMA_V0, RESULTS_SCHEMA_V1 } from '../../harness/report/results.js';
import { rejection } from '../helpers.js';
import { resultsFile } from '../fixtures/report/fixtures.js';

describe('report: results.json loader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-results-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const write = async (name: string, value: unknown) => {
    const f = path.join(dir, name);
    await writeFile(f, typeof value === 'string' ? value : JSON.stringify(value));
    return f;
  };
  const raw = async (n: 'nat' | 'ha-synthetic') => JSON.parse(await readFile(resultsFile(n), 'utf8')) as Record<string, unknown>;

  it('reads a results@0 file, leaving what @0 did not record undefined', async () => {
    const r = await loadResults(resultsFile('nat'));
    expect(r.schema).to.equal(RESULTS_SCHEMA_V0);
    expect(r.checks).to.have.length(19);
    expect(r.finishedAt).to.equal(undefined);
    expect(r.environment).to.equal(undefined);
    expect(r.topology.configRevision).to.equal(undefined);
    expect(r.runtime?.kind).to.equal('lab');
  });

  it('reads a results@1 file with its environment', async () => {
    const r = await loadResults(resultsFile('ha-synthetic'));
    expect(r.schema).to.equal(RESULTS_SCHEMA_V1);
    expect(r.environment?.lab?.keepalived).to.equal('2.2.7');
    expect(r.topology.configRevision).to.match(/^[0-9a-f]{40}$/);
    expect(r.errors[0]!.suite).to.equal('failover');
  });

  it('names the file when it is missing or not JSON', async () => {
    const missing = path.join(dir, 'nope.json');
    expect((await rejection(loadResults(missing))).message).to.equal(`${missing}: no such file`);
    const f = await write('cut.json', '{"schema": "lvs-harness/results@1", "runId"');
    const e = await rejection(loadResults(f));
    expect(e.code).to.equal('ERR_LVS_RESULTS');
    expect(e.message).to.match(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not JSON`));
  });

  it('refuses a schema it does not know, naming the field', async () => {
    const f = await write('v9.json', { ...(await raw('nat')), schema: 'lvs-harness/results@9' });
    const e = await rejection(loadResults(f));
    expect(e.message).to.equal(`${f}: field schema: "lvs-harness/results@9" is not a results schema this harness reads (lvs-harness/results@0, lvs-harness/results@1)`);
    expect(e.hint).to.match(/newer harness/);
    const g = await write('array.json', [1, 2]);
    expect((await rejection(loadResults(g))).message).to.equal(`${g}: field (top level): [1,2] is not an object`);
  });

  it('names the first bad field by its path, with the value found', async () => {
    const r = await raw('nat');
    const checks = r.checks as Record<string, unknown>[];
    checks[3] = { ...checks[3], valid: 'yes' };
    const f = await write('bad-valid.json', { ...r, checks });
    expect((await rejection(loadResults(f))).message).to.equal(`${f}: field checks[3].valid: "yes": expected true, false or "unknown"`);

    const g = await write('bad-time.json', { ...(await raw('nat')), startedAt: 'yesterday' });
    expect((await rejection(loadResults(g))).message).to.match(/: field startedAt: "yesterday": expected an ISO 8601 UTC time/);
  });

  it('requires of @1 what @1 promises (finishedAt, environment)', async () => {
    const { finishedAt: _, ...noEnd } = await raw('ha-synthetic');
    const f = await write('no-end.json', noEnd);
    expect((await rejection(loadResults(f))).message).to.equal(`${f}: field finishedAt: missing (expected string)`);
    const r = await raw('ha-synthetic');
    const env = r.environment as { host: Record<string, unknown> };
    const g = await write('bad-cpus.json', { ...r, environment: { ...env, host: { ...env.host, cpus: 'eight' } } });
    expect((await rejection(loadResults(g))).message).to.equal(`${g}: field environment.host.cpus: "eight" is not a number`);
  });

  it('keeps fields it does not know (a newer minor writer) instead of failing', async () => {
    const f = await write('extra.json', { ...(await raw('ha-synthetic')), annotations: { ticket: 'LVS-12' } });
    const r = await loadResults(f);
    expect((r as unknown as { annotations: unknown }).annotations).to.deep.equal({ ticket: 'LVS-12' });
  });
});
