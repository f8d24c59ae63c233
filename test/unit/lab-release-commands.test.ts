import { expect } from 'chai';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../harness/cli.js';
import { compareCommand } from '../../harness/compare/command.js';
import { environmentRows } from '../../harness/compare/environment.js';
import { HarnessError, isHarnessError } from '../../harness/errors.js';
import { REPO_ROOT } from '../../harness/lab/paths.js';
import { otherReleaseRunning } from '../../harness/lab/vm.js';
import { environmentParts, labText, releaseText } from '../../harness/report/format.js';
import { renderHtml } from '../../harness/report/html.js';
import { loadResults, parseResults, type Results } from '../../harness/report/results.js';
import { renderSummary } from '../../harness/report/summary.js';
import { hostEnvironment } from '../../harness/runtime/environment.js';
import { labRequest } from '../../harness/runtime/release.js';
import { checkLabRelease, chooseRuntime, runtimeRecord, type LocalProbe, type Runtime } from '../../harness/runtime/select.js';
import { runSuites, type RunDeps } from '../../harness/suite/runner.js';
import type { StartedTopology } from '../../harness/topology/builder.js';
import { fixture } from '../fixtures/report/fixtures.js';

/**
 * Issue 16: `--release` (and `--restart`) on the commands that start the lab (run, main, up,
 * validate, bench, smoke): the flags said wrong are usage errors before anything runs, the
 * release reaches labUp through the runtime, a lab of another release running is lab up's
 * refusal, and the release a run ran in is in results.json (runtime.release), its reports and
 * `compare`. Nothing here starts a lab.
 */
const COMPARE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/compare');
const NAT = path.join(REPO_ROOT, 'topologies', 'nat.yaml');
const CONF = path.join(REPO_ROOT, 'test', 'fixtures', 'lint', 'seed002-vi14x-a.conf');

async function usage(argv: string[]): Promise<HarnessError> {
  const e = await main(argv).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isHarnessError(e) && e.code, `${argv.join(' ')}: ${String(e)}`).to.equal('ERR_LVS_USAGE');
  return e as HarnessError;
}

