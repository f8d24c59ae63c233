import type { IpvsadmCommand } from './ipvsadm-command.js';
import { WordError, type RuleLoc } from './rules-error.js';
import { hostPort, serviceKey, type VirtualServiceRule } from './rules.js';

/**
 * The table a run of ipvsadm commands leaves in the kernel, with the kernel's answers to
 * each: -A of a service that exists fails ("Service already exists"), -E/-D/-a/-e/-d of one
 * that does not fail ("No such service"), and so on. -E replaces every setting of the
 * service (an -E without -p drops persistence), -e every setting of the real server.
 */
export class RulesTable {
  readonly services: VirtualServiceRule[] = [];
  private readonly byKey = new Map<string, VirtualServiceRule>();

  apply(cmd: IpvsadmCommand, loc?: RuleLoc): void {
    switch (cmd.kind) {
      case 'other':
        return;
      case 'clear':
        this.services.length = 0;
        this.byKey.clear();
        return;
      case 'add-service': {
        const key = serviceKey(cmd.service);
        const had = this.byKey.get(key);
        if (had) throw new WordError(key, `service ${key} already exists${had.loc ? ` (added at line ${had.loc.line})` : ''}`, 'a service not yet added; -E to change it');
        const s: VirtualServiceRule = { ...cmd.service, realServers: [], ...(loc ? { loc } : {}) };
        this.services.push(s);
        this.byKey.set(key, s);
        return;
      }
      case 'edit-service': {
        const s = this.find(cmd.service, 'no such service');
        const { realServers, loc: was } = s;
        for (const k of Object.keys(s)) delete (s as unknown as Record<string, unknown>)[k];
        Object.assign(s, cmd.service, { realServers }, was ? { loc: was } : {});
        return;
      }
      case 'delete-service': {
        const s = this.find(cmd.service, 'no such service');
        this.services.splice(this.services.indexOf(s), 1);
        this.byKey.delete(serviceKey(s));
        return;
      }
      case 'add-server': {
        const s = this.find(cmd.service, 'real server of a service not defined above');
        const at = this.serverIndex(s, cmd.server);
        if (at >= 0) throw new WordError(hostPort(cmd.server.address, cmd.server.port), `real server ${hostPort(cmd.server.address, cmd.server.port)} already exists in ${serviceKey(s)}`, 'a real server not yet added; -e to change it');
        s.realServers.push({ ...cmd.server, ...(loc ? { loc } : {}) });
        return;
      }
      case 'edit-server':
      case 'delete-server': {
        const s = this.find(cmd.service, 'no such service');
        const at = this.serverIndex(s, cmd.server);
        const rk = hostPort(cmd.server.address, cmd.server.port);
        if (at < 0) throw new WordError(rk, `no real server ${rk} in ${serviceKey(s)}`, s.realServers.map((r) => hostPort(r.address, r.port)).join(', ') || 'none: the service has no real servers');
        if (cmd.kind === 'delete-server') s.realServers.splice(at, 1);
        else s.realServers[at] = { ...cmd.server, ...(s.realServers[at]!.loc ? { loc: s.realServers[at]!.loc } : {}) };
        return;
      }
    }
  }

  private find(id: Parameters<typeof serviceKey>[0], why: string): VirtualServiceRule {
    const key = serviceKey(id);
    const s = this.byKey.get(key);
    if (!s) throw new WordError(key, why === 'no such service' ? `no such service ${key}` : why, this.byKey.size ? `a service added above: ${[...this.byKey.keys()].join(', ')}` : 'a service added above with -A (there is none)');
    return s;
  }

  private serverIndex(s: VirtualServiceRule, r: { address: string; port: number | string }): number {
    return s.realServers.findIndex((x) => x.address === r.address && String(x.port) === String(r.port));
  }
}
