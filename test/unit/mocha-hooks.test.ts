import { expect } from 'chai';
import { createRequire } from 'node:module';

const { cut } = createRequire(import.meta.url)('../mocha-hooks.cjs') as { cut: (s: string) => string };

describe("npm test's root hooks: a failed test's long message", () => {
  it('is cut to its head and tail, saying how much was left out', () => {
    const long = `HEAD${'x'.repeat(10_000)}TAIL`;
    const c = cut(long);
    expect(c.length).to.be.below(3700);
    expect(c.startsWith('HEAD')).to.equal(true);
    expect(c.endsWith('TAIL')).to.equal(true);
    expect(c).to.include('6508 characters cut: the test\'s message was 10008 long');
  });

  it('stays whole when it is short', () => {
    expect(cut('expected 1 to equal 2')).to.equal('expected 1 to equal 2');
    expect(cut('y'.repeat(4000))).to.equal('y'.repeat(4000));
  });
});
