import { parseEndpoint, parseNetmask, parseNumber, type Endpoint, type PortNames } from './address.js';
import { readOptions, type ReadOption } from './ipvsadm-options.js';
import { WordError } from './rules-error.js';
import { SCHEDULERS, type Method, type Protocol, type RealServerRule, type VirtualServiceRule } from './rules.js';

/**
 * One ipvsadm command line as ipvsadm 1.31 checks it before asking the kernel: the command
 * first, each option at most once, only the options its command takes (its
 * commands_v_options table), the values in range, and the defaults it fills in.
 */
export type ServiceId = Pick<VirtualServiceRule, 'protocol' | 'address' | 'port' | 'fwmark' | 'ipv6'>;

export type IpvsadmCommand =
  | { kind: 'add-service' | 'edit-service'; service: VirtualServiceRule }
  | { kind: 'delete-service'; service: ServiceId }
  | { kind: 'add-server' | 'edit-server'; service: ServiceId; server: RealServerRule }
  | { kind: 'delete-server'; service: ServiceId; server: Pick<RealServerRule, 'address' | 'port'> }
  | { kind: 'clear' }
  /** list, save, restore, zero, daemons, help: no change to the table */
  | { kind: 'other'; option: string };

export interface CommandNotes {
  /** a remark that does not stop ipvsadm (a port it replaces, a host name kept as written) */
  warn(message: string): void;
}

const TABLE_COMMANDS: Record<string, IpvsadmCommand['kind']> = {
  'add-service': 'add-service',
  'edit-service': 'edit-service',
  'delete-service': 'delete-service',
  clear: 'clear',
  'add-server': 'add-server',
  'edit-server': 'edit-server',
  'delete-server': 'delete-server',
};

// Which options each table command takes ('+' needed, ' ' optional; anything else refused),
// after ipvsadm's commands_v_options.
const TAKES: Record<string, Record<string, '+' | ' '>> = {
  'add-service': { service: '+', scheduler: ' ', persistent: ' ', netmask: ' ', ops: ' ', pe: ' ', 'sched-flags': ' ' },
  'delete-service': { service: '+' },
  clear: {},
  'add-server': { service: '+', 'real-server': '+', method: ' ', weight: ' ', 'u-threshold': ' ', 'l-threshold': ' ', 'tun-type': ' ', 'tun-port': ' ', 'tun-nocsum': ' ', 'tun-csum': ' ', 'tun-remcsum': ' ' },
  'delete-server': { service: '+', 'real-server': '+' },
};
TAKES['edit-service'] = TAKES['add-service']!;
TAKES['edit-server'] = TAKES['add-server']!;

// options that are one slot in ipvsadm's table although spelled several ways
const SLOT: Record<string, string> = {
  'tcp-service': 'service',
  'udp-service': 'service',
  'sctp-service': 'service',
  'fwmark-service': 'service',
  masquerading: 'method',
  ipip: 'method',
  gatewaying: 'method',
};

const PROTOCOL: Record<string, Protocol> = { 'tcp-service': 'tcp', 'udp-service': 'udp', 'sctp-service': 'sctp' };
const METHOD: Record<string, Method> = { masquerading: 'masq', ipip: 'tunnel', gatewaying: 'droute' };
const MAX_TIMEOUT = 86400 * 31;
const SCHED_FLAG_NAMES: Record<string, readonly string[]> = { sh: ['sh-fallback', 'sh-port', 'flag-3'], mh: ['mh-fallback', 'mh-port', 'flag-3'] };

