/**
 * Verification: a configured topology proved to be the plan, over Node.exec (issue 14): each
 * director's IPVS table read back against the model (keepalived's settle window included),
 * HAProxy's servers UP by its own checks, every VIP on its planned VRRP MASTER alone. A failure
 * names its causes, read from the nodes by the explainer the caller passes in.
 */
import { HarnessError, isHarnessError } from '../errors.js';
import { diffRules, parseSave, renderRestore } from '../ipvs/rules.js';
import type { HealthCheck, KeepalivedConfig } from '../keepalived/model.js';
import { checkTiming, failoverBound, healthRemovalBound } from '../keepalived/bound.js';
import { haproxyRemovalBoundMs, haproxyStatArgv, parseHaproxyStat } from '../haproxy/config.js';
import type { Logger } from '../util/log.js';
import { sleep, waitFor } from '../util/wait.js';
import type { StartedTopology } from './builder.js';
import { KEEPALIVED_LOG, type PlannedNode } from './planner.js';

/** A cause of a failed verification, as a build error states it (diagnose/types.ts Cause is one). */
export interface BuildCause {
  sentence: string;
  evidence: readonly { node: string; command: string; lines: readonly string[]; note?: string }[];
  fix: string;
}

/**
 * Why a verification failed, from the nodes' evidence read before the failed build is torn down.
 * The cause rules sit above the topology they read (diagnose/), so the builder's caller passes
 * them in (suite/evidence.ts buildExplainer); without them a build error names no cause.
 */
export interface BuildExplainer {
  /** why director d's IPVS table read back is not the model's */
  ipvsMismatch(st: StartedTopology, d: PlannedNode): Promise<BuildCause[]>;
  /** why a VRRP instance is held by more than one director */
  splitBrain(st: StartedTopology, instance: string): Promise<BuildCause[]>;
}

/** HAProxy directors: every backend server UP by HAProxy's own checks (its stats socket), on every director. */
export async function verifyHaproxy(st: StartedTopology, log: Logger): Promise<void> {
  await Promise.all(st.nodes('director').map((d) => verifyDirectorHaproxy(st, d, log)));
}

async function verifyDirectorHaproxy(st: StartedTopology, d: PlannedNode, log: Logger): Promise<void> {
  if (!d.haproxy) return;
  const want = d.haproxy.proxies.flatMap((p) => p.servers.map((x) => `${p.name}/${x.name}`));
  // HAProxy starts its servers UP and marks them DOWN after `fall` failed checks: hold through that window
  const windowMs = Math.max(...d.haproxy.proxies.map(haproxyRemovalBoundMs));
  let upSince: number | undefined;
  await waitFor(
    `HAProxy on ${d.name} to report every server UP for ${windowMs} ms`,
    async () => {
      const r = await st.exec(d.name, haproxyStatArgv, { allowFailure: true });
      const status = new Map((r.exitCode === 0 ? parseHaproxyStat(r.stdout) : []).map((x) => [`${x.proxy}/${x.server}`, x.status]));
      const down = want.filter((w) => status.get(w) !== 'UP');
      if (down.length) {
        upSince = undefined;
        throw new Error(`not UP: ${down.map((w) => `${w} (${status.get(w) ?? 'not listed'})`).join(', ')}`);
      }
      upSince ??= Date.now();
      return Date.now() - upSince >= windowMs;
    },
    { timeoutMs: 30_000 + windowMs, intervalMs: 500 },
  );
  log(`${d.name}: HAProxy checks every server UP (${want.length} servers)`);
}

/** A health check as a person names it: TCP_CHECK on port 8099, HTTP_GET /health for 200 on port 80. */
function describeCheck(c: HealthCheck): string {
  const port = 'connectPort' in c && c.connectPort ? ` on port ${c.connectPort}` : '';
  if (c.type === 'HTTP_GET') return `HTTP_GET ${c.url.path} for ${c.url.statusCode ?? 200}${port}`;
  if (c.type === 'MISC_CHECK') return `MISC_CHECK ${Array.isArray(c.miscPath) ? c.miscPath.join(' ') : c.miscPath}`;
  return `${c.type}${port}`;
}

/** The longest time keepalived's health checks may take to remove a failing real server (their removal bound). */
export function keepalivedSettleMs(c: KeepalivedConfig): number {
  const bounds = (c.virtualServers ?? []).flatMap((vs) => vs.realServers.map((rs) => healthRemovalBound(checkTiming(vs, rs)).boundMs));
  return Math.max(0, ...bounds);
}

