import type { At, TChecker, TRealServer, TTiming, TVirtualServer } from '../keepalived/conf/typed.js';
import type { HealthCheckSpec } from '../topology/schema.js';
import type { Notes } from './notes.js';

/**
 * A service's keepalived checker as the schema's health_check, which is what the health suite
 * and its detection bound read. The directors run the operator's own checker either way; this
 * only decides what the lab judges. One check per service is planned (the first real server's);
 * a checker the schema has no type for is run but not judged.
 */
const TYPE: Partial<Record<TChecker['type'], HealthCheckSpec['type']>> = { TCP_CHECK: 'tcp', HTTP_GET: 'http', MISC_CHECK: 'misc', PING_CHECK: 'ping' };

type HealthCheckFile = Partial<HealthCheckSpec> & { type: HealthCheckSpec['type'] };

/** keepalived reads timing at virtual_server, real_server and checker level; the innermost wins */
const timing = (k: keyof TTiming, c: TChecker, r: TRealServer, v: TVirtualServer): At<number> | undefined => c[k] ?? r[k] ?? v[k];

const RANGE = { delay_loop: [1, 3600], connect_timeout: [0.1, 60], retry: [0, 10], delay_before_retry: [0, 60] } as const;

export function healthCheckOf(v: TVirtualServer, notes: Notes): HealthCheckFile | undefined {
  const withChecks = v.realServers.filter((r) => r.checkers.length);
  if (!withChecks.length) return undefined;
  const r = withChecks[0]!;
  const c = r.checkers[0]!;
  for (const other of r.checkers.slice(1)) notes.notExercised(other, `${other.type} on ${r.address}: the lab judges one check per real server (${c.type}, line ${c.line}); keepalived runs both`);
  const type = TYPE[c.type];
  if (!type) {
    notes.notExercised(c, `${c.type} on ${r.address}: runs as written, but the lab has no ${c.type} to judge it by (it judges TCP_CHECK, HTTP_GET, MISC_CHECK and PING_CHECK)`);
    return undefined;
  }
  for (const o of withChecks.slice(1)) {
    const oc = o.checkers[0]!;
    if (oc.type !== c.type) notes.notExercised(oc, `${oc.type} on ${o.address} differs from ${c.type} on ${r.address}: the lab judges the service by the first real server's check`);
  }
  const out: HealthCheckFile = { type };
  const set = (field: keyof typeof RANGE, at: At<number> | undefined) => {
    if (!at || !Number.isFinite(at.value)) return;
    const [lo, hi] = RANGE[field];
    const value = field === 'retry' ? Math.round(at.value) : at.value;
    if (value < lo || value > hi) notes.warn(at, `${field} ${at.text} is outside what the lab plans (${lo} to ${hi}); the bound is judged at ${Math.min(hi, Math.max(lo, value))}`);
    out[field] = Math.min(hi, Math.max(lo, value));
  };
  set('delay_loop', timing('delayLoop', c, r, v));
  set('connect_timeout', timing('connectTimeout', c, r, v));
  set('retry', timing('retry', c, r, v) ?? c.nbGetRetry);
  set('delay_before_retry', timing('delayBeforeRetry', c, r, v));
  if (c.connectPort && Number.isInteger(c.connectPort.value) && c.connectPort.value !== (r.port ?? v.port)) out.port = c.connectPort.value;
  if (c.connectIp) notes.notExercised(c.connectIp, `connect_ip ${c.connectIp.text}: the lab judges the check as made to the real server itself`);
  if (type === 'http') {
    const url = c.urls[0];
    if (url?.path && url.path.value.startsWith('/')) out.path = url.path.value;
    const status = url?.statusCode && /^\d{3}$/.test(url.statusCode.value) ? Number(url.statusCode.value) : undefined;
    if (status !== undefined) out.status_code = status;
    else if (url?.statusCode) notes.notExercised(url.statusCode, `status_code ${url.statusCode.text}: the lab judges one status (200)`);
    if (url?.digest) notes.notExercised(url.digest, 'digest: the lab app answers its own body, so a digest of the operator\'s page fails there');
    if (c.urls.length > 1) notes.notExercised(c.urls[1]!, `${c.urls.length} urls: the lab judges the first`);
  }
  if (type === 'misc' && c.miscPath) notes.notExercised(c.miscPath, `MISC_CHECK script ${c.miscPath.text}: must exist in the node image; the lab judges it as a check of the real server's /health`);
  if (r.inhibitOnFailure ?? v.inhibitOnFailure) out.inhibit_on_failure = true;
  return out;
}
