/** Every cause rule, in the order their causes are listed: the most specific first. */
import type { CauseRule } from '../types.js';
import { arpFluxRule } from './arp.js';
import { fullnatConntrackRule, fullnatSnatRule } from './fullnat.js';
import { keepalivedLateRule } from './keepalived-late.js';
import { keepalivedRemovedRule } from './keepalived-removed.js';
import { natForwardRule, natRouteRule } from './nat.js';
import { staleTemplateRule } from './persistence.js';
import { portRule } from './port.js';
import { tunMtuRule, tunRpFilterRule } from './tun.js';
import { splitBrainRule } from './vrrp.js';

export const CAUSE_RULES: readonly CauseRule[] = [
  splitBrainRule,
  keepalivedRemovedRule,
  keepalivedLateRule,
  natForwardRule,
  natRouteRule,
  fullnatConntrackRule,
  fullnatSnatRule,
  arpFluxRule,
  tunRpFilterRule,
  tunMtuRule,
  portRule,
  staleTemplateRule,
];
