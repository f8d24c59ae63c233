import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { labDown, labStatus, labUp } from '../../harness/lab/vm.js';
import { cli } from '../helpers.js';

/**
 * The lab on Debian 13 (trixie): built beside bookworm's (the shared steps from the cache),
 * booted, and the smoke check and nat's modes suite run on its 6.12 kernel and keepalived 2.3.
 * Runs after lab.test (which stops the bookworm lab), and stops the trixie lab at the end, so
 * that the next `lab up` without --release is bookworm again.
 */
const quiet = () => {};

describe('the lab on Debian 13 trixie (real lab)', function () {
  this.timeout(30 * 60_000);

  before(async () => {
    const t0 = Date.now();
    const st = await labUp({ release: 'trixie', restart: true, log: quiet });
    process.stderr.write(`      trixie lab up (built when needed) in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
    expect(st.release).to.equal('trixie');
    expect(st.kernel).to.match(/^6\.12\./);
  });

  after(async () => {
    await labDown({ log: quiet });
  });

  it('another release is refused while trixie runs, naming both and how to switch', async () => {
    const r = await cli(['lab', 'up', '--release', 'bookworm']);
    expect(r.code, r.stdout + r.stderr).to.not.equal(0);
    expect(r.stderr).to.match(/a trixie lab is running .*the bookworm lab was not started/);
    expect(r.stderr).to.contain('--release bookworm --restart');
    expect((await labStatus()).release).to.equal('trixie');
  });

  it('the smoke check passes on trixie', async () => {
    const r = await cli(['smoke', '--release', 'trixie']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.contain('2 passed, 0 failed');
  });

  it("nat's modes suite passes on trixie, and results.json names the release, its kernel and keepalived", async () => {
    const r = await cli(['run', 'nat', '--suite', 'modes', '--release', 'trixie'], 20 * 60_000);
    process.stderr.write(`      nat modes on trixie: whole run ${r.seconds.toFixed(0)} s\n`);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const report = r.stdout.match(/results: (\S+results\.json)/)?.[1];
    expect(report, r.stdout).to.be.a('string');
    const res = JSON.parse(await readFile(report!, 'utf8')) as { valid: unknown; runtime: { release?: string }; checks: { valid: unknown }[]; environment: { lab: { kernel: string; keepalived: string } } };
    expect(res.runtime.release).to.equal('trixie');
    expect(r.stdout).to.match(/^lab: +Debian 13 trixie, kernel 6\.12\./m);
    expect(res.checks.length).to.be.at.least(12);
    expect(res.checks.every((c) => c.valid === true), r.stdout).to.equal(true);
    expect(res.environment.lab.kernel).to.match(/^6\.12\./);
    expect(res.environment.lab.keepalived).to.match(/^v2\.3\./);
  });
});
