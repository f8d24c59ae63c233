import { firstLine, visible } from '../report/format.js';
import type { Comparison } from './compare.js';
import type { CheckSide } from './verdicts.js';
import { CHANGE_LABEL, changeText, checkTitle, judgementText, ms, notReachedText, points, runEnd, runLine, seriesTitle, share } from './words.js';

/** `lvs-harness compare` on a terminal: what changed first, then the numbers behind it. */

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Columns padded to their widest cell (by code points, so ± and → count once). */
function table(rows: string[][], indent = '  '): string[] {
  const len = (s: string) => [...s].length;
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => len(r[i] ?? '')))) ?? [];
  return rows.map((r) => indent + r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - len(c)))).join('  ').trimEnd());
}

const sideText = (label: string, s: CheckSide | null) => (s ? `${label} ${s.verdict}${s.detail ? `: ${firstLine(s.detail, 160)}` : ''}` : `${label} —`);

export function formatCompareText(c: Comparison, opts: { color?: boolean } = {}): string {
  const color = !!opts.color;
  const out: string[] = [];
  // every string below came from a results.json: visible() keeps its escape codes off the terminal
  out.push(visible(`A ${c.a.dir}  (${c.a.runId}, ${c.a.topology}): ${runLine(c.a)}`));
  out.push(visible(`B ${c.b.dir}  (${c.b.runId}, ${c.b.topology}): ${runLine(c.b)}`));
  for (const [n, r] of [['A', c.a], ['B', c.b]] as const) {
    const end = runEnd(r);
    if (end) out.push(paint(color, '31', visible(`${n} ${end}`)));
  }

  out.push('', 'Environment (≠ differs)');
  if (!c.environment.length) out.push('  neither run recorded its environment (results@0)');
  else
    out.push(
      ...table([['', 'field', 'A', 'B'], ...c.environment.map((e) => [e.differs ? '≠' : '', e.field, visible(e.a ?? 'not recorded'), visible(e.b ?? 'not recorded')])]).map((l, i) =>
        i > 0 && c.environment[i - 1]!.differs ? paint(color, '1', l) : l,
      ),
    );

  const ch = c.verdicts.changes;
  out.push('', `Verdicts: ${ch.length} changed, ${c.verdicts.unchanged} unchanged`);
  for (const x of ch) {
    const mark = paint(color, x.kind === 'pass-to-fail' ? '31;1' : x.kind === 'fail-to-pass' ? '32' : '33', CHANGE_LABEL[x.kind].padEnd(16));
    out.push(`  ${mark}${visible(checkTitle(x))}`);
    const nr = notReachedText(x, c.a, c.b);
    if (nr) out.push(`      ${nr}`);
    out.push(`      ${visible(sideText('A', x.a))}`, `      ${visible(sideText('B', x.b))}`);
  }

  out.push('', 'Measured times');
  if (!c.times.length) out.push('  neither run has a check that measured a time (failover, removal, re-insertion, preemption)');
  for (const s of c.times) {
    const values = (side: typeof s.a) => [...side.samples.map((x) => ms(x.ms)), ...(side.unmeasured ? [`${side.unmeasured} not measured`] : [])].join(', ') || '—';
    out.push(`  ${visible(seriesTitle(s))}`);
    out.push(...table([['A', values(s.a), s.a.median !== undefined ? `median ${ms(s.a.median)}` : ''], ['B', values(s.b), s.b.median !== undefined ? `median ${ms(s.b.median)}` : '']], '    '));
    const verdict = judgementText(s, s.judgement);
    out.push(`    ${changeText(s)}: ${s.judgement.judged && s.judgement.beyondSpread ? paint(color, '1', verdict) : verdict}`);
  }

  out.push('', 'Distributions (share of new connections per real server)');
  if (!c.distributions.length) out.push('  neither run has a distribution check');
  for (const d of c.distributions) {
    out.push(`  ${visible(checkTitle(d))}  (A ${d.a?.verdict ?? '—'}, B ${d.b?.verdict ?? '—'})`);
    out.push(
      ...table(
        [['server', 'A', 'B', 'change', 'expected'], ...d.rows.map((r) => [r.server, r.a !== undefined ? share(r.a) : '—', r.b !== undefined ? share(r.b) : '—', r.change !== undefined ? points(r.change) : '', r.expected !== undefined ? share(r.expected) : ''])].map((r) =>
          r.map(visible),
        ),
        '    ',
      ),
    );
  }
  out.push('', c.passToFail ? paint(color, '31;1', `${c.passToFail} check${c.passToFail === 1 ? '' : 's'} went from pass to fail`) : 'no check went from pass to fail');
  return out.join('\n');
}
