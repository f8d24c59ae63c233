import { HarnessError } from '../errors.js';

/**
 * What derivation says about the operator's files, each at the line it concerns: `error` stops
 * validate (the lab cannot be built from the files), `warning` is an adaptation the lab makes,
 * `not-exercised` is something the files do that the lab runs but no check judges.
 */
export interface DeriveNote {
  file: string;
  line: number;
  severity: 'error' | 'warning' | 'not-exercised';
  message: string;
}

export class Notes {
  readonly all: DeriveNote[] = [];
  add(severity: DeriveNote['severity'], at: { file: string; line: number } | undefined, message: string): void {
    this.all.push({ file: at?.file ?? '<derived>', line: at?.line ?? 0, severity, message });
  }
  error(at: { file: string; line: number } | undefined, message: string): void {
    this.add('error', at, message);
  }
  warn(at: { file: string; line: number } | undefined, message: string): void {
    this.add('warning', at, message);
  }
  notExercised(at: { file: string; line: number } | undefined, message: string): void {
    this.add('not-exercised', at, message);
  }
  of(severity: DeriveNote['severity']): DeriveNote[] {
    return this.all.filter((n) => n.severity === severity);
  }
}

export const formatNote = (n: DeriveNote) => `${n.file}${n.line ? `:${n.line}` : ''}: ${n.severity}: ${n.message}`;

/** Every error at once, as the topology loader reports its own. */
export const errDerive = (errors: DeriveNote[]) =>
  new HarnessError('ERR_LVS_VALIDATE', `cannot derive a lab from the files:\n${errors.map(formatNote).join('\n')}`, {
    hint: 'fix the files (lvs-harness lint names most of these), or give the missing part with --peer / --ipvsadm',
    details: { errors },
  });
