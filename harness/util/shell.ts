/**
 * Commands as argv, turned into POSIX shell text only here: one quoting function for every script
 * the harness runs in a node in one exec (and, later, on a remote host over SSH).
 */

const PLAIN = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as sh reads it back unchanged: plain words as they are, anything else in single quotes. */
export function shellQuote(arg: string): string {
  if (arg !== '' && PLAIN.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export const shellCommand = (argv: readonly string[]): string => argv.map(shellQuote).join(' ');

/**
 * A script that runs each step in order and stops at the first that fails, saying which on
 * stderr ("`ip addr replace …` exited with 2") after the command's own output. A step may have a
 * `unless` check: when it succeeds the step is skipped (an iptables rule already there, -C).
 */
export function stepsScript(steps: readonly { argv: readonly string[]; unless?: readonly string[] }[]): string {
  const lines = ['fail() { rc=$1; shift; printf "\\`%s\\` exited with %s\\n" "$*" "$rc" >&2; exit 1; }'];
  for (const s of steps) {
    const run = `${shellCommand(s.argv)} || fail $? ${shellCommand(s.argv)}`;
    lines.push(s.unless ? `${shellCommand(s.unless)} >/dev/null 2>&1 || { ${run}; }` : run);
  }
  return lines.join('\n') + '\n';
}
