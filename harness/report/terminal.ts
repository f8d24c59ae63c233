import { duration, failuresFirst, firstLine, tally, tallyText, verdictOf, visible, type Verdict } from './format.js';
import type { RecordedCheck, RunError } from './results.js';

/**
 * What a person watching `lvs-harness run` sees. On a terminal: one line redrawn in place
 * (spinner, phase, elapsed time, bar, current step), and a permanent line per finished phase.
 * Elsewhere (CI logs, pipes): plain timestamped lines without escape codes, few enough that a
 * log stays readable.
 */
export const PHASES = ['lab', 'build', 'configure', 'load', 'faults', 'checks', 'report'] as const;
export type Phase = (typeof PHASES)[number];

export type EndStatus = Verdict | 'error' | 'interrupted';

export interface ProgressOptions {
  tty: boolean;
  write: (s: string) => void;
  /** the clock (tests pass a fake one) */
  now?: () => number;
  /** terminal width; lines are cut to it so a redraw never wraps */
  columns?: number;
  /** spinner frame interval and the least time between redraws on a TTY; 0 redraws on every call and starts no timer */
  intervalMs?: number;
  /** ANSI colours; defaults to `tty` */
  color?: boolean;
}

export interface Progress {
  /** start a phase, ending the one before */
  phase(name: Phase | (string & {})): void;
  step(text: string): void;
  progress(done: number, total: number): void;
  /** end the last phase and print the outcome of the run */
  end(status: EndStatus): void;
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR = '\r\x1b[2K';

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
const STATUS_COLOUR: Record<EndStatus, string> = { passed: '32', failed: '31', unknown: '33', error: '31', interrupted: '33' };
const STATUS_MARK: Record<EndStatus, string> = { passed: '✔', failed: '✘', unknown: '?', error: '!', interrupted: '■' };

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

function bar(done: number, total: number, width: number): string {
  const f = total > 0 ? Math.max(0, Math.min(1, done / total)) : 0;
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const color = opts.color ?? opts.tty;
  const columns = Math.max(20, opts.columns ?? 80);
  const interval = opts.intervalMs ?? 80;
  const t0 = now();
  let phase: string | undefined;
  let phaseStart = t0;
  let text = '';
  let counts: { done: number; total: number } | undefined;
  let lastDecile = -1;
  let frame = 0;
  let lastDraw = -Infinity;
  let drawn = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let ended = false;

  const line = (s: string) => opts.write(`[${clock(now())}] ${s}\n`);

  const liveLine = () => {
    const parts = [`${SPIN[frame % SPIN.length]} ${phase ?? ''}`, duration(now() - phaseStart)];
    if (counts) parts.push(`${bar(counts.done, counts.total, 20)} ${counts.done}/${counts.total}`);
    if (text) parts.push(text);
    const s = parts.join('  ');
    return s.length > columns - 1 ? `${s.slice(0, columns - 2)}…` : s;
  };

  const draw = (force = false) => {
    if (!opts.tty || !phase || ended) return;
    const t = now();
    if (!force && interval > 0 && t - lastDraw < interval) return;
    lastDraw = t;
    opts.write(`${CLEAR}${liveLine()}`);
    drawn = true;
  };

  const finishPhase = () => {
    if (!phase) return;
    const took = duration(now() - phaseStart);
    if (opts.tty) opts.write(`${drawn ? CLEAR : ''}${paint(color, '32', '✔')} ${phase}  ${paint(color, '2', took)}\n`);
    else line(`${phase}: done in ${took}`);
    drawn = false;
    phase = undefined;
  };

  return {
    phase(name) {
      if (ended) return;
      finishPhase();
      phase = name;
      phaseStart = now();
      text = '';
      counts = undefined;
      lastDecile = -1;
      if (opts.tty) {
        if (interval > 0 && !timer) {
          timer = setInterval(() => {
            frame++;
            draw(true);
          }, interval);
          // the spinner must never be what keeps the process alive
          timer.unref?.();
        }
        draw(true);
      } else line(`${name}: started`);
    },
    step(t) {
      if (ended) return;
      // a step quoting a command's output must not move the cursor or recolour the terminal
      text = visible(t.replace(/\s+/g, ' ').trim());
      if (opts.tty) draw();
      else line(`${phase ?? 'run'}: ${text}`);
    },
    progress(done, total) {
      if (ended) return;
      counts = { done, total };
      if (opts.tty) {
        draw(done >= total);
        return;
      }
      // a line per tenth, not per operation: CI logs are read by people too
      const decile = total > 0 ? Math.floor((10 * Math.min(done, total)) / total) : 10;
      if (decile !== lastDecile) {
        lastDecile = decile;
        line(`${phase ?? 'run'}: ${done}/${total}${total > 0 ? ` (${Math.round((100 * Math.min(done, total)) / total)}%)` : ''}`);
      }
    },
    end(status) {
      if (ended) return;
      finishPhase();
      ended = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      const msg = `${status} in ${duration(now() - t0)}`;
      if (opts.tty) opts.write(`${paint(color, STATUS_COLOUR[status], `${STATUS_MARK[status]} ${msg}`)}\n`);
      else line(msg);
    },
  };
}

export interface CheckTableOptions {
  /** where report.html (or the run directory) is, printed last */
  reportPath?: string;
  errors?: readonly RunError[];
  color?: boolean;
  /** total width the table may use */
  width?: number;
}

const VERDICT_TEXT: Record<Verdict | 'error', [string, string]> = {
  passed: ['✔ pass', '32'],
  failed: ['✘ FAIL', '31'],
  unknown: ['? unknown', '33'],
  error: ['! ERROR', '31'],
};

/** The final table of checks, failures first, fit to the terminal. */
export function renderCheckTable(checks: readonly RecordedCheck[], o: CheckTableOptions = {}): string {
  const color = o.color ?? false;
  const width = Math.max(60, o.width ?? 120);
  const rows: { v: Verdict | 'error'; cells: string[] }[] = [
    ...(o.errors ?? []).map((e) => ({ v: 'error' as const, cells: [e.suite ?? '', '', e.title, firstLine(e.message)].map(visible) })),
    ...failuresFirst(checks).map((c) => ({ v: verdictOf(c.valid), cells: [c.suite, c.group, c.name, c.detail ? firstLine(c.detail, 400) : ''].map(visible) })),
  ];
  const out: string[] = [];
  if (rows.length) {
    const head = ['verdict', 'suite', 'group', 'check', 'detail'];
    const vw = Math.max(head[0]!.length, ...rows.map((r) => VERDICT_TEXT[r.v][0].length));
    const cap = (i: number, most: number) => Math.min(most, Math.max(head[i + 1]!.length, ...rows.map((r) => r.cells[i]!.length)));
    const ws = [cap(0, 14), cap(1, 24), cap(2, 56)];
    const fixed = vw + ws.reduce((a, b) => a + b, 0) + 2 * 4;
    const dw = Math.max(12, width - fixed);
    const fit = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));
    out.push([head[0]!.padEnd(vw), ...ws.map((w, i) => fit(head[i + 1]!, w)), head[4]!].join('  '));
    for (const r of rows) {
      const [label, code] = VERDICT_TEXT[r.v];
      const cells = [paint(color, code, label.padEnd(vw)), ...ws.map((w, i) => fit(r.cells[i]!, w)), fit(r.cells[3]!, dw).trimEnd()];
      out.push(cells.join('  ').trimEnd());
    }
  } else out.push('no check recorded a verdict');
  out.push('', tallyText(tally(checks), o.errors?.length ?? 0));
  if (o.reportPath) out.push(`report: ${o.reportPath}`);
  return out.join('\n') + '\n';
}
