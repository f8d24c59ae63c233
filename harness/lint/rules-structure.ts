/**
 * Rules on the file's structure: what the grammar layer could not read, and what keepalived reads
 * differently from how the braces look (unknown keywords, a missing or extra `}`).
 */
import type { ReadIssue } from '../keepalived/conf/reading.js';
import { describeVersion, releasesReading, type KeywordLifecycle } from '../keepalived/releases.js';
import { finding, type Finding, type LintedFile, type Rule } from './types.js';

const where = (i: ReadIssue) => (i.enclosing ? `${i.enclosing.keyword}${i.enclosing.args.length ? ` ${i.enclosing.args.join(' ')}` : ''} (line ${i.enclosing.line})` : 'the top level');
const absorbed = (i: ReadIssue) => (i.absorbed?.length ? `; keepalived reads the ${i.absorbed.length} line(s) of its block (${[...new Set(i.absorbed)].slice(0, 4).join(', ')}) as part of ${where(i)}` : '');
const issuesOf = (f: LintedFile, codes: readonly ReadIssue['code'][]) => f.reading.issues.filter((i) => codes.includes(i.code));

export const syntax: Rule = {
  id: 'syntax',
  severity: 'error',
  scope: 'file',
  summary: 'the file cannot be read as keepalived reads it (include not found, bad $ definition or ~SEQ, unterminated quote, binary input)',
  why: 'keepalived stops or skips the lines; what runs is not what the file says',
  check: (files) =>
    files.flatMap((f) =>
      f.parsed.problems
        .filter((p) => !p.code.startsWith('unbalanced'))
        .map((p) => finding(syntax, p, p.message, p.code.startsWith('include') ? 'fix the include path (relative to the including file) or create the file' : 'rewrite the line as keepalived.conf(5) shows it', p.severity)),
    ),
};

export const braceBalance: Rule = {
  id: 'brace-balance',
  severity: 'error',
  scope: 'file',
  summary: 'a `{` never closed, an extra `}`, or a top-level block inside another block',
  why: 'keepalived nests blocks by keyword, not by brace: one missing `}` moves every later block into the wrong one, and its `}` then closes the wrong block',
  check: (files) =>
    files.flatMap((f) => {
      const out: Finding[] = [];
      for (const p of f.parsed.problems)
        if (p.code === 'unbalanced-open') out.push(finding(braceBalance, p, p.message, 'add the missing `}` where the block ends'));
        else if (p.code === 'unbalanced-close') out.push(finding(braceBalance, p, p.message, 'remove the extra `}` or add the `{` it was meant to close'));
      // the grammar layer already explains a section left open (its message names the `}` it counted); say it once
      const told = new Set(f.parsed.problems.filter((p) => p.code === 'unbalanced-open').map((p) => `${p.file}:${p.line}`));
      for (const i of issuesOf(f, ['misplaced-block', 'unexpected-block', 'extra-close', 'missing-open'])) {
        if ((i.code === 'misplaced-block' || i.code === 'extra-close') && i.enclosing && told.has(`${i.enclosing.file}:${i.enclosing.line}`)) continue;
        if (i.code === 'misplaced-block')
          out.push(
            finding(
              braceBalance,
              i,
              `${i.keyword} is a top-level block but stands inside ${where(i)}: a \`}\` is missing before line ${i.line}. keepalived ${f.typed.release} reports "Unknown keyword '${i.keyword}'", ignores its \`{\`${absorbed(i)}, and the \`}\` meant to close ${i.keyword} closes ${i.enclosing?.keyword ?? 'the enclosing block'} instead`,
              `close ${i.enclosing?.keyword ?? 'the enclosing block'} with a \`}\` before line ${i.line}, and remove the extra \`}\` it leaves at the end`,
            ),
          );
        else if (i.code === 'unexpected-block')
          out.push(
            finding(
              braceBalance,
              i,
              `${i.keyword} takes no \`{ … }\` block in ${where(i)}: keepalived ignores the \`{\`${absorbed(i)}, and its \`}\` ends ${where(i)} early`,
              `write ${i.keyword} on one line, without a block`,
            ),
          );
        else if (i.code === 'missing-open')
          out.push(finding(braceBalance, i, `${i.keyword} needs a \`{\` to open its block: keepalived reports "Missing '{'" and reads the next lines in its place`, `add \`{\` at the end of line ${i.line}`));
        else
          out.push(
            finding(
              braceBalance,
              i,
              `an extra \`}\` ${i.after !== undefined ? `after line ${i.after}` : `on line ${i.line}`}: the \`}\` meant to close ${where(i)} is left over at the top level, where keepalived reports "Unknown keyword '}'" (the block was already ended by an earlier \`}\`)`,
              'remove this `}` once the block above is closed where it should be',
            ),
          );
      }
      return out;
    }),
};

