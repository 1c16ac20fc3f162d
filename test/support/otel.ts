/**
 * A real OpenTelemetry SDK for the observability tests: a tracer provider whose spans land in the
 * SDK's in-memory exporter, the async-hooks context manager (what the Node SDK installs), and the
 * finished spans as a tree of names for exact comparisons.
 */
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export interface SpanRecorder {
  readonly provider: TracerProvider;
  readonly exporter: InMemorySpanExporter;
  /** Finished spans in the order they started. */
  spans(): ReadableSpan[];
  /** Each root's subtree as nested `[name, children]`, children in start order. */
  tree(): SpanNode[];
  byName(name: string): ReadableSpan[];
  close(): Promise<void>;
}

export interface SpanNode {
  readonly name: string;
  readonly children: SpanNode[];
}

let contextManager: AsyncLocalStorageContextManager | undefined;

/** Installs the async-hooks context manager once per test file (as the Node SDK does). */
export function useAsyncContext(): void {
  if (contextManager !== undefined) return;
  contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
}

export function spanRecorder(): SpanRecorder {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  /** Finished spans in the order they started. */
  const spans = () => [...exporter.getFinishedSpans()].sort((a, b) => compareTime(a.startTime, b.startTime));
  const idOf = (span: ReadableSpan) => span.spanContext().spanId;
  const tree = (): SpanNode[] => {
    const all = spans();
    const ids = new Set(all.map(idOf));
    const node = (span: ReadableSpan): SpanNode => ({
      name: span.name,
      children: all.filter((s) => s.parentSpanContext?.spanId === idOf(span)).map(node),
    });
    return all
      .filter((s) => s.parentSpanContext === undefined || !ids.has(s.parentSpanContext.spanId))
      .map(node);
  };
  return {
    provider,
    exporter,
    spans,
    tree,
    byName: (name) => spans().filter((s) => s.name === name),
    close: () => provider.shutdown(),
  };
}

function compareTime(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}