/** `save` form: the first word must be -A or -a (what -S prints and -R reads); a script takes any command. */
export function parseCommand(words: readonly string[], names: PortNames, notes: CommandNotes): IpvsadmCommand {
  const opts = readOptions(words);
  const first = opts[0];
  if (!first?.spec.command) {
    throw new WordError(first?.word ?? '', first ? `${first.word} is not a command` : 'no command', 'a command first: -A -E -D -C -a -e -d (or -L -S -R -Z)');
  }
  for (const o of opts.slice(1)) if (o.spec.command) throw new WordError(o.word, `a second command ${o.word} after ${first.word}`, 'one command per ipvsadm line');
  const kind = TABLE_COMMANDS[first.spec.long];
  if (!kind) return { kind: 'other', option: first.word };

  const takes = TAKES[kind]!;
  const seen = new Map<string, ReadOption>();
  let v6Fwmark = false;
  for (const o of opts.slice(1)) {
    if (o.spec.long === 'ipv6') {
      // -6 qualifies the -f before it (ipvsadm: "-6 used before -f")
      if (!seen.has('service') || seen.get('service')!.spec.long !== 'fwmark-service') throw new WordError(o.word, '-6 used before -f', '-f MARK -6 (an IPv6 address is written as such, with -t/-u)');
      v6Fwmark = true;
      continue;
    }
    const slot = SLOT[o.spec.long] ?? o.spec.long;
    if (seen.has(slot)) throw new WordError(o.word, `${o.word} given twice (with ${seen.get(slot)!.word})`, `one ${slot} option per command`);
    if (!(slot in takes)) throw new WordError(o.word, `${o.word} is not an option of ${first.word}`, `with ${first.word}: ${Object.keys(takes).join(', ') || 'nothing'}`);
    seen.set(slot, o);
  }
  for (const [slot, need] of Object.entries(takes)) {
    if (need === '+' && !seen.has(slot)) {
      throw slot === 'service'
        ? new WordError(first.word, 'no service (-t, -u, -f)', '-t ADDR:PORT, -u ADDR:PORT, --sctp-service ADDR:PORT or -f MARK')
        : new WordError(first.word, 'no real server (-r)', '-r ADDR[:PORT]');
    }
  }
  if (kind === 'clear') return { kind };

  const svcOpt = seen.get('service')!;
  const protocol: Protocol = PROTOCOL[svcOpt.spec.long] ?? 'tcp';
  let service: ServiceId;
  let svcEndpoint: Endpoint | undefined;
  if (svcOpt.spec.long === 'fwmark-service') {
    service = { fwmark: parseNumber(svcOpt.value!, 'fwmark', 1, 4294967295), ...(v6Fwmark ? { ipv6: true } : {}) };
  } else {
    svcEndpoint = parseEndpoint(svcOpt.value!, protocol, names);
    service = { protocol, address: svcEndpoint.address, port: svcEndpoint.port ?? 0 };
    if (svcEndpoint.hostName) notes.warn(`host name ${svcEndpoint.address} kept as written: it cannot be checked without resolving it`);
  }
  const svcV6 = svcEndpoint ? svcEndpoint.v6 : v6Fwmark;

  if (kind === 'delete-service') return { kind, service };
  if (kind === 'add-service' || kind === 'edit-service') {
    const rule: VirtualServiceRule = { ...service, scheduler: seen.get('scheduler')?.value ?? 'wlc', realServers: [] };
    if (svcEndpoint?.hostName) rule.hostName = true;
    if (!(SCHEDULERS as readonly string[]).includes(rule.scheduler)) {
      notes.warn(`scheduler ${rule.scheduler} is not one lvs-harness knows (${SCHEDULERS.join(', ')}); the kernel refuses a scheduler it has no module for`);
    }
    const p = seen.get('persistent');
    if (p) {
      rule.persistence = { timeout: p.value === undefined ? 300 : parseNumber(p.value, 'persistence timeout', 1, MAX_TIMEOUT) };
      const m = seen.get('netmask');
      if (m) rule.persistence.netmask = parseNetmask(m.value!, svcV6);
    } else if (seen.has('netmask')) {
      notes.warn(`${seen.get('netmask')!.word} without -p has no effect: the netmask is the granularity of persistence`);
    }
    if (svcOpt.spec.long !== 'fwmark-service' && service.port === 0 && !p) {
      throw new WordError(svcOpt.value!, `"${svcOpt.value}" is not address:port`, 'ADDR:PORT; a service on port 0 (all ports) needs -p');
    }
    const pe = seen.get('pe');
    if (pe) {
      if (pe.value !== 'sip') notes.warn(`persistence engine ${pe.value} is not one the kernel ships (sip)`);
      rule.pe = pe.value!;
    }
    if (seen.has('ops')) {
      if (protocol !== 'udp' && svcOpt.spec.long !== 'fwmark-service') throw new WordError(seen.get('ops')!.word, 'one-packet scheduling (-o) is only for UDP services', '-o with -u or -f');
      rule.onePacket = true;
    }
    const b = seen.get('sched-flags');
    if (b) rule.schedFlags = schedFlags(b.value!, rule.scheduler);
    return { kind, service: rule };
  }

  const rOpt = seen.get('real-server')!;
  const dest = parseEndpoint(rOpt.value!, protocol, names);
  if (dest.hostName) notes.warn(`host name ${dest.address} kept as written: it cannot be checked without resolving it`);
  const svcPort = service.port ?? 0;
  let port = dest.port ?? svcPort;
  let writtenPort: number | string | undefined;
  if (kind === 'delete-server') return { kind, service, server: { address: dest.address, port } };

  const method = METHOD[seen.get('method')?.spec.long ?? 'gatewaying']!;
  if (service.fwmark === undefined && method !== 'masq' && port !== svcPort) {
    // ipvsadm sets the port of a -g/-i server to the service's: neither can change it
    notes.warn(`${rOpt.value}: ipvsadm uses the service port ${svcPort} for a ${method === 'droute' ? '-g' : '-i'} real server, not ${port}`);
    writtenPort = port;
    port = svcPort;
  }
  if (dest.v6 !== svcV6 && method !== 'tunnel' && !dest.hostName && !svcEndpoint?.hostName) {
    throw new WordError(rOpt.value!, `${rOpt.value} is IPv${dest.v6 ? 6 : 4} and the service IPv${svcV6 ? 6 : 4}`, 'the address family of the service, or another family only with -i (tunnel)');
  }
  const server: RealServerRule = { address: dest.address, port, method, weight: 1, ...(writtenPort !== undefined ? { writtenPort } : {}) };
  if (dest.hostName) server.hostName = true;
  const w = seen.get('weight');
  if (w) server.weight = parseNumber(w.value!, 'weight', 0, 65535);
  const x = seen.get('u-threshold');
  if (x) server.upperThreshold = parseNumber(x.value!, 'upper threshold', 0, 2147483647);
  const y = seen.get('l-threshold');
  if (y) server.lowerThreshold = parseNumber(y.value!, 'lower threshold', 0, 2147483647);
  tunnelOptions(seen, method, server);
  return { kind: kind as 'add-server' | 'edit-server', service, server };
}

