/**
 * keepalived's health checks removed every real server of a virtual server: the table holds the
 * service and nothing to send to (or only weight-0 entries, with inhibit_on_failure). keepalived's
 * log says which check failed and when it removed each server.
 */
import { directorsOf, endpoint, quote, tableKeyOf, tableLines } from '../facts.js';
import type { Cause, CauseRule } from '../types.js';

// keepalived 2.2: "Removing service [10.89.120.11]:tcp:80 to VS [10.89.110.100]:tcp:80" ("Disabling" with inhibit_on_failure)
const REMOVED = /\b(Removing|Disabling) service \[([^\]]+)\]:\w*:?(\d+) (?:to|from) VS \[([^\]]+)\]:\w*:?(\d+)/;
// the failures before it: "HTTP_CHECK on service [10.89.120.11]:tcp:80 failed after 1 retries.", "TCP connection to … failed"
const FAILED = /\b(?:\w+_CHECK|Misc check|ping) .*\[([^\]]+)\][^ ]* .*(?:failed|timeout|Timeout|exited)/i;

export const keepalivedRemovedRule: CauseRule = {
  id: 'keepalived-removed-all',
  summary: 'keepalived removed every real server of a service',
  reads: "the director's `ipvsadm -Ln` (the service with no server, or only weight 0), the lines of /var/log/keepalived.log that removed them",
  fix: 'make the health check pass on the real servers (path, port, status code, timeouts) or fix the servers it finds down',
  find(ctx) {
    if (!ctx.plan.vrrp) return [];
    const out: Cause[] = [];
    for (const svc of ctx.services) {
      if (svc.mode === 'proxy' || !svc.realServers.length) continue;
      for (const d of directorsOf(ctx.plan, svc)) {
        const ev = ctx.evidence[d.name];
        const table = ev?.ipvs.find((s) => s.key === tableKeyOf(svc) && (svc.fwmark ? s.protocol === 'FWM' : s.protocol === svc.protocol.toUpperCase()));
        if (!ev || !table) continue;
        const serving = table.realServers.filter((r) => (r.weight ?? 1) > 0);
        if (serving.length) continue;
        const log = ev.items['keepalived-log']?.lines ?? [];
        const rips = new Set(svc.realServers.map((r) => r.rip.toLowerCase()));
        const vs = svc.fwmark ? undefined : endpoint(svc.vip, svc.port ?? 0);
        const removed = log.filter((l) => {
          const m = l.match(REMOVED);
          return !!m && rips.has(m[2]!.toLowerCase()) && (!vs || `${m[4]}:${m[5]}` === vs || endpoint(m[4]!, m[5]!) === vs);
        });
        const failed = log.filter((l) => {
          const m = l.match(FAILED);
          return !!m && rips.has(m[1]!.toLowerCase()) && !REMOVED.test(l);
        });
        // the last failure per server is what the operator needs, not the whole history
        const lastFailed = [...new Map(failed.map((l) => [l.match(FAILED)![1]!, l])).values()];
        const check = d.keepalived?.virtualServers?.find((v) => ('vip' in v ? v.vip === svc.vip && v.port === svc.port : v.fwmark === svc.fwmark?.mark))?.realServers[0]?.check;
        const how = check ? `${check.type}${check.type === 'HTTP_GET' ? ` ${check.url.path}` : ''}${'connectPort' in check && check.connectPort ? ` port ${check.connectPort}` : ''}` : 'its health check';
        const names = svc.realServers.map((r) => r.name);
        out.push({
          id: 'keepalived-removed-all',
          sentence: `keepalived on ${d.name} ${table.realServers.length ? 'set every real server of' : 'removed every real server from'} ${svc.name} (${tableKeyOf(svc)})${table.realServers.length ? ' to weight 0' : ''}: ${how} failed on ${names.join(', ')}, so IPVS has no server to send clients to`,
          evidence: [
            quote(ev, d.name, 'ipvs', tableLines(ev, svc), table.realServers.length ? 'every real server at weight 0' : 'no real server'),
            ...(lastFailed.length || removed.length ? [quote(ev, d.name, 'keepalived-log', [...lastFailed, ...removed].slice(-12))] : [quote(ev, d.name, 'keepalived-log', [], ev.items['keepalived-log'] ? 'no line about these real servers' : 'no keepalived log on the node')]),
          ],
          fix: `find why ${how} fails on the real servers (run it by hand from ${d.name}, e.g. curl or nc to a real server's address and port); correct the health_check in the topology (path, port, status_code, connect_timeout) or the servers`,
        });
      }
    }
    return out;
  },
};
