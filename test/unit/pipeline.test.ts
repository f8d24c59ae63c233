import { expect } from 'chai';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { loadResults } from '../../harness/report/results.js';
import type { Progress } from '../../harness/report/terminal.js';
import type { Runtime } from '../../harness/runtime/select.js';
import { smoke } from '../../harness/smoke.js';
import { runPipeline, stage, type Faults, type PipelineParts, type PipelineRun, type Stage } from '../../harness/suite/pipeline.js';
import { runCleanup, runInterrupt } from '../../harness/util/cleanup.js';

/**
 * The run pipeline itself, without an engine: the runtime is a stand-in and every stage's
 * hooks write what they were called for into one trace, so that the order of the phases, the
 * phase an error is recorded in, and what is undone after it can be read off.
 */
const FILES = ['history.ndjson', 'junit.xml', 'report.html', 'results.json', 'summary.md'];
const quiet = () => {};
const runtime = { kind: 'local', reason: 'a test double', nodeImage: 'lvs-harness/node:test', docker: {} as Docker, endpoint: { kind: 'unix', socketPath: '/nonexistent' } } as unknown as Runtime;
const TOPOLOGY = { name: 'nat', file: 'topologies/nat.yaml', plan: 'abc', reused: false };

/** Where an error is put: the hook of that name throws. */
type Hook = 'resolve' | 'onRuntime' | 'build' | 'ready' | 'inject' | 'workload' | 'collect' | 'heal' | 'release' | 'teardown' | 'results';

interface Built {
  name: string;
  reused: boolean;
}

/** A stage whose every hook appends to trace, and throws when named in `fail`. */
function tracedStage(run: PipelineRun, trace: string[], o: { key?: string; fail?: Hook; reused?: boolean; keep?: boolean; evidence?: boolean; faults?: boolean; own?: boolean; teardownError?: boolean } = {}): Stage<Built> {
  const at = (hook: Hook) => {
    trace.push(o.key ? `${hook}:${o.key}` : hook);
    if (o.fail === hook) throw new Error(`${hook} failed on purpose`);
  };
  return stage<Built>({
    ...(o.key ? { key: o.key } : {}),
    describe: `topology ${o.key ?? 'nat'}`,
    async build(_rt, own) {
      if (o.own) own('a container', async () => void trace.push('owned down'));
      at('build');
      return { name: o.key ?? 'nat', reused: !!o.reused };
    },
    async ready() {
      at('ready');
    },
    faults: () =>
      o.faults === false
        ? undefined
        : ({
            phase: 'faults',
            async inject() {
              at('inject');
            },
            async heal() {
              at('heal');
            },
          } satisfies Faults),
    async workload() {
      await run.record.step('suite', async () => at('workload'), `suite:${o.key ?? 'modes'}`);
    },
    wantsEvidence: () => !!o.evidence,
    async collect() {
      at('collect');
    },
    async release() {
      at('release');
    },
    reused: (t) => t.reused,
    ...(o.keep ? { keep: true } : {}),
    async teardown() {
      at('teardown');
    },
    ...(o.teardownError ? { teardownError: { title: `teardown ${o.key ?? 'nat'}`, suite: 'bench' } } : {}),
  });
}

