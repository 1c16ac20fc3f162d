/**
 * The run's trace: every driver action and runtime event, stamped with virtual time. It keeps the
 * last lines for a failure message, folds every line into a hash (two runs of a seed must hash the
 * same: that is the replay check), and with `verbose` keeps everything for printing.
 */
import type { RuntimeEvent } from "../../src/runtime/events.js";

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

/** One runtime event as a trace line. */
export function describeEvent(e: RuntimeEvent): string {
  switch (e.type) {
    case "input.accepted":
      return `  ev input.accepted ${e.inputId} ${e.sessionId} ${e.policy}`;
    case "turn.started":
      return `  ev turn.started ${e.turnId} ${e.sessionId} [${e.inputIds.join(",")}] attempt ${e.attempt}`;
    case "turn.ended":
      return `  ev turn.ended ${e.turnId} ${e.sessionId} [${e.inputIds.join(",")}] ${e.outcome.status}/${e.outcome.reason.code}`;
    case "input.status":
      return `  ev input.status ${e.inputId} ${e.status}`;
    case "input.steered":
      return `  ev input.steered ${e.inputId} into ${e.turnId}`;
    case "tool.started":
      return `  ev tool.started ${e.turnId} ${e.toolName} ${e.toolCallId}`;
    case "tool.ended":
      return `  ev tool.ended ${e.turnId} ${e.toolName} ${e.toolCallId}${e.isError ? " error" : ""}`;
    case "model.text":
    case "model.reasoning":
    case "model.step":
    case "model.retry":
      return `  ev ${e.type} ${e.turnId}`;
    case "runtime.started":
      return `  ev runtime.started recovered=${e.recoveredInputs} resumed=${e.resumedTurns}`;
    case "runtime.stopped":
      return `  ev runtime.stopped ${e.status}`;
    case "delegation.dispatched":
      return `  ev delegation.dispatched ${e.delegationId} ${e.parentSessionId} -> ${e.childSessionId}`;
    case "delegation.rejected":
      return `  ev delegation.rejected ${e.parentSessionId} ${e.code}`;
    case "delegation.completed":
      return `  ev delegation.completed ${e.delegationId} ${e.status} -> ${e.parentSessionId} ${e.delivery}`;
    case "delegation.delivered":
      return `  ev delegation.delivered ${e.delegationId} -> ${e.parentSessionId}`;
    case "dispatcher.hog":
      return `  ev dispatcher.hog ${e.label} ${e.durationMs}ms`;
    case "store.failed":
      return `  ev store.failed ${e.code}`;
    case "store.recovered":
      return `  ev store.recovered recovered=${e.recoveredInputs} resumed=${e.resumedTurns}`;
    case "error":
      return `  ev error ${e.where}: ${e.message}`;
  }
}
