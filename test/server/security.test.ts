import { describe, expect, it } from "vitest";
import { createClient, OffstageClientError } from "../../src/client/index.js";
import { createApp } from "../../src/server/index.js";
import { eventually, FULL, HASHED, post, READER_A, serverPerTest, TENANT_A } from "./serve-kit.js";

const started = serverPerTest();

/** The answer's status and its typed error code. */
async function refusal(response: Response): Promise<[number, string]> {
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(typeof body.error.message).toBe("string");
  return [response.status, body.error.code];
}

describe("bearer tokens", () => {
  it("refuses a missing or unknown token with 401, on every route that needs one", async () => {
    const s = await started();
    for (const token of [undefined, "not-a-known-token-at-all", FULL.slice(0, -1), `${FULL}x`]) {
      expect(await refusal(await s.call("/v1/inputs/x", { token }))).toEqual([401, "UNAUTHORIZED"]);
      const sent = await s.call("/v1/sessions/a-1/inputs", {
        method: "POST",
        token,
        headers: { "content-type": "application/json" },
        body: '{"payload":1}',
      });
      expect(await refusal(sent)).toEqual([401, "UNAUTHORIZED"]);
      expect(await refusal(await s.call("/metrics", { token }))).toEqual([401, "UNAUTHORIZED"]);
      expect(await refusal(await s.call("/v1/token", { token }))).toEqual([401, "UNAUTHORIZED"]);
    }
    const malformed = await s.call("/v1/sessions", { headers: { authorization: `Basic ${FULL}` } });
    expect(await refusal(malformed)).toEqual([401, "UNAUTHORIZED"]);
    expect(s.rows()).toMatchObject({ sessions: 0, inputs: 0 });
  });

  it("takes a token given by its SHA-256 only", async () => {
    const s = await started();
    expect((await post(s, "/v1/sessions/z-1/inputs", { payload: 1 }, HASHED)).status).toBe(202);
  });

  it("keeps a token to its session prefix: no send, read, stream, cancel or withdraw outside, even by input id", async () => {
    const s = await started();
    const full = createClient({ baseUrl: s.url, token: FULL });
    const theirs = await full.send("b-1", "wait", { agent: "hang" });
    const theirsQueued = await full.send("b-1", "queued");
    await eventually(async () => (await full.input(theirs.inputId)).status === "running");
    const before = s.rows();

    expect(await refusal(await post(s, "/v1/sessions/b-1/inputs", { payload: 1 }, TENANT_A))).toEqual([
      403,
      "FORBIDDEN",
    ]);
    expect(await refusal(await s.call("/v1/sessions/b-1", { token: TENANT_A }))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await s.call("/v1/sessions/b-1/events", { token: TENANT_A }))).toEqual([
      403,
      "FORBIDDEN",
    ]);
    expect(await refusal(await post(s, "/v1/sessions/b-1/stop-children", {}, TENANT_A))).toEqual([
      403,
      "FORBIDDEN",
    ]);
    expect(await refusal(await post(s, "/v1/delegations/interrupt-all", {}, TENANT_A))).toEqual([
      403,
      "FORBIDDEN",
    ]);
    // Another session's input answers exactly as an input that does not exist.
    for (const id of [theirs.inputId, theirsQueued.inputId, "no-such-input"]) {
      expect(await refusal(await s.call(`/v1/inputs/${id}`, { token: TENANT_A }))).toEqual([
        404,
        "NOT_FOUND",
      ]);
      expect(await refusal(await post(s, `/v1/inputs/${id}/cancel`, {}, TENANT_A))).toEqual([
        404,
        "NOT_FOUND",
      ]);
      expect(await refusal(await s.call(`/v1/inputs/${id}`, { method: "DELETE", token: TENANT_A }))).toEqual([
        404,
        "NOT_FOUND",
      ]);
    }
    const listed = (await (await s.call("/v1/sessions", { token: TENANT_A })).json()) as {
      sessions: unknown[];
    };
    expect(listed.sessions).toEqual([]);
    expect(s.rows()).toEqual(before);
    expect((await full.input(theirs.inputId)).status).toBe("running");
    expect((await full.input(theirsQueued.inputId)).status).toBe("queued");

    // Inside its prefix it may do all of it.
    const mine = createClient({ baseUrl: s.url, token: TENANT_A });
    const sent = await mine.send("a-1", "hello");
    await eventually(async () => (await mine.input(sent.inputId)).status === "completed");
    expect((await mine.session("a-1")).historyTotal).toBe(2);
    await full.cancel(theirs.inputId);
  });

  it("keeps a token to its verbs", async () => {
    const s = await started();
    const full = createClient({ baseUrl: s.url, token: FULL });
    const sent = await full.send("a-2", "hello");
    const reader = createClient({ baseUrl: s.url, token: READER_A });
    expect((await reader.input(sent.inputId)).inputId).toBe(sent.inputId);
    const refused = await reader.send("a-2", "more").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OffstageClientError);
    expect(refused).toMatchObject({ status: 403, code: "FORBIDDEN" });
    expect(await refusal(await s.call("/v1/sessions/a-2/events", { token: READER_A }))).toEqual([
      403,
      "FORBIDDEN",
    ]);
    expect(await refusal(await s.call("/metrics", { token: READER_A }))).toEqual([403, "FORBIDDEN"]);
    expect(await refusal(await post(s, `/v1/inputs/${sent.inputId}/cancel`, {}, READER_A))).toEqual([
      403,
      "FORBIDDEN",
    ]);
    // Any valid token may learn what it may do (the dashboard offers only those buttons), never the token.
    const told = await s.call("/v1/token", { token: READER_A });
    const text = await told.text();
    expect(JSON.parse(text)).toEqual({ name: "reader-a", sessionPrefix: "a-", verbs: ["read"] });
    expect(text).not.toContain(READER_A);
    expect(await full.token()).toMatchObject({
      sessionPrefix: "",
      verbs: expect.arrayContaining(["cancel"]),
    });
  });

  it("refuses to start without tokens, or with a short one, quoting no token", () => {
    const runtime = {} as never;
    expect(() => createApp({ runtime, tokens: [] })).toThrow(
      /serve: tokens must be at least one token; give tokens in the config or OFFSTAGE_TOKEN; got \[\] \(array\)/,
    );
    const short = "short-secret";
    expect(() => createApp({ runtime, tokens: [{ token: short }] })).toThrow(/16 or more/);
    try {
      createApp({ runtime, tokens: [{ token: short }] });
    } catch (error) {
      expect(String((error as Error).message)).not.toContain(short);
    }
  });
});

