/**
 * `offstage/server`: a runtime over HTTP. Sessions take input (`POST /v1/sessions/{id}/inputs`),
 * inputs are read, cancelled and withdrawn, a session's events stream as resumable Server-Sent
 * Events, background children are listed and stopped, and `/metrics`, `/healthz`, `/readyz` and
 * `/v1/openapi.json` serve operators. Every call needs a bearer token scoped to a session id prefix
 * and a set of verbs.
 *
 * @example
 * import { serveConfig } from "offstage/server";
 * const served = await serveConfig({ runtime: { agents: { echo: { run: async (x) => x } } }, port: 0,
 *   tokens: [{ token: "a-long-random-secret-token" }], defaultAgent: "echo" });
 *
 * @packageDocumentation
 */
export type { Accepted, InputView, SendBody, SessionView, StreamEnd, Verb } from "../client/wire.js";
export { type App, type AppOptions, createApp } from "./app.js";
export type { EventStreamOptions } from "./event-stream.js";
export { openApiDocument } from "./openapi.js";
export { ROUTES, type RouteSpec } from "./routes.js";
export { defineConfig, type ServeConfig, type Served, serveConfig } from "./serve-config.js";
export {
  type CloseOptions,
  type RunningServer,
  type ServerOptions,
  startServer,
  storeWritable,
} from "./server.js";
export { type Grant, sha256, type TokenConfig } from "./tokens.js";
