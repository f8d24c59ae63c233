import type { History } from '../history/history.js';
import type { StartedTopology } from '../topology/builder.js';

/**
 * A nemesis (after Jepsen) is one kind of fault, in its own file, registered by name in
 * registry.ts. It injects into a running topology and hands back an ActiveFault whose heal()
 * undoes exactly what it did. The registry writes the start and end events into the history.
 */
export interface FaultTarget {
  st: StartedTopology;
  history: History;
  /** now, on the lab's clock (the one the history's operations are stamped with) */
  now(): number;
}

export interface ActiveFault {
  name: string;
  /** the node (or `a/b` for a pair) the fault acts on */
  target: string;
  /** when the fault action was issued, on the lab's clock */
  startedAt: number;
  /**
   * By when the fault was certainly in effect (lab clock), when that is later than startedAt and
   * the nemesis can tell: `pause` returns once Docker reports the container frozen. The fault took
   * effect somewhere in startedAt..inEffectBy; what the nodes saw narrows it (observe/vrrp.ts).
   */
  inEffectBy?: number;
  /** what was done, as commands: goes into the history's start event */
  detail: string;
  /** undoes the fault; idempotent (a second call does nothing once one has succeeded) */
  heal(): Promise<void>;
  /** what heal() does: goes into the history's end event */
  healDetail?: string;
  /**
   * When healing took effect, observed in the node (lab clock), if the nemesis can tell; the end
   * event's t then, instead of when heal() returned.
   */
  healedAt?(): number | undefined;
}

/**
 * - node: any node; real-server / director: a node of that role; node-pair: `a/b`, two different nodes.
 */
export type TargetKind = 'node' | 'director' | 'real-server' | 'node-pair';

export interface NemesisParam {
  /** what the parameter is, for messages and help: `a delay (500ms, 1s)` */
  what: string;
  default?: string;
  /** undefined when the value is acceptable, else why not */
  check(value: string): string | undefined;
}

export interface Nemesis {
  name: string;
  summary: string;
  targets: TargetKind;
  /** the `=<param>` part of a spec; a nemesis without one refuses a parameter */
  param?: NemesisParam;
  /**
   * The fault ends by itself: inject() returns once it is over (restart), so a spec takes no
   * duration and the end event is written right after the start event.
   */
  instant?: boolean;
  inject(env: FaultTarget, target: string, param?: string): Promise<ActiveFault>;
}
