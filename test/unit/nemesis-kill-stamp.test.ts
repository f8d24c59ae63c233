import { expect } from 'chai';
import { kill } from '../../harness/nemesis/kill.js';
import type { NodeState } from '../../harness/runtime/node.js';

// the kill fault's start: when the node died by the lab's clock (Docker's FinishedAt), kept within the call
describe('kill: the fault starts when the node died, not when the kill was issued', () => {
  const envWith = (endedAt: number | undefined, times: number[]) => {
    const state: NodeState = { running: true, paused: false, status: 'running' };
    const life = {
      state: async () => ({ ...state }),
      kill: async () => {
        state.running = false;
        state.status = 'exited';
        if (endedAt !== undefined) state.endedAt = endedAt;
      },
      start: async () => {
        state.running = true;
      },
      ensureRunning: async () => {
        state.running = true;
      },
    };
    const node = { name: 'director1', capabilities: { kill: true, stop: true, start: true, pause: true, restart: true, networks: false }, lifecycle: life };
    const st = { node: () => ({ container: 'lvsh-dr-ha-director1' }), host: () => node, restoreNode: async () => {} };
    return { now: () => times.shift() ?? 99_999, st } as unknown as Parameters<typeof kill.inject>[0];
  };

  it('takes FinishedAt when the kill landed after it was issued (743 ms later, as seen on dr-ha)', async () => {
    const f = await kill.inject(envWith(10_743, [10_000, 11_200]), 'director1');
    expect(f.startedAt).to.equal(10_743);
    expect(f.detail).to.equal('docker kill -s KILL lvsh-dr-ha-director1 (it died 743 ms after the kill was issued)');
  });

  it('keeps it within the call as the host saw it, and takes the issue time when the runtime says nothing', async () => {
    expect((await kill.inject(envWith(50_000, [10_000, 11_200]), 'director1')).startedAt).to.equal(11_200);
    expect((await kill.inject(envWith(5_000, [10_000, 11_200]), 'director1')).startedAt).to.equal(10_000);
    expect((await kill.inject(envWith(undefined, [10_000, 11_200]), 'director1')).startedAt).to.equal(10_000);
  });
});
