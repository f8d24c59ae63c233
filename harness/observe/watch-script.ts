/**
 * The in-node watcher: one bash script per observed node, started over one exec, that prints,
 * stamped on the node's own clock (the lab's clock, $EPOCHREALTIME, no fork):
 *   A <t> <addr> …        the node's addresses, at start and at every change the kernel
 *                         announces (`ip -o monitor address`: event-driven, no polling; the stamp
 *                         is taken when the event arrives, before the addresses are listed)
 *   T <t> <line>|<line>…  /proc/net/ip_vs, at start and whenever it changes, read every tick
 *                         without a fork (only where the table is watched)
 *   H <t>                 every tick, so the stream shows the node's loop ran
 * Under emulation every process competes with keepalived's own scripts (a `pgrep` track script
 * that overran its 1 s timeout moved a VIP in one CI run), so the watcher costs nothing while
 * nothing changes: ticks of 200 ms, or 50 ms where a table is watched. It exits, with its
 * monitor, as soon as its standard input closes or a line arrives on it, so it cannot outlive
 * the harness that reads it.
 *
 * Every stamp is kept, but the H and T lines leave the node in batches, about every
 * FLUSH_MS (and at exit): each write on the exec's stream wakes containerd's shim and dockerd,
 * which frame it and encrypt it for the host, and under emulation that cost more than the loop
 * itself (measured on nat-ha's two directors, lab busy 25 % idle, 30 % with the watchers writing
 * to /dev/null, 38 to 47 % with them writing every tick to the harness). An address change is
 * printed at once. What a kill loses is the last unsent batch: the node's stream then ends up
 * to FLUSH_MS before it died, inside the transient that no check judges.
 */
export const WATCH_TICK_MS = 200;
export const TABLE_TICK_MS = 50;
export const FLUSH_MS = 300;

export const WATCH_SCRIPT = String.raw`
p=$1 table=$2 every=${'$'}{3:-1}
snap() { local t=$EPOCHREALTIME a; a=$(ip -o addr show 2>/dev/null | while read -r _ _ _ x _; do printf '%s ' "${'$'}{x%/*}"; done); printf 'A %s %s
' "$t" "$a"; }
buf= n=0
flush() { [[ -n $buf ]] && printf '%s' "$buf"; buf= n=0; }
trap 'flush; pkill -P $$ 2>/dev/null' EXIT
ip -o monitor address 2>/dev/null | while read -r _; do snap; done &
snap
prev_vs=
while :; do
  if [[ $table == 1 && -r /proc/net/ip_vs ]]; then
    mapfile -t v < /proc/net/ip_vs; IFS='|'; vs="${'$'}{v[*]}"; unset IFS
    if [[ $vs != "$prev_vs" ]]; then prev_vs=$vs; buf+="T $EPOCHREALTIME $vs"$'\n'; fi
  fi
  buf+="H $EPOCHREALTIME"$'\n'
  (( ++n >= every )) && flush
  read -r -t "$p" _; rc=$?
  (( rc > 128 )) || exit 0
done
`;

export const watchArgv = (o: { table?: boolean } = {}): string[] => {
  const tick = o.table ? TABLE_TICK_MS : WATCH_TICK_MS;
  return ['bash', '-c', WATCH_SCRIPT, 'lvs-harness-watch', (tick / 1000).toFixed(3), o.table ? '1' : '0', String(Math.max(1, Math.round(FLUSH_MS / tick)))];
};

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
