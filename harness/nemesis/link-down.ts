import type { StartedTopology } from '../topology/builder.js';
import { waitFor } from '../util/wait.js';
import { shellCommand } from '../util/shell.js';
import { activeFault, execStamped, injecting, journalFault, nemesisError, nodeDevices, refuseSshPath } from './common.js';
import type { Nemesis } from './types.js';

/**
 * A cable pull inside the node: `ip link set dev <dev> down` on its interface on one network
 * (the parameter) or on all of them. The kernel then drops every route through the device (the
 * default route with it) and, for IPv6, the device's addresses; IPv4 addresses stay. keepalived
 * on a director sees the interface go down and enters FAULT. Heal: `ip link set dev <dev> up`,
 * then re-add exactly the addresses and routes of those devices that the kernel dropped, as
 * read before the fault (`ip -j addr` / `ip -j route`), until the node's routes match them.
 */

/** One route of `ip -j route show`. */
export interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
  type?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
}

/** One address of `ip -j addr show` (addr_info). */
export interface IpAddr {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  scope?: string;
  broadcast?: string;
}

const routeKey = (r: IpRoute) => [r.type ?? 'unicast', r.dst, r.gateway ?? '', r.dev ?? '', r.metric ?? ''].join('|');

/** The routes of `before` on `devs` that `now` lacks, connected ones first (a gateway route needs its prefix route). */
export function missingRoutes(before: readonly IpRoute[], now: readonly IpRoute[], devs: ReadonlySet<string>): IpRoute[] {
  const have = new Set(now.map(routeKey));
  return before.filter((r) => r.dev && devs.has(r.dev) && !have.has(routeKey(r))).sort((a, b) => Number(!!a.gateway) - Number(!!b.gateway));
}

/** `ip route replace` argv that puts `r` back as `ip -j route show` described it. */
export function routeArgv(r: IpRoute, family: 4 | 6): string[] {
  return [
    'ip',
    ...(family === 6 ? ['-6'] : []),
    'route',
    'replace',
    ...(r.type && r.type !== 'unicast' ? [r.type] : []),
    r.dst,
    ...(r.gateway ? ['via', r.gateway] : []),
    ...(r.dev ? ['dev', r.dev] : []),
    ...(r.protocol ? ['proto', r.protocol] : []),
    ...(r.scope ? ['scope', r.scope] : []),
    ...(r.prefsrc ? ['src', r.prefsrc] : []),
    ...(r.metric !== undefined ? ['metric', String(r.metric)] : []),
    ...(r.flags?.includes('onlink') ? ['onlink'] : []),
  ];
}

/** The addresses of `before` that `now` lacks; IPv6 link-local ones are left out: the kernel makes them again on link up. */
export function missingAddresses(before: readonly IpAddr[], now: readonly IpAddr[]): IpAddr[] {
  const have = new Set(now.map((a) => `${a.local}/${a.prefixlen}`));
  return before.filter((a) => !(a.family === 'inet6' && a.scope === 'link') && !have.has(`${a.local}/${a.prefixlen}`));
}

export function addressArgv(a: IpAddr, dev: string): string[] {
  // IPv6: skip duplicate address detection, or the address stays tentative (unusable) for a second or more
  return ['ip', 'addr', 'add', `${a.local}/${a.prefixlen}`, ...(a.broadcast && a.family === 'inet' ? ['brd', a.broadcast] : []), 'dev', dev, ...(a.family === 'inet6' ? ['nodad'] : [])];
}

async function json<T>(st: StartedTopology, node: string, argv: string[]): Promise<T> {
  const out = (await st.exec(node, argv)).stdout.trim();
  return (out ? JSON.parse(out) : []) as T;
}

const routes = async (st: StartedTopology, node: string) => ({
  4: await json<IpRoute[]>(st, node, ['ip', '-j', '-4', 'route', 'show']),
  6: await json<IpRoute[]>(st, node, ['ip', '-j', '-6', 'route', 'show']),
});

