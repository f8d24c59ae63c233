import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { renderJUnit } from '../../harness/report/junit.js';
import { renderSummary } from '../../harness/report/summary.js';
import { FIXTURES, FIXTURE_NAMES, fixture } from '../fixtures/report/fixtures.js';

/**
 * summary.md and junit.xml rendered from the fixtures, compared byte for byte with files
 * reviewed once by a person. After an intended change of format, rewrite them with
 * LVS_HARNESS_UPDATE_GOLDEN=1 and review the diff.
 */
const UPDATE = process.env.LVS_HARNESS_UPDATE_GOLDEN === '1';

function golden(file: string, actual: string): void {
  const f = path.join(FIXTURES, file);
  if (UPDATE) writeFileSync(f, actual);
  if (!existsSync(f)) throw new Error(`${f} is missing: render it with LVS_HARNESS_UPDATE_GOLDEN=1 and review it`);
  const want = readFileSync(f, 'utf8');
  if (actual !== want) {
    const a = actual.split('\n');
    const w = want.split('\n');
    const i = a.findIndex((l, k) => l !== w[k]);
    const at = i < 0 ? w.length : i;
    expect.fail(`${file} differs from the golden file at line ${at + 1}:\n  golden: ${JSON.stringify(w[at])}\n  now:    ${JSON.stringify(a[at])}\n(LVS_HARNESS_UPDATE_GOLDEN=1 rewrites it)`);
  }
}

describe('report: golden files', () => {
  for (const name of FIXTURE_NAMES) {
    it(`${name}: summary.md`, () => golden(`${name}-summary.golden.md`, renderSummary(fixture(name).results)));
    it(`${name}: junit.xml`, () => golden(`${name}-junit.golden.xml`, renderJUnit(fixture(name).results)));
  }
});
