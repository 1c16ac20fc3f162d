/**
 * Fuzzed requests over raw TCP on loopback: random methods, paths (the routes' shapes with hostile
 * ids and queries, and anything else), headers (tokens, content types, idempotency keys, event ids,
 * malformed lines) and bodies (broken JSON, JSON that is no valid send). Every answer is a typed
 * JSON error or a read, never a 5xx, and the store is exactly as it was.
 */
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzParameters } from "../fuzz/hostile.js";
import { removeFiles } from "../store/sqlite-files.js";
import { eventually, FULL, post, startTestServer, TENANT_A, type TestServer } from "./serve-kit.js";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  // Something to change: a session with history and an ended input.
  const sent = (await (await post(server, "/v1/sessions/seed-1/inputs", { payload: "seed" })).json()) as {
    inputId: string;
  };
  await eventually(async () => {
    const view = (await (await server.call(`/v1/inputs/${sent.inputId}`, { token: FULL })).json()) as {
      status: string;
    };
    return view.status === "completed";
  });
});
afterAll(async () => {
  await server.served.stop();
  removeFiles();
});

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Sends `request` as bytes and reads the answer until the server closes. */
function raw(port: number, request: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const [line = "", ...lines] = text.slice(0, split).split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines)
        headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      let body = text.slice(split + 4);
      if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
      resolve({
        status: Number(line.split(" ")[1]),
        headers,
        body: Buffer.from(body, "latin1").toString("utf8"),
      });
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error("no answer in 5 s")));
    // Written, not ended: a client that half-closes before the answer may lose it (Node closes such sockets).
    socket.write(request);
  });
}

function dechunk(text: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const end = text.indexOf("\r\n", at);
    const size = Number.parseInt(text.slice(at, end), 16);
    if (!(size > 0)) return out;
    out += text.slice(end + 2, end + 2 + size);
    at = end + 2 + size + 2;
  }
}

const segment = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", "..", "%00", "%2F", "a%2Fb", "%E2%82", "x".repeat(300), "seed-1>child", "\u0000", " "),
);
const encoded = segment.map((s) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%ZZ";
  }
});
const pathOf = fc.oneof(
  fc
    .tuple(fc.constantFrom("/v1/inputs/", "/v1/sessions/", "/v1/delegations/"), encoded)
    .map(([a, b]) => a + b),
  fc
    .tuple(
      fc.constantFrom("/v1/inputs/", "/v1/sessions/", "/v1/delegations/"),
      encoded,
      fc.constantFrom("/cancel", "/inputs", "/events", "/stop-children", "/", "//x"),
    )
    .map(([a, b, c]) => a + b + c),
  fc.constantFrom(
    "/v1/sessions",
    "/v1/delegations",
    "/v1/delegations/interrupt-all",
    "/metrics",
    "/readyz",
    "/nope",
    "/",
    "*",
    "//",
  ),
  fc.array(encoded, { maxLength: 5 }).map((parts) => `/${parts.join("/")}`),
);
const queryOf = fc.oneof(
  fc.constant(""),
  fc.tuple(fc.constantFrom("after", "from", "limit", "parent", "x"), encoded).map(([k, v]) => `?${k}=${v}`),
);
/** Bodies that are never a valid send (no `payload` key in any object). */
const bodyOf = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc
    .jsonValue({ maxDepth: 4 })
    .filter((v) => !JSON.stringify(v ?? null).includes('"payload"'))
    .map((v) => JSON.stringify(v ?? null)),
  fc.constantFrom("{", '{"payload":', "[]", "null", '{"payload" 1}', "\u0000", "{}".repeat(1000)),
);
const headerOf = fc.oneof(
  fc.constantFrom(
    `authorization: Bearer ${FULL}`,
    `authorization: Bearer ${TENANT_A}`,
    "authorization: Bearer ",
    "authorization: Basic abc",
    `authorization: bearer ${FULL}x`,
    "content-type: application/json",
    "content-type: text/plain",
    "content-type: application/json; charset=latin1",
    "idempotency-key: k",
    `idempotency-key: ${"k".repeat(300)}`,
    "last-event-id: -1",
    "last-event-id: 99999999999999999999",
    "transfer-encoding: chunked",
    "content-length: -5",
    "x-bad header: 1",
    "no colon here",
  ),
  fc.tuple(fc.stringMatching(/^[a-z-]{1,20}$/), fc.string({ maxLength: 40 })).map(([k, v]) => `${k}: ${v}`),
);

describe("fuzzed requests", () => {
  it("answer typed JSON errors (or a read), never 5xx, and write nothing", async () => {
    const before = server.rows();
    const port = Number(new URL(server.url).port);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "BREW", "get"),
        pathOf,
        queryOf,
        fc.array(headerOf, { maxLength: 6 }),
        bodyOf,
        async (method, path, query, headers, body) => {
          const bytes = Buffer.from(body, "utf8");
          const head = [
            `${method} ${path}${query} HTTP/1.1`,
            "host: 127.0.0.1",
            ...headers.filter((h) => !/^(content-length|transfer-encoding):/i.test(h)),
            `content-length: ${bytes.length}`,
            "connection: close",
          ];
          const answer = await raw(
            port,
            Buffer.concat([Buffer.from(`${head.join("\r\n")}\r\n\r\n`, "latin1"), bytes]),
          );
          expect(answer.status).toBeGreaterThanOrEqual(200);
          expect(answer.status).toBeLessThan(500);
          if (answer.status >= 400) {
            expect(answer.headers["content-type"]).toMatch(/^application\/json/);
            const parsed = JSON.parse(answer.body) as { error: { code: unknown; message: unknown } };
            expect(typeof parsed.error.code).toBe("string");
            expect(typeof parsed.error.message).toBe("string");
          }
        },
      ),
      fuzzParameters(300),
    );
    expect(server.rows()).toEqual(before);
  }, 120_000);
});
