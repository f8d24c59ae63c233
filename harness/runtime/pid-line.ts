import { Transform, type TransformCallback } from 'node:stream';

/**
 * A spawned command's pid, told by the wrapper that starts it: the wrapper prints its own pid on
 * stderr behind a marker, then execs the command in its place (same pid), so that kill() can
 * signal it on the node. Used by SshNode (the login shell's text) and DockerNode (an argv).
 */
/** After \x1f (a control character no command prints first): `lvs-harness-pid 1234`. */
export const PID_MARK = 'lvs-harness-pid ';
export const PID_LINE = `\x1f${PID_MARK}`;

/**
 * Finds the wrapper's `\x1flvs-harness-pid N` line in the head of stderr (after whatever the
 * login shell's rc files printed first), takes it out, and emits 'pid'. The rest passes as it is.
 */
export class PidLineFilter extends Transform {
  pid?: number;
  private head: Buffer | undefined = Buffer.alloc(0);

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (!this.head) return done(null, chunk);
    this.head = Buffer.concat([this.head, chunk]);
    const text = this.head.toString('latin1'); // one character per byte: indexes are byte offsets
    const at = text.indexOf(PID_LINE);
    const nl = at < 0 ? -1 : text.indexOf('\n', at);
    if (nl < 0) {
      if (this.head.length < 64 * 1024) return done();
      const all = this.head;
      this.head = undefined;
      return done(null, all);
    }
    const pid = Number(text.slice(at + PID_LINE.length, nl));
    const rest = Buffer.concat([this.head.subarray(0, at), this.head.subarray(nl + 1)]);
    this.head = undefined;
    if (Number.isInteger(pid) && pid > 1) {
      this.pid = pid;
      this.emit('pid', pid);
    }
    done(null, rest.length ? rest : undefined);
  }

  override _flush(done: TransformCallback): void {
    const rest = this.head;
    this.head = undefined;
    done(null, rest?.length ? rest : undefined);
  }
}


/** argv that prints its pid behind the marker on stderr, then execs argv in its place (a POSIX sh on the node). */
export const pidWrappedArgv = (argv: readonly string[]): string[] => ['sh', '-c', `printf '\\037${PID_MARK}%s\\n' "$$" >&2; exec "$@"`, 'sh', ...argv];
