/**
 * The run's trace: every driver action and runtime event, stamped with virtual time. It keeps the
 * last lines for a failure message, folds every line into a hash (two runs of a seed must hash the
 * same: that is the replay check), and with `verbose` keeps everything for printing.
 */
const TAIL_LINES = 80;

export class Trace {
  readonly #now: () => number;
  readonly #verbose: boolean;
  readonly #all: string[] = [];
  #tail: string[] = [];
  #hash = 0x811c9dc5;
  #lines = 0;

  constructor(now: () => number, verbose: boolean) {
    this.#now = now;
    this.#verbose = verbose;
  }

  add(text: string): void {
    const line = `${String(this.#now()).padStart(6)}ms ${text}`;
    let h = this.#hash;
    for (let i = 0; i < line.length; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
    this.#hash = Math.imul(h ^ 10, 0x01000193) >>> 0;
    this.#lines += 1;
    if (this.#verbose) this.#all.push(line);
    this.#tail.push(line);
    if (this.#tail.length > 2 * TAIL_LINES) this.#tail = this.#tail.slice(-TAIL_LINES);
  }

  get hash(): string {
    return (this.#hash >>> 0).toString(16).padStart(8, "0");
  }

  get lines(): number {
    return this.#lines;
  }

  /** The last lines, for a failure message. */
  tail(n: number = TAIL_LINES): string {
    return this.#tail.slice(-n).join("\n");
  }

  /** Every line (only kept when verbose). */
  all(): string {
    return this.#all.join("\n");
  }
}
