import * as hdr from 'hdr-histogram-js';
import { HarnessError } from '../errors.js';

/**
 * Latency as an HDR histogram (Gil Tene's HdrHistogram, the one wrk reports from): the
 * percentiles of a whole point come from the merged counts of every repetition and client, not
 * from a mean of per-run percentiles, which no arithmetic can recover. Values are recorded in
 * whole microseconds with 3 significant digits, so every figure is within 0.1% of the value
 * recorded (HDR reports the highest value of a bucket: p50 of 1..10000 ms reads 5003, not 5000).
 *
 * This module also runs inside client nodes (bundled into the load agent), so it imports
 * nothing that needs the host. The histogram uses hdr-histogram-js's pure-JS implementation:
 * its WebAssembly one would have to be initialised before every build() and buys nothing at
 * the rates one client reaches.
 */

/** one hour in µs: a longer latency is a hung run, and autoResize still keeps it */
const HIGHEST_US = 3_600_000_000;
const DIGITS = 3;

export interface LatencySummary {
  count: number;
  /** latencies that could not be recorded (negative, NaN, infinite): a clock or agent fault, counted rather than thrown */
  rejected: number;
  minMs: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export const errHistogram = (message: string, cause?: unknown) => new HarnessError('ERR_LVS_BENCH_HISTOGRAM', message, { cause });

const fresh = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: DIGITS, autoResize: true });

export class LatencyHistogram {
  private rejectedCount = 0;

  private constructor(private readonly h: hdr.Histogram) {}

  static create(): LatencyHistogram {
    return new LatencyHistogram(fresh());
  }

  /**
   * Reads what encode() wrote (HdrHistogram's compressed base64 form, readable by the Java
   * and C libraries too), with the rejected count after a ":" when there was one.
   */
  static decode(text: string): LatencyHistogram {
    if (typeof text !== 'string' || !text) throw errHistogram(`not an encoded histogram: ${JSON.stringify(text)?.slice(0, 40) ?? String(text)}`);
    const [body, rejected = '0'] = text.split(':');
    if (!/^\d+$/.test(rejected)) throw errHistogram(`not an encoded histogram: the rejected count "${rejected.slice(0, 20)}" is not a number`);
    let decoded: hdr.Histogram;
    try {
      decoded = hdr.decodeFromCompressedBase64(body!, 32, false);
    } catch (e) {
      throw errHistogram(`not an encoded histogram (${(e as Error).message ?? String(e)}): ${body!.slice(0, 40)}`, e);
    }
    // decoding yields the encoder's bounds; copy into ours so merges never meet a narrower histogram
    const out = LatencyHistogram.create();
    out.h.add(decoded);
    out.rejectedCount = Number(rejected);
    return out;
  }

  /** Merges encoded histograms (one per repetition or client) into one. */
  static merge(parts: Iterable<LatencyHistogram | string>): LatencyHistogram {
    const out = LatencyHistogram.create();
    for (const p of parts) out.add(typeof p === 'string' ? LatencyHistogram.decode(p) : p);
    return out;
  }

  recordMs(ms: number): void {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      this.rejectedCount++;
      return;
    }
    this.h.recordValue(Math.round(ms * 1000));
  }

  add(other: LatencyHistogram): this {
    this.h.add(other.h);
    this.rejectedCount += other.rejectedCount;
    return this;
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** The latency at a percentile (0–100), in ms; NaN when nothing was recorded. */
  percentileMs(p: number): number {
    if (!this.h.totalCount) return NaN;
    return this.h.getValueAtPercentile(Math.min(100, Math.max(0, p))) / 1000;
  }

  summary(): LatencySummary {
    const n = this.h.totalCount;
    const ms = (us: number) => (n ? us / 1000 : NaN);
    return {
      count: n,
      rejected: this.rejectedCount,
      // a recorded 0 µs is below minNonZeroValue, which HDR keeps apart
      minMs: ms(this.h.getValueAtPercentile(0) === 0 ? 0 : this.h.minNonZeroValue),
      meanMs: ms(this.h.mean),
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      // the bucket's top, as a merged histogram knows it: the same figure however it was recorded
      maxMs: this.percentileMs(100),
    };
  }

  /** A few hundred characters for a typical point: what the agent sends once per point. */
  encode(): string {
    const body = hdr.encodeIntoCompressedBase64(this.h);
    return this.rejectedCount ? `${body}:${this.rejectedCount}` : body;
  }
}
