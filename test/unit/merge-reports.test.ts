import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { readHistory } from '../../harness/history/history.js';
import { runVerdictOf } from '../../harness/report/format.js';
import { rerender } from '../../harness/report/index.js';
import { loadMergeInput, loadMergeInputs, mergeReports, mergeReportsCommand, mergeResults, type MergeInput } from '../../harness/report/merge.js';
import { loadResults } from '../../harness/report/results.js';
import { rejection } from '../helpers.js';

/**
 * merge-reports: the runs of a sharded matrix as one run directory, from the fixtures in
 * test/fixtures/merge/ (made-up runs of the modes suite, laid out as CI downloads them).
 */
const FIX = path.join(REPO_ROOT, 'test', 'fixtures', 'merge');
const NAT = path.join(FIX, 'shard-1', '20261201T080000-aa11');
const DR = path.join(FIX, 'shard-2', '20261201T080004-bb22');
const TUN = path.join(FIX, 'failing', '20261201T081000-cc33');
const FULLNAT = path.join(FIX, 'error', '20261201T082000-dd44');

type Node = Record<string, unknown>;
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name, _p, _l, isAttribute) => !isAttribute && name !== '?xml', parseAttributeValue: false, parseTagValue: false });
const list = (v: unknown) => (v ?? []) as Node[];

async function junit(dir: string) {
  const xml = await readFile(path.join(dir, 'junit.xml'), 'utf8');
  expect(XMLValidator.validate(xml)).to.equal(true);
  const root = list(parser.parse(xml).testsuites)[0]!;
  return { root, suites: list(root.testsuite) };
}

const input = async (dir: string): Promise<MergeInput> => (await loadMergeInput(dir)).input;

