import { isIPv4, isIPv6 } from 'node:net';
import type { RuleLoc } from './rules-error.js';
import type { ShellCommand } from './shell.js';

/**
 * The host preparation an ipvsadm script does besides the table: the VIP on an interface or
 * on lo (`ifconfig lo:0 VIP ...`, `ip addr add VIP dev lo`), host routes to it, links brought
 * up (tunl0), and the sysctls that decide whether LVS works at all (ARP on DR/TUN real
 * servers, forwarding on a NAT director, rp_filter for TUN). validate derives the lab's
 * preparation from these.
 */
export type HostSetupStep =
  | { kind: 'address'; address: string; dev: string; label?: string; prefix?: number; netmask?: string; loc: RuleLoc }
  | { kind: 'route'; host: string; dev?: string; gateway?: string; loc: RuleLoc }
  | { kind: 'link'; dev: string; up: boolean; loc: RuleLoc }
  | { kind: 'sysctl'; key: string; value: string; via: 'sysctl' | 'proc' | 'sysctl.conf'; loc: RuleLoc };

const KEYS = /(^|\.)(arp_ignore|arp_announce|ip_forward|rp_filter|forwarding)$/;
const isIP = (a: string) => isIPv4(a) || isIPv6(a);

function splitPrefix(a: string): { address: string; prefix?: number } | undefined {
  const [address, len] = a.split('/');
  if (!address || !isIP(address)) return undefined;
  return len !== undefined && /^\d+$/.test(len) ? { address, prefix: Number(len) } : { address };
}

function ifconfig(w: string[], loc: RuleLoc): HostSetupStep[] {
  const label = w[1];
  if (!label) return [];
  const dev = label.split(':')[0]!;
  const out: HostSetupStep[] = [];
  let k = 2;
  if (w[k] === 'inet6' && w[k + 1] === 'add') k += 2;
  const a = w[k] !== undefined ? splitPrefix(w[k]!) : undefined;
  if (a) {
    const mask = w.indexOf('netmask');
    out.push({ kind: 'address', ...a, dev, ...(label !== dev ? { label } : {}), ...(mask > 0 && w[mask + 1] ? { netmask: w[mask + 1] } : {}), loc });
  }
  // `up` after an address only raises the alias; alone it raises the link (ifconfig tunl0 up)
  if (!a && (w.includes('up') || w.includes('down'))) out.push({ kind: 'link', dev, up: w.includes('up'), loc });
  return out;
}

function ip(w: string[], loc: RuleLoc): HostSetupStep[] {
  const args = w.slice(1).filter((x) => !/^-[46]$/.test(x));
  const [object, verb] = args;
  const after = (key: string) => {
    const k = args.indexOf(key);
    return k > 0 ? args[k + 1] : undefined;
  };
  if (object && 'address'.startsWith(object) && verb === 'add') {
    const a = args[2] !== undefined ? splitPrefix(args[2]) : undefined;
    const dev = after('dev');
    if (!a || !dev) return [];
    const label = after('label');
    return [{ kind: 'address', ...a, dev, ...(label ? { label } : {}), loc }];
  }
  if (object && 'route'.startsWith(object) && verb === 'add' && args[2]) {
    const a = splitPrefix(args[2]);
    if (!a || (a.prefix !== undefined && a.prefix !== (isIPv4(a.address) ? 32 : 128))) return [];
    const dev = after('dev');
    const gateway = after('via');
    return [{ kind: 'route', host: a.address, ...(dev ? { dev } : {}), ...(gateway ? { gateway } : {}), loc }];
  }
  if (object && 'link'.startsWith(object) && verb === 'set') {
    const dev = after('dev') ?? args[2];
    if (dev && (args.includes('up') || args.includes('down'))) return [{ kind: 'link', dev, up: args.includes('up'), loc }];
  }
  return [];
}

function route(w: string[], loc: RuleLoc): HostSetupStep[] {
  const k = w.indexOf('-host');
  if (w[1] !== 'add' || k < 0 || !w[k + 1] || !isIP(w[k + 1]!)) return [];
  const dev = w.includes('dev') ? w[w.indexOf('dev') + 1] : w[w.length - 1] !== w[k + 1] && !w[w.length - 1]!.includes('.') ? w[w.length - 1] : undefined;
  const gw = w.includes('gw') ? w[w.indexOf('gw') + 1] : undefined;
  return [{ kind: 'route', host: w[k + 1]!, ...(dev ? { dev } : {}), ...(gw ? { gateway: gw } : {}), loc }];
}

function sysctl(w: string[], loc: RuleLoc): HostSetupStep[] {
  const out: HostSetupStep[] = [];
  for (const a of w.slice(1)) {
    const m = a.match(/^([\w.\/-]+)=(.*)$/);
    const key = m?.[1]!.replace(/\//g, '.');
    if (m && KEYS.test(key!)) out.push({ kind: 'sysctl', key: key!, value: m[2]!.trim(), via: 'sysctl', loc });
  }
  return out;
}

function echo(c: ShellCommand, loc: RuleLoc): HostSetupStep[] {
  const r = c.redirects.find((x) => x.op === '>' || x.op === '>>' || x.op === '>|');
  if (!r) return [];
  const text = c.words.slice(1).filter((x) => x !== '-e' && x !== '-n').join(' ');
  if (r.target.startsWith('/proc/sys/')) {
    const key = r.target.slice('/proc/sys/'.length).replace(/\//g, '.');
    return KEYS.test(key) ? [{ kind: 'sysctl', key, value: text.trim(), via: 'proc', loc }] : [];
  }
  if (/^\/etc\/sysctl\.(conf$|d\/)/.test(r.target)) {
    const m = text.match(/^\s*([\w.\/-]+)\s*=\s*(.*?)\s*$/);
    const key = m?.[1]!.replace(/\//g, '.');
    if (m && KEYS.test(key!)) return [{ kind: 'sysctl', key: key!, value: m[2]!, via: 'sysctl.conf', loc }];
  }
  return [];
}

/** The steps a non-ipvsadm command contributes, or undefined when it is none of these. */
export function hostSetupOf(c: ShellCommand, file: string): HostSetupStep[] | undefined {
  const loc = { file, line: c.line };
  const name = c.words[0]!.split('/').pop();
  const steps =
    name === 'ifconfig' ? ifconfig(c.words, loc) : name === 'ip' ? ip(c.words, loc) : name === 'route' ? route(c.words, loc) : name === 'sysctl' ? sysctl(c.words, loc) : name === 'echo' || name === 'printf' ? echo(c, loc) : [];
  return steps.length ? steps : undefined;
}
