/**
 * `lvs-harness lint FILE… [--pair A B] [--ipvsadm RULES] [--release R] [--keepalived-version V] [--instance ID] [--format F]`:
 * the argv to a lint run, its output and its exit code (0 clean, 1 an error or warning; usage
 * errors throw ERR_LVS_USAGE, which the CLI turns into exit 2).
 */
import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { errUsage, isHarnessError } from '../errors.js';
import { RELEASE_FLAGS_USAGE, resolveTarget } from '../keepalived/releases.js';
import { formatJson, formatSarif, formatText, LINT_FORMATS, lintExitCode, type LintFormat } from './format.js';
import { lint, RULES } from './lint.js';

const USAGE = `lvs-harness lint FILE… [--pair A B] [--ipvsadm RULES] ${RELEASE_FLAGS_USAGE} [--instance ID] [--format text|json|sarif]`;

/** `--pair A B` takes two values, which parseArgs cannot express: take them out first. */
function takePair(argv: string[]): { rest: string[]; pair?: [string, string] } {
  const i = argv.indexOf('--pair');
  if (i < 0) return { rest: argv };
  const a = argv[i + 1];
  const b = argv[i + 2];
  if (!a || !b || a.startsWith('--') || b.startsWith('--')) throw errUsage('lint: --pair needs two files, the two directors\u2019 keepalived.conf', USAGE);
  const rest = [...argv.slice(0, i), ...argv.slice(i + 3)];
  if (rest.includes('--pair')) throw errUsage('lint: give --pair once', USAGE);
  return { rest, pair: [a, b] };
}

function mustBeFile(f: string): void {
  if (!existsSync(f)) throw errUsage(`lint: ${f}: no such file`, 'give the path of a keepalived.conf');
  if (!statSync(f).isFile()) throw errUsage(`lint: ${f}: not a file`, 'give the path of a keepalived.conf');
}

export interface LintCommandOutput {
  text: string;
  code: number;
}

export function lintCommand(argv: string[], cwd = process.cwd()): LintCommandOutput {
  const { rest, pair } = takePair(argv);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ipvsadm: { type: 'string' }, release: { type: 'string' }, 'keepalived-version': { type: 'string' }, instance: { type: 'string' }, format: { type: 'string' } } });
  } catch (e) {
    throw errUsage(`lint: ${(e as Error).message.split('\n')[0]}`, USAGE);
  }
  const { values, positionals } = parsed;
  const files = positionals;
  if (!files.length && !pair && !values.ipvsadm) throw errUsage('lint: name at least one keepalived.conf or --ipvsadm RULES', USAGE);
  const release = resolveTarget({ release: values.release, keepalivedVersion: values['keepalived-version'] }, 'lint', USAGE).version;
  const format = (values.format ?? 'text') as LintFormat;
  if (!LINT_FORMATS.includes(format)) throw errUsage(`lint: --format ${format}: use ${LINT_FORMATS.join(', ')}`, USAGE);
  for (const f of [...files, ...(pair ?? []), ...(values.ipvsadm ? [values.ipvsadm] : [])]) mustBeFile(f);
  const results = lint({ files, ...(pair ? { pair } : {}), ...(values.ipvsadm ? { ipvsadm: values.ipvsadm } : {}), release, ...(values.instance ? { instance: values.instance } : {}) });
  const text = format === 'json' ? formatJson(results) : format === 'sarif' ? formatSarif(results, RULES, { cwd }) : formatText(results);
  return { text, code: lintExitCode(results) };
}

/**
 * The `lint` entry the launcher takes directly: lint must answer in well under a second, and
 * loading cli.ts pulls in Docker, testcontainers and the lab (seconds of imports) that lint never uses.
 */
export function lintCli(argv: string[]): never {
  let code: number;
  try {
    const r = lintCommand(argv);
    process.stdout.write(r.text + '\n');
    code = r.code;
  } catch (e) {
    code = isHarnessError(e) && e.code === 'ERR_LVS_USAGE' ? 2 : 1;
    process.stderr.write(`lvs-harness: ${isHarnessError(e) ? e.describe() : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exit(code);
}
