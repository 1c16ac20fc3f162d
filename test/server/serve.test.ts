import { describe, expect, it } from "vitest";
import {
  createClient,
  OffstageClientError,
  parseSse,
  type WireSessionEvent,
} from "../../src/client/index.js";
import { ROUTES } from "../../src/server/index.js";
import { createPostgresStore } from "../../src/store/postgres/index.js";
import { dropSchemas, PG_URL, uniqueSchema } from "../postgres/server.js";
import { until } from "../support/async.js";
import {
  echo,
  eventually,
  FULL,
  post,
  serverPerTest,
  startTestServer,
  type TestServer,
} from "./serve-kit.js";

const started = serverPerTest();

/** Reads SSE frames from a response until `count` of them (comments excluded) arrived. */
async function frames(response: Response, count: number) {
  const out = [];
  for await (const frame of parseSse(response.body!)) {
    out.push(frame);
    if (out.length === count) break;
  }
  return out;
}

describe("inputs over HTTP", () => {
  it("accepts with 202 (durable receipt), reads the input to its end, and honours Idempotency-Key", async () => {
    const s = await started();
    const sent = await post(s, "/v1/sessions/chat-1/inputs", { payload: { text: "hi" } }, FULL, {
      "idempotency-key": "k1",
    });
    expect(sent.status).toBe(202);
    const accepted = (await sent.json()) as { inputId: string };
    expect(accepted).toMatchObject({ sessionId: "chat-1", receipt: "durable", status: expect.any(String) });
    const client = createClient({ baseUrl: s.url, token: FULL });
    await eventually(async () => (await client.input(accepted.inputId)).status === "completed");
    expect(await client.input(accepted.inputId)).toMatchObject({
      inputId: accepted.inputId,
      status: "completed",
      turnId: expect.any(String),
      outcome: { status: "completed", output: 'echo {"text":"hi"}' },
    });
    const again = await post(s, "/v1/sessions/chat-1/inputs", { payload: { text: "hi" } }, FULL, {
      "idempotency-key": "k1",
    });
    expect(((await again.json()) as { inputId: string }).inputId).toBe(accepted.inputId);
    const conflict = await post(s, "/v1/sessions/chat-1/inputs", { payload: "other" }, FULL, {
      "idempotency-key": "k1",
    });
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ error: { code: "IDEMPOTENCY_CONFLICT" } });
  });

  it("shows a session's history page and inbox; cancels a running input and withdraws a queued one", async () => {
    const s = await started();
    const client = createClient({ baseUrl: s.url, token: FULL });
    const running = await client.send("h-1", "wait", { agent: "hang" });
    const queued = await client.send("h-1", "later");
    await eventually(async () => (await client.input(running.inputId)).status === "running");
    const view = await client.session("h-1");
    expect(view).toMatchObject({
      id: "h-1",
      agent: "hang",
      inbox: {
        queued: [{ inputId: queued.inputId, policy: "enqueue" }],
        running: { inputIds: [running.inputId] },
      },
    });
    expect(await client.withdraw(queued.inputId)).toMatchObject({ status: "withdrawn" });
    const notAgain = await s.call(`/v1/inputs/${running.inputId}`, { method: "DELETE", token: FULL });
    expect(notAgain.status).toBe(409);
    expect(await notAgain.json()).toMatchObject({ error: { code: "NOT_WITHDRAWABLE" } });
    expect(await client.cancel(running.inputId, { reason: "enough" })).toMatchObject({ status: "cancelled" });
    await client.send("e-1", "x");
    await eventually(async () => (await client.session("e-1")).historyTotal === 2);
    const page = await client.session("e-1", { from: 1, limit: 1 });
    expect(page).toMatchObject({ historyFrom: 1, historyTotal: 2, history: [{ role: "assistant" }] });
    const unknown = await s.call("/v1/sessions/nobody", { token: FULL });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "NOT_FOUND" } });
  });
});