describe('the run pipeline', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-pipeline-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  /** A run of the given stages; the trace holds every hook called, in order. */
  async function pipeline(stages: (run: PipelineRun, trace: string[]) => Stage<Built>[], o: { fail?: Hook; given?: boolean; progress?: Progress } = {}) {
    const trace: string[] = [];
    const at = (hook: Hook) => {
      trace.push(hook);
      if (o.fail === hook) throw new Error(`${hook} failed on purpose`);
    };
    const r = await runPipeline(
      { reportsDir: dir, log: quiet, record: { suites: ['modes'], topology: TOPOLOGY }, ...(o.given ? { runtime } : {}), ...(o.progress ? { progress: o.progress } : {}) },
      (run): PipelineParts => ({
        onRuntime: () => at('onRuntime'),
        stages: stages(run, trace),
        results: async () => at('results'),
      }),
      {
        resolveRuntime: async () => {
          at('resolve');
          return runtime;
        },
      },
    );
    return { ...r, trace };
  }

  it('runs the phases in order, undoes them in the reverse order, and writes the five files', async () => {
    const phases: string[] = [];
    const progress: Progress = { phase: (p) => void phases.push(p), step: () => {}, progress: () => {}, end: () => {} };
    const r = await pipeline((run, trace) => [tracedStage(run, trace, { evidence: true })], { progress });
    expect(r.trace).to.deep.equal(['resolve', 'onRuntime', 'build', 'ready', 'inject', 'workload', 'collect', 'heal', 'release', 'teardown', 'results']);
    expect(phases).to.deep.equal(['lab', 'build', 'report']);
    expect(r.results.error).to.equal(undefined);
    expect(r.dir).to.equal(path.join(dir, r.runId));
    expect((await readdir(r.dir)).sort()).to.deep.equal(FILES);
    const results = await loadResults(path.join(r.dir, 'results.json'));
    expect(Object.keys(results.timings)).to.deep.equal(['runtime', 'build', 'faults', 'suite:modes', 'evidence', 'teardown']);
    expect(r.reports.written.map((f) => path.basename(f)).sort()).to.deep.equal(FILES.filter((f) => f !== 'history.ndjson'));
  });

  it('a runtime given is not resolved, and has no timing', async () => {
    const r = await pipeline((run, trace) => [tracedStage(run, trace)], { given: true });
    expect(r.trace[0]).to.equal('onRuntime');
    expect(r.results.timings).to.not.have.property('runtime');
    expect(r.results.runtime).to.deep.equal({ kind: 'local', reason: 'a test double', nodeImage: 'lvs-harness/node:test' });
  });

  // the phase each hook's error is recorded in, and the hooks that still run after it
  const failures: [Hook, phase: string, after: string[]][] = [
    ['resolve', 'runtime', ['results']],
    ['onRuntime', 'runtime', ['results']],
    ['build', 'build', ['release', 'results']],
    // nothing injected yet: nothing to heal
    ['ready', 'build', ['release', 'teardown', 'results']],
    ['inject', 'faults', ['heal', 'release', 'teardown', 'results']],
    ['workload', 'suite', ['heal', 'release', 'teardown', 'results']],
    ['heal', 'faults', ['release', 'teardown', 'results']],
    ['release', 'teardown', ['teardown', 'results']],
    ['teardown', 'teardown', ['results']],
    ['results', 'report', []],
  ];
  for (const [hook, phase, after] of failures) {
    it(`an error in ${hook} is the run's error in phase ${phase}; what was set up is still undone and the five files written`, async () => {
      const r = await pipeline((run, trace) => [tracedStage(run, trace, { fail: hook })], { fail: hook });
      expect(r.results.error).to.deep.include({ phase, message: `${hook} failed on purpose` });
      expect(r.results.valid).to.equal(false);
      expect(r.trace.slice(r.trace.indexOf(hook) + 1)).to.deep.equal(after);
      expect(r.trace.filter((h) => h === 'teardown').length, 'teardown at most once').to.be.at.most(1);
      expect((await readdir(r.dir)).sort()).to.deep.equal(FILES);
      const results = await loadResults(path.join(r.dir, 'results.json'));
      expect(results.error).to.deep.include({ phase });
    });
  }

  it('a failure to gather evidence is noted beside the checks, not the run error; the rest goes on', async () => {
    const r = await pipeline((run, trace) => [tracedStage(run, trace, { evidence: true, fail: 'collect' })]);
    expect(r.results.error).to.equal(undefined);
    expect(r.results.errors).to.deep.equal([{ title: 'evidence', message: 'gathering evidence failed: collect failed on purpose', suite: 'evidence' }]);
    expect(r.trace.slice(-4)).to.deep.equal(['heal', 'release', 'teardown', 'results']);
  });

  it('no evidence is gathered when nothing failed', async () => {
    const r = await pipeline((run, trace) => [tracedStage(run, trace, { evidence: false })]);
    expect(r.trace).to.not.include('collect');
    expect(r.results.timings).to.not.have.property('evidence');
  });

  it('the first error stays the run\'s: a teardown failing after the workload failed does not replace it', async () => {
    const r = await pipeline((run, trace) => {
      const s = tracedStage(run, trace, { fail: 'workload' });
      return [
        {
          ...s,
          async teardown() {
            trace.push('teardown');
            throw new Error('engine gone');
          },
        },
      ];
    });
    expect(r.results.error).to.deep.include({ phase: 'suite', message: 'workload failed on purpose' });
    expect(r.trace.filter((h) => h === 'teardown')).to.have.length(1);
  });

  it('a topology found running (reused) or kept is left up; what build owns goes all the same', async () => {
    for (const o of [{ reused: true }, { keep: true }]) {
      const r = await pipeline((run, trace) => [tracedStage(run, trace, { ...o, own: true })]);
      expect(r.trace, JSON.stringify(o)).to.not.include('teardown');
      expect(r.trace).to.include('owned down');
      expect(r.results.timings).to.have.property('teardown');
    }
    const none = await pipeline((run, trace) => [tracedStage(run, trace, { reused: true })]);
    expect(none.results.timings, 'nothing to take down: no teardown phase').to.not.have.property('teardown');
  });

  it('what build owned before it failed is taken down, once', async () => {
    const r = await pipeline((run, trace) => [tracedStage(run, trace, { own: true, fail: 'build' })]);
    expect(r.results.error).to.deep.include({ phase: 'build' });
    expect(r.trace).to.deep.equal(['resolve', 'onRuntime', 'build', 'release', 'owned down', 'results']);
  });

  it('faults injected half-way are healed when the injection fails, before the teardown', async () => {
    const healed: string[] = [];
    const r = await pipeline((run, trace) => {
      const s = tracedStage(run, trace, { faults: false });
      const held: string[] = [];
      return [
        {
          ...s,
          faults: () => ({
            phase: 'faults',
            async inject() {
              held.push('partition:client/rs2');
              throw new Error('netem-delay on director: tc not found');
            },
            async heal() {
              healed.push(...held);
              trace.push('heal');
            },
          }),
        },
      ];
    });
    expect(r.results.error).to.deep.include({ phase: 'faults', message: 'netem-delay on director: tc not found' });
    expect(healed).to.deep.equal(['partition:client/rs2']);
    expect(r.trace.slice(r.trace.indexOf('ready') + 1)).to.deep.equal(['heal', 'release', 'teardown', 'results']);
  });

  it('stages run one after another, each taken down before the next is built, under keyed timings; the first error stops the rest', async () => {
    const ok = await pipeline((run, trace) => [tracedStage(run, trace, { key: 'nat', faults: false }), tracedStage(run, trace, { key: 'dr', faults: false })]);
    expect(ok.trace).to.deep.equal(['resolve', 'onRuntime', 'build:nat', 'ready:nat', 'workload:nat', 'release:nat', 'teardown:nat', 'build:dr', 'ready:dr', 'workload:dr', 'release:dr', 'teardown:dr', 'results']);
    expect(Object.keys(ok.results.timings)).to.deep.equal(['runtime', 'build:nat', 'suite:nat', 'teardown:nat', 'build:dr', 'suite:dr', 'teardown:dr']);

    const stopped = await pipeline((run, trace) => [tracedStage(run, trace, { key: 'nat', faults: false, fail: 'workload' }), tracedStage(run, trace, { key: 'dr', faults: false })]);
    expect(stopped.trace).to.deep.equal(['resolve', 'onRuntime', 'build:nat', 'ready:nat', 'workload:nat', 'release:nat', 'teardown:nat', 'results']);
    expect(stopped.results.error).to.deep.include({ phase: 'suite' });
  });

  it('a stage may note its failed teardown beside the results instead of ending the run with it; the next stage still runs', async () => {
    const r = await pipeline((run, trace) => [tracedStage(run, trace, { key: 'nat', faults: false, fail: 'teardown', teardownError: true }), tracedStage(run, trace, { key: 'dr', faults: false })]);
    expect(r.results.error).to.equal(undefined);
    expect(r.results.errors).to.deep.equal([{ title: 'teardown nat', message: 'teardown failed on purpose', suite: 'bench' }]);
    expect(r.results.valid).to.equal(false);
    expect(r.trace).to.include('teardown:dr');
  });

  it('Ctrl-C in the workload: the reports are written first, marked interrupted, then the cleanup takes down what the stage owns', async () => {
    let seen: string[] = [];
    let ownedDownAt = -1;
    const r = await pipeline((run, trace) => {
      const s = tracedStage(run, trace, { own: true, faults: false });
      return [
        {
          ...s,
          async workload() {
            await run.record.step('suite', async () => {
              await runInterrupt('SIGINT');
              seen = (await readdir(run.dir)).sort();
              await runCleanup();
              ownedDownAt = trace.indexOf('owned down');
              throw new Error('the containers went away under the suite');
            });
          },
        },
      ];
    });
    expect(seen).to.deep.equal(FILES);
    expect(ownedDownAt, 'taken down by the cleanup handlers, while the workload was still running').to.be.greaterThan(-1);
    expect(r.results.interrupted).to.deep.equal({ signal: 'SIGINT', phase: 'suite' });
    expect(r.results.error).to.deep.include({ phase: 'suite', code: 'ERR_LVS_INTERRUPTED' });
    // the record was written once, by the signal: the run's own end returns that outcome
    const results = await loadResults(path.join(r.dir, 'results.json'));
    expect(results.interrupted).to.deep.equal({ signal: 'SIGINT', phase: 'suite' });
  });
});