describe("limits and leaks", () => {
  it("refuses a body over the limit with 413, writing nothing", async () => {
    const s = await started({ bodyBytesMax: 1024 });
    const before = s.rows();
    const big = await post(s, "/v1/sessions/a-1/inputs", { payload: "x".repeat(2048) });
    expect(await refusal(big)).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    expect(s.rows()).toEqual(before);
  });

  it("holds a chunked body (no declared length) to the same limit", async () => {
    const s = await started({ bodyBytesMax: 1024 });
    const before = s.rows();
    const chunked = (text: string) =>
      s.call("/v1/sessions/a-1/inputs", {
        method: "POST",
        token: FULL,
        headers: { "content-type": "application/json" },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(text));
            controller.close();
          },
        }),
        duplex: "half",
      } as RequestInit);
    const big = await chunked(JSON.stringify({ payload: "x".repeat(2048) }));
    expect(await refusal(big)).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    expect(s.rows()).toEqual(before);
    expect((await chunked(JSON.stringify({ payload: "small" }))).status).toBe(202);
  });

  it("keeps CORS off unless origins are configured", async () => {
    const s = await started();
    const preflight = await s.call("/v1/sessions/a-1/inputs", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    await s.served.stop();
    const allowed = await started({ corsOrigins: ["https://app.example"] });
    const ok = await allowed.call("/v1/sessions/a-1/inputs", {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST" },
    });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
  });

  it("never shows a token in a log line or an answer, whatever is sent", async () => {
    const s = await started();
    const answers: string[] = [];
    const keep = async (response: Response) => {
      answers.push(JSON.stringify([...response.headers]), await response.text());
    };
    await keep(await post(s, "/v1/sessions/a-1/inputs", { payload: FULL }, TENANT_A));
    await keep(await post(s, "/v1/sessions/b-1/inputs", { payload: 1 }, TENANT_A));
    await keep(await s.call("/v1/inputs/x", { token: `${TENANT_A}0` }));
    await keep(await s.call(`/v1/sessions/${TENANT_A}`, { token: TENANT_A }));
    await keep(await s.call("/v1/sessions/a-1/inputs", { method: "POST", token: TENANT_A, body: "{nope" }));
    await keep(await post(s, "/v1/sessions/a-1/inputs", { payload: 1, policy: TENANT_A }, TENANT_A));
    await keep(await s.call("/metrics", { token: FULL }));
    await s.served.stop();
    const everything = [...answers, ...s.logs].join("\n");
    for (const token of [TENANT_A, READER_A, HASHED]) expect(everything).not.toContain(token);
    // FULL was sent as a payload, so only the echo of that payload may hold it (a user's own data).
    expect(s.logs.join("\n")).not.toContain(FULL);
  });
});
