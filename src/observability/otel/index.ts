/**
 * `offstage/otel`: Offstage's turns, model calls and tool calls as OpenTelemetry GenAI spans and
 * metrics, through `@opentelemetry/api` (an optional peer dependency: install it, and the SDK and
 * exporters of your choice, yourself). The port it implements (`Telemetry`, `TurnTelemetry`, ...) is
 * exported by the package root, for other adapters.
 *
 * @packageDocumentation
 */
export { type OtelTelemetryOptions, otelTelemetry } from "./otel-telemetry.js";