describe('the smoke check through the pipeline', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lvs-smoke-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a container that does not start is removed once, a removal that finds it gone is no error, and the error is the build\'s', async () => {
    const removed: unknown[] = [];
    const container = {
      id: '0123456789abcdef',
      start: async () => {
        throw new Error('(HTTP code 500) OCI runtime create failed');
      },
      remove: async (o: unknown) => {
        removed.push(o);
        throw Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404 });
      },
    };
    const docker = { info: async () => ({ KernelVersion: '6.1.0-test', ServerVersion: '27.0' }), createContainer: async () => container } as unknown as Docker;
    const r = await smoke({ runtime: { ...runtime, docker }, reportsDir: dir, log: quiet });
    expect(r.error).to.deep.include({ phase: 'build', message: '(HTTP code 500) OCI runtime create failed' });
    expect(removed).to.deep.equal([{ force: true }]);
    expect(r.runtime).to.deep.include({ kind: 'local', kernel: '6.1.0-test', dockerVersion: '27.0', endpoint: 'unix:///nonexistent' });
    const results = await loadResults(path.join(r.reportDir, 'results.json'));
    expect(Object.keys(results.timings)).to.deep.equal(['build', 'teardown']);
    expect(results.suites).to.deep.equal(['smoke']);
    expect((await readdir(r.reportDir)).sort()).to.deep.equal(FILES);
  });

  it('a removal that fails otherwise after a failed start leaves the build\'s error the run\'s', async () => {
    const container = {
      id: '0123456789abcdef',
      start: async () => {
        throw new Error('(HTTP code 500) OCI runtime create failed');
      },
      remove: async () => {
        throw Object.assign(new Error('(HTTP code 409) removal already in progress'), { statusCode: 409 });
      },
    };
    const docker = { info: async () => ({ KernelVersion: '6.1.0-test', ServerVersion: '27.0' }), createContainer: async () => container } as unknown as Docker;
    const r = await smoke({ runtime: { ...runtime, docker }, reportsDir: dir, log: quiet });
    expect(r.error).to.deep.include({ phase: 'build' });
  });
});