/**
 * keepalived topologies: every VIP on exactly one director, the planned MASTER. Two holders that
 * stay two for three master-down intervals (at least 10 s) are split brain, not settling: each
 * director is MASTER and ignores the other (mismatched auth, a cut VRRP path), so the wait
 * stops there instead of running out its deadline.
 */
export async function waitForVrrp(st: StartedTopology, timeoutMs = 60_000): Promise<void> {
  // every VIP of every instance, read in one round of `ip addr` on the directors per poll
  const targets = (st.plan.vrrp ?? []).flatMap((v) => {
    const lowest = Math.min(...Object.values(v.priorities));
    const splitMs = Math.max(10_000, 3 * failoverBound({ version: v.version, advertInt: v.advertInt, backupPriority: lowest }).masterDownMs);
    return v.vips.map((x) => ({ v, address: x.address, splitMs, what: `${x.address} (${v.name}) to be held by ${v.master} alone`, last: [] as string[], bothSince: undefined as number | undefined }));
  });
  if (!targets.length) return;
  let split: (typeof targets)[number] | undefined;
  await waitFor(
    targets.length === 1 ? targets[0]!.what : targets.map((t) => t.what).join(', '),
    async () => {
      const held = await st.holdersOf(targets.map((t) => t.address));
      if (!held) throw new Error('a director could not be read');
      const waiting: string[] = [];
      for (const t of targets) {
        t.last = held.get(t.address) ?? [];
        if (t.last.length === 1 && t.last[0] === t.v.master) {
          t.bothSince = undefined;
          continue;
        }
        if (t.last.length > 1) {
          t.bothSince ??= Date.now();
          if (Date.now() - t.bothSince >= t.splitMs) {
            split = t;
            return true;
          }
        } else t.bothSince = undefined;
        waiting.push(`${t.address} held by ${t.last.join(', ') || 'no director'}`);
      }
      if (!waiting.length) return true;
      // the timeout message shows the last thing a probe threw
      throw new Error(waiting.join('; '));
    },
    { timeoutMs, intervalMs: 300 },
  );
  if (split) {
    const { v, what, last, bothSince, splitMs } = split;
    const heldFor = ((Date.now() - bothSince!) / 1000).toFixed(1);
    // why, read from the directors while both still hold it (the cause rule the checks use)
    const causes = await splitBrainCauses(st, v.name).catch(() => []);
    throw new HarnessError(
      'ERR_LVS_SPLIT_BRAIN',
      `split brain: waited for ${what}, but it was held by ${last.join(', ')} for ${heldFor} s, more than three master-down intervals (${(splitMs / 1000).toFixed(1)} s): each is MASTER and ignores the other${formatCauses(causes)}`,
      {
        hint: causes.length ? undefined : 'the directors do not accept each other\'s adverts: compare auth_pass, virtual_router_id and version, and check that VRRP (protocol 112) passes between them',
        details: { causes },
      },
    );
  }
}