/** Every link of the node with its flags and addresses, by device name (one `ip -j addr show`). */
const links = async (st: StartedTopology, node: string) =>
  new Map((await json<{ ifname: string; flags?: string[]; addr_info?: IpAddr[] }[]>(st, node, ['ip', '-j', 'addr', 'show'])).map((l) => [l.ifname, { up: !!l.flags?.includes('UP'), addrs: l.addr_info ?? [] }]));

export const linkDown: Nemesis = {
  name: 'link-down',
  summary: 'ip link set <dev> down on the node\'s interface on one network (param) or all; heal: up, and re-add the routes and addresses the kernel dropped',
  targets: 'node',
  param: {
    what: 'a network name of the topology (default: every network of the node)',
    check: (v) => (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v) ? undefined : `"${v}" is not a network name`),
  },
  async inject(env, target, network) {
    const { st } = env;
    const ifaces = await nodeDevices(st, 'link-down', target, network);
    const devs = ifaces.map((i) => i.dev);
    await refuseSshPath(st, 'link-down', target, devs);
    const linksBefore = await links(st, target);
    for (const d of devs) if (!linksBefore.get(d)?.up) throw nemesisError('link-down', target, `${d} is already down`);
    const routesBefore = await routes(st, target);
    const addrsBefore = new Map<string, IpAddr[]>();
    for (const d of devs) addrsBefore.set(d, linksBefore.get(d)!.addrs);
    const devSet = new Set(devs);
    // an SSH host left with the link down by a killed run: up, and its routes back (what heal does)
    const putBack = [
      ...devs.map((d) => ['ip', 'link', 'set', 'dev', d, 'up']),
      ...([4, 6] as const).flatMap((f) => missingRoutes(routesBefore[f], [], devSet).map((r) => routeArgv(r, f))),
    ];
    const forget = await journalFault(st, target, `link-down: ${devs.join(', ')} up again, their routes back`, ['sh', '-c', `rc=0\n${putBack.map((a) => `${shellCommand(a)} || rc=1`).join('\n')}\nexit $rc`]);
    const heal = async () => {
      for (const d of devs) await st.exec(target, ['ip', 'link', 'set', 'dev', d, 'up']);
      const now = await links(st, target);
      for (const d of devs) for (const a of missingAddresses(addrsBefore.get(d)!, now.get(d)?.addrs ?? [])) await st.exec(target, addressArgv(a, d));
      await waitFor(
        `the routes of ${devs.join(', ')} on ${target} to be back as before the fault`,
        async () => {
          const now = await routes(st, target);
          const missing: string[] = [];
          for (const f of [4, 6] as const)
            for (const r of missingRoutes(routesBefore[f], now[f], devSet)) {
              missing.push(routeArgv(r, f).slice(f === 6 ? 4 : 3).join(' '));
              // replace is idempotent; a route whose prefix route is not back yet is tried again next round
              await st.exec(target, routeArgv(r, f), { allowFailure: true });
            }
          // thrown, so that a timeout names the routes still missing
          if (missing.length) throw new Error(`re-adding ${missing.join('; ')}`);
          return true;
        },
        { timeoutMs: 15_000, intervalMs: 300 },
      );
      await forget();
    };
    const startedAt = await injecting(heal, async () => {
      // stamped at the first link down, in the node
      let at: number | undefined;
      for (const d of devs) {
        const t = await execStamped(env, target, ['ip', 'link', 'set', 'dev', d, 'down']);
        at ??= t;
      }
      await waitFor(
        `${devs.join(', ')} on ${target} to be down`,
        async () => {
          const now = await links(st, target);
          return devs.every((d) => now.get(d)?.up === false);
        },
        { timeoutMs: 10_000, intervalMs: 200 },
      );
      return at ?? env.now();
    });
    const on = ifaces.map((i) => `${i.dev} (${i.network} ${i.address})`).join(', ');
    return activeFault({
      name: 'link-down',
      target,
      startedAt,
      detail: `ip link set dev <dev> down on ${target}: ${on}`,
      healDetail: `ip link set dev ${devs.join(', ')} up; the addresses and routes the kernel dropped re-added`,
      heal,
    });
  },
};
