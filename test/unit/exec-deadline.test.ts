import { expect } from 'chai';
import type Docker from 'dockerode';
import { HarnessError } from '../../harness/errors.js';
import { execIn } from '../../harness/runtime/exec.js';

/**
 * The deadline of execIn: an engine that stops answering (seen once in the lab: dockerd answered
 * /_ping but no exec) must fail the call, not hang the run. The container here is an engine that
 * never answers: the one thing a real engine cannot be made to do on purpose.
 */
describe('execIn deadline', () => {
  const silent = { id: 'c0ffee0000000000', exec: () => new Promise(() => {}), modem: {} } as unknown as Docker.Container;

  it('fails within its timeout when the engine never creates the exec, and says so', async () => {
    const t0 = Date.now();
    const e = await execIn(silent, ['ipvsadm', '-Ln'], { timeoutMs: 50 }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(HarnessError);
    expect((e as HarnessError).code).to.equal('ERR_LVS_TIMEOUT');
    expect((e as HarnessError).message).to.equal('`ipvsadm -Ln` in c0ffee000000 did not finish within 0.05 s (the Docker engine did not start it: is it answering?)');
    expect(Date.now() - t0).to.be.below(2000);
  });
});
