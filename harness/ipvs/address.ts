import { isIPv4, isIPv6 } from 'node:net';
import { WordError } from './rules-error.js';
import type { ServiceProtocol, ServicesTable } from './services.js';

/**
 * Addresses and ports as ipvsadm's parse_service reads them: `IPv4[:port]`, `[IPv6]:port`,
 * a bare IPv6 (which has no port: ipvsadm tries the whole word as IPv6 first), or a host
 * name, which ipvsadm would resolve and which is kept as written here.
 */
export interface Endpoint {
  address: string;
  v6: boolean;
  /** the address is a host name, kept as written: nothing about it can be checked */
  hostName: boolean;
  /** absent when the word has no port */
  port?: number | string;
}

/** How port names are read: resolved through a services table, or kept as names. */
export type PortNames = ServicesTable | 'keep';

const HOST = /^(?=.*[A-Za-z_])[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$/;
const PORT_NAME = /^[A-Za-z][A-Za-z0-9_.+-]*$/;
const ALLOWED_ENDPOINT = 'IPv4[:port], [IPv6]:port or hostname[:port]; port 0-65535 or a name from /etc/services';

function host(word: string, text: string): { address: string; v6: boolean; hostName: boolean } {
  if (isIPv4(text)) return { address: text, v6: false, hostName: false };
  if (isIPv6(text)) return { address: text, v6: true, hostName: false };
  if (HOST.test(text)) return { address: text, v6: false, hostName: true };
  throw new WordError(word, `"${word}" is not an address`, ALLOWED_ENDPOINT);
}

export function parsePort(word: string, text: string, protocol: ServiceProtocol, names: PortNames): number | string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 65535) throw new WordError(word, `port ${text} is out of range`, 'a port 0-65535 or a name from /etc/services');
    return n;
  }
  if (!PORT_NAME.test(text)) throw new WordError(word, `"${text}" is not a port`, 'a port 0-65535 or a name from /etc/services');
  if (names === 'keep') return text;
  const n = names.lookup(text, protocol);
  if (n === undefined) throw new WordError(word, `unknown service name "${text}"`, `a port 0-65535 or a name from /etc/services (${names.examples.join(', ')}, ...)`);
  return n;
}

export function parseEndpoint(word: string, protocol: ServiceProtocol, names: PortNames): Endpoint {
  if (word.startsWith('[')) {
    const close = word.indexOf(']');
    const rest = close < 0 ? '' : word.slice(close + 1);
    if (close < 0 || !rest.startsWith(':') || rest.length < 2) throw new WordError(word, `"${word}" is not address:port`, ALLOWED_ENDPOINT);
    const h = host(word, word.slice(1, close));
    if (!h.v6 && !h.hostName) throw new WordError(word, `"${word}": brackets are for IPv6 addresses`, ALLOWED_ENDPOINT);
    return { ...h, v6: true, port: parsePort(word, rest.slice(1), protocol, names) };
  }
  if (isIPv6(word)) return { address: word, v6: true, hostName: false };
  if (/^\d*$/.test(word)) throw new WordError(word, `"${word}" is not address:port`, ALLOWED_ENDPOINT);
  const colon = word.lastIndexOf(':');
  if (colon < 0) return host(word, word);
  const h = host(word, word.slice(0, colon));
  if (colon === word.length - 1) throw new WordError(word, `"${word}" has no port after the colon`, ALLOWED_ENDPOINT);
  return { ...h, port: parsePort(word, word.slice(colon + 1), protocol, names) };
}

/** -M: a dotted IPv4 netmask, or an IPv6 prefix length 1-128. */
export function parseNetmask(word: string, v6: boolean): string {
  if (v6) {
    if (/^\d+$/.test(word) && Number(word) >= 1 && Number(word) <= 128) return String(Number(word));
    throw new WordError(word, `illegal IPv6 netmask "${word}"`, 'a prefix length 1-128');
  }
  if (isIPv4(word)) return word;
  throw new WordError(word, `illegal netmask "${word}"`, 'a dotted IPv4 netmask such as 255.255.255.0');
}

/** A whole number in [min, max], as ipvsadm's string_to_number. */
export function parseNumber(word: string, what: string, min: number, max: number): number {
  if (/^\d+$/.test(word) && Number(word) >= min && Number(word) <= max) return Number(word);
  throw new WordError(word, `illegal ${what} "${word}"`, `a whole number ${min}-${max}`);
}
