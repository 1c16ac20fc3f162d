/**
 * The shapes the HTTP API sends and receives, shared by the server (`offstage/server`) and the
 * client (`offstage/client`). Plain JSON: a client in a browser needs nothing else.
 *
 * @packageDocumentation
 */

/** How input that arrives while a turn runs is treated (see the runtime's `Policy`). */
export type WirePolicy = "enqueue" | "reject" | "interrupt" | "merge" | "steer";

/** The verbs a token may be granted; each route needs one. */
export type Verb = "send" | "read" | "stream" | "cancel" | "withdraw" | "delegations" | "metrics";

/** Every verb, in the order the OpenAPI document lists them. */
export const VERBS: readonly Verb[] = [
  "send",
  "read",
  "stream",
  "cancel",
  "withdraw",
  "delegations",
  "metrics",
];

/** Answer of `GET /v1/token`: what the calling token may do. */
export interface TokenView {
  /** The token's name in the server's config (never the token). */
  readonly name: string;
  /** The sessions it reaches: those whose id starts with this (`""`: every session). */
  readonly sessionPrefix: string;
  readonly verbs: readonly Verb[];
}

/** Body of `POST /v1/sessions/{id}/inputs`. */
export interface SendBody {
  /** Any JSON value: the input of the session's next turn. */
  readonly payload: unknown;
  readonly policy?: WirePolicy;
  /** The agent of a session not seen before (default: the server's default agent). */
  readonly agent?: string;
}

/** Answer of `POST /v1/sessions/{id}/inputs` (202). */
export interface Accepted {
  readonly inputId: string;
  readonly sessionId: string;
  /** The turn answering it, once one started (`null` while queued). */
  readonly turnId: string | null;
  readonly status: string;
  /** `durable` when it is on disk, `stored` when held in the server's memory only. */
  readonly receipt: "stored" | "durable";
}

/** A terminal outcome: its status and why. */
export interface WireOutcome {
  readonly status: string;
  readonly reason: { readonly code: string; readonly message: string };
  readonly output?: unknown;
}

/** Answer of `GET /v1/inputs/{id}` and of cancel and withdraw. */
export interface InputView {
  readonly inputId: string;
  readonly sessionId: string;
  readonly status: string;
  readonly turnId: string | null;
  readonly outcome: WireOutcome | null;
}

/** Answer of `GET /v1/sessions/{id}`. */
export interface SessionView {
  readonly id: string;
  readonly agent: string;
  /** The history page asked for (`?from=&limit=`), oldest first. */
  readonly history: readonly unknown[];
  readonly historyFrom: number;
  readonly historyTotal: number;
  readonly inbox: {
    readonly queued: readonly { readonly inputId: string; readonly policy: WirePolicy }[];
    readonly running: { readonly turnId: string; readonly inputIds: readonly string[] } | null;
  };
}

/** One event of `GET /v1/sessions/{id}/events` (the SSE `data`; its `id` is `seq`). */
export interface WireSessionEvent {
  readonly seq: number;
  readonly sessionId: string;
  readonly atMs: number;
  readonly event: { readonly type: string; readonly [key: string]: unknown };
}

/**
 * The last SSE event of a stream the server ends (`event: end`): `shutdown` (the server stops),
 * `slow_reader` (the client read too slowly), `trimmed` (the events after `Last-Event-ID` are gone;
 * read again from 0), `runtime_stopped`.
 */
export interface StreamEnd {
  readonly reason: "shutdown" | "slow_reader" | "trimmed" | "runtime_stopped";
  readonly message: string;
}

/** A delegation as `GET /v1/delegations` lists it. */
export interface DelegationView {
  readonly id: string;
  readonly parentSessionId: string;
  readonly childSessionId: string;
  readonly depth: number;
  readonly running: boolean;
  readonly goal: string;
  readonly status: string | null;
  readonly delivery: string | null;
  readonly dispatchedAtMs: number;
}

/** Latency figures of `GET /v1/metrics`, in milliseconds. */
export interface LatencyView {
  readonly count: number;
  readonly lastMs: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Cumulative counts of latencies at most `leMs`, at power-of-two bounds (1 µs, 2 µs, 4 µs, …). */
  readonly buckets: readonly { readonly leMs: number; readonly count: number }[];
}

/** `GET /v1/metrics` (the runtime's `metrics()`; the fields a dashboard reads are typed). */
export interface RuntimeMetricsView {
  readonly dispatcherLag: LatencyView;
  readonly sendToStart: LatencyView;
  readonly [key: string]: unknown;
}

/** Every error answer's body. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}
