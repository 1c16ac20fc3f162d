// Latency percentiles. An HDR histogram keeps p99 and max exact to 3 digits over millions of samples
// in a few KB, where an array of samples would itself load the heap being measured.
import * as hdr from "hdr-histogram-js";

/** A latency histogram in microseconds (HDR, 3 significant digits), read back in milliseconds. */
export class Latency {
  #h = hdr.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });

  recordMs(ms) {
    this.#h.recordValue(Math.max(0, Math.round(ms * 1000)));
  }

  get count() {
    return this.#h.totalCount;
  }

  stats() {
    const h = this.#h;
    if (h.totalCount === 0) return { count: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
    return {
      count: h.totalCount,
      p50Ms: h.getValueAtPercentile(50) / 1000,
      p99Ms: h.getValueAtPercentile(99) / 1000,
      maxMs: h.maxValue / 1000,
    };
  }
}
