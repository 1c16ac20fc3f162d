/**
 * The HTTP API as data: each route's method, path, the verb a token needs, and the JSON Schemas of
 * its body and answers. The server registers its handlers from this table and validates bodies with
 * it, and `/v1/openapi.json` is generated from it, so the document cannot drift from what runs.
 *
 * @packageDocumentation
 */
import { VERBS, type Verb } from "../client/wire.js";

/** A JSON Schema, as plain data. */
export type JsonSchema = Readonly<Record<string, unknown>>;

export interface RouteSpec {
  readonly method: "get" | "post" | "delete";
  /** OpenAPI style: `/v1/sessions/{id}/inputs`. */
  readonly path: string;
  readonly summary: string;
  /** The verb a token needs; `any` for any valid token; `undefined` for public routes. */
  readonly verb: Verb | "any" | undefined;
  readonly body?: JsonSchema;
  /** Query parameters, each a string schema. */
  readonly query?: Readonly<Record<string, JsonSchema>>;
  /** Headers the route reads. */
  readonly headers?: Readonly<Record<string, JsonSchema>>;
  /** The success status and its content. */
  readonly ok: {
    readonly status: number;
    readonly type: "json" | "sse" | "text";
    readonly schema?: JsonSchema;
  };
}

const ID = { type: "string", minLength: 1, maxLength: 256 } as const;
const POLICY = { enum: ["enqueue", "reject", "interrupt", "merge", "steer"] } as const;
const NULLABLE_STRING = { type: ["string", "null"] } as const;
const OUTCOME = {
  type: ["object", "null"],
  properties: {
    status: { type: "string" },
    reason: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" } },
      required: ["code", "message"],
    },
    output: {},
  },
} as const;
const INPUT_VIEW = {
  type: "object",
  properties: {
    inputId: ID,
    sessionId: ID,
    status: { type: "string" },
    turnId: NULLABLE_STRING,
    outcome: OUTCOME,
  },
  required: ["inputId", "sessionId", "status", "turnId", "outcome"],
} as const;
const COUNT = {
  type: "object",
  properties: { count: { type: "integer", minimum: 0 } },
  required: ["count"],
} as const;
const REASON = { type: "string", maxLength: 2000 } as const;

