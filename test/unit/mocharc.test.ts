import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { REPO_ROOT } from '../../harness/lab/paths.js';

describe('npm test runs every end-to-end file, the lab last', () => {
  it('lists each test/e2e file once, with lab.test.ts then releases.test.ts at the end (one lab boot for the rest; trixie after bookworm is stopped)', () => {
    const spec = (createRequire(import.meta.url)(path.join(REPO_ROOT, '.mocharc.cjs')) as { spec: string[] }).spec;
    const e2e = spec.filter((s) => s.startsWith('test/e2e/'));
    const files = readdirSync(path.join(REPO_ROOT, 'test', 'e2e')).filter((f) => f.endsWith('.test.ts')).map((f) => `test/e2e/${f}`);
    expect([...e2e].sort()).to.deep.equal(files.sort());
    expect(e2e.slice(-2)).to.deep.equal(['test/e2e/lab.test.ts', 'test/e2e/releases.test.ts']);
  });
});
