import * as hdr from "hdr-histogram-js";
import type { DurationBucket } from "./duration-histogram.js";

/** Latency percentiles in milliseconds. */
export interface LatencyStats {
  readonly count: number;
  readonly lastMs: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /**
   * The distribution, for a histogram chart: cumulative counts at power-of-two bounds (1 µs, 2 µs,
   * 4 µs, … about 36 minutes, the last also counting anything longer), from the lowest bucket that
   * holds a latency to the highest; empty when none was recorded.
   */
  readonly buckets: readonly DurationBucket[];
}

/** Power-of-two microsecond buckets: bucket `i` counts latencies of at most 2^i µs. */
const BUCKETS = 32;

/**
 * Records latencies with microsecond resolution in an HDR histogram (3 significant digits), so
 * percentiles stay exact enough at any volume in constant memory.
 */
export class LatencyRecorder {
  readonly #histogram = hdr.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });
  #lastMs = 0;
  /** Kept beside the histogram: its own `mean` walks every bucket, which made `metrics()` cost ~1 ms. */
  #sumUs = 0;
  /** Counts per power-of-two bucket (not cumulative): a `clz32` per record, beside the HDR histogram. */
  readonly #counts = new Float64Array(BUCKETS);

  record(ms: number): void {
    this.#lastMs = ms;
    const us = Math.max(0, Math.round(ms * 1000));
    this.#sumUs += us;
    this.#histogram.recordValue(us);
    this.#counts[us <= 1 ? 0 : Math.min(BUCKETS - 1, 32 - Math.clz32(us - 1))]! += 1;
  }

  stats(): LatencyStats {
    const h = this.#histogram;
    if (h.totalCount === 0)
      return { count: 0, lastMs: 0, maxMs: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, buckets: [] };
    return {
      count: h.totalCount,
      lastMs: this.#lastMs,
      maxMs: h.maxValue / 1000,
      meanMs: this.#sumUs / h.totalCount / 1000,
      p50Ms: h.getValueAtPercentile(50) / 1000,
      p99Ms: h.getValueAtPercentile(99) / 1000,
      buckets: this.#buckets(),
    };
  }

  #buckets(): DurationBucket[] {
    const counts = this.#counts;
    let low = 0;
    while (counts[low] === 0) low++;
    let high = BUCKETS - 1;
    while (counts[high] === 0) high--;
    const buckets: DurationBucket[] = [];
    let cumulative = 0;
    for (let i = low; i <= high; i++) {
      cumulative += counts[i]!;
      buckets.push({ leMs: 2 ** i / 1000, count: cumulative });
    }
    return buckets;
  }
}