describe('merge-reports', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'lvs-merge-'));
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  it('merges two passing runs into one run directory with the five files', async () => {
    const out = path.join(tmp, 'merged');
    // the shard directories, as CI downloads them: the run directories are found inside
    const r = await mergeReports([path.join(FIX, 'shard-1'), path.join(FIX, 'shard-2')], { out, reportsDir: tmp, runId: '20261201T090000-mrg1' });
    expect(r.errors).to.deep.equal([]);
    expect(r.warnings).to.deep.equal([]);
    expect((await readdir(out)).sort()).to.deep.equal(['history.ndjson', 'junit.xml', 'report.html', 'results.json', 'summary.md']);
    expect(r.written.map((f) => path.basename(f))).to.deep.equal(['results.json', 'history.ndjson', 'junit.xml', 'summary.md', 'report.html']);

    const m = await loadResults(path.join(out, 'results.json'));
    expect(m.runId).to.equal('20261201T090000-mrg1');
    expect(m.valid).to.equal(true);
    expect(runVerdictOf(m)).to.equal('passed');
    expect(m.topology.name).to.equal('nat, dr');
    expect(m.startedAt).to.equal('2026-12-01T08:00:00.100Z');
    expect(m.finishedAt).to.equal('2026-12-01T08:01:01.250Z');
    expect(m.suites).to.deep.equal(['nat/modes', 'dr/modes']);
    expect(m.checks).to.have.length(6);
    // every check keeps its run of origin
    expect(m.checks.map((c) => [c.suite, c.origin?.runId, c.origin?.topology, c.origin?.suite])).to.deep.equal([
      ...Array(3).fill(['nat/modes', '20261201T080000-aa11', 'nat', 'modes']),
      ...Array(3).fill(['dr/modes', '20261201T080004-bb22', 'dr', 'modes']),
    ]);
    expect(m.checks[3]!.name).to.equal('every real server answers through the VIP');
    expect(m.checks[3]!.group).to.equal('web droute 10.89.30.100:80');
    expect(m.timings).to.deep.equal({ 'nat/runtime': 820, 'nat/build': 24310, 'suite:nat/modes': 21900, 'nat/teardown': 5200, 'dr/runtime': 790, 'dr/build': 18300, 'suite:dr/modes': 31400, 'dr/teardown': 4100 });
    // the first run's environment; each run's own in merged.runs
    expect(m.environment?.host.cpus).to.equal(2);
    expect(m.merged!.runs.map((x) => [x.label, x.runId, x.verdict, x.checks.total, x.environment?.host.cpus, x.historyEvents, x.dir])).to.deep.equal([
      ['nat', '20261201T080000-aa11', 'passed', 3, 2, 6, NAT],
      ['dr', '20261201T080004-bb22', 'passed', 3, 4, 4, DR],
    ]);

    // one history on one time axis, node names under their run's label
    const h = await readHistory(path.join(out, 'history.ndjson'));
    expect(h).to.have.length(10);
    expect(h.map((e) => e.t)).to.deep.equal([...h.map((e) => e.t)].sort((a, b) => a - b));
    expect([...new Set(h.map((e) => (e.type === 'fault' ? e.target : e.node)))].sort()).to.deep.equal(['dr/client', 'nat/client', 'nat/director']);

    const { root, suites } = await junit(out);
    expect([root.tests, root.failures, root.errors]).to.deep.equal(['6', '0', '0']);
    expect(suites.map((s) => [s.name, s.tests, s.failures])).to.deep.equal([
      ['nat/modes', '3', '0'],
      ['dr/modes', '3', '0'],
    ]);
    const summary = await readFile(path.join(out, 'summary.md'), 'utf8');
    expect(summary).to.match(/^## ✅ lvs-harness passed: nat, dr, 2 runs merged\n/);
    expect(summary).to.include('### Runs merged (2)');
    expect(summary).to.include('| ✅ | nat | `20261201T080000-aa11` | modes | 3 checks: 3 passed |');
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).to.include('<section id="runs"><h2>Runs merged</h2>');
    expect(html).to.include('nat/client');
    expect(html).to.include('dr/client');

    // a merged run is a run directory like any other: `report` renders it again the same
    const before = await readFile(path.join(out, 'summary.md'), 'utf8');
    const again = await rerender(out);
    expect(again.errors).to.deep.equal([]);
    expect(await readFile(path.join(out, 'summary.md'), 'utf8')).to.equal(before);
  });

  it('merges a failing and a passing run: failed, each failure with its run', async () => {
    const out = path.join(tmp, 'merged');
    const r = await mergeReports([NAT, TUN], { out, reportsDir: tmp });
    const m = r.results;
    expect(m.valid).to.equal(false);
    expect(runVerdictOf(m)).to.equal('failed');
    expect(m.error).to.equal(undefined);
    expect(m.runId).to.match(/^\d{8}T\d{6}-[a-z0-9]{4}$/);
    const bad = m.checks.filter((c) => c.valid !== true);
    expect(bad.map((c) => [c.suite, c.name, c.valid, c.origin?.runId])).to.deep.equal([
      ['tun/modes', 'every real server answers through the VIP', false, '20261201T081000-cc33'],
      ['tun/modes', 'replies bypass the director', 'unknown', '20261201T081000-cc33'],
    ]);
    expect(m.errors).to.have.length(1);
    expect(m.errors[0]).to.include({ suite: 'tun/modes', message: "timed out after 20.0 s waiting for the director's counters" });
    expect(m.errors[0]!.origin).to.deep.equal({ runId: '20261201T081000-cc33', topology: 'tun', suite: 'modes' });
    expect(m.merged!.runs.map((x) => x.verdict)).to.deep.equal(['passed', 'failed']);

    const h = await readHistory(path.join(out, 'history.ndjson'));
    const faults = h.filter((e) => e.type === 'fault');
    expect(faults.map((e) => (e.type === 'fault' ? e.target : ''))).to.deep.equal(['tun/rs1', 'tun/rs1']);
    const holders = h.find((e) => e.type === 'observe' && e.what === 'vip-holders');
    expect(holders && holders.type === 'observe' ? holders.data : undefined).to.deep.equal({ vip: 'tun/10.89.40.100', holders: ['tun/director'] });

    const { root, suites } = await junit(out);
    expect([root.tests, root.failures, root.errors]).to.deep.equal(['7', '2', '1']);
    expect(suites.map((s) => [s.name, s.failures, s.errors])).to.deep.equal([
      ['nat/modes', '0', '0'],
      ['tun/modes', '2', '1'],
    ]);
    const summary = await readFile(path.join(out, 'summary.md'), 'utf8');
    expect(summary).to.match(/^## ❌ lvs-harness failed: nat, tun, 2 runs merged\n/);
    expect(summary).to.include('#### ❌ tun/modes › web tunnel 10.89.40.100:80 › every real server answers through the VIP');
    expect(summary).to.include('| ❌ | tun | `20261201T081000-cc33` | modes | 3 checks: 1 passed, 1 failed, 1 unknown, 1 error |');
  });

  it('merges a run that ended in an error: the merged run is an error, named after that run', async () => {
    const out = path.join(tmp, 'merged');
    const r = await mergeReports([NAT, FULLNAT], { out, reportsDir: tmp });
    const m = r.results;
    expect(runVerdictOf(m)).to.equal('error');
    expect(m.valid).to.equal(false);
    expect(m.error).to.deep.include({ phase: 'fullnat build', code: 'ERR_LVS_IPVS_MISMATCH', hint: "see the director's ipvsadm -S -n in the message" });
    expect(m.error!.message).to.match(/^director: the IPVS table read back differs from the plan/);
    expect(m.timings).to.include({ 'fullnat/build': 98750 });
    expect(m.merged!.runs[1]).to.deep.include({ label: 'fullnat', verdict: 'error', historyEvents: 0 });

    const { suites } = await junit(out);
    const harness = suites.find((s) => s.name === 'lvs-harness')!;
    const tc = list(harness.testcase);
    expect(tc.map((t) => [t.classname, t.name])).to.deep.equal([['nat, fullnat', 'fullnat build']]);
    expect(list(tc[0]!.error)[0]!.type).to.equal('ERR_LVS_IPVS_MISMATCH');
    // the suite the errored run never reached is not shown as zero tests passed
    expect(suites.map((s) => s.name)).to.deep.equal(['nat/modes', 'lvs-harness']);
    const summary = await readFile(path.join(out, 'summary.md'), 'utf8');
    expect(summary).to.match(/^## ❗ lvs-harness error: nat, fullnat, 2 runs merged\n/);
    expect(summary).to.include('> **error in fullnat build: ERR_LVS_IPVS_MISMATCH: director: the IPVS table read back differs from the plan**');
    expect(await readFile(path.join(out, 'report.html'), 'utf8')).to.include('error in <b>fullnat build</b>');
  });

  it('with several runs ended early: the first interrupted one is the error, the others are errors of their own', async () => {
    const nat = await input(NAT);
    const fullnat = await input(FULLNAT);
    const dr = await input(DR);
    const stopped: MergeInput = {
      ...dr,
      results: { ...dr.results, valid: false, error: { phase: 'suite', message: 'interrupted by SIGINT in phase suite', code: 'ERR_LVS_INTERRUPTED' }, interrupted: { signal: 'SIGINT', phase: 'suite' } },
    };
    const { results: m } = mergeResults([nat, fullnat, stopped], { runId: 'x' });
    expect(runVerdictOf(m)).to.equal('interrupted');
    expect(m.interrupted).to.deep.equal({ signal: 'SIGINT', phase: 'dr suite' });
    expect(m.error).to.deep.equal({ phase: 'dr suite', message: 'dr: interrupted by SIGINT in phase suite', code: 'ERR_LVS_INTERRUPTED' });
    // the build error of fullnat stays, as an error of the merged run
    expect(m.errors.map((e) => [e.title, e.suite, e.origin?.topology])).to.deep.equal([['fullnat build', undefined, 'fullnat']]);
    expect(m.errors[0]!.message).to.match(/^error in build: ERR_LVS_IPVS_MISMATCH: director: the IPVS table read back differs[\s\S]*\nhint: see the director's/);
  });

  it('names runs of one topology by their run id too, and keeps them apart', async () => {
    const nat = await input(NAT);
    const again: MergeInput = { ...nat, dir: '/elsewhere', results: { ...nat.results, runId: '20261201T100000-zz99' } };
    const { results: m, history } = mergeResults([nat, again], { runId: 'x' });
    expect(m.suites).to.deep.equal(['nat@20261201T080000-aa11/modes', 'nat@20261201T100000-zz99/modes']);
    expect(m.merged!.runs.map((x) => x.label)).to.deep.equal(['nat@20261201T080000-aa11', 'nat@20261201T100000-zz99']);
    expect(m.topology.name).to.equal('nat');
    expect(new Set(history.map((e) => (e.type === 'fault' ? e.target : e.node))).size).to.equal(4);
  });

  it('the verdict is the worst of the runs', async () => {
    const nat = await input(NAT);
    const unknown: MergeInput = { ...nat, results: { ...nat.results, runId: 'u', topology: { ...nat.results.topology, name: 'u' }, valid: 'unknown', checks: [{ ...nat.results.checks[0]!, valid: 'unknown' }] } };
    expect(mergeResults([nat, unknown], { runId: 'x' }).results.valid).to.equal('unknown');
    expect(mergeResults([nat, await input(TUN), unknown], { runId: 'x' }).results.valid).to.equal(false);
    expect(runVerdictOf(mergeResults([await input(TUN), await input(FULLNAT)], { runId: 'x' }).results)).to.equal('error');
  });

  describe('bad input, named with its file and field', () => {
    it('a directory that does not exist', async () => {
      const e = await rejection(mergeReports([NAT, path.join(FIX, 'no-such-dir')], { reportsDir: tmp }));
      expect(e.code).to.equal('ERR_LVS_USAGE');
      expect(e.message).to.equal(`merge-reports: ${path.join(FIX, 'no-such-dir')}: no such directory`);
    });

    it('a results.json with a bad field', async () => {
      const e = await rejection(mergeReports([NAT, path.join(FIX, 'invalid', 'bad-field')], { reportsDir: tmp }));
      expect(e.code).to.equal('ERR_LVS_USAGE');
      expect(e.message).to.equal(`merge-reports: ${path.join(FIX, 'invalid', 'bad-field', 'results.json')}: field checks[1].valid: "yes": expected true, false or "unknown"`);
    });

    it('a results.json that is not JSON', async () => {
      const e = await rejection(mergeReports([path.join(FIX, 'invalid', 'not-json')], { reportsDir: tmp }));
      expect(e.code).to.equal('ERR_LVS_USAGE');
      expect(e.message).to.match(new RegExp(`^merge-reports: ${path.join(FIX, 'invalid', 'not-json', 'results.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not JSON`));
    });

    it('a run directory without results.json (a run killed before its end)', async () => {
      const e = await rejection(mergeReports([path.join(FIX, 'invalid', 'unfinished')], { reportsDir: tmp }));
      expect(e.message).to.equal(`merge-reports: ${path.join(FIX, 'invalid', 'unfinished', '20261201T090200-hh88', 'results.json')}: no such file, though the run directory has a history.ndjson`);
      expect(e.hint).to.match(/killed before its end/);
    });

    it('a directory with no run in it, a file, no directory at all', async () => {
      const e = await rejection(mergeReports([tmp], { reportsDir: tmp }));
      expect(e.message).to.equal(`merge-reports: ${path.join(tmp, 'results.json')}: no such file, and no run directory (one with results.json) under ${tmp}`);
      const f = path.join(NAT, 'history.ndjson');
      expect((await rejection(mergeReports([f], { reportsDir: tmp }))).message).to.equal(`merge-reports: ${f}: not a directory`);
      expect((await rejection(loadMergeInputs([]))).message).to.equal('merge-reports: give the run directories to merge');
    });

    it('the same run twice, the output over an input, a merged run as input', async () => {
      await cp(NAT, path.join(tmp, 'copy'), { recursive: true });
      const twice = await rejection(mergeReports([NAT, path.join(tmp, 'copy')], { reportsDir: tmp }));
      expect(twice.message).to.equal(`merge-reports: run 20261201T080000-aa11 is given twice: ${path.join(NAT, 'results.json')} and ${path.join(tmp, 'copy', 'results.json')}`);
      const over = await rejection(mergeReports([path.join(tmp, 'copy'), DR], { out: path.join(tmp, 'copy'), reportsDir: tmp }));
      expect(over.message).to.equal(`merge-reports: --out ${path.join(tmp, 'copy')} is one of the runs being merged`);
      await mergeReports([NAT, DR], { out: path.join(tmp, 'merged'), reportsDir: tmp });
      const nested = await rejection(mergeReports([path.join(tmp, 'merged'), TUN], { out: path.join(tmp, 'm2'), reportsDir: tmp }));
      expect(nested.message).to.equal(`merge-reports: ${path.join(tmp, 'merged', 'results.json')}: field merged: this run is itself a merge of 2 runs`);
    });
  });

  describe('the command', () => {
    it('writes into reports/<new run id> by default and prints the paths', async () => {
      const r = await mergeReportsCommand([NAT, DR], { reportsDir: tmp });
      expect(r.code).to.equal(0);
      expect(path.dirname(r.output.dir)).to.equal(tmp);
      expect(path.basename(r.output.dir)).to.equal(r.output.results.runId);
      const lines = r.text.split('\n');
      expect(lines[0]).to.equal('merged 2 runs: passed, 6 checks: 6 passed');
      expect(lines[1]).to.equal(`  nat    passed       3 checks: 3 passed  ${NAT}`);
      for (const f of ['results.json', 'history.ndjson', 'junit.xml', 'summary.md', 'report.html']) expect(lines).to.include(`wrote ${path.join(r.output.dir, f)}`);
      expect(lines[lines.length - 1]).to.equal(`report:  ${path.join(r.output.dir, 'report.html')}`);
    });

    it('takes --out, and refuses an unknown option or an empty --out', async () => {
      const out = path.join(tmp, 'x', 'merged');
      const r = await mergeReportsCommand([NAT, '--out', out, TUN], { reportsDir: tmp });
      expect(r.output.dir).to.equal(out);
      expect(r.code).to.equal(0);
      expect(r.text.split('\n')[0]).to.equal('merged 2 runs: failed, 6 checks: 4 passed, 1 failed, 1 unknown, 1 error');
      const bad = await rejection(mergeReportsCommand([NAT, '--html', 'x'], { reportsDir: tmp }));
      expect(bad.code).to.equal('ERR_LVS_USAGE');
      expect(bad.message).to.match(/^merge-reports: Unknown option '--html'/);
      expect((await rejection(mergeReportsCommand([NAT, '--out', ''], { reportsDir: tmp }))).message).to.match(/--out needs a directory/);
    });
  });
});