/** Every route of the API. */
export const ROUTES = {
  send: {
    method: "post",
    path: "/v1/sessions/{id}/inputs",
    summary: "Accept an input for a session; its turn runs in the background",
    verb: "send",
    headers: { "Idempotency-Key": { type: "string", minLength: 1, maxLength: 256 } },
    body: {
      type: "object",
      // `true`, any value: the validator returns at once instead of walking an empty schema.
      properties: { payload: true, policy: POLICY, agent: { type: "string", minLength: 1, maxLength: 128 } },
      required: ["payload"],
      additionalProperties: false,
    },
    ok: {
      status: 202,
      type: "json",
      schema: {
        type: "object",
        properties: {
          inputId: ID,
          sessionId: ID,
          turnId: NULLABLE_STRING,
          status: { type: "string" },
          receipt: { enum: ["stored", "durable"] },
        },
        required: ["inputId", "sessionId", "turnId", "status", "receipt"],
      },
    },
  },
  input: {
    method: "get",
    path: "/v1/inputs/{id}",
    summary: "Where an input stands",
    verb: "read",
    ok: { status: 200, type: "json", schema: INPUT_VIEW },
  },
  cancel: {
    method: "post",
    path: "/v1/inputs/{id}/cancel",
    summary: "Cancel an input (queued: at once; running: its turn is aborted or stopped after its step)",
    verb: "cancel",
    body: {
      type: "object",
      properties: { mode: { enum: ["immediate", "after_step"] }, reason: REASON },
      additionalProperties: false,
    },
    ok: { status: 200, type: "json", schema: INPUT_VIEW },
  },
  withdraw: {
    method: "delete",
    path: "/v1/inputs/{id}",
    summary: "Withdraw a queued input before it starts",
    verb: "withdraw",
    ok: { status: 200, type: "json", schema: INPUT_VIEW },
  },
  sessions: {
    method: "get",
    path: "/v1/sessions",
    summary: "The sessions the token reaches, with their inbox depth and running turn",
    verb: "read",
    ok: { status: 200, type: "json", schema: { type: "object" } },
  },
  session: {
    method: "get",
    path: "/v1/sessions/{id}",
    summary: "A session: a page of its history, its inbox and running turn",
    verb: "read",
    query: {
      from: { type: "string", pattern: "^[0-9]{1,9}$" },
      limit: { type: "string", pattern: "^[0-9]{1,4}$" },
    },
    ok: { status: 200, type: "json", schema: { type: "object" } },
  },
  events: {
    method: "get",
    path: "/v1/sessions/{id}/events",
    summary:
      "The session's events as Server-Sent Events (id = seq), replayed after Last-Event-ID (or ?after=), then live; heartbeats as comments; ends with an `end` event",
    verb: "stream",
    headers: { "Last-Event-ID": { type: "string", pattern: "^[0-9]{1,15}$" } },
    query: { after: { type: "string", pattern: "^[0-9]{1,15}$" } },
    ok: { status: 200, type: "sse" },
  },
  delegations: {
    method: "get",
    path: "/v1/delegations",
    summary: "Background children whose parent the token reaches",
    verb: "delegations",
    query: { parent: ID },
    ok: { status: 200, type: "json", schema: { type: "object" } },
  },
  cancelDelegation: {
    method: "post",
    path: "/v1/delegations/{id}/cancel",
    summary: "Cancel a running background child",
    verb: "delegations",
    body: { type: "object", properties: { reason: REASON }, additionalProperties: false },
    ok: {
      status: 200,
      type: "json",
      schema: { type: "object", properties: { cancelled: { type: "boolean" } }, required: ["cancelled"] },
    },
  },
  interruptAll: {
    method: "post",
    path: "/v1/delegations/interrupt-all",
    summary: "Interrupt every running background child (needs a token for every session)",
    verb: "delegations",
    body: { type: "object", properties: { reason: REASON }, additionalProperties: false },
    ok: { status: 200, type: "json", schema: COUNT },
  },
  stopChildren: {
    method: "post",
    path: "/v1/sessions/{id}/stop-children",
    summary: "Stop a session's running children (and theirs, when recursive)",
    verb: "delegations",
    body: {
      type: "object",
      properties: { recursive: { type: "boolean" }, reason: REASON },
      additionalProperties: false,
    },
    ok: { status: 200, type: "json", schema: COUNT },
  },
  token: {
    method: "get",
    path: "/v1/token",
    summary:
      "What the calling token may do: its name, the session prefix it reaches and its verbs (the dashboard shows only the buttons it allows)",
    verb: "any",
    ok: {
      status: 200,
      type: "json",
      schema: {
        type: "object",
        properties: {
          name: { type: "string" },
          sessionPrefix: { type: "string" },
          verbs: { type: "array", items: { enum: VERBS } },
        },
        required: ["name", "sessionPrefix", "verbs"],
      },
    },
  },
  runtimeMetrics: {
    method: "get",
    path: "/v1/metrics",
    summary: "The runtime's metrics as JSON (`runtime.metrics()`): dispatcher lag, send→start, counts",
    verb: "metrics",
    ok: { status: 200, type: "json", schema: { type: "object" } },
  },
  metrics: {
    method: "get",
    path: "/metrics",
    summary: "The runtime's metrics in the Prometheus text format",
    verb: "metrics",
    ok: { status: 200, type: "text" },
  },
  health: {
    method: "get",
    path: "/healthz",
    summary: "The process answers",
    verb: undefined,
    ok: { status: 200, type: "json", schema: { type: "object" } },
  },
  ready: {
    method: "get",
    path: "/readyz",
    summary: "The runtime runs, the store takes writes and the server is not stopping (else 503)",
    verb: undefined,
    ok: { status: 200, type: "json", schema: { type: "object" } },
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;