export const unknownKeyword: Rule = {
  id: 'unknown-keyword',
  severity: 'error',
  scope: 'file',
  summary: 'a keyword keepalived does not know in its block (a typo, or a keyword in the wrong block)',
  why: 'keepalived logs "Unknown keyword" and ignores the line: the setting silently does not apply, and `keepalived -t` fails',
  check: (files) =>
    files.flatMap((f) =>
      issuesOf(f, ['unknown-keyword'])
        // a keyword of another release: release-keyword names the release
        .filter((i) => !i.verdict)
        .map((i) =>
          finding(
            unknownKeyword,
            i,
            `unknown keyword "${i.keyword}" in ${where(i)}; keepalived ignores the line${i.absorbed ? `, ignores its \`{\`${absorbed(i)}, and its \`}\` ends ${where(i)} early` : ''}`,
            i.suggestion ? `did you mean "${i.suggestion}"?` : `check keepalived.conf(5) for the keywords of ${i.path.at(-1) ?? 'the top level'}`,
          ),
        ),
    ),
};

/** a keyword in backticks; a phrase ("one SMTP_CHECK per host") as it is */
const code = (w: string) => (/^[\w-]+$/.test(w) ? `\`${w}\`` : w);

/** "--release trixie (keepalived 2.3.3)": the releases of ours that read a keyword, for the hint. */
const readers = (e: KeywordLifecycle) => releasesReading(e).map((r) => `--release ${r.name} (keepalived ${r.keepalived})`);

export const releaseKeyword: Rule = {
  id: 'release-keyword',
  severity: 'error',
  scope: 'file',
  summary: 'a keyword the target release (`--release`, `--keepalived-version`) does not read yet, no longer reads (error), or reads but deprecates (warning)',
  why: 'an upgrade (or a config written for a newer keepalived) changes what keepalived reads: an unknown keyword is ignored and fails `keepalived -t`; a deprecated one is logged and may go',
  check: (files, opts) =>
    files.flatMap((f) =>
      issuesOf(f, ['unknown-keyword', 'deprecated-keyword']).flatMap((i) => {
        const v = i.verdict;
        if (!v) return [];
        const target = describeVersion(opts.release);
        const e = v.entry;
        const instead = e.use ? `: use ${code(e.use)}` : '';
        const block = i.absorbed ? `, ignores its \`{\`${absorbed(i)}, and its \`}\` ends ${where(i)} early` : '';
        if (v.kind === 'deprecated')
          return [finding(releaseKeyword, i, `\`${i.keyword}\` is deprecated in ${target}${instead} (deprecated since keepalived ${v.since}; ${e.note})`, e.use ? `write ${e.use} instead` : 'remove the line', 'warning')];
        const others = readers(e);
        if (v.kind === 'too-new')
          return [
            finding(
              releaseKeyword,
              i,
              `\`${i.keyword}\` in ${where(i)} is not known to ${target}: it was added in keepalived ${v.since}; keepalived ignores the line${block}`,
              `remove the line for ${target}${others.length ? `, or lint for the release that runs it: ${others.join(', ')}` : ''}`,
            ),
          ];
        return [
          finding(
            releaseKeyword,
            i,
            `\`${i.keyword}\` in ${where(i)} was removed in keepalived ${v.since}: ${target} does not know it and ignores the line${block}${instead}`,
            e.use ? `write ${e.use} instead` : `remove the line${others.length ? `, or lint for a release that still reads it: ${others.join(', ')}` : ''}`,
          ),
        ];
      }),
    ),
};

export const structureRules: readonly Rule[] = [syntax, braceBalance, unknownKeyword, releaseKeyword];
