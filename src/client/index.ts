/**
 * `offstage/client`: a typed client of `offstage serve`'s HTTP API, on `fetch`, for browsers and
 * Node.
 *
 * @example
 * import { createClient } from "offstage/client";
 * const client = createClient({ baseUrl: "http://127.0.0.1:8787", token: process.env.OFFSTAGE_TOKEN });
 * const { inputId } = await client.send("chat-1", "hello");
 * for await (const { seq, event } of client.events("chat-1")) console.log(seq, event.type);
 *
 * @packageDocumentation
 */
export {
  type ClientEventsOptions,
  type ClientOptions,
  type ClientSendOptions,
  createClient,
  type OffstageClient,
  OffstageClientError,
} from "./client.js";
export { parseSse, type SseFrame } from "./sse-parser.js";
export type {
  Accepted,
  DelegationView,
  ErrorBody,
  InputView,
  LatencyView,
  RuntimeMetricsView,
  SendBody,
  SessionView,
  StreamEnd,
  TokenView,
  Verb,
  WireOutcome,
  WirePolicy,
  WireSessionEvent,
} from "./wire.js";
export { VERBS } from "./wire.js";
