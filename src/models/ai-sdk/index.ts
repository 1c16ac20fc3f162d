/**
 * `offstage/ai-sdk`: every AI SDK provider as an Offstage model. `fromAiSdk(languageModel, options)`
 * wraps a provider's model (`@ai-sdk/provider` LanguageModelV4, V3 or V2); `createAiSdkResolver()` is
 * what turns a model name (`"openai:gpt-5-mini"`) into one at start. Provider packages are optional
 * peer dependencies: install the ones you use.
 *
 * @packageDocumentation
 */
export { type AiSdkResolverOptions, createAiSdkResolver } from "./ai-sdk-resolver.js";
export { type AiSdkLanguageModel, type AiSdkModelOptions, fromAiSdk } from "./from-ai-sdk.js";
