/**
 * `offstage/otel`: Offstage's turns, model calls and tool calls as OpenTelemetry GenAI spans and
 * metrics, through `@opentelemetry/api` (an optional peer dependency: install it, and the SDK and
 * exporters of your choice, yourself).
 *
 * @packageDocumentation
 */

export type {
  CallTelemetry,
  InputOrigin,
  MetricsSource,
  ModelCallEnd,
  ModelCallInfo,
  Telemetry,
  ToolCallEnd,
  ToolCallInfo,
  TraceContext,
  TurnEndInfo,
  TurnEventName,
  TurnInfo,
  TurnInputInfo,
  TurnTelemetry,
} from "../../runtime/ports/telemetry.js";
export { type OtelTelemetryOptions, otelTelemetry } from "./otel-telemetry.js";
