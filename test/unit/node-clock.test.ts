import { expect } from 'chai';
import { nodeClockMs } from '../../harness/topology/builder.js';
import { execStamped } from '../../harness/nemesis/common.js';

describe('nodeClockMs: a node\'s `date +%s%N` as ms since the epoch', () => {
  it('reads GNU date\'s nanoseconds, with or without a trailing newline', () => {
    expect(nodeClockMs('1796070338009123456\n')).to.equal(1796070338009);
    expect(nodeClockMs('1796070338009999999')).to.equal(1796070338009);
  });
  it('is undefined for anything else: busybox\'s literal N, nothing, an error text', () => {
    for (const x of ['1796070338N', '', 'date: invalid option', '17960703380091234567890123']) expect(nodeClockMs(x), x).to.equal(undefined);
  });
});

describe('execStamped: a fault command run and stamped by the node\'s clock', () => {
  const envWith = (stdout: string, times: number[], seen: string[][]) =>
    ({
      now: () => times.shift()!,
      st: {
        exec: async (_n: string, argv: readonly string[]) => {
          seen.push([...argv]);
          return { exitCode: 0, stdout, stderr: '' };
        },
      },
    }) as unknown as Parameters<typeof execStamped>[0];

  it('runs argv as arguments of sh (no quoting of its own), keeps its exit code, and takes the date printed after it', async () => {
    const seen: string[][] = [];
    const at = await execStamped(envWith('1796070340500000000\n', [1796070338000, 1796070341000], seen), 'rs2', ['kill', '-TERM', '37']);
    expect(at).to.equal(1796070340500);
    expect(seen[0]).to.deep.equal(['sh', '-c', '"$@"; rc=$?; date +%s%N; exit $rc', 'sh', 'kill', '-TERM', '37']);
  });

  it('keeps the stamp within the call as the host saw it, and falls back to when it was issued', async () => {
    expect(await execStamped(envWith('9999999999999000000', [1000, 2000], []), 'rs2', ['true'])).to.equal(2000);
    expect(await execStamped(envWith('1000000000', [1000, 2000], []), 'rs2', ['true'])).to.equal(1000);
    expect(await execStamped(envWith('output of the command\n', [1000, 2000], []), 'rs2', ['true'])).to.equal(1000);
  });
});