function tunnelOptions(seen: Map<string, ReadOption>, method: Method, server: RealServerRule): void {
  const tun = ['tun-type', 'tun-port', 'tun-nocsum', 'tun-csum', 'tun-remcsum'].filter((k) => seen.has(k));
  if (!tun.length) return;
  if (method !== 'tunnel') throw new WordError(seen.get(tun[0]!)!.word, `${seen.get(tun[0]!)!.word} is a tunnel option`, 'tunnel options with -i only');
  const typeWord = seen.get('tun-type')?.value ?? 'ipip';
  if (typeWord !== 'ipip' && typeWord !== 'gue' && typeWord !== 'gre') throw new WordError(typeWord, `unknown tunnel type ${typeWord}`, 'ipip, gue or gre');
  const csums = tun.filter((k) => k !== 'tun-type' && k !== 'tun-port');
  // after ipvsadm's tunnel_types_v_options: ipip takes nothing, gue needs a port, gre no port and no remcsum
  const refuse = (k: string, why: string) => {
    throw new WordError(seen.get(k)!.word, why, `ipip: no tunnel options; gue: --tun-port and one of --tun-nocsum/--tun-csum/--tun-remcsum; gre: one of --tun-nocsum/--tun-csum`);
  };
  if (typeWord === 'ipip' && (seen.has('tun-port') || csums.length)) refuse(seen.has('tun-port') ? 'tun-port' : csums[0]!, `--tun-type ipip takes no ${seen.has('tun-port') ? '--tun-port' : `--${csums[0]}`}`);
  if (typeWord === 'gue' && !seen.has('tun-port')) refuse('tun-type', '--tun-type gue needs --tun-port');
  if (typeWord === 'gre' && seen.has('tun-port')) refuse('tun-port', '--tun-type gre takes no --tun-port');
  if (typeWord === 'gre' && seen.has('tun-remcsum')) refuse('tun-remcsum', '--tun-type gre takes no --tun-remcsum');
  if (csums.length > 1) refuse(csums[1]!, `--${csums[1]} conflicts with --${csums[0]}`);
  if (typeWord !== 'ipip') server.tunType = typeWord;
  if (seen.has('tun-port')) server.tunPort = parseNumber(seen.get('tun-port')!.value!, 'tunnel port', 1, 65535);
  const csum = csums[0]?.slice(4) as 'nocsum' | RealServerRule['tunCsum'] | undefined;
  if (csum && csum !== 'nocsum') server.tunCsum = csum;
}

/** -b as the kernel keeps it: the three flag bits, named as -S prints them for the scheduler. */
function schedFlags(value: string, scheduler: string): string {
  const bits = new Set<number>();
  for (const flag of value.split(',').filter(Boolean)) {
    const m = flag.match(/^flag-([123])$/);
    const sched = flag.match(/^(sh|mh)-(fallback|port)$/);
    if (m) bits.add(Number(m[1]) - 1);
    else if (sched && sched[1] === scheduler) bits.add(sched[2] === 'fallback' ? 0 : 1);
    else if (sched) throw new WordError(flag, `scheduler flag ${flag} is for the ${sched[1]} scheduler, not ${scheduler}`, `${sched[1]}-fallback, ${sched[1]}-port with -s ${sched[1]}; flag-1, flag-2, flag-3 with any`);
    else throw new WordError(flag, `unknown scheduler flag ${flag}`, 'sh-fallback, sh-port (sh), mh-fallback, mh-port (mh), flag-1, flag-2, flag-3');
  }
  if (!bits.size) throw new WordError(value, 'empty scheduler flags', 'flag[,flag...]');
  const names = SCHED_FLAG_NAMES[scheduler] ?? ['flag-1', 'flag-2', 'flag-3'];
  return [...bits]
    .sort()
    .map((b) => names[b]!)
    .join(',');
}
