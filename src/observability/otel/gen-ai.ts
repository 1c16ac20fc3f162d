/**
 * Names from the OpenTelemetry semantic conventions for generative AI (development status, v1.41):
 * span operations, attribute keys, and how Offstage's messages map to the `gen_ai.input.messages` /
 * `gen_ai.output.messages` JSON shape. Attributes of Offstage's own (inputs, policies, attempts, queue
 * wait) use the `offstage.` prefix.
 *
 * @packageDocumentation
 */
import type { Message } from "../../kernel/messages.js";

export const OPERATION = "gen_ai.operation.name";
export const PROVIDER = "gen_ai.provider.name";
export const AGENT_NAME = "gen_ai.agent.name";
export const CONVERSATION_ID = "gen_ai.conversation.id";
export const REQUEST_MODEL = "gen_ai.request.model";
export const REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens";
export const RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons";
export const USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens";
export const USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens";
export const TOKEN_TYPE = "gen_ai.token.type";
export const TOOL_NAME = "gen_ai.tool.name";
export const TOOL_CALL_ID = "gen_ai.tool.call.id";
export const TOOL_TYPE = "gen_ai.tool.type";
export const TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments";
export const TOOL_CALL_RESULT = "gen_ai.tool.call.result";
export const INPUT_MESSAGES = "gen_ai.input.messages";
export const OUTPUT_MESSAGES = "gen_ai.output.messages";
export const SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions";
export const ERROR_TYPE = "error.type";

/** The GenAI metrics this adapter records. */
export const OPERATION_DURATION = "gen_ai.client.operation.duration";
export const TOKEN_USAGE = "gen_ai.client.token.usage";

/** Bucket bounds the conventions advise for the two histograms. */
export const DURATION_BUCKETS_S = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
export const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/**
 * A model id as provider and model: `openai:gpt-5` → `openai`, `gpt-5`. An id without a provider
 * prefix names the model only.
 */
export function splitModelId(id: string): { readonly provider: string | undefined; readonly model: string } {
  const at = id.indexOf(":");
  return at > 0 ? { provider: id.slice(0, at), model: id.slice(at + 1) } : { provider: undefined, model: id };
}

type Part =
  | { type: "text"; content: string }
  | { type: "tool_call"; id: string; name: string; arguments: unknown }
  | { type: "tool_call_response"; id: string; result: string };

/** Messages in the conventions' JSON shape (`{ role, parts: [...] }`); the system message is left out. */
export function genAiMessages(messages: readonly Message[]): { role: string; parts: Part[] }[] {
  const out: { role: string; parts: Part[] }[] = [];
  for (const message of messages) {
    switch (message.role) {
      case "system":
        break;
      case "user":
        out.push({ role: "user", parts: message.content.map((p) => ({ type: "text", content: p.text })) });
        break;
      case "assistant":
        out.push({
          role: "assistant",
          parts: message.content.map((p) =>
            p.type === "text"
              ? { type: "text", content: p.text }
              : { type: "tool_call", id: p.toolCallId, name: p.toolName, arguments: parseArguments(p.input) },
          ),
        });
        break;
      case "tool":
        out.push({
          role: "tool",
          parts: message.content.map((p) => ({
            type: "tool_call_response",
            id: p.toolCallId,
            result: p.output.value,
          })),
        });
        break;
    }
  }
  return out;
}

/** The system message of a prompt, in the shape of `gen_ai.system_instructions`. */
export function systemInstructions(messages: readonly Message[]): { type: "text"; content: string }[] {
  const first = messages[0];
  return first?.role === "system" ? [{ type: "text", content: first.content }] : [];
}

function parseArguments(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}
