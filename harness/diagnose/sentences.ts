/**
 * Sentences said twice: at load time (static.ts, from the topology's own sysctls) and at run time
 * (rules/, from the evidence). One wording, so that the warning an operator ignored at load is
 * recognisably the cause of the failure they read later.
 */
import { listNames } from './facts.js';

export const arpFlux = (servers: readonly string[], vip: string, mode: string) =>
  `${listNames(servers)} ${servers.length > 1 ? 'answer or announce' : 'answers or announces'} ARP for the VIP ${vip} (arp_ignore not 1 or arp_announce not 2): clients on the segment can learn a real server's MAC for the VIP and send to it directly, bypassing the director (ARP flux in ${mode.toUpperCase()})`;
export const arpFluxFix = (servers: readonly string[]) =>
  `set net.ipv4.conf.all.arp_ignore=1 and net.ipv4.conf.all.arp_announce=2 (and not lower on the device facing the clients) on ${listNames(servers)}; remove any override of them from the topology's sysctls; then flush the client's entry (ip neigh flush to VIP)`;

export const noForward = (director: string, family: 4 | 6) =>
  `the director ${director} does not forward ${family === 6 ? 'IPv6 ' : ''}packets (${family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'} = 0): in NAT the real servers' replies pass through it and are dropped, so clients never get an answer`;
export const noForwardFix = (director: string, family: 4 | 6) =>
  `set ${family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward'}=1 on ${director} and remove the override from the topology's sysctls`;

export const fullnatNoConntrack = (director: string) =>
  `full-NAT on ${director} with net.ipv4.vs.conntrack = 0: IPVS traffic bypasses netfilter's connection tracking, so the SNAT rule (-m ipvs … -j SNAT) never matches and real servers see the client's address and answer it directly`;
export const fullnatNoConntrackFix = (director: string) => `set net.ipv4.vs.conntrack=1 on ${director} and remove the override from the topology's sysctls`;

export const rpFilterStrict = (servers: readonly string[]) =>
  `${listNames(servers)} ${servers.length > 1 ? 'drop' : 'drops'} the decapsulated packets: rp_filter is strict (1) for tunl0 (the kernel uses the larger of conf.all and conf.tunl0), and the route back to a client does not leave through tunl0`;
export const rpFilterFix = (servers: readonly string[]) => `set net.ipv4.conf.all.rp_filter=0 and net.ipv4.conf.tunl0.rp_filter=0 (or 2, loose) on ${listNames(servers)}; remove any override of them from the topology's sysctls`;
