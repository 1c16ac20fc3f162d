/**
 * The scripted model: a test double whose every step is decided by a function the test supplies.
 * Deterministic and synchronous, so a test controls exactly what the runtime sees.
 *
 * @packageDocumentation
 */
import type { Model, ModelPart, ModelRequest } from "../runtime/ports/model.js";
import { argumentsOf, fail } from "../validate.js";

/** Decides one step: the parts to stream, or an error for `stream` to throw. `index` counts steps from 0. */
export type ScriptedStep = (request: ModelRequest, index: number) => ModelPart[] | Error;

/** A scripted model, with the requests it received for the test to inspect. */
export interface ScriptedModel extends Model {
  /** Every request so far, oldest first. */
  readonly requests: readonly ModelRequest[];
}

/**
 * Creates a model that answers step `n` with `steps(request, n)`. Returned parts are streamed as a
 * synchronous iterable; a returned `Error` is thrown from `stream`, which fails the turn with
 * `model_error` — the same path as a provider that throws.
 *
 * @throws {@link InvalidInputError} with code `INVALID_ARGUMENT` when `steps` is not a function.
 *
 * @example
 * ```ts
 * const model = createScriptedModel((request, index) =>
 *   index === 0
 *     ? [{ type: "tool-call", toolCallId: "c1", toolName: "read_file", input: '{"path":"a.txt"}' },
 *        { type: "finish", finishReason: "tool-calls" }]
 *     : [{ type: "text-delta", id: "t", delta: "done" }, { type: "finish", finishReason: "stop" }],
 * );
 * ```
 */
export function createScriptedModel(
  steps: ScriptedStep,
  options: { readonly id?: string } = {},
): ScriptedModel {
  if (typeof steps !== "function")
    fail(argumentsOf("createScriptedModel()"), "steps", steps, "a function (request, index) => parts");
  const requests: ModelRequest[] = [];
  return {
    id: options.id ?? "scripted",
    requests,
    stream(request) {
      const index = requests.length;
      requests.push(request);
      const answer = steps(request, index);
      if (answer instanceof Error) throw answer;
      if (!Array.isArray(answer)) {
        throw new TypeError(
          `scripted step ${index} returned ${typeof answer}; expected an array of parts or an Error`,
        );
      }
      return answer;
    },
  };
}
