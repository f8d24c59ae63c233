import type { CheckResult } from './types.js';

/** A gratuitous ARP captured on the segment: an announcement that `vip` is at `mac`. */
export interface GarpPacket {
  t: number;
  vip: string;
  /** the sender hardware address in the ARP payload */
  mac: string;
  /** the node the capture attributes it to, when known */
  sender?: string;
}

export interface Takeover {
  /** when the node became MASTER: its VIP arriving as the in-node watcher saw it, or its notify script's log if earlier (a starved director ran that script seconds late) */
  t: number;
  node: string;
  mac: string;
}

const normMac = (m: string) =>
  m
    .toLowerCase()
    .split(/[:-]/)
    .map((b) => b.padStart(2, '0'))
    .join(':');

/**
 * A new MASTER announces each VIP with a gratuitous ARP naming its own MAC, so hosts on the segment
 * send to it at once instead of waiting for their ARP entries to expire. keepalived sends the first
 * burst as it becomes MASTER, before it runs the notify script that timestamps the takeover, so the
 * window opens earlyMs before it. The last announcement in the window must also be the new master's:
 * a later one naming another MAC (the old master still alive) steers clients away again.
 */
export function gratuitousArpSeen(
  arps: readonly GarpPacket[],
  takeover: Takeover,
  opts: { vips?: readonly string[]; windowMs?: number; earlyMs?: number; capture?: { from: number; to: number }; name?: string } = {},
): CheckResult {
  const windowMs = opts.windowMs ?? 2000;
  const earlyMs = opts.earlyMs ?? 1000;
  const from = takeover.t - earlyMs;
  const to = takeover.t + windowMs;
  const mac = normMac(takeover.mac);
  const vips = [...new Set(opts.vips ?? arps.map((a) => a.vip))].sort();
  const inWindow = arps.filter((a) => a.t >= from && a.t <= to).sort((a, b) => a.t - b.t);
  const rows = vips.map((vip) => {
    const forVip = inWindow.filter((a) => a.vip === vip);
    const own = forVip.filter((a) => normMac(a.mac) === mac);
    const last = forVip[forVip.length - 1];
    return {
      vip,
      fromNewMaster: own.length,
      firstAtMs: own.length ? own[0]!.t - takeover.t : null,
      otherMacs: [...new Set(forVip.filter((a) => normMac(a.mac) !== mac).map((a) => normMac(a.mac)))],
      lastMac: last ? normMac(last.mac) : null,
    };
  });
  const covered = opts.capture ? opts.capture.from <= from && opts.capture.to >= to : arps.length > 0;
  const missing = rows.filter((r) => r.fromNewMaster === 0);
  const overridden = rows.filter((r) => r.fromNewMaster > 0 && r.lastMac !== mac);
  const valid = !vips.length || (!covered && missing.length) ? 'unknown' : missing.length === 0 && overridden.length === 0;
  const when = `from ${earlyMs} ms before to ${windowMs} ms after ${takeover.node} became MASTER`;
  return {
    name: opts.name ?? `${takeover.node} announces ${vips.join(', ') || 'the VIP'} by gratuitous ARP on takeover`,
    valid,
    observed: { window: { from, to }, packetsInWindow: inWindow.length, perVip: rows },
    expected: { mac, perVip: vips.map((vip) => ({ vip, fromNewMaster: '≥ 1', lastMac: mac })) },
    rule: `a new MASTER sends a gratuitous ARP for each VIP with its own MAC (${mac}) ${when}, and no later one names another MAC`,
    detail:
      valid === 'unknown'
        ? !vips.length
          ? 'no VIP to judge: none given and no gratuitous ARP captured'
          : `the capture did not cover the window ${when} (or captured nothing at all), so a missing announcement proves nothing`
        : valid
          ? rows.map((r) => `${r.vip}: ${r.fromNewMaster} from ${mac}, first at ${r.firstAtMs} ms`).join('; ')
          : [
              ...missing.map((r) => `no gratuitous ARP for ${r.vip} from ${mac} ${when}${r.otherMacs.length ? ` (only from ${r.otherMacs.join(', ')})` : ''}`),
              ...overridden.map((r) => `${r.vip} was announced last by ${r.lastMac}, not the new master ${mac}`),
            ].join('; '),
  };
}
