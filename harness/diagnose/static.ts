/**
 * At load time: where a topology's own `sysctls` override what its forwarding mode needs, warn with
 * the sentence the run-time cause would use. The planner lets the file win on purpose (that is how
 * a broken setup is built for a test), so this warns and never refuses.
 */
import { clientNames } from '../topology/loader.js';
import type { Plan } from '../topology/planner.js';
import type { Topology } from '../topology/schema.js';
import { confKey, num } from './facts.js';
import { arpFlux, arpFluxFix, fullnatNoConntrack, fullnatNoConntrackFix, noForward, noForwardFix, rpFilterFix, rpFilterStrict } from './sentences.js';

export interface StaticWarning {
  /** the cause the run would name: arp-flux, nat-no-forward, fullnat-no-conntrack, tun-rp-filter */
  cause: string;
  node: string;
  /** where in the file: `real_servers[0].sysctls` */
  path: string;
  /** the overriding keys and the values the file gives them */
  keys: Record<string, string>;
  sentence: string;
  fix: string;
}

const IGNORES_VIP = new Set([1, 2, 4, 5, 6, 7, 8]);

/** Each node's own sysctls from the file and where they are written. */
function overrides(t: Topology): Map<string, { path: string; sysctls: Record<string, string> }> {
  const m = new Map<string, { path: string; sysctls: Record<string, string> }>();
  t.directors.forEach((d, i) => d.sysctls && m.set(d.name, { path: `directors[${i}].sysctls`, sysctls: d.sysctls }));
  t.real_servers.forEach((r, i) => r.sysctls && m.set(r.name, { path: `real_servers[${i}].sysctls`, sysctls: r.sysctls }));
  t.clients.forEach((c, i) => {
    if (c.sysctls) for (const n of clientNames(c)) m.set(n, { path: `clients[${i}].sysctls`, sysctls: c.sysctls });
  });
  return m;
}

/** The planned value, overrides applied; the larger of conf.all and conf.<dev> where the kernel takes the max. */
const value = (sys: Record<string, string>, key: string) => num(sys[key]);

/** The device facing the clients is not known before build: a device override (eth0, …) raises the value as the kernel's max does. */
function kernelMax(sys: Record<string, string>, name: string): number | undefined {
  const vals = Object.entries(sys)
    .filter(([k]) => k.startsWith('net.ipv4.conf.') && k.endsWith(`.${name}`) && !['default', 'lo', 'tunl0'].includes(k.slice('net.ipv4.conf.'.length, -name.length - 1)))
    .map(([, v]) => num(v))
    .filter((v): v is number => v !== undefined);
  return vals.length ? Math.max(...vals) : undefined;
}

export function staticWarnings(t: Topology, p: Plan): StaticWarning[] {
  const out: StaticWarning[] = [];
  try {
    const own = overrides(t);
    const node = (name: string) => p.nodes.find((n) => n.name === name);
    const warn = (cause: string, name: string, keys: string[], sentence: string, fix: string) => {
      const o = own.get(name);
      const hit = Object.fromEntries(keys.filter((k) => o && k in o.sysctls).map((k) => [k, String(o!.sysctls[k])]));
      // only where the file's own override is what breaks it
      if (o && Object.keys(hit).length && !out.some((w) => w.cause === cause && w.node === name)) out.push({ cause, node: name, path: o.path, keys: hit, sentence, fix });
    };
    for (const svc of p.services) {
      const directors = p.nodes.filter((n) => n.role === 'director' && n.interfaces.some((i) => i.network === svc.vipNetwork));
      if ((svc.mode === 'nat' || svc.mode === 'fullnat' || svc.mode === 'mixed') && svc.realServers.some((r) => r.method === 'masq')) {
        const key = svc.family === 6 ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
        for (const d of directors) if (value(d.sysctls, key) === 0) warn('nat-no-forward', d.name, [key], noForward(d.name, svc.family), noForwardFix(d.name, svc.family));
      }
      if (svc.mode === 'fullnat') for (const d of directors) if (value(d.sysctls, 'net.ipv4.vs.conntrack') === 0) warn('fullnat-no-conntrack', d.name, ['net.ipv4.vs.conntrack'], fullnatNoConntrack(d.name), fullnatNoConntrackFix(d.name));
      if (svc.family === 4)
        for (const r of svc.realServers) {
          const sys = node(r.name)?.sysctls ?? {};
          if ((r.method === 'droute' || r.method === 'tunnel') && r.network === svc.vipNetwork) {
            const keys = ['arp_ignore', 'arp_announce'].flatMap((x) => [confKey('all', x), ...Object.keys(sys).filter((k) => k.startsWith('net.ipv4.conf.') && k.endsWith(`.${x}`) && !k.includes('.all.'))]);
            const ign = kernelMax(sys, 'arp_ignore');
            const ann = kernelMax(sys, 'arp_announce');
            if ((ign !== undefined && !IGNORES_VIP.has(ign)) || (ann !== undefined && ann < 2)) warn('arp-flux', r.name, keys, arpFlux([r.name], svc.vip, svc.mode === 'mixed' ? 'DR/TUN' : svc.mode), arpFluxFix([r.name]));
          }
          if (r.method === 'tunnel') {
            const rp = Math.max(value(sys, confKey('all', 'rp_filter')) ?? 0, value(sys, confKey('tunl0', 'rp_filter')) ?? 0);
            if (rp === 1) warn('tun-rp-filter', r.name, [confKey('all', 'rp_filter'), confKey('tunl0', 'rp_filter')], rpFilterStrict([r.name]), rpFilterFix([r.name]));
          }
        }
    }
  } catch {
    // a warning is advice: a plan this cannot read is the loader's to refuse, not ours to crash on
  }
  return out;
}

/** One line per warning, as the loader prints them: `topologies/x.yaml: real_servers[0].sysctls: … (fix: …)`. */
export const formatStaticWarning = (file: string, w: StaticWarning) =>
  `${file}: ${w.path} sets ${Object.entries(w.keys).map(([k, v]) => `${k}: ${v}`).join(', ')}: ${w.sentence} (fix: ${w.fix})`;