describe('lab releases on the commands that start the lab (issue 16)', () => {
  describe('labRequest: --release and --restart as a command takes them', () => {
    it('passes a known release on, with the command for the hint of a refusal; nothing asked, nothing passed', () => {
      expect(labRequest({ release: 'trixie', command: 'run', env: {} })).to.deep.equal({ release: 'trixie', command: 'run' });
      expect(labRequest({ release: 'bookworm', restart: true, command: 'validate', env: {} })).to.deep.equal({ release: 'bookworm', command: 'validate', restart: true });
      expect(labRequest({ command: 'run', env: {} })).to.deep.equal({});
      // --restart alone: lab up's rule (nothing to switch to: whichever runs is used)
      expect(labRequest({ restart: true, command: 'run', env: {} })).to.deep.equal({ restart: true });
      // no flag: an engine of one's own stays as it was
      expect(labRequest({ command: 'run', dockerHost: 'tcp://10.0.0.1:2376', env: {} })).to.deep.equal({});
    });

    it('an unknown release is a usage error naming the command and the allowed ones', () => {
      expect(() => labRequest({ release: 'sid', command: 'run', env: {} }))
        .to.throw(HarnessError, 'run: --release: "sid" is not a lab release (bookworm or trixie)')
        .with.property('code', 'ERR_LVS_USAGE');
    });

    it('--release with --docker-host is a usage error: the release chooses a lab, that engine has none', () => {
      let e: HarnessError | undefined;
      try {
        labRequest({ release: 'trixie', command: 'bench', dockerHost: 'tcp://10.0.0.1:2376', env: {} });
      } catch (x) {
        e = x as HarnessError;
      }
      expect(e?.code).to.equal('ERR_LVS_USAGE');
      expect(e?.message).to.equal('bench: --release chooses a lab and does not apply with --docker-host tcp://10.0.0.1:2376 (an engine of your own: no lab runs there)');
      expect(e?.hint).to.include('drop --docker-host to run in the trixie lab').and.include('drop --release to run on that engine');
    });

    it('so is DOCKER_HOST, and --restart beside either', () => {
      expect(() => labRequest({ release: 'trixie', command: 'run', env: { DOCKER_HOST: 'tcp://127.0.0.1:23750' } })).to.throw(HarnessError, /--release chooses a lab and does not apply with DOCKER_HOST=tcp:\/\/127\.0\.0\.1:23750/);
      expect(() => labRequest({ restart: true, command: 'up', dockerHost: 'unix:///x.sock', env: {} })).to.throw(HarnessError, /up: --restart switches the lab's release and does not apply with --docker-host/);
      expect(() => labRequest({ release: 'trixie', command: 'validate', dockerHost: 'unix:///x.sock', env: {}, hint: 'for the keywords alone, --keepalived-version 2.3.3' }))
        .to.throw(HarnessError)
        .with.property('hint')
        .that.includes('--keepalived-version 2.3.3');
    });
  });

  describe('the command line refuses them before anything runs', () => {
    // should a flag ever slip through, the runtime is an engine that does not answer, never a lab
    let home: string;
    const saved = { home: process.env.LVS_HARNESS_LAB_HOME, docker: process.env.DOCKER_HOST };
    before(async () => {
      home = await mkdtemp(path.join(tmpdir(), 'lvsh-release-cmd-'));
      process.env.LVS_HARNESS_LAB_HOME = home;
      process.env.DOCKER_HOST = 'tcp://127.0.0.1:1';
    });
    after(async () => {
      for (const [k, v] of [['LVS_HARNESS_LAB_HOME', saved.home], ['DOCKER_HOST', saved.docker]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await rm(home, { recursive: true, force: true });
    });

    const commands: [string, string[]][] = [
      ['run', ['run', NAT, '--suite', 'modes']],
      ['main', ['main']],
      ['up', ['up', NAT]],
      ['bench', ['bench', 'nat']],
      ['smoke', ['smoke']],
    ];

    for (const [name, argv] of commands) {
      it(`${name}: an unknown release, naming the allowed ones; a release beside --docker-host`, async () => {
        const bad = await usage([...argv, '--release', 'buster']);
        expect(bad.message).to.equal(`${name}: --release: "buster" is not a lab release (bookworm or trixie)`);
        const engine = await usage([...argv, '--release', 'trixie', '--docker-host', 'tcp://127.0.0.1:2']);
        expect(engine.message).to.equal(`${name}: --release chooses a lab and does not apply with --docker-host tcp://127.0.0.1:2 (an engine of your own: no lab runs there)`);
      });
    }

    it('validate: one --release for lint and the lab, refused the same ways', async () => {
      const bad = await usage(['validate', '--keepalived', CONF, '--release', 'buster']);
      expect(bad.message).to.match(/^validate: --release buster: known releases are bookworm .*trixie/);
      const engine = await usage(['validate', '--keepalived', CONF, '--release', 'trixie', '--docker-host', 'tcp://127.0.0.1:2']);
      expect(engine.message).to.include('validate: --release chooses a lab and does not apply with --docker-host');
      // the lint keywords alone stay possible beside an engine of one's own
      expect(engine.hint).to.include('--keepalived-version 2.3.3');
    });

    it('bench --compare takes neither: they only apply to a bench run', async () => {
      const e = await usage(['bench', '--compare', 'a', 'b', '--release', 'trixie']);
      expect(e.message).to.equal('bench --compare: --release only apply to a bench run');
    });
  });

  describe('the release reaches the lab', () => {
    const engineIpvs: LocalProbe = { engine: true, socketPath: '/var/run/docker.sock', ipvs: true, detail: 'a NET_ADMIN container ran ipvsadm -Ln' };

    it('a release asked chooses the lab, over a local engine that runs IPVS; none asked, as before', () => {
      expect(chooseRuntime({ env: {}, local: engineIpvs, release: 'trixie' })).to.deep.equal({ kind: 'lab', reason: '--release trixie chooses the lab' });
      expect(chooseRuntime({ env: {}, local: engineIpvs }).kind).to.equal('local');
    });

    it("another release's lab running is lab up's refusal, naming both and --restart on the same command", async () => {
      const running = async () => ({ running: true, release: 'bookworm' as const, pid: 4242 });
      let e: HarnessError | undefined;
      try {
        await checkLabRelease({ release: 'trixie', command: 'run' }, running);
      } catch (x) {
        e = x as HarnessError;
      }
      expect(e?.code).to.equal('ERR_LVS_LAB_OTHER_RELEASE');
      expect(e?.message).to.equal('a bookworm lab is running (pid 4242); only one lab runs at a time, so the trixie lab was not started');
      expect(e?.hint).to.include('`lvs-harness run … --release trixie --restart` (stops the bookworm lab)').and.include('lab down').and.include('--release bookworm');
      // the error lab up gives for itself is unchanged
      expect(otherReleaseRunning({ release: 'trixie', running: 'bookworm' }, 1).hint).to.include('`lvs-harness lab up --release trixie --restart`');
    });

    it('no refusal with --restart, with the release that runs, with nothing running, or with no release asked', async () => {
      const bookworm = async () => ({ running: true, release: 'bookworm' as const, pid: 4242 });
      await checkLabRelease({ release: 'trixie', restart: true, command: 'run' }, bookworm);
      await checkLabRelease({ release: 'bookworm', command: 'run' }, bookworm);
      await checkLabRelease({ release: 'trixie', command: 'run' }, async () => ({ running: false, pid: null }));
      await checkLabRelease({}, async () => {
        throw new Error('the lab is not read when no release is asked');
      });
      await checkLabRelease(undefined);
    });

    it('runSuites hands the request to the runtime, and results.json records the release the runtime reports', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'lvs-run-release-'));
      try {
        const seen: unknown[] = [];
        const runtime = { kind: 'lab', reason: '--release trixie chooses the lab', nodeImage: 'lvs-harness/node:trixie', release: 'trixie', docker: {}, endpoint: { kind: 'tcp', host: '127.0.0.1', port: 23750 } } as unknown as Runtime;
        const started = { reused: false, nodes: () => [], host: () => undefined, ipvs: async () => undefined } as unknown as StartedTopology;
        const deps: Partial<RunDeps> = {
          resolveRuntime: async (o) => (seen.push(o.lab), runtime),
          buildTopology: async () => started,
          teardown: async () => undefined,
          describeEnvironment: async () => ({ ...hostEnvironment('test'), lab: { kernel: '6.12.117+deb13-amd64', docker: '26.1.5+dfsg1', ipvsadm: 'v1.31', keepalived: 'v2.3.3' } }),
          runSuite: async (s, ctx) => void ctx.checks.push({ name: 'answers', valid: true, observed: 1, expected: 1, suite: s, group: 'web' }),
        };
        const r = await runSuites({ topologyFile: NAT, suites: ['modes'], reportsDir: dir, log: () => {}, lab: { release: 'trixie', restart: true, command: 'run' } }, deps);
        expect(seen).to.deep.equal([{ release: 'trixie', restart: true, command: 'run' }]);
        const results = await loadResults(path.join(r.reportDir, 'results.json'));
        expect(results.runtime).to.deep.equal({ kind: 'lab', reason: '--release trixie chooses the lab', nodeImage: 'lvs-harness/node:trixie', release: 'trixie' });
        expect(r.runtime?.release).to.equal('trixie');
        expect(labText(r)).to.equal('Debian 13 trixie, kernel 6.12.117+deb13-amd64, keepalived v2.3.3');
        expect(await readFile(path.join(r.reportDir, 'summary.md'), 'utf8')).to.include('**Lab**: Debian 13 trixie, kernel 6.12.117+deb13-amd64, keepalived v2.3.3');
        // no release asked: none passed
        seen.length = 0;
        await runSuites({ topologyFile: NAT, suites: ['modes'], reportsDir: dir, log: () => {} }, deps);
        expect(seen).to.deep.equal([undefined]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("results.json's runtime keeps the release only when the runtime has one", () => {
      expect(runtimeRecord({ kind: 'lab', reason: 'r', nodeImage: 'n', release: 'bookworm' })).to.deep.equal({ kind: 'lab', reason: 'r', nodeImage: 'n', release: 'bookworm' });
      expect(runtimeRecord({ kind: 'local', reason: 'r', nodeImage: 'n' })).to.deep.equal({ kind: 'local', reason: 'r', nodeImage: 'n' });
    });
  });

  describe('results.json and the reports', () => {
    const base = fixture('ha-synthetic').results;
    const trixie: Results = {
      ...base,
      runtime: { kind: 'lab', reason: '--release trixie chooses the lab', nodeImage: 'lvs-harness/node:9b07d2e1c5a8f310', release: 'trixie' },
      environment: { ...base.environment!, lab: { kernel: '6.12.117+deb13-amd64', docker: '26.1.5+dfsg1', ipvsadm: '1.31', keepalived: '2.3.3' } },
    };

    it('runtime.release is optional in results@1: read when there, absent from older files', () => {
      const raw = JSON.parse(JSON.stringify(trixie));
      expect(parseResults(raw, 'results.json').runtime?.release).to.equal('trixie');
      expect(base.runtime?.release).to.equal(undefined);
      expect(() => parseResults({ ...raw, runtime: { ...raw.runtime, release: 13 } }, 'results.json')).to.throw(HarnessError, 'results.json: field runtime.release');
    });

    it('the header names the lab: Debian release, kernel, keepalived', () => {
      expect(releaseText('trixie')).to.equal('Debian 13 trixie');
      expect(releaseText('bookworm')).to.equal('Debian 12 bookworm');
      // a release a newer harness knows: as recorded
      expect(releaseText('forky')).to.equal('forky');
      expect(labText(trixie)).to.equal('Debian 13 trixie, kernel 6.12.117+deb13-amd64, keepalived 2.3.3');

      const html = renderHtml(trixie, []);
      const header = html.slice(html.indexOf('<header'), html.indexOf('</header>'));
      expect(header).to.include('<dt>lab</dt><dd>Debian 13 trixie, kernel 6.12.117+deb13-amd64, keepalived 2.3.3</dd>');
      expect(header).to.include('lab Debian 13 trixie, kernel 6.12.117+deb13-amd64, docker 26.1.5+dfsg1, ipvsadm 1.31, keepalived 2.3.3');

      const md = renderSummary(trixie).split('\n');
      const verdict = md.findIndex((l) => l.startsWith('**FAILED**'));
      expect(md.slice(verdict + 1, verdict + 3)).to.deep.equal(['', '**Lab**: Debian 13 trixie, kernel 6.12.117+deb13-amd64, keepalived 2.3.3']);
    });

    it('a run recorded before lab releases renders as before', () => {
      expect(environmentParts(base)).to.include('lab kernel 6.1.0-41-amd64, docker 20.10.24+dfsg1, ipvsadm 1.31, keepalived 2.2.7');
      expect(renderHtml(base, [])).to.not.include('<dt>lab</dt>');
      expect(renderSummary(base)).to.not.include('**Lab**');
    });

    it('a run that ended before a director was read still says the release it was to run on', () => {
      const early: Results = { ...trixie, environment: { ...trixie.environment!, lab: undefined } };
      expect(environmentParts(early)).to.include('lab Debian 13 trixie');
      expect(labText(early)).to.equal('Debian 13 trixie');
    });
  });

  describe('compare', () => {
    it('a lab release row, marked when the two runs differ; "not recorded" for a run before releases', async () => {
      const a = await loadResults(path.join(COMPARE, 'upgrade-a', 'results.json'));
      const b = await loadResults(path.join(COMPARE, 'upgrade-b', 'results.json'));
      // the fixtures predate lab releases: no row, as before
      expect(environmentRows(a, b).map((r) => r.field)).to.not.include('lab release');
      const bw = { ...a, runtime: { ...a.runtime!, release: 'bookworm' } };
      const tx = { ...b, runtime: { ...b.runtime!, release: 'trixie' } };
      expect(environmentRows(bw, tx)[0]).to.deep.equal({ field: 'lab release', a: 'Debian 12 bookworm', b: 'Debian 13 trixie', differs: true, underTest: true });
      expect(environmentRows(bw, { ...tx, runtime: { ...tx.runtime, release: 'bookworm' } })[0]).to.include({ field: 'lab release', differs: false });
      expect(environmentRows(a, tx)[0]).to.deep.equal({ field: 'lab release', b: 'Debian 13 trixie', differs: true, underTest: true });
    });

    it('lvs-harness compare shows it in the text and the page', async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'lvs-compare-release-'));
      try {
        for (const [run, release] of [['upgrade-a', 'bookworm'], ['upgrade-b', 'trixie']] as const) {
          await mkdir(path.join(dir, run));
          const raw = JSON.parse(await readFile(path.join(COMPARE, run, 'results.json'), 'utf8'));
          raw.runtime.release = release;
          await writeFile(path.join(dir, run, 'results.json'), JSON.stringify(raw));
          await copyFile(path.join(COMPARE, run, 'history.ndjson'), path.join(dir, run, 'history.ndjson'));
        }
        const html = path.join(dir, 'compare.html');
        const r = await compareCommand([path.join(dir, 'upgrade-a'), path.join(dir, 'upgrade-b'), '--html', html]);
        expect(r.text).to.match(/≠\s+lab release\s+Debian 12 bookworm\s+Debian 13 trixie/);
        expect(r.comparison.environment.filter((e) => e.differs).map((e) => e.field)).to.deep.equal(['lab release', 'lab kernel', 'keepalived', 'docker', 'node image']);
        const page = await readFile(html, 'utf8');
        expect(page).to.include('lab release').and.include('Debian 13 trixie');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
