/**
 * The spans and metrics of one model call (`chat {model}`) and one tool call (`execute_tool
 * {tool}`) of a turn, ended with what the call returned or threw.
 *
 * @packageDocumentation
 */
import { type Span, SpanStatusCode } from "@opentelemetry/api";
import type { CallTelemetry, ModelCallEnd, ToolCallEnd } from "../../runtime/ports/telemetry.js";
import { redactText } from "../../runtime/redact.js";
import * as G from "./gen-ai.js";
import type { OtelTurn } from "./otel-turn.js";

/** A call's span (none when tracing is off) inside its turn's. */
abstract class OtelCall<End> implements CallTelemetry<End> {
  readonly turn: OtelTurn;
  readonly span: Span | undefined;

  constructor(turn: OtelTurn, span: Span | undefined) {
    this.turn = turn;
    this.span = span;
  }

  run<T>(fn: () => T): T {
    return this.turn.runIn(this.span, fn);
  }

  abstract end(end: End): void;
}

export class ModelCall extends OtelCall<ModelCallEnd> {
  readonly agentName: string;
  readonly provider: string | undefined;
  readonly model: string;

  constructor(
    turn: OtelTurn,
    span: Span | undefined,
    agentName: string,
    provider: string | undefined,
    model: string,
  ) {
    super(turn, span);
    this.agentName = agentName;
    this.provider = provider;
    this.model = model;
  }

  end(end: ModelCallEnd): void {
    const { owner } = this.turn;
    const failed = end.error !== undefined;
    const errorType = failed ? errorTypeOf(end.error) : undefined;
    const meters = owner.meters;
    if (meters !== undefined) {
      const set = meters.chat(this.agentName, this.provider, this.model);
      meters.operation(end.durationMs, set, errorType);
      if (end.usage !== undefined) meters.tokens(end.usage, set);
    }
    const span = this.span;
    if (span === undefined) return;
    if (end.usage !== undefined)
      span.setAttributes({
        [G.USAGE_INPUT_TOKENS]: end.usage.inputTokens,
        [G.USAGE_OUTPUT_TOKENS]: end.usage.outputTokens,
      });
    if (end.finishReason !== undefined) span.setAttribute(G.RESPONSE_FINISH_REASONS, [end.finishReason]);
    if (failed) {
      span.setAttribute(G.ERROR_TYPE, errorType!);
      const exception = exceptionOf(end.error);
      span.recordException(exception);
      span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
    } else if (owner.settings.captureContent && span.isRecording()) {
      const parts: unknown[] = end.text === "" ? [] : [{ type: "text", content: end.text }];
      for (const call of end.toolCalls)
        parts.push({ type: "tool_call", id: call.toolCallId, name: call.toolName, arguments: call.input });
      span.setAttribute(
        G.OUTPUT_MESSAGES,
        owner.content([{ role: "assistant", parts, finish_reason: end.finishReason ?? "stop" }]),
      );
    }
    span.end();
  }
}

export class ToolCall extends OtelCall<ToolCallEnd> {
  readonly toolName: string;

  constructor(turn: OtelTurn, span: Span | undefined, toolName: string) {
    super(turn, span);
    this.toolName = toolName;
  }

  end(end: ToolCallEnd): void {
    const { owner } = this.turn;
    const meters = owner.meters;
    if (meters !== undefined)
      meters.operation(end.durationMs, meters.tool(this.toolName), end.isError ? "tool_error" : undefined);
    const span = this.span;
    if (span === undefined) return;
    if (owner.settings.captureContent && span.isRecording())
      span.setAttribute(G.TOOL_CALL_RESULT, owner.content(end.output));
    if (end.isError) {
      span.setAttribute(G.ERROR_TYPE, "tool_error");
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

/** A low-cardinality name for what a model threw: its `code`, else its class name. */
function errorTypeOf(error: unknown): string {
  try {
    const code = (error as { code?: unknown })?.code;
    if (typeof code === "string" && code !== "") return code;
    const name = (error as { name?: unknown })?.name;
    return typeof name === "string" && name !== "" && name !== "Error" ? name : "_OTHER";
  } catch {
    return "_OTHER";
  }
}

function exceptionOf(error: unknown): { name: string; message: string } {
  try {
    if (error instanceof Error) return { name: error.name, message: redactText(error.message) };
    return { name: "Error", message: redactText(String(error)) };
  } catch {
    return { name: "Error", message: "(an unprintable value)" };
  }
}