/** Causes as a build error's message lists them: the sentence, the evidence quoted, the fix. */
const formatCauses = (causes: readonly BuildCause[]): string =>
  causes.map((c) => `\n  cause: ${c.sentence}\n  evidence: ${c.evidence.map((q) => `${q.node} \`${q.command}\`: ${q.note ?? q.lines.join(' | ')}`).join('; ')}\n  fix: ${c.fix}`).join('');

/** Why a director's table is not the model's, from its evidence. */
async function ipvsMismatchCauses(st: StartedTopology, d: PlannedNode): Promise<BuildCause[]> {
  return st.explain ? st.explain.ipvsMismatch(st, d) : [];
}

/** The split-brain cause of one VRRP instance, from every director's evidence (its config, its log, DROP rules, links). */
async function splitBrainCauses(st: StartedTopology, instance: string): Promise<BuildCause[]> {
  return st.explain ? st.explain.splitBrain(st, instance) : [];
}

/** Programs each director from its restore file and proves the kernel holds exactly the model. */
export async function verifyIpvs(st: StartedTopology, log: Logger): Promise<void> {
  // every director at once: keepalived's settle window on one runs while the other settles
  try {
    await Promise.all(st.nodes('director').map((d) => verifyDirectorIpvs(st, d, log)));
  } catch (e) {
    // a split brain disturbs the tables too (both directors hold the real servers' gateway, so
    // the replies to one's health checks reach the other, and its checks fail): when a VIP has
    // two holders, the split brain is the error to see, with its cause, and the table beside it
    if (!isHarnessError(e) || e.code !== 'ERR_LVS_IPVS_MISMATCH' || !st.plan.vrrp?.length) throw e;
    const split = await anyVipHeldTwice(st).catch(() => false);
    if (!split) throw e;
    log(`the IPVS table differs while a VIP has two holders: waiting to see whether it is a split brain`);
    try {
      await waitForVrrp(st);
    } catch (v) {
      if (isHarnessError(v) && v.code === 'ERR_LVS_SPLIT_BRAIN') {
        const [head = '', ...diffs] = e.message.split('\n');
        v.message += `\n  and, during it, ${head.replace(/^director /, '').replace(/:$/, '')}: ${diffs.slice(0, 2).map((l) => l.trim()).join('; ')}`;
      }
      throw v;
    }
    throw e;
  }
}

/** whether some VIP of a VRRP instance is held by more than one director right now */
async function anyVipHeldTwice(st: StartedTopology): Promise<boolean> {
  for (const v of st.plan.vrrp ?? []) for (const x of v.vips) if ((await st.holders(x.address)).length > 1) return true;
  return false;
}

async function verifyDirectorIpvs(st: StartedTopology, d: PlannedNode, log: Logger): Promise<void> {
  if (!d.ipvs) return;
  const restore = renderRestore(d.ipvs);
  const read = async () => parseSave((await st.exec(d.name, ['ipvsadm', '-S', '-n'])).stdout);
  let saved = await read();
  if (d.keepalived) {
    // keepalived programs the table; wait for it rather than write it
    await waitFor(`keepalived to program IPVS on ${d.name}`, async () => !diffRules(d.ipvs!, (saved = await read())).length, { timeoutMs: 30_000, intervalMs: 500 }).catch(() => undefined);
    // keepalived adds every real server before its first health checks: the table only counts once
    // it has held through a whole check cycle (the removal bound), so a failing check shows here
    const until = Date.now() + keepalivedSettleMs(d.keepalived);
    while (!diffRules(d.ipvs, saved).length && Date.now() < until) {
      await sleep(500);
      saved = await read();
    }
  } else if (diffRules(d.ipvs, saved).length) {
    await st.exec(d.name, ['ipvsadm', '-C']);
    await st.exec(d.name, ['ipvsadm', '-R'], { input: restore });
    saved = await read();
  }
  if (d.keepalived && diffRules(d.ipvs, saved).length) {
    // a check that fails on one server fails on the others within one removal bound: what the
    // table holds then is what keepalived decided (every server gone, or only some)
    const until = Date.now() + keepalivedSettleMs(d.keepalived);
    const empty = (rules: typeof saved) => d.ipvs!.every((svc) => !rules.find((r) => r.protocol === svc.protocol && r.address === svc.address && r.port === svc.port && r.fwmark === svc.fwmark)?.realServers.some((rs) => (rs.weight ?? 1) > 0));
    while (!empty(saved) && Date.now() < until) {
      await sleep(500);
      saved = await read();
    }
  }
  const diffs = diffRules(d.ipvs, saved);
  if (diffs.length) {
    // keepalived leaves out real servers its health checks fail: its log says which and why
    // what keepalived checked and what it said about it (the failures, not the VRRP chatter)
    const kLog = d.keepalived ? (await st.exec(d.name, ['sh', '-c', `grep -iE "fail|remov|timeout|refused" ${KEEPALIVED_LOG} | tail -n 8`], { allowFailure: true })).stdout.trim() : '';
    const checks = d.keepalived ? [...new Set((d.keepalived.virtualServers ?? []).flatMap((vs) => vs.realServers.map((r) => describeCheck(r.check))))].join('; ') : '';
    // why, from the director's evidence, by the rules the checks use (keepalived removed every
    // real server; a DR/TUN real server planned on another port, which the kernel does not keep)
    const causes = await ipvsMismatchCauses(st, d).catch(() => [] as BuildCause[]);
    throw new HarnessError(
      'ERR_LVS_IPVS_MISMATCH',
      `director ${d.name}: the kernel's IPVS table differs from the model${d.keepalived ? ' (keepalived programs it and removes real servers whose health check fails)' : ''}:\n  ${diffs.join('\n  ')}${formatCauses(causes)}`,
      {
        details: { expected: restore, actual: (await st.exec(d.name, ['ipvsadm', '-S', '-n'])).stdout, causes },
        hint: d.keepalived ? `keepalived's health checks: ${checks}; its log on ${d.name}:\n${kLog}` : `expected (ipvsadm -R):\n${restore}`,
      },
    );
  }
  log(`${d.name}: IPVS programmed and read back (${d.ipvs.length} service${d.ipvs.length > 1 ? 's' : ''}, ${d.ipvs.reduce((a, s) => a + s.realServers.length, 0)} real servers)`);
}
