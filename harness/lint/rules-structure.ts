/**
 * Rules on the file's structure: what the grammar layer could not read, and what keepalived reads
 * differently from how the braces look (unknown keywords, a missing or extra `}`).
 */
import type { ReadIssue } from '../keepalived/conf/reading.js';
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
  summary: 'a keyword keepalived does not know in its block (typo, wrong block, or a keyword of a later release)',
  why: 'keepalived logs "Unknown keyword" and ignores the line: the setting silently does not apply, and `keepalived -t` fails',
  check: (files) =>
    files.flatMap((f) =>
      issuesOf(f, ['unknown-keyword']).map((i) =>
        finding(
          unknownKeyword,
          i,
          `unknown keyword "${i.keyword}" in ${where(i)}${i.addedIn ? `: it was added in keepalived ${i.addedIn}, and ${f.typed.release} does not know it` : ''}; keepalived ignores the line${i.absorbed ? `, ignores its \`{\`${absorbed(i)}, and its \`}\` ends ${where(i)} early` : ''}`,
          i.suggestion ? `did you mean "${i.suggestion}"?` : i.addedIn ? `run keepalived ${i.addedIn} (--keepalived-version ${i.addedIn}) or remove the line` : `check keepalived.conf(5) for the keywords of ${i.path.at(-1) ?? 'the top level'}`,
        ),
      ),
    ),
};

export const deprecatedKeyword: Rule = {
  id: 'deprecated-keyword',
  severity: 'warning',
  scope: 'file',
  summary: 'a keyword keepalived still reads but announces as deprecated',
  why: 'it works today and logs a warning; a later release may drop it',
  check: (files) =>
    files.flatMap((f) =>
      issuesOf(f, ['deprecated-keyword']).map((i) => finding(deprecatedKeyword, i, `"${i.keyword}" is deprecated (${i.deprecation?.note ?? 'keepalived logs a warning'})`, i.deprecation?.use ? `write ${i.deprecation.use} instead` : 'remove it')),
    ),
};

export const structureRules: readonly Rule[] = [syntax, braceBalance, unknownKeyword, deprecatedKeyword];
