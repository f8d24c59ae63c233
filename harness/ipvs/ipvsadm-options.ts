import { WordError } from './rules-error.js';

/**
 * ipvsadm's command line as its popt table reads it (ipvsadm 1.31): long options with
 * `--name value` or `--name=value`, a long name after one dash (`-persistent`), short options
 * clustered (`-Ln`, `-gw3`) with their value glued (`-w3`, `-w=3`) or in the next word, and
 * -p whose value is optional (taken from the next word only when that word is not an option).
 */
export interface OptionSpec {
  long: string;
  short?: string;
  arg: 'none' | 'required' | 'optional';
  command?: boolean;
}

export const OPTIONS: readonly OptionSpec[] = [
  ...(
    [
      ['add-service', 'A'],
      ['edit-service', 'E'],
      ['delete-service', 'D'],
      ['clear', 'C'],
      ['list', 'L'],
      ['list', 'l'],
      ['zero', 'Z'],
      ['add-server', 'a'],
      ['edit-server', 'e'],
      ['delete-server', 'd'],
      ['set', undefined],
      ['help', 'h'],
      ['version', 'v'],
      ['restore', 'R'],
      ['save', 'S'],
    ] as const
  ).map(([long, short]): OptionSpec => ({ long, short, arg: 'none', command: true })),
  { long: 'start-daemon', arg: 'required', command: true },
  { long: 'stop-daemon', arg: 'required', command: true },
  { long: 'tcp-service', short: 't', arg: 'required' },
  { long: 'udp-service', short: 'u', arg: 'required' },
  { long: 'sctp-service', arg: 'required' },
  { long: 'fwmark-service', short: 'f', arg: 'required' },
  { long: 'scheduler', short: 's', arg: 'required' },
  { long: 'persistent', short: 'p', arg: 'optional' },
  { long: 'netmask', short: 'M', arg: 'required' },
  { long: 'real-server', short: 'r', arg: 'required' },
  { long: 'masquerading', short: 'm', arg: 'none' },
  { long: 'ipip', short: 'i', arg: 'none' },
  { long: 'gatewaying', short: 'g', arg: 'none' },
  { long: 'weight', short: 'w', arg: 'required' },
  { long: 'u-threshold', short: 'x', arg: 'required' },
  { long: 'l-threshold', short: 'y', arg: 'required' },
  { long: 'numeric', short: 'n', arg: 'none' },
  { long: 'connection', short: 'c', arg: 'none' },
  { long: 'mcast-interface', arg: 'required' },
  { long: 'syncid', arg: 'required' },
  { long: 'timeout', arg: 'none' },
  { long: 'daemon', arg: 'none' },
  { long: 'stats', arg: 'none' },
  { long: 'rate', arg: 'none' },
  { long: 'thresholds', arg: 'none' },
  { long: 'persistent-conn', arg: 'none' },
  { long: 'nosort', arg: 'none' },
  { long: 'sort', arg: 'none' },
  { long: 'exact', short: 'X', arg: 'none' },
  { long: 'ipv6', short: '6', arg: 'none' },
  { long: 'ops', short: 'o', arg: 'none' },
  { long: 'pe', arg: 'required' },
  { long: 'sched-flags', short: 'b', arg: 'required' },
  { long: 'mcast-group', arg: 'required' },
  { long: 'mcast-port', arg: 'required' },
  { long: 'mcast-ttl', arg: 'required' },
  { long: 'sync-maxlen', arg: 'required' },
  { long: 'tun-info', arg: 'none' },
  { long: 'tun-type', arg: 'required' },
  { long: 'tun-port', arg: 'required' },
  { long: 'tun-nocsum', arg: 'none' },
  { long: 'tun-csum', arg: 'none' },
  { long: 'tun-remcsum', arg: 'none' },
];

const BY_LONG = new Map(OPTIONS.map((o) => [o.long, o]));
const BY_SHORT = new Map(OPTIONS.filter((o) => o.short).map((o) => [o.short!, o]));

export const ALLOWED_OPTIONS =
  '-A -E -D -C -a -e -d -L -S -R -Z, -t -u --sctp-service -f -6 -s -p -M --pe -o -b -r -g -i -m -w -x -y --tun-type --tun-port --tun-nocsum --tun-csum --tun-remcsum (see ipvsadm(8))';

export interface ReadOption {
  spec: OptionSpec;
  /** the word as written, for messages */
  word: string;
  value?: string;
}

/** The options of one ipvsadm command line, in order. Bare words are refused as ipvsadm refuses them. */
export function readOptions(words: readonly string[]): ReadOption[] {
  const out: ReadOption[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '--' || !w.startsWith('-') || w === '-') {
      throw new WordError(w === '--' ? (words[i + 1] ?? w) : w, `unexpected argument ${w === '--' ? (words[i + 1] ?? '--') : w}`, `options only: ${ALLOWED_OPTIONS}`);
    }
    const takeNext = (spec: OptionSpec): string | undefined => {
      const next = words[i + 1];
      if (spec.arg === 'optional') return next !== undefined && !next.startsWith('-') ? words[++i] : undefined;
      if (next === undefined) throw new WordError(w, `${w} needs a value`, valueHint(spec));
      return words[++i];
    };
    // a long name, after two dashes or (as popt allows) one
    const eq = w.indexOf('=');
    const name = w.slice(w.startsWith('--') ? 2 : 1, eq < 0 ? undefined : eq);
    const long = name.length > 1 ? BY_LONG.get(name) : undefined;
    if (long || w.startsWith('--')) {
      if (!long) throw new WordError(w, `unknown option ${w}`, ALLOWED_OPTIONS);
      if (eq >= 0 && long.arg === 'none') throw new WordError(w, `${w.slice(0, eq)} takes no value`, `${w.slice(0, eq)} alone`);
      out.push({ spec: long, word: w, value: eq >= 0 ? w.slice(eq + 1) : long.arg === 'none' ? undefined : takeNext(long) });
      continue;
    }
    // a cluster of short options; one that takes a value takes the rest of the word
    for (let k = 1; k < w.length; k++) {
      const spec = BY_SHORT.get(w[k]!);
      if (!spec) throw new WordError(w, `unknown option ${k === 1 && w.length === 2 ? w : `-${w[k]} in ${w}`}`, ALLOWED_OPTIONS);
      const word = `-${w[k]}`;
      if (spec.arg === 'none') {
        if (w[k + 1] === '=') throw new WordError(w, `${word} takes no value`, `${word} alone`);
        out.push({ spec, word });
        continue;
      }
      const rest = w.slice(k + 1).replace(/^=/, '');
      out.push({ spec, word, value: rest !== '' ? rest : takeNext(spec) });
      break;
    }
  }
  return out;
}

function valueHint(spec: OptionSpec): string {
  switch (spec.long) {
    case 'tcp-service':
    case 'udp-service':
    case 'sctp-service':
    case 'real-server':
      return 'an address:port';
    case 'fwmark-service':
      return 'a firewall mark 1-4294967295';
    case 'scheduler':
      return 'a scheduler name (rr, wrr, lc, wlc, sh, mh, ...)';
    case 'weight':
      return 'a weight 0-65535';
    default:
      return `a value for --${spec.long}`;
  }
}
