import { brief, environmentParts, failureLine, labText, leftOutText, runVerdictOf, failuresFirst, pretty, suiteOfError, suiteOrder, tally, tallyText, timingsText, topologyText, verdictOf, visible, type RunVerdict } from './format.js';
import type { Results } from './results.js';

/**
 * summary.md: the run as a pull-request comment. Failures come first with what a reviewer
 * needs to act (rule, detail, observed, expected); passing checks are one table row each.
 */

const MARK: Record<RunVerdict, string> = { passed: '✅', failed: '❌', unknown: '❔', error: '❗', interrupted: '⏹️' };

/** A table cell: one line, no pipe that would split it, no HTML GitHub would render. */
const cell = (s: string) => s.replace(/\r?\n/g, ' ').replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Inline code for a table cell: GFM splits cells before code spans, so only the pipe needs its backslash. */
const codeCell = (s: string) => code(s).replace(/\|/g, '\\|');

/** Inline code that survives backticks in the value. */
function code(s: string): string {
  const flat = s.replace(/\r?\n/g, ' ');
  const ticks = '`'.repeat(Math.max(0, ...(flat.match(/`+/g) ?? []).map((m) => m.length)) + 1);
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${flat}${pad}${ticks}`;
}

/** A fenced block whose fence is longer than any run of backticks inside. */
function fence(s: string, lang = ''): string {
  const f = '`'.repeat(Math.max(3, ...(s.match(/`+/g) ?? []).map((m) => m.length + 1)));
  return `${f}${lang}\n${s}\n${f}`;
}

// GitHub refuses comments over 65,536 characters; long observations are cut well before that
const BLOCK_MAX = 4000;
const cut = (s: string) => (s.length > BLOCK_MAX ? `${s.slice(0, BLOCK_MAX)}\n… (${s.length - BLOCK_MAX} more characters in results.json)` : s);

export function renderSummary(r: Results): string {
  const t = tally(r.checks);
  const v = runVerdictOf(r);
  const out: string[] = [];
  // a merged run's suites are every <label>/<suite> of the matrix: the runs table below lists them
  out.push(`## ${MARK[v]} lvs-harness ${v}: ${r.topology.name}, ${r.merged ? `${r.merged.runs.length} runs merged` : r.suites.join(', ') || 'no suite'}`);
  out.push('');
  if (r.error) {
    // first, before any count: a run that ended early must not read as a short passing one
    out.push(`> **${cell(failureLine(r)!)}**`, '');
    if (!r.interrupted) out.push(fence(cut(r.error.code ? `${r.error.code}: ${r.error.message}` : r.error.message)), '');
    if (r.error.hint) out.push(`Hint: ${cell(r.error.hint)}`, '');
  }
  out.push(`**${v.toUpperCase()}**: ${tallyText(t, r.errors.length)}. Run \`${r.runId}\`, started ${r.startedAt}${r.finishedAt ? `, finished ${r.finishedAt}` : ''}.`);
  // the lab's release beside the verdict: a run on trixie is not a run on bookworm (absent before lab releases)
  if (r.runtime?.release) out.push('', `**Lab**: ${cell(labText(r)!)}`);
  // what `--suite all` did not run here, so that a pass is not read as covering it
  if (r.leftOut?.length) out.push('', `**Left out by \`--suite all\`**: ${r.leftOut.map((l) => cell(leftOutText(l))).join('; ')}`);
  out.push('');
  if (r.merged) {
    // merge-reports: which run (which shard) each verdict came from, before the failures
    out.push(`### Runs merged (${r.merged.runs.length})`, '', '| | label | run | suites | checks | directory |', '| --- | --- | --- | --- | --- | --- |');
    for (const x of r.merged.runs) out.push(`| ${MARK[x.verdict]} | ${cell(x.label)} | ${codeCell(x.runId)} | ${cell(x.suites.join(', '))} | ${cell(tallyText(x.checks, x.errors))}${x.error ? `; ${cell(failureLine(x) ?? '')}` : ''} | ${codeCell(x.dir)} |`);
    out.push('');
  }

  const bad = failuresFirst(r.checks).filter((c) => c.valid !== true);
  if (r.errors.length || bad.length) {
    out.push('### Failures', '');
    const order = suiteOrder(r);
    for (const e of r.errors) {
      out.push(`#### ${MARK.failed} error in ${cell(suiteOfError(e, order) ?? 'the harness')}: ${cell(e.title)}`, '', fence(cut(e.message)), '');
    }
    for (const c of bad) {
      const cv = verdictOf(c.valid);
      out.push(`#### ${MARK[cv]} ${cell(c.suite)} › ${cell(c.group)} › ${cell(c.name)}${cv === 'unknown' ? ' (could not judge)' : ''}`, '');
      if (c.detail) out.push(cell(c.detail), '');
      for (const k of c.causes ?? []) {
        out.push(`**${k.id === 'no-known-cause' ? 'No known cause' : 'Cause'}**: ${cell(k.sentence)}`, '');
        for (const q of k.evidence.slice(0, 6)) out.push(fence(cut(`${q.node}$ ${q.command}${q.note ? `   # ${q.note}` : ''}\n${q.lines.join('\n')}`)), '');
        // "no known cause" quotes every command of every node: say what the comment leaves out
        if (k.evidence.length > 6) out.push(`… and ${k.evidence.length - 6} more command${k.evidence.length - 6 === 1 ? '' : 's'} in results.json and report.html`, '');
        out.push(`Fix: ${cell(k.fix)}`, '');
      }
      if (c.rule) out.push(`Rule: ${cell(c.rule)}`, '');
      out.push(fence(cut(`observed: ${pretty(c.observed)}\nexpected: ${pretty(c.expected)}`), 'yaml'), '');
    }
  }

  if (r.validate) {
    const v = r.validate;
    out.push(`### Validate: ${cell(v.sources.join(', '))}`, '');
    const serious = v.findings.filter((f) => f.severity !== 'info');
    if (serious.length) {
      out.push('| severity | rule | where | finding |', '| --- | --- | --- | --- |');
      for (const f of serious) out.push(`| ${f.severity} | ${codeCell(f.rule)} | ${codeCell(`${f.file}:${f.line}`)} | ${cell(f.message)}${f.confirmedBy ? ` **Confirmed by the run**: ${cell(f.confirmedBy)}` : ''} |`);
    } else out.push('lint found no error or warning.');
    out.push('', `Translation: ${cell(v.translation.map((x) => `${x.director ? `${x.director} ` : ''}${x.theirs} → ${x.lab}`).join('; '))}`, '');
  }
  out.push('### Checks', '');
  if (r.checks.length) {
    out.push('| | suite | group | check | observed | expected |', '| --- | --- | --- | --- | --- | --- |');
    for (const c of failuresFirst(r.checks)) {
      out.push(`| ${MARK[verdictOf(c.valid)]} | ${cell(c.suite)} | ${cell(c.group)} | ${cell(c.name)} | ${codeCell(brief(c.observed, 60))} | ${codeCell(brief(c.expected, 60))} |`);
    }
  } else {
    out.push('No check recorded a verdict.');
  }
  out.push('');
  out.push(`**Topology**: ${cell(topologyText(r))}  `);
  out.push(`**Timings**: ${cell(timingsText(r))}  `);
  out.push(`**Environment**: ${cell(environmentParts(r).join('; '))}`);
  out.push('');
  // escape sequences from ipvsadm or curl would be raw control characters in a PR comment
  return visible(out.join('\n'));
}
