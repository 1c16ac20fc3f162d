// The three ways the telemetry benchmark runs Offstage: no telemetry option; `otelTelemetry()` with
// no OpenTelemetry SDK installed (the API's no-op, what a library user without an SDK pays); and
// `otelTelemetry()` on a real SDK — a tracer provider with the batch span processor feeding the SDK's
// in-memory exporter (emptied after each export, as a network exporter lets go of what it sent),
// a meter provider with a periodic reader into the in-memory metric exporter, and the async-hooks
// context manager the Node SDK installs. Each is a `setup` for systems/offstage-memory.mjs and
// systems/offstage-sqlite.mjs: `open()` gives the runtime options, `close()` shuts the SDK down.

/** Loads the SDK packages (devDependencies); throws with a hint when they are missing. */
async function loadSdk() {
  try {
    const [api, trace, metrics, hooks] = await Promise.all([
      import("@opentelemetry/api"),
      import("@opentelemetry/sdk-trace"),
      import("@opentelemetry/sdk-metrics"),
      import("@opentelemetry/context-async-hooks"),
    ]);
    return { api, trace, metrics, hooks };
  } catch (error) {
    throw new Error(`the OpenTelemetry SDK packages are missing (npm ci installs them): ${error.message}`);
  }
}

/** The setups by case name; `spans()` counts the spans the SDK exported (0 for the other cases). */
export async function otelSetups(offstage) {
  if (typeof offstage.otelTelemetry !== "function")
    throw new Error("this build has no offstage/otel entry (src/observability/otel)");
  const sdk = await loadSdk();
  let exported = 0;
  return {
    off: { label: "telemetry off (no option)", open: () => ({}), spans: () => 0 },
    noop: {
      label: "otelTelemetry(), no SDK installed (API no-op)",
      open: () => ({ telemetry: offstage.otelTelemetry() }),
      spans: () => 0,
    },
    sdk: (() => {
      let state;
      return {
        label: "otelTelemetry() on the SDK: batch spans to the in-memory exporter, metrics, async context",
        open() {
          class ReleasingExporter extends sdk.trace.InMemorySpanExporter {
            export(spans, done) {
              exported += spans.length;
              super.export(spans, done);
              this.reset();
            }
          }
          const exporter = new ReleasingExporter();
          const tracerProvider = new sdk.trace.TracerProvider({
            spanProcessors: [
              new sdk.trace.BatchSpanProcessor({
                exporter,
                maxQueueSize: 1_000_000,
                maxExportBatchSize: 1_000,
                scheduledDelayMillis: 100,
              }),
            ],
          });
          const reader = new sdk.metrics.PeriodicExportingMetricReader({
            exporter: new sdk.metrics.InMemoryMetricExporter(sdk.metrics.AggregationTemporality.CUMULATIVE),
            exportIntervalMillis: 1_000,
          });
          const meterProvider = new sdk.metrics.MeterProvider({ readers: [reader] });
          const contextManager = new sdk.hooks.AsyncLocalStorageContextManager().enable();
          sdk.api.context.setGlobalContextManager(contextManager);
          state = { tracerProvider, meterProvider };
          return { telemetry: offstage.otelTelemetry({ tracerProvider, meterProvider }) };
        },
        async close() {
          await state.tracerProvider.forceFlush();
          await state.tracerProvider.shutdown();
          await state.meterProvider.shutdown();
          sdk.api.context.disable();
        },
        spans: () => exported,
      };
    })(),
  };
}
