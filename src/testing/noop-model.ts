/**
 * The no-op model: answers every step with `ok`, at once, from one shared array. It exists for
 * benchmarks, which measure the runtime's own overhead and want the model to cost nothing.
 *
 * @packageDocumentation
 */
import type { Model, ModelPart } from "../runtime/ports/model.js";

// Built once and frozen: a step allocates nothing, and no caller can change what later steps see.
const OK_PARTS: readonly ModelPart[] = Object.freeze([
  Object.freeze({ type: "text-delta", id: "noop", delta: "ok" } as const),
  Object.freeze({
    type: "finish",
    finishReason: "stop",
    usage: Object.freeze({ inputTokens: 0, outputTokens: 1 }),
  } as const),
]);

/**
 * Creates a model whose every step streams the text `ok` and finishes — synchronously, as a plain
 * array, so the runtime takes its fast path (no promises, no timers).
 *
 * Use it in benchmarks and load tests where the model must not be the bottleneck. Its id is `noop`.
 *
 * @example
 * ```ts
 * const runtime = createRuntime({ agents: { bench: { model: createNoopModel() } } });
 * ```
 */
export function createNoopModel(): Model {
  return { id: "noop", stream: () => OK_PARTS };
}
