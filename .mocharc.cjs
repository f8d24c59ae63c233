// npm test: unit tests (no Docker) first, then report.html in headless Chromium, then the end-to-end tests in the real lab.
// The e2e files share one lab boot; the lab's own tests (which take it down, boot it again and stop it) run next to last,
// and the Debian 13 (trixie) lab's last: it boots a lab of the other release and stops it.
// test/unit/mocharc.test.ts keeps every e2e file in this list.
module.exports = {
  'node-option': ['import=tsx'],
  require: ['test/mocha-hooks.cjs'],
  spec: [
    'test/unit/**/*.test.ts',
    'test/browser/**/*.test.ts',
    'test/e2e/keepalived.test.ts',
    'test/e2e/modes.test.ts',
    'test/e2e/nemesis.test.ts',
    'test/e2e/suites.test.ts',
    'test/e2e/ssh.test.ts',
    'test/e2e/bench.test.ts',
    'test/e2e/lab.test.ts',
    'test/e2e/releases.test.ts',
  ],
  timeout: 60_000,
  slow: 10_000,
  exit: true,
};
