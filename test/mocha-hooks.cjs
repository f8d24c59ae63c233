// npm test's root hooks. A failed test's message is cut to its head and tail: CI shows the end of
// the output, and one assertion that dumps a whole run (every evidence script, a CLI's output)
// would push the other failures and the lab's digest out of it. The cut says how much it left out.
// At the end, the time each test file took (from its first test's start to its last test's end):
// where the minutes of a CI run went.
const MAX = 4000;
const HEAD = 2500;
const TAIL = 1000;

function cut(text) {
  if (typeof text !== 'string' || text.length <= MAX) return text;
  return `${text.slice(0, HEAD)}\n… [${text.length - HEAD - TAIL} characters cut: the test's message was ${text.length} long] …\n${text.slice(-TAIL)}`;
}

const files = new Map();

exports.cut = cut;
exports.mochaHooks = {
  beforeEach() {
    const f = this.currentTest && this.currentTest.file;
    if (f && !files.has(f)) files.set(f, { from: Date.now(), to: Date.now(), tests: 0, failed: 0 });
  },
  afterAll() {
    if (!files.size) return;
    const rows = [...files].map(([f, v]) => ({ f: f.replace(/^.*?\btest\//, 'test/'), s: (v.to - v.from) / 1000, ...v }));
    const unit = rows.filter((r) => r.f.startsWith('test/unit/'));
    const rest = rows.filter((r) => !r.f.startsWith('test/unit/'));
    const line = (name, r) => `  ${name.padEnd(34)} ${r.s.toFixed(0).padStart(6)} s  ${r.tests} tests${r.failed ? `, ${r.failed} failed` : ''}`;
    const out = ['time per test file (first start to last end):'];
    if (unit.length) out.push(line(`test/unit (${unit.length} files)`, { s: unit.reduce((a, r) => a + r.s, 0), tests: unit.reduce((a, r) => a + r.tests, 0), failed: unit.reduce((a, r) => a + r.failed, 0) }));
    for (const r of rest) out.push(line(r.f, r));
    process.stderr.write(out.join('\n') + '\n');
  },
  afterEach() {
    const t = this.currentTest;
    const rec = t && files.get(t.file);
    if (rec) {
      rec.to = Date.now();
      rec.tests++;
      if (t.state === 'failed') rec.failed++;
    }
    const err = t && t.state === 'failed' ? t.err : undefined;
    if (!err || typeof err.message !== 'string' || err.message.length <= MAX) return;
    const long = err.message;
    const short = cut(long);
    err.message = short;
    if (typeof err.stack === 'string') err.stack = err.stack.includes(long) ? err.stack.replace(long, short) : cut(err.stack);
    // chai's diff of actual and expected would print the whole values again
    if ('actual' in err) err.showDiff = false;
  },
};