describe("session events over SSE", () => {
  it("replays then follows live; resumes after Last-Event-ID without loss or repeat", async () => {
    const s = await started();
    const client = createClient({ baseUrl: s.url, token: FULL });
    await client.send("ev-1", 1);
    const first: WireSessionEvent[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const e of client.events("ev-1", { signal: abort.signal })) first.push(e);
    })();
    await until(() => first.length === 3);
    await client.send("ev-1", 2);
    await until(() => first.length === 6);
    abort.abort();
    await following;
    expect(first.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(first.map((e) => e.event.type)).toEqual([
      "input.accepted",
      "turn.started",
      "turn.ended",
      "input.accepted",
      "turn.started",
      "turn.ended",
    ]);
    const resumed = await s.call("/v1/sessions/ev-1/events", {
      token: FULL,
      headers: { "last-event-id": "4" },
    });
    expect(resumed.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const rest = await frames(resumed, 2);
    expect(rest.map((f) => [f.id, f.event])).toEqual([
      ["5", "turn.started"],
      ["6", "turn.ended"],
    ]);
    const bad = await s.call("/v1/sessions/ev-1/events", { token: FULL, headers: { "last-event-id": "x1" } });
    expect(bad.status).toBe(400);
  });

  it("on PostgreSQL, every server of a fleet streams a session's events, wherever the session runs", async () => {
    const schema = uniqueSchema("serve");
    const fleet: TestServer[] = [];
    try {
      for (const processId of ["web-1", "web-2"]) {
        const store = createPostgresStore({ connectionString: PG_URL, schema, processId });
        fleet.push(await startTestServer({ runtime: { agents: { echo }, store, pollIntervalMs: 50 } }));
      }
      const [runs, streams] = fleet as [TestServer, TestServer];
      // The session is made, and run, by the server the input reached; the other streams it.
      const sender = createClient({ baseUrl: runs.url, token: FULL });
      await sender.send("pg-1", 1);
      const streamed: WireSessionEvent[] = [];
      const abort = new AbortController();
      const following = (async () => {
        const client = createClient({ baseUrl: streams.url, token: FULL });
        for await (const e of client.events("pg-1", { signal: abort.signal })) streamed.push(e);
      })();
      await eventually(async () => streamed.length === 3, "the replay");
      await sender.send("pg-1", 2);
      await eventually(async () => streamed.length === 6, "the live events");
      abort.abort();
      await following;
      expect(streamed.map((e) => [e.seq, e.event.type])).toEqual([
        [1, "input.accepted"],
        [2, "turn.started"],
        [3, "turn.ended"],
        [4, "input.accepted"],
        [5, "turn.started"],
        [6, "turn.ended"],
      ]);
      const resumed = await streams.call("/v1/sessions/pg-1/events", {
        token: FULL,
        headers: { "last-event-id": "4" },
      });
      expect((await frames(resumed, 2)).map((f) => [f.id, f.event])).toEqual([
        ["5", "turn.started"],
        ["6", "turn.ended"],
      ]);
    } finally {
      for (const server of fleet.reverse()) await server.served.stop();
      await dropSchemas([schema]);
    }
  }, 30_000);

  it("sends heartbeats while idle, and ends every stream with a final event when the server stops", async () => {
    const s = await started({ eventStreams: { heartbeatMs: 50 } });
    const client = createClient({ baseUrl: s.url, token: FULL });
    await client.send("hb-1", 1);
    const response = await s.call("/v1/sessions/hb-1/events?after=3", { token: FULL });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe(": heartbeat\n\n");
    reader.releaseLock();
    const closing = s.served.stop();
    const end = await frames(response, 5);
    expect(end.at(-1)).toMatchObject({ event: "end" });
    expect(JSON.parse(end.at(-1)!.data)).toMatchObject({ reason: "shutdown" });
    await closing;
  });

  it("cuts a reader that takes nothing off with a final event, buffering a bounded amount", async () => {
    const big = { run: async () => "x".repeat(256 * 1024) };
    const s = await started({
      runtime: { agents: { big } },
      defaultAgent: "big",
      eventStreams: { stallMs: 300, bufferBytes: 16 * 1024 },
    });
    const client = createClient({ baseUrl: s.url, token: FULL });
    const http = await import("node:http");
    const response = await new Promise<import("node:http").IncomingMessage>((resolve) =>
      http.get(
        `${s.url}/v1/sessions/slow-1/events`,
        { headers: { authorization: `Bearer ${FULL}` } },
        resolve,
      ),
    ).catch(() => undefined);
    // The session does not exist yet: 404 first, then make it and stream again.
    response?.resume();
    await client.send("slow-1", 0);
    const stream = await new Promise<import("node:http").IncomingMessage>((resolve) =>
      http.get(
        `${s.url}/v1/sessions/slow-1/events`,
        { headers: { authorization: `Bearer ${FULL}` } },
        resolve,
      ),
    );
    expect(stream.statusCode).toBe(200);
    stream.pause();
    // 48 turns of 256 KiB each: far more than the socket's buffers hold.
    for (let i = 0; i < 48; i++) await client.send("slow-1", i);
    // Past the stall: the server has cut the stream off, and still holds the connection for its last event.
    await new Promise((r) => setTimeout(r, 2_000));
    let text = "";
    let bytes = 0;
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      bytes += Buffer.byteLength(chunk);
      text = (text + chunk).slice(-4096);
    });
    stream.resume();
    await new Promise((r) => stream.on("close", r));
    expect(text).toMatch(/event: end\ndata: \{"reason":"slow_reader"/);
    // What reached the client is what the socket's buffers held when it was cut, not the 12 MiB sent.
    expect(bytes).toBeLessThan(8 * 1024 * 1024);
  }, 30_000);
});

describe("operations", () => {
  it("serves /metrics, /healthz, /readyz and an OpenAPI document listing every route", async () => {
    const s = await started();
    const metrics = await s.call("/metrics", { token: FULL });
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/offstage_/);
    expect((await s.call("/healthz")).status).toBe(200);
    expect(await (await s.call("/readyz")).json()).toEqual({ status: "ready" });
    const doc = (await (await s.call("/v1/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const route of Object.values(ROUTES)) expect(doc.paths[route.path]?.[route.method]).toBeDefined();
    const client = createClient({ baseUrl: s.url, token: FULL });
    expect((await client.openapi()).openapi).toBe("3.1.0");
  });

  it("answers /readyz 503 once stopping, lets requests in flight finish, then refuses connections", async () => {
    const s = await started();
    const http = await import("node:http");
    const body = JSON.stringify({ payload: "in flight" });
    // A request whose body arrives in two parts is in flight when the stop begins.
    const request = http.request(`${s.url}/v1/sessions/g-1/inputs`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${FULL}`,
        "content-type": "application/json",
        "content-length": body.length,
      },
    });
    const answered = new Promise<number>((resolve) =>
      request.on("response", (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      }),
    );
    request.write(body.slice(0, 5));
    await new Promise((r) => setTimeout(r, 100));
    const stopping = s.served.stop();
    const ready = await fetch(`${s.url}/readyz`).catch(() => undefined);
    if (ready !== undefined) expect(ready.status).toBe(503);
    request.end(body.slice(5));
    expect(await answered).toBe(202);
    await stopping;
    const client = createClient({ baseUrl: s.url, token: FULL });
    const error = await client.input("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OffstageClientError);
    expect((error as OffstageClientError).code).toBe("NETWORK");
  });
});
