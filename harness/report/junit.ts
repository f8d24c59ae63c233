import { escapeAttr, escapeText, firstLine, pretty, suiteOfError, suiteOrder, verdictOf, wallMs } from './format.js';
import type { RecordedCheck, Results, RunError } from './results.js';

/**
 * junit.xml for CI (Jenkins, GitLab, GitHub test reporters): one <testsuite> per suite, one
 * <testcase> per check. A check that could not judge is a failure of type "unknown", not a
 * skip: CI must not show green for a property nobody verified.
 */

const seconds = (ms: number) => (ms / 1000).toFixed(3);

const attrs = (a: Record<string, string | number | undefined>) =>
  Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeAttr(String(v))}"`)
    .join('');

function failureBody(c: RecordedCheck): string {
  const lines = [`verdict:  ${JSON.stringify(c.valid)}`];
  if (c.rule) lines.push(`rule:     ${c.rule}`);
  if (c.detail) lines.push(`detail:   ${c.detail}`);
  for (const k of c.causes ?? []) {
    lines.push(`${k.id === 'no-known-cause' ? 'no known cause' : 'cause'}:    ${k.sentence}`);
    for (const q of k.evidence.slice(0, 6)) {
      lines.push(`  ${q.node}$ ${q.command}${q.note ? `   # ${q.note}` : ''}`, ...q.lines.slice(0, 12).map((l) => `    ${l}`));
      if (q.lines.length > 12) lines.push(`    … and ${q.lines.length - 12} more line${q.lines.length - 12 === 1 ? '' : 's'} in results.json`);
    }
    // "no known cause" quotes every command of every node: say what the failure text leaves out
    if (k.evidence.length > 6) lines.push(`  … and ${k.evidence.length - 6} more command${k.evidence.length - 6 === 1 ? '' : 's'} in results.json`);
    lines.push(`fix:      ${k.fix}`);
  }
  lines.push(`observed: ${pretty(c.observed)}`, `expected: ${pretty(c.expected)}`);
  return lines.join('\n');
}

function testcase(c: RecordedCheck, ind: string): string {
  const head = `${ind}<testcase${attrs({ classname: `${c.suite}.${c.group}`, name: c.name })}`;
  const v = verdictOf(c.valid);
  if (v === 'passed') return `${head}/>`;
  const why = c.detail ? firstLine(c.detail) : c.name;
  const message = v === 'unknown' ? `could not judge: ${why}` : why;
  const type = v === 'unknown' ? 'unknown' : 'violation';
  return `${head}>\n${ind}  <failure${attrs({ message, type })}>${escapeText(failureBody(c))}</failure>\n${ind}</testcase>`;
}

function errorcase(e: RunError, suite: string, ind: string): string {
  return `${ind}<testcase${attrs({ classname: suite, name: e.title })}>\n${ind}  <error${attrs({ message: firstLine(e.message), type: 'error' })}>${escapeText(e.message)}</error>\n${ind}</testcase>`;
}

/**
 * The error that ended a run early, as the testcase of its phase (name "build", class the
 * topology): CI then shows which step broke even when no suite ran.
 */
function runErrorcase(r: Results, ind: string): string | undefined {
  const e = r.error;
  if (!e) return undefined;
  const body = [e.code ? `${e.code}: ${e.message}` : e.message, ...(e.hint ? [`hint: ${e.hint}`] : [])].join('\n');
  return `${ind}<testcase${attrs({ classname: r.topology.name, name: e.phase })}>\n${ind}  <error${attrs({ message: firstLine(e.message), type: e.code ?? 'error' })}>${escapeText(body)}</error>\n${ind}</testcase>`;
}

/** Errors no suite can be found for, and the error that ended the run, go into a testsuite of this name. */
const HARNESS_SUITE = 'lvs-harness';

export function renderJUnit(r: Results): string {
  const order = suiteOrder(r);
  const errorsBy = new Map<string, RunError[]>();
  for (const e of r.errors) {
    const s = suiteOfError(e, order) ?? HARNESS_SUITE;
    errorsBy.set(s, [...(errorsBy.get(s) ?? []), e]);
  }
  if ((errorsBy.has(HARNESS_SUITE) || r.error) && !order.includes(HARNESS_SUITE)) order.push(HARNESS_SUITE);

  const props = [
    ['run', r.runId],
    ['topology', r.topology.name],
    ['topology.file', r.topology.file],
    ['topology.plan', r.topology.plan],
    ['topology.revision', r.topology.configRevision],
    ['harness', r.environment ? `${r.environment.harness.version} ${r.environment.harness.git}` : undefined],
    ['lab.kernel', r.environment?.lab?.kernel],
    ['host.kernel', r.environment?.host.kernel],
  ].filter((p): p is [string, string] => p[1] !== undefined);
  const properties = ['    <properties>', ...props.map(([name, value]) => `      <property${attrs({ name, value })}/>`), '    </properties>'];

  let total = { tests: 0, failures: 0, errors: 0 };
  const suites: string[] = [];
  for (const s of order) {
    const checks = r.checks.filter((c) => c.suite === s);
    const errors = errorsBy.get(s) ?? [];
    // a suite the run never reached has nothing to show but a count of zero tests
    if (r.error && !checks.length && !errors.length && r.timings[`suite:${s}`] === undefined && s !== HARNESS_SUITE) continue;
    const runError = s === HARNESS_SUITE ? runErrorcase(r, '    ') : undefined;
    const failures = checks.filter((c) => c.valid !== true).length;
    const errorCount = errors.length + (runError ? 1 : 0);
    const tests = checks.length + errorCount;
    total = { tests: total.tests + tests, failures: total.failures + failures, errors: total.errors + errorCount };
    const ms = r.timings[`suite:${s}`];
    suites.push(
      [
        `  <testsuite${attrs({ name: s, tests, failures, errors: errorCount, skipped: 0, time: ms === undefined ? undefined : seconds(ms), timestamp: r.startedAt })}>`,
        ...properties,
        ...checks.map((c) => testcase(c, '    ')),
        ...(runError ? [runError] : []),
        ...errors.map((e) => errorcase(e, s, '    ')),
        '  </testsuite>',
      ].join('\n'),
    );
  }
  const wall = wallMs(r) ?? Object.values(r.timings).reduce((a, b) => a + b, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `lvs-harness ${r.topology.name} ${r.runId}`, tests: total.tests, failures: total.failures, errors: total.errors, skipped: 0, time: seconds(wall), timestamp: r.startedAt })}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
