/**
 * The real AI SDK provider packages, pointed at the loopback server: one model per protocol it
 * speaks, each wrapped with `fromAiSdk`.
 */
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
// The same provider at the majors that implement specification V2 (AI SDK 5) and V3 (AI SDK 6).
import { createOpenAICompatible as createOpenAICompatibleV2 } from "ai-sdk-openai-compatible-v2";
import { createOpenAICompatible as createOpenAICompatibleV3 } from "ai-sdk-openai-compatible-v3";
import type { Model } from "../../src/index.js";
import type { AiSdkLanguageModel, AiSdkModelOptions } from "../../src/models/ai-sdk/index.js";
import { fromAiSdk } from "../../src/models/ai-sdk/index.js";

export type ProviderKind =
  | "openai-compatible"
  | "openai.chat"
  | "openai.responses"
  | "anthropic"
  | "openai-compatible@v3"
  | "openai-compatible@v2";

export const PROVIDER_KINDS: readonly ProviderKind[] = [
  "openai-compatible",
  "openai.chat",
  "openai.responses",
  "anthropic",
  "openai-compatible@v3",
  "openai-compatible@v2",
];

/** A provider's language model on the loopback server's base URL. */
export function languageModel(
  kind: ProviderKind,
  baseURL: string,
  apiKey = "test-key-0000",
): AiSdkLanguageModel {
  switch (kind) {
    case "openai-compatible@v3":
      return createOpenAICompatibleV3({ name: "loopback", baseURL, apiKey, includeUsage: true }).chatModel(
        "local-model",
      ) as unknown as AiSdkLanguageModel;
    case "openai-compatible@v2":
      return createOpenAICompatibleV2({ name: "loopback", baseURL, apiKey, includeUsage: true }).chatModel(
        "local-model",
      ) as unknown as AiSdkLanguageModel;
    case "openai-compatible":
      return createOpenAICompatible({ name: "loopback", baseURL, apiKey, includeUsage: true }).chatModel(
        "local-model",
      );
    case "openai.chat":
      return createOpenAI({ baseURL, apiKey }).chat("gpt-loopback");
    case "openai.responses":
      return createOpenAI({ baseURL, apiKey }).responses("gpt-loopback");
    case "anthropic":
      return createAnthropic({ baseURL, apiKey })("claude-loopback");
  }
}

/** The same, as an Offstage model. */
export function loopbackModel(kind: ProviderKind, baseURL: string, options: AiSdkModelOptions = {}): Model {
  return fromAiSdk(languageModel(kind, baseURL), options);
}
