/**
 * The model-resolver port: how a model named by a string (`"openai:gpt-5-mini"`) becomes a
 * {@link Model}. The runtime resolves every named model once per `start()`, before it opens the
 * store, so a missing key or a missing provider package fails the boot and leaves nothing running.
 * The package entry (`createRuntime`) plugs in the AI SDK resolver from `offstage/ai-sdk`; a host may
 * pass its own (`options.modelResolver`).
 *
 * @packageDocumentation
 */
import type { Model } from "./model.js";

/**
 * Connection settings of one provider (`options.providers.openai`). Each one given here wins over
 * the provider's environment variable (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …).
 */
export interface ProviderSettings {
  /** The credential. Offstage never logs it, stores it, or puts it in an event, error or metric. */
  readonly apiKey?: string;
  /** Where the provider's API lives (a proxy, a gateway, a local server). */
  readonly baseURL?: string;
  /** Extra HTTP headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a resolver is given besides the name. */
export interface ModelResolveContext {
  /** `options.providers`, by provider name. */
  readonly providers: Readonly<Record<string, ProviderSettings>>;
}

/** Turns a model name into a model. */
export interface ModelResolver {
  /**
   * Resolves `name`. Throws `BootError` naming what is missing: `MODEL_KEY_MISSING` (the environment
   * variable to set), `MODEL_PACKAGE_MISSING` (the package to install) or `MODEL_NAME_INVALID`.
   */
  resolve(name: string, context: ModelResolveContext): Promise<Model>;
}
