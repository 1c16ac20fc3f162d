/**
 * The models named by strings (`agents.x.model: "openai:gpt-5-mini"`, `options.models.fast:
 * "anthropic:…"`), resolved once per start by the model resolver, before the store opens: a missing
 * key or provider package fails the boot with a `BootError` that names what to set or install, and
 * leaves nothing running.
 *
 * @packageDocumentation
 */
import { BootError } from "../errors.js";
import { isFunctionAgent } from "./agent.js";
import type { ResolvedOptions } from "./options.js";
import type { Model } from "./ports/model.js";
import type { ModelResolver } from "./ports/model-resolver.js";

export class ModelTable {
  readonly #resolver: ModelResolver | undefined;
  #byName = new Map<string, Model>();

  constructor(resolver: ModelResolver | undefined) {
    this.#resolver = resolver;
  }

  /** Resolves every model name the options use; throws `BootError` and keeps the last table on failure. */
  async resolveAll(options: ResolvedOptions): Promise<void> {
    const names = new Set<string>();
    for (const agent of options.agents.values()) {
      if (!isFunctionAgent(agent) && typeof agent.model === "string") names.add(agent.model);
    }
    for (const model of options.models.values()) if (typeof model === "string") names.add(model);
    if (names.size === 0) return;
    const resolver = this.#resolver;
    if (resolver === undefined) {
      throw new BootError(
        "MODEL_NAME_INVALID",
        `models are named (${[...names].join(", ")}) but this runtime has no model resolver: ` +
          'use createRuntime from "offstage", or pass options.modelResolver',
      );
    }
    const next = new Map<string, Model>();
    for (const name of names) {
      const model = await resolver.resolve(name, { providers: options.providers });
      if (typeof (model as Partial<Model> | undefined)?.stream !== "function") {
        throw new BootError(
          "MODEL_NAME_INVALID",
          `the model resolver returned no model for ${JSON.stringify(name)} (a Model has stream())`,
        );
      }
      next.set(name, model);
    }
    this.#byName = next;
  }

  /** The model an agent names or holds. */
  of(ref: Model | string): Model {
    if (typeof ref !== "string") return ref;
    const model = this.#byName.get(ref);
    // Boot resolves every name an agent or `options.models` uses before any turn runs.
    if (model === undefined) throw new Error(`model ${JSON.stringify(ref)} was not resolved at start`);
    return model;
  }
}
