// npm test: unit tests (no Docker) first, then report.html in headless Chromium, then the end-to-end tests in the real lab.
module.exports = {
  'node-option': ['import=tsx'],
  spec: ['test/unit/**/*.test.ts', 'test/browser/**/*.test.ts', 'test/e2e/**/*.test.ts'],
  timeout: 60_000,
  slow: 10_000,
  exit: true,
};
