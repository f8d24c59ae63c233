import type { TableService } from './table.js';
import { hostPort } from './rules.js';

/**
 * Changing a running virtual service the way an operator does, with ipvsadm -E/-e/-d/-a.
 * ipvsadm's -e defaults the forwarding method to -g when none is given, so the method is
 * always passed.
 */

/** What an edit reads of a service: a planned one (topology/planner.ts PlannedService) is one. */
export interface EditedService {
  vip: string;
  vipNetwork: string;
  protocol: 'tcp' | 'udp';
  port?: number;
  fwmark?: { mark: number };
  realServers: readonly { name: string; rip: string; port: number; method: string; weight: number }[];
  /** each director's address on each network */
  directorAddresses: Record<string, Record<string, string>>;
}

/** Where an edit runs and reads back: a running topology (topology/builder.ts StartedTopology) is one. */
export interface EditTarget {
  exec(node: string, argv: readonly string[]): Promise<unknown>;
  ipvs(node: string): Promise<TableService[]>;
}

const METHOD: Record<string, string> = { masq: '-m', droute: '-g', tunnel: '-i' };

export const serviceArgv = (svc: EditedService) => (svc.fwmark ? ['-f', String(svc.fwmark.mark)] : [svc.protocol === 'udp' ? '-u' : '-t', hostPort(svc.vip, svc.port!)]);

/** The service's key in `ipvsadm -Ln` (see ipvs/table.ts). */
export const tableKey = (svc: EditedService) => (svc.fwmark ? String(svc.fwmark.mark) : hostPort(svc.vip, svc.port!));

export function directorOf(svc: EditedService): string {
  return Object.keys(svc.directorAddresses).find((d) => svc.directorAddresses[d]![svc.vipNetwork])!;
}

export async function setScheduler(st: EditTarget, svc: EditedService, scheduler: string, persistence?: { timeout: number; netmask?: string }): Promise<string[]> {
  const argv = ['ipvsadm', '-E', ...serviceArgv(svc), '-s', scheduler];
  if (persistence) argv.push('-p', String(persistence.timeout), ...(persistence.netmask ? ['-M', persistence.netmask] : []));
  await st.exec(directorOf(svc), argv);
  return argv;
}

export async function setServer(st: EditTarget, svc: EditedService, rs: string, o: { weight: number; upper?: number; lower?: number }): Promise<string[]> {
  const r = svc.realServers.find((x) => x.name === rs)!;
  const argv = ['ipvsadm', '-e', ...serviceArgv(svc), '-r', hostPort(r.rip, svc.fwmark ? 0 : r.port), METHOD[r.method]!, '-w', String(o.weight)];
  if (o.upper !== undefined) argv.push('-x', String(o.upper));
  if (o.lower !== undefined) argv.push('-y', String(o.lower));
  await st.exec(directorOf(svc), argv);
  return argv;
}

export async function removeServer(st: EditTarget, svc: EditedService, rs: string): Promise<string[]> {
  const r = svc.realServers.find((x) => x.name === rs)!;
  const argv = ['ipvsadm', '-d', ...serviceArgv(svc), '-r', hostPort(r.rip, svc.fwmark ? 0 : r.port)];
  await st.exec(directorOf(svc), argv);
  return argv;
}

export async function addServer(st: EditTarget, svc: EditedService, rs: string): Promise<string[]> {
  const r = svc.realServers.find((x) => x.name === rs)!;
  const argv = ['ipvsadm', '-a', ...serviceArgv(svc), '-r', hostPort(r.rip, svc.fwmark ? 0 : r.port), METHOD[r.method]!, '-w', String(r.weight)];
  await st.exec(directorOf(svc), argv);
  return argv;
}

/** The service's row in a parsed `ipvsadm -Ln` table (by key and protocol: a UDP and a TCP service may share VIP and port). */
export const tableService = <T extends Pick<TableService, 'key' | 'protocol'>>(table: readonly T[], svc: EditedService): T | undefined =>
  table.find((x) => x.key === tableKey(svc) && (svc.fwmark ? x.protocol === 'FWM' : x.protocol === svc.protocol.toUpperCase()));

/** Active/inactive connections and weight per real server name, as the director reports them now. */
export async function serverCounts(st: EditTarget, svc: EditedService): Promise<Record<string, { active: number; inactive: number; weight: number }>> {
  const table = await st.ipvs(directorOf(svc));
  const s = tableService(table, svc);
  const out: Record<string, { active: number; inactive: number; weight: number }> = {};
  for (const r of svc.realServers) {
    const row = s?.realServers.find((x) => x.address === r.rip);
    if (row) out[r.name] = { active: row.activeConns ?? 0, inactive: row.inactiveConns ?? 0, weight: row.weight ?? 0 };
  }
  return out;
}
