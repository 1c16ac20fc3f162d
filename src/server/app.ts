/**
 * The HTTP app: the route table (`routes.ts`) bound to its handlers, behind bearer-token checks,
 * a body size limit, optional CORS and one error shape. Made by {@link createApp}; served by
 * `startServer` (`server.ts`) or mounted in a host's own Hono app.
 *
 * @packageDocumentation
 */
import type { HttpBindings } from "@hono/node-server";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { PatternRouter } from "hono/router/pattern-router";
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "../observability/prometheus.js";
import type { Logger } from "../runtime/logger.js";
import type { Runtime } from "../runtime/runtime.js";
import { fail } from "../validate.js";
import * as api from "./api.js";
import { mountDashboard } from "./dashboard.js";
import { type EventStreamOptions, eventStream } from "./event-stream.js";
import { errorAnswer, HttpError } from "./http-error.js";
import { openApiDocument } from "./openapi.js";
import { type ApiContext, headerOf, idParam, integerOf, type RequestVars, requireScope } from "./request.js";
import { ROUTES, type RouteName } from "./routes.js";
import { SERVE, type TokenConfig, TokenTable } from "./tokens.js";

/** Options of {@link createApp}. */
export interface AppOptions {
  /** A started runtime (with `eventLog` on for `/events`). */
  readonly runtime: Runtime;
  /** Who may call, and what each may do. At least one. */
  readonly tokens: readonly TokenConfig[];
  /** The agent of sessions a send names for the first time without `agent` in its body. */
  readonly defaultAgent?: string;
  /** Largest request body, in bytes (default 1 MiB). */
  readonly bodyBytesMax?: number;
  /** Browser origins allowed to call (default: none, CORS off). */
  readonly corsOrigins?: readonly string[];
  /** Event streams: heartbeats, the slow reader's cut-off and buffer. */
  readonly eventStreams?: Partial<EventStreamOptions>;
  /** Whether the store takes writes, for `/readyz` (default: always). */
  readonly storeWritable?: () => Promise<boolean>;
  /** Where failures are logged (never a token, a header or a body). */
  readonly logger?: Logger;
}

/** The app and its shutdown switch. */
export interface App {
  readonly app: Hono<{ Bindings: HttpBindings; Variables: RequestVars }>;
  /** Fired when the server stops: `/readyz` answers 503 and event streams end with `shutdown`. */
  readonly closing: AbortController;
}

const DEFAULT_STREAMS: EventStreamOptions = { heartbeatMs: 15_000, stallMs: 30_000, bufferBytes: 64 * 1024 };
const BODY_BYTES_MAX = 1024 * 1024;
/** How long a slow reader that was cut off has to read its final event before its connection is closed. */
const CUT_GRACE_MS = 10_000;

