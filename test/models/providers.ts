/**
 * The real AI SDK provider packages, pointed at the loopback server: one model per protocol it
 * speaks, each wrapped with `fromAiSdk`.
 */
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { fromAiSdk } from "../../src/models/ai-sdk/index.js";
import type { Model } from "../../src/index.js";
import type { AiSdkModelOptions } from "../../src/models/ai-sdk/index.js";

export type ProviderKind = "openai-compatible" | "openai.chat" | "openai.responses" | "anthropic";

export const PROVIDER_KINDS: readonly ProviderKind[] = ["openai-compatible", "openai.chat", "openai.responses", "anthropic"];

/** A provider's language model on the loopback server's base URL. */
export function languageModel(kind: ProviderKind, baseURL: string, apiKey = "test-key-0000") {
  switch (kind) {
    case "openai-compatible":
      return createOpenAICompatible({ name: "loopback", baseURL, apiKey, includeUsage: true }).chatModel("local-model");
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
