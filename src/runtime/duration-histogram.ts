/**
 * A histogram of durations over fixed bucket bounds, in the shape Prometheus and OpenTelemetry
 * histograms take (cumulative counts per upper bound, a sum and a count). Recording is a short scan
 * from the smallest bound, so a call that took next to nothing costs a comparison or two; percentiles
 * are estimated from the buckets. The runtime keeps one per model and per tool, on the call path,
 * where an HDR histogram's record would cost a call several times over.
 *
 * @packageDocumentation
 */

/** Upper bounds of the buckets, in milliseconds: sub-millisecond local calls to two-minute model calls. */
export const DURATION_BUCKETS_MS: readonly number[] = [
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
  120_000,
];

/** One bucket: how many durations were at most `leMs` (cumulative; the last bound is `Infinity`). */
export interface DurationBucket {
  readonly leMs: number;
  readonly count: number;
}

/** A histogram's state: exact count, sum and max; percentiles estimated from the buckets. */
export interface HistogramStats {
  readonly count: number;
  readonly sumMs: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly buckets: readonly DurationBucket[];
}

export class DurationHistogram {
  /** Counts per bucket (not cumulative); the last one counts what exceeds every bound. */
  readonly #counts = new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  record(ms: number): void {
    // NaN and negatives count as 0.
    const value = Math.max(ms, 0) || 0;
    let i = 0;
    while (i < DURATION_BUCKETS_MS.length && value > DURATION_BUCKETS_MS[i]!) i++;
    this.#counts[i]! += 1;
    this.#count += 1;
    this.#sumMs += value;
    if (value > this.#maxMs) this.#maxMs = value;
  }

  stats(): HistogramStats {
    const buckets: DurationBucket[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      cumulative += this.#counts[i]!;
      buckets.push({ leMs: DURATION_BUCKETS_MS[i] ?? Number.POSITIVE_INFINITY, count: cumulative });
    }
    const count = this.#count;
    return {
      count,
      sumMs: this.#sumMs,
      maxMs: this.#maxMs,
      meanMs: count === 0 ? 0 : this.#sumMs / count,
      p50Ms: this.#percentile(buckets, 0.5),
      p99Ms: this.#percentile(buckets, 0.99),
      buckets,
    };
  }

  /** Linear interpolation inside the bucket the rank falls in, capped by the largest value seen. */
  #percentile(buckets: readonly DurationBucket[], q: number): number {
    if (this.#count === 0) return 0;
    const rank = q * this.#count;
    let below = 0;
    for (let i = 0; i < buckets.length; i++) {
      const { count } = buckets[i]!;
      if (count >= rank) {
        const lower = i === 0 ? 0 : DURATION_BUCKETS_MS[i - 1]!;
        const upper = Math.min(DURATION_BUCKETS_MS[i] ?? this.#maxMs, this.#maxMs);
        const inBucket = count - below;
        const share = inBucket === 0 ? 1 : (rank - below) / inBucket;
        return Math.max(0, Math.min(upper, lower + (upper - lower) * share));
      }
      below = count;
    }
    return this.#maxMs;
  }
}