/** Builds the app. Throws `BootError` `INVALID_OPTIONS` without tokens or with a malformed one. */
export function createApp(options: AppOptions): App {
  const given = options.tokens ?? [];
  const tokens = new TokenTable(given);
  if (tokens.size === 0)
    fail(SERVE, "tokens", given, "at least one token; give tokens in the config or OFFSTAGE_TOKEN");
  const { runtime, logger } = options;
  const deps: api.ApiDeps = { runtime, defaultAgent: options.defaultAgent };
  const streams = { ...DEFAULT_STREAMS, ...options.eventStreams };
  const closing = new AbortController();
  const bodyBytesMax = options.bodyBytesMax ?? BODY_BYTES_MAX;
  // Hono's default picks its trie router for this table (its RegExp router refuses a static segment
  // beside a parameter, as /v1/delegations/interrupt-all beside /v1/delegations/:id/cancel). The
  // pattern router matches the same routes with a third of the trie's garbage per request.
  const app = new Hono<{ Bindings: HttpBindings; Variables: RequestVars }>({ router: new PatternRouter() });
  const openapi = JSON.stringify(openApiDocument("1"));

  app.onError((error, c) => {
    const { status, body } = errorAnswer(error);
    if (status >= 500 && !(error instanceof HttpError))
      logger?.error({ error, method: c.req.method, path: c.req.path }, "offstage serve: a request failed");
    return c.json(body, status as 500);
  });
  app.notFound((c) => c.json({ error: { code: "NOT_FOUND", message: "no such route" } }, 404));
  if (options.corsOrigins !== undefined && options.corsOrigins.length > 0)
    app.use(
      "*",
      cors({
        origin: [...options.corsOrigins],
        allowHeaders: ["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
      }),
    );
  const tooLarge = (c: Context) => {
    const { status, body } = errorAnswer(
      new HttpError(413, "PAYLOAD_TOO_LARGE", `the body is larger than ${bodyBytesMax} bytes`),
    );
    return c.json(body, status as 413);
  };
  const streamedLimit = bodyLimit({ maxSize: bodyBytesMax, onError: tooLarge });
  // One middleware for the token and the body limit: each middleware layer costs every request a
  // promise and a closure.
  app.use("*", async (c, next) => {
    c.set("grant", tokens.authenticate(headerOf(c, "authorization")));
    // On Node's HTTP/1 server a body has a declared length (which Node holds it to) or is chunked.
    // A declared length is checked from the header alone, so the body stays unread until a handler
    // reads it straight off the socket; hono's limit would first make a web stream of it.
    if ((c.env as Partial<HttpBindings> | undefined)?.incoming?.httpVersionMajor === 1) {
      const length = headerOf(c, "content-length");
      if (headerOf(c, "transfer-encoding") === undefined) {
        if (length === undefined) return next();
        return Number.parseInt(length, 10) > bodyBytesMax ? tooLarge(c) : next();
      }
    }
    return streamedLimit(c, next);
  });

  const handlers: Record<RouteName, (c: ApiContext) => Response | Promise<Response>> = {
    send: (c) => api.send(c, deps),
    input: (c) => api.input(c, deps),
    cancel: (c) => api.cancel(c, deps),
    withdraw: (c) => api.withdraw(c, deps),
    sessions: (c) => api.sessions(c, deps),
    session: (c) => api.session(c, deps),
    events: (c) => events(c as never),
    delegations: (c) => api.delegations(c, deps),
    cancelDelegation: (c) => api.cancelDelegation(c, deps),
    interruptAll: (c) => api.interruptAll(c, deps),
    stopChildren: (c) => api.stopChildren(c, deps),
    token: (c) => api.token(c),
    runtimeMetrics: (c) => {
      requireScope(c, "metrics", undefined);
      return c.json(runtime.metrics());
    },
    metrics: (c) => {
      requireScope(c, "metrics", undefined);
      return c.body(renderPrometheus(runtime.metrics()), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    },
    health: (c) => c.json({ status: "ok" }),
    ready: async (c) => {
      const reasons: string[] = [];
      if (runtime.state !== "running") reasons.push(`the runtime is ${runtime.state}`);
      if (closing.signal.aborted) reasons.push("the server is stopping");
      else if (options.storeWritable !== undefined && !(await options.storeWritable()))
        reasons.push("the store takes no writes");
      return reasons.length === 0
        ? c.json({ status: "ready" })
        : c.json({ error: { code: "NOT_READY", message: reasons.join("; ") } }, 503);
    },
  };

  function events(c: Context<{ Bindings: HttpBindings; Variables: RequestVars }>): Response {
    const sessionId = idParam(c as never);
    requireScope(c as never, "stream", sessionId);
    const after =
      integerOf(headerOf(c, "last-event-id"), "Last-Event-ID", 15) ??
      integerOf(c.req.query("after"), "after", 15) ??
      0;
    const session = api.existing(deps, sessionId);
    const abort = new AbortController();
    const followed = session.events({ after, signal: abort.signal });
    const socket = c.env.incoming.socket;
    const body = eventStream(followed, abort, closing.signal, streams, () => {
      // The cut-off's last event may never be read: the connection is freed after a grace period.
      setTimeout(() => socket.destroy(), Math.max(CUT_GRACE_MS, 4 * streams.stallMs)).unref();
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  mountDashboard(app);
  app.get("/v1/openapi.json", (c) => c.body(openapi, 200, { "content-type": "application/json" }));
  for (const [name, route] of Object.entries(ROUTES) as [RouteName, (typeof ROUTES)[RouteName]][]) {
    const path = route.path.replace(/\{(\w+)\}/g, ":$1");
    app.on(route.method.toUpperCase(), path, (c) => handlers[name](c as never));
  }
  return { app, closing };
}
