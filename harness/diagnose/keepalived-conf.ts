/**
 * The VRRP instances of a director's keepalived.conf as the evidence shows it (`cat`), read with
 * the lint's parser, with each value's line so a cause can quote it. The file the builder wrote is
 * what keepalived runs; an operator's edit on the node shows here too.
 */
import { parseConfText } from '../keepalived/conf/parse.js';
import { typeConf } from '../keepalived/conf/typed-build.js';
import { KEEPALIVED_CONF } from '../topology/planner.js';
import type { NodeEvidence } from './evidence.js';

export interface ConfInstance {
  name: string;
  virtualRouterId?: { value: number; line: string };
  /** as keepalived sends it: type and the first 8 characters of the password */
  auth?: { value: string; line: string };
  advertInt?: { value: number; line: string };
  version?: { value: number; line: string };
}

export function confInstances(ev: NodeEvidence | undefined): ConfInstance[] | undefined {
  const it = ev?.items['keepalived-conf'];
  if (!it || it.exitCode !== 0) return undefined;
  try {
    const parsed = parseConfText(it.lines.join('\n'), KEEPALIVED_CONF, {
      readFile: () => {
        throw new Error('includes are not part of the evidence');
      },
      glob: () => [],
    });
    const { typed } = typeConf(parsed);
    const text = (l: number) => it.lines[l - 1]?.trim() ?? '';
    const globalVersion = typed.globalDefs?.vrrpVersion;
    return typed.vrrpInstances.map((i) => {
      const v = i.version ?? globalVersion;
      const pass = i.authentication?.pass;
      return {
        name: i.name,
        ...(i.virtualRouterId ? { virtualRouterId: { value: i.virtualRouterId.value, line: text(i.virtualRouterId.line) } } : {}),
        ...(i.authentication
          ? { auth: { value: `${i.authentication.type?.value ?? 'PASS'} ${(pass?.value ?? '').slice(0, 8)}`, line: text((pass ?? i.authentication.type ?? i.authentication).line) } }
          : {}),
        ...(i.advertInt ? { advertInt: { value: i.advertInt.value, line: text(i.advertInt.line) } } : {}),
        ...(v ? { version: { value: v.value, line: text(v.line) } } : {}),
      };
    });
  } catch {
    return undefined;
  }
}
