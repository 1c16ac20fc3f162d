/**
 * `createClient`: the HTTP API of `offstage serve`, typed, on `fetch` — in browsers and in Node
 * alike (nothing Node-only is imported). `events()` follows a session's events over SSE and, when
 * the connection drops or the server cuts a slow reader off, reconnects with `Last-Event-ID`, so
 * no event is missed or shown twice.
 *
 * @packageDocumentation
 */
import { parseSse, type SseFrame } from "./sse-parser.js";
import type {
  Accepted,
  DelegationView,
  InputView,
  RuntimeMetricsView,
  SessionView,
  StreamEnd,
  TokenView,
  WirePolicy,
  WireSessionEvent,
} from "./wire.js";

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The server, as `http://127.0.0.1:8787`. */
  readonly baseUrl: string;
  /** The bearer token. */
  readonly token?: string;
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: typeof fetch;
}

/** An error answer of the server (or a failure to reach it: `status` 0, `code` `NETWORK`). */
export class OffstageClientError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "OffstageClientError";
    this.status = status;
    this.code = code;
  }
}

/** Options of {@link OffstageClient.send}. */
export interface ClientSendOptions {
  readonly policy?: WirePolicy;
  /** The agent of a session not seen before. */
  readonly agent?: string;
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

/** Options of {@link OffstageClient.events}. */
export interface ClientEventsOptions {
  /** Show events after this number (default 0: from the oldest the server keeps). */
  readonly after?: number;
  readonly signal?: AbortSignal;
  /** Reconnections in a row that may fail before `events()` throws (default 5). */
  readonly retriesMax?: number;
}

export type OffstageClient = ReturnType<typeof createClient>;

/** A client of one server. */
export function createClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const auth: Record<string, string> =
    options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };

  async function call<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = { ...auth, ...(init.headers as Record<string, string>) };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await reach(() =>
      doFetch(`${base}${path}`, {
        ...init,
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    if (!response.ok) throw await failure(response);
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? await response.json() : await response.text()) as T;
  }

  const id = (value: string) => encodeURIComponent(value);

  return {
    /** Sends an input to a session; resolves once the server accepted (and stored) it. */
    send(sessionId: string, payload: unknown, send: ClientSendOptions = {}): Promise<Accepted> {
      const { policy, agent, idempotencyKey, signal } = send;
      return call(
        "POST",
        `/v1/sessions/${id(sessionId)}/inputs`,
        { payload, policy, agent },
        {
          ...(signal === undefined ? {} : { signal }),
          headers: idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey },
        },
      );
    },
    /** Where an input stands. */
    input: (inputId: string): Promise<InputView> => call("GET", `/v1/inputs/${id(inputId)}`),
    /** Cancels an input; resolves once it has settled. */
    cancel: (
      inputId: string,
      cancel: { mode?: "immediate" | "after_step"; reason?: string } = {},
    ): Promise<InputView> => call("POST", `/v1/inputs/${id(inputId)}/cancel`, cancel),
    /** Withdraws a queued input. */
    withdraw: (inputId: string): Promise<InputView> => call("DELETE", `/v1/inputs/${id(inputId)}`),
    /** A session: a page of its history, its inbox and running turn. */
    session: (sessionId: string, page: { from?: number; limit?: number } = {}): Promise<SessionView> =>
      call("GET", `/v1/sessions/${id(sessionId)}${query(page)}`),
    /** The sessions the token reaches. */
    sessions: (): Promise<{
      sessions: { id: string; agent: string; queued: number; running: SessionView["inbox"]["running"] }[];
    }> => call("GET", "/v1/sessions"),
    /** Background children whose parent the token reaches. */
    delegations: (parent?: string): Promise<{ delegations: DelegationView[] }> =>
      call("GET", `/v1/delegations${query({ parent })}`),
    cancelDelegation: (delegationId: string, reason?: string): Promise<{ cancelled: boolean }> =>
      call("POST", `/v1/delegations/${id(delegationId)}/cancel`, { reason }),
    interruptAll: (reason?: string): Promise<{ count: number }> =>
      call("POST", "/v1/delegations/interrupt-all", { reason }),
    stopChildren: (
      sessionId: string,
      stop: { recursive?: boolean; reason?: string } = {},
    ): Promise<{ count: number }> => call("POST", `/v1/sessions/${id(sessionId)}/stop-children`, stop),
    /** What this client's token may do: its name, the sessions it reaches, its verbs. */
    token: (): Promise<TokenView> => call("GET", "/v1/token"),
    /** The runtime's metrics as JSON (dispatcher lag, send→start, counts: `runtime.metrics()`). */
    runtimeMetrics: (): Promise<RuntimeMetricsView> => call("GET", "/v1/metrics"),
    /** The runtime's metrics, Prometheus text. */
    metrics: (): Promise<string> => call("GET", "/metrics"),
    /** The OpenAPI document. */
    openapi: (): Promise<Record<string, unknown>> => call("GET", "/v1/openapi.json"),

    /**
     * A session's events, replayed after `after` then live. Reconnects with the last number seen
     * when the connection drops or the server cuts a slow reader off; ends when the server or its
     * runtime stops, or `signal` fires; throws `EVENTS_TRIMMED` when the server no longer keeps the
     * events after the number asked for.
     */
    async *events(
      sessionId: string,
      follow: ClientEventsOptions = {},
    ): AsyncGenerator<WireSessionEvent, void, undefined> {
      let after = follow.after ?? 0;
      let failures = 0;
      const retriesMax = follow.retriesMax ?? 5;
      for (;;) {
        let response: Response;
        try {
          response = await reach(() =>
            doFetch(`${base}/v1/sessions/${id(sessionId)}/events`, {
              headers: { ...auth, accept: "text/event-stream", "last-event-id": String(after) },
              ...(follow.signal === undefined ? {} : { signal: follow.signal }),
            }),
          );
        } catch (error) {
          if (follow.signal?.aborted === true || ++failures > retriesMax) throw error;
          await pause(250 * 2 ** failures);
          continue;
        }
        if (!response.ok || response.body === null) throw await failure(response);
        let end: StreamEnd | undefined;
        try {
          for await (const frame of parseSse(response.body)) {
            failures = 0;
            if (frame.event === "end") {
              end = JSON.parse(frame.data) as StreamEnd;
              break;
            }
            const event = eventOf(frame);
            after = event.seq;
            yield event;
          }
        } catch (error) {
          if (follow.signal?.aborted === true) return;
          if (++failures > retriesMax) throw error;
          await pause(250 * 2 ** failures);
          continue;
        }
        if (follow.signal?.aborted === true) return;
        if (end?.reason === "trimmed") throw new OffstageClientError(410, "EVENTS_TRIMMED", end.message);
        if (end === undefined || end.reason === "slow_reader") continue;
        return;
      }
    },
  };
}

function eventOf(frame: SseFrame): WireSessionEvent {
  return JSON.parse(frame.data) as WireSessionEvent;
}

function query(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length === 0
    ? ""
    : `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
}

async function reach(request: () => Promise<Response>): Promise<Response> {
  try {
    return await request();
  } catch (error) {
    if ((error as { name?: unknown })?.name === "AbortError") throw error;
    throw new OffstageClientError(
      0,
      "NETWORK",
      `the server cannot be reached: ${(error as Error)?.message ?? String(error)}`,
    );
  }
}

async function failure(response: Response): Promise<OffstageClientError> {
  const text = await response.text().catch(() => "");
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return new OffstageClientError(response.status, error.code, error.message);
  } catch {
    return new OffstageClientError(response.status, "HTTP_ERROR", `the server answered ${response.status}`);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
