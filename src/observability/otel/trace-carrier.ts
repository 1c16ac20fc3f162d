/**
 * A captured trace context as plain strings and back, in the W3C Trace Context format
 * (`traceparent: 00-<trace id>-<span id>-<flags>`, and `tracestate`), written here rather than
 * through a registered propagator so that it works with `@opentelemetry/api` alone. This is the seam
 * for work that leaves the process: a store shared by processes keeps the carrier with the input, a
 * worker bridge sends it with the call, and the other side continues the trace from it.
 *
 * @packageDocumentation
 */
import {
  type Context,
  context as contextApi,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context's span as W3C headers; empty when it holds no valid span. */
export function toCarrier(context: Context): Record<string, string> {
  const span = trace.getSpanContext(context);
  if (span === undefined || !isSpanContextValid(span)) return {};
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  const carrier: Record<string, string> = { traceparent: `00-${span.traceId}-${span.spanId}-${flags}` };
  const state = span.traceState?.serialize();
  if (state) carrier.tracestate = state;
  return carrier;
}

/** A context holding the remote span a carrier names; `undefined` for a missing or malformed one. */
export function fromCarrier(carrier: Readonly<Record<string, string>>): Context | undefined {
  const header = carrier.traceparent;
  if (typeof header !== "string") return undefined;
  const match = TRACEPARENT.exec(header.trim().toLowerCase());
  if (match === null) return undefined;
  const span: SpanContext = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  };
  if (!isSpanContextValid(span)) return undefined;
  const state = carrier.tracestate;
  const withState =
    typeof state === "string" && state !== "" ? { ...span, traceState: createTraceState(state) } : span;
  return trace.setSpanContext(ROOT_CONTEXT, withState);
}

/** The caller's active context when it holds a span, else `undefined` (nothing to keep). */
export function activeSpanContext(): Context | undefined {
  const active = contextApi.active();
  return trace.getSpan(active) === undefined ? undefined : active;
}
