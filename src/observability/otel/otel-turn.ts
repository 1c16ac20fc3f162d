/**
 * One turn's `invoke_agent` span: its parent and links (see `otel-telemetry.ts`), its attributes,
 * and the spans of its model and tool calls, made as its children.
 *
 * @packageDocumentation
 */
import {
  type Attributes,
  type Context,
  context as contextApi,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type {
  CallTelemetry,
  ModelCallEnd,
  ModelCallInfo,
  ToolCallEnd,
  ToolCallInfo,
  TurnEndInfo,
  TurnEventName,
  TurnInfo,
  TurnTelemetry,
} from "../../runtime/ports/telemetry.js";
import { redactText } from "../../runtime/redact.js";
import * as G from "./gen-ai.js";
import { ModelCall, ToolCall } from "./otel-calls.js";
import type { OtelTelemetry } from "./otel-telemetry.js";

const NOOP_CALL: CallTelemetry<never> = { run: (fn) => fn(), end: () => {} };
/** The turn of an adapter whose spans and metrics go nowhere. */
export const NOOP_TURN: TurnTelemetry = {
  run: (fn) => fn(),
  modelCall: () => NOOP_CALL,
  toolCall: () => NOOP_CALL,
  event: () => {},
  end: () => {},
};

/** A turn of a runtime whose spans or metrics go somewhere. */
export class OtelTurn implements TurnTelemetry {
  readonly #owner: OtelTelemetry;
  readonly #info: TurnInfo;
  readonly #span: Span | undefined;
  /** The context the turn's calls (and what they send) run in. */
  readonly #context: Context;
  readonly #model: { readonly provider: string | undefined; readonly model: string } | undefined;

  constructor(owner: OtelTelemetry, info: TurnInfo, tracing: boolean) {
    this.#owner = owner;
    this.#info = info;
    this.#model = info.modelId === undefined ? undefined : G.splitModelId(info.modelId);
    if (!tracing) {
      this.#span = undefined;
      this.#context = ROOT_CONTEXT;
      return;
    }
    const { parent, links } = relations(info);
    const span = owner.tracer.startSpan(
      `invoke_agent ${info.agentName}`,
      { kind: SpanKind.INTERNAL, attributes: this.#startAttributes(), links },
      parent,
    );
    if (owner.settings.captureContent && span.isRecording())
      span.setAttribute(
        G.INPUT_MESSAGES,
        owner.content(info.inputs.map((input) => ({ role: "user", parts: [textPart(input.payload)] }))),
      );
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
  }

  run<T>(fn: () => T): T {
    return this.#span === undefined ? fn() : contextApi.with(this.#context, fn);
  }

  modelCall(call: ModelCallInfo): CallTelemetry<ModelCallEnd> {
    const { provider, model } =
      this.#model !== undefined && call.modelId === this.#info.modelId
        ? this.#model
        : G.splitModelId(call.modelId);
    const attributes: Attributes = {
      [G.OPERATION]: "chat",
      [G.REQUEST_MODEL]: model,
      [G.CONVERSATION_ID]: this.#info.sessionId,
      "offstage.step": call.step,
    };
    if (provider !== undefined) attributes[G.PROVIDER] = provider;
    if (call.maxOutputTokens !== undefined) attributes[G.REQUEST_MAX_TOKENS] = call.maxOutputTokens;
    const span = this.#child(`chat ${model}`, SpanKind.CLIENT, attributes);
    const owner = this.#owner;
    if (span !== undefined && owner.settings.captureContent && span.isRecording()) {
      span.setAttribute(G.INPUT_MESSAGES, owner.content(G.genAiMessages(call.prompt)));
      const system = G.systemInstructions(call.prompt);
      if (system.length > 0) span.setAttribute(G.SYSTEM_INSTRUCTIONS, owner.content(system));
    }
    return new ModelCall(this, span, this.#info.agentName, provider, model);
  }

  toolCall(call: ToolCallInfo): CallTelemetry<ToolCallEnd> {
    const span = this.#child(`execute_tool ${call.toolName}`, SpanKind.INTERNAL, {
      [G.OPERATION]: "execute_tool",
      [G.TOOL_NAME]: call.toolName,
      [G.TOOL_CALL_ID]: call.toolCallId,
      [G.TOOL_TYPE]: "function",
      [G.CONVERSATION_ID]: this.#info.sessionId,
    });
    if (span !== undefined && this.#owner.settings.captureContent && span.isRecording())
      span.setAttribute(G.TOOL_CALL_ARGUMENTS, this.#owner.content(call.input));
    return new ToolCall(this, span, call.toolName);
  }

  event(name: TurnEventName, attributes: Readonly<Record<string, string | number | boolean>>): void {
    this.#span?.addEvent(`offstage.${name}`, attributes);
  }

  end(end: TurnEndInfo): void {
    const { outcome, usage, durationMs } = end;
    const meters = this.#owner.meters;
    if (meters !== undefined)
      meters.operation(
        durationMs,
        meters.agent(this.#info.agentName),
        outcome.status === "failed" ? outcome.reason.code : undefined,
      );
    const span = this.#span;
    if (span === undefined) return;
    span.setAttributes({
      "offstage.turn.status": outcome.status,
      "offstage.turn.reason": outcome.reason.code,
      [G.USAGE_INPUT_TOKENS]: usage.inputTokens,
      [G.USAGE_OUTPUT_TOKENS]: usage.outputTokens,
    });
    if (outcome.status === "failed") {
      span.setAttribute(G.ERROR_TYPE, outcome.reason.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: redactText(outcome.reason.message) });
    }
    if (this.#owner.settings.captureContent && span.isRecording() && outcome.output !== undefined)
      span.setAttribute(
        G.OUTPUT_MESSAGES,
        this.#owner.content([{ role: "assistant", parts: [textPart(outcome.output)] }]),
      );
    span.end();
  }

  get owner(): OtelTelemetry {
    return this.#owner;
  }

  #child(name: string, kind: SpanKind, attributes: Attributes): Span | undefined {
    if (this.#span === undefined) return undefined;
    return this.#owner.tracer.startSpan(name, { kind, attributes }, this.#context);
  }

  /** Runs `fn` in the context of a call's span (a child of this turn's). */
  runIn<T>(span: Span | undefined, fn: () => T): T {
    return span === undefined ? fn() : contextApi.with(trace.setSpan(this.#context, span), fn);
  }

  #startAttributes(): Attributes {
    const info = this.#info;
    const { inputs } = info;
    let queueWaitMs = 0;
    const delegations: string[] = [];
    for (const input of inputs) {
      if (input.queuedMs > queueWaitMs) queueWaitMs = input.queuedMs;
      if (input.delegationId !== undefined) delegations.push(input.delegationId);
    }
    const attributes: Attributes = {
      [G.OPERATION]: "invoke_agent",
      [G.AGENT_NAME]: info.agentName,
      [G.CONVERSATION_ID]: info.sessionId,
      "offstage.turn.id": info.turnId,
      "offstage.turn.kind": info.kind,
      "offstage.turn.attempt": info.attempt,
      "offstage.input.ids": inputs.map((input) => input.inputId),
      "offstage.input.policies": inputs.map((input) => input.policy),
      "offstage.queue.wait_ms": queueWaitMs,
    };
    if (this.#model !== undefined) {
      attributes[G.REQUEST_MODEL] = this.#model.model;
      if (this.#model.provider !== undefined) attributes[G.PROVIDER] = this.#model.provider;
    }
    if (info.attempt > 1) {
      attributes["offstage.turn.resumed"] = true;
      attributes["offstage.turn.resumed_from_step"] = info.resumedFromStep;
    }
    if (delegations.length > 0) attributes["offstage.delegation.ids"] = delegations;
    return attributes;
  }
}

/** The parent a turn's span continues, and the spans it links to (see the file's story). */
function relations(info: TurnInfo): { parent: Context; links: Link[] } {
  let parent: Context | undefined;
  const links: Link[] = [];
  for (const input of info.inputs) {
    const context = input.context as Context | undefined;
    const span = context === undefined ? undefined : trace.getSpanContext(context);
    if (span === undefined) continue;
    if (input.origin === "host" && parent === undefined) {
      parent = context;
      continue;
    }
    const attributes: Attributes = {
      "offstage.link":
        input.origin === "host"
          ? "merged_input"
          : input.origin === "delegated"
            ? "dispatched_by"
            : "completed_by",
      "offstage.input.id": input.inputId,
    };
    if (input.delegationId !== undefined) attributes["offstage.delegation.id"] = input.delegationId;
    links.push({ context: span, attributes });
  }
  return { parent: parent ?? ROOT_CONTEXT, links };
}

function textPart(payload: unknown): { type: "text"; content: unknown } {
  return { type: "text", content: payload };
}
