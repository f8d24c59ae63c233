/**
 * The in-node watcher: one bash loop per observed node, started over one exec, that reads the
 * node's addresses and IPVS table from /proc every tick and prints, stamped on the node's own
 * clock (the lab's clock, $EPOCHREALTIME, no fork):
 *   A <t> <addr> …        the node's addresses, at start and whenever they change
 *   T <t> <line>|<line>…  /proc/net/ip_vs, at start and whenever it changes
 *   H <t>                 every tick, so a frozen or killed node shows as silence
 * It forks only when an address changes (`ip -o addr`), and exits as soon as its standard input
 * closes or a line arrives on it, so it cannot outlive the harness that reads it.
 */
export const WATCH_TICK_MS = 50;

export const WATCH_SCRIPT = String.raw`
p=$1
prev_fib= prev_v6= prev_vs=
while :; do
  mapfile -t f < /proc/net/fib_trie; fib="${'$'}{f[*]}"
  mapfile -t s < /proc/net/if_inet6 2>/dev/null; v6="${'$'}{s[*]}"
  if [[ $fib != "$prev_fib" || $v6 != "$prev_v6" ]]; then
    prev_fib=$fib prev_v6=$v6
    a=$(ip -o addr show 2>/dev/null | while read -r _ _ _ x _; do printf '%s ' "${'$'}{x%/*}"; done)
    printf 'A %s %s\n' "$EPOCHREALTIME" "$a"
  fi
  if [[ -r /proc/net/ip_vs ]]; then
    mapfile -t v < /proc/net/ip_vs; IFS='|'; vs="${'$'}{v[*]}"; unset IFS
    if [[ $vs != "$prev_vs" ]]; then prev_vs=$vs; printf 'T %s %s\n' "$EPOCHREALTIME" "$vs"; fi
  fi
  printf 'H %s\n' "$EPOCHREALTIME"
  read -r -t "$p" _; rc=$?
  (( rc > 128 )) || exit 0
done
`;

export const watchArgv = (tickMs = WATCH_TICK_MS): string[] => ['bash', '-c', WATCH_SCRIPT, 'lvs-harness-watch', (tickMs / 1000).toFixed(3)];

export type WatchLine = { kind: 'H'; t: number } | { kind: 'A'; t: number; addresses: string[] } | { kind: 'T'; t: number; lines: string[] };

/** One line of the watcher's output; undefined for anything else (a partial line, noise). */
export function parseWatchLine(line: string): WatchLine | undefined {
  const m = line.match(/^([AHT]) (\d{9,11})[.,](\d{1,6})(?: (.*))?$/);
  if (!m) return undefined;
  const t = Number(m[2]) * 1000 + Math.floor(Number(m[3]!.padEnd(6, '0')) / 1000);
  const rest = m[4] ?? '';
  if (m[1] === 'H') return { kind: 'H', t };
  if (m[1] === 'A') return { kind: 'A', t, addresses: rest.split(/\s+/).filter(Boolean) };
  return { kind: 'T', t, lines: rest.split('|') };
}
