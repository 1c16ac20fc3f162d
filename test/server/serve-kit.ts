/**
 * A served runtime for the server tests: a real SQLite file in a fresh folder, a real HTTP server
 * on a loopback port, a few tokens of different scope, and a logger whose every line is kept (to
 * search it for secrets).
 */
import { DatabaseSync } from "node:sqlite";
import { afterEach } from "vitest";
import type { ServeConfig, Served } from "../../src/server/index.js";
import { serveConfig } from "../../src/server/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { freshPath, removeFiles } from "../store/sqlite-files.js";

/** Every verb on every session. */
export const FULL = "full-access-token-0123456789abcdef";
/** Every verb on sessions `a-…`. */
export const TENANT_A = "tenant-a-token-0123456789abcdef";
/** `read` only, on sessions `a-…`. */
export const READER_A = "reader-a-token-0123456789abcdef";
/** Given by its SHA-256 only. */
export const HASHED = "hashed-token-0123456789abcdef!";

export interface TestServer {
  readonly served: Served;
  readonly url: string;
  readonly path: string;
  /** Every log line the server and runtime wrote. */
  readonly logs: string[];
  /** `fetch` on the server with a bearer token (or none). */
  call(path: string, init?: RequestInit & { token?: string | undefined }): Promise<Response>;
  /** Rows in each table that a write would change, read through a second connection. */
  rows(): Record<string, number>;
}

/** A function agent that answers at once: `echo <input>`. */
export const echo = { run: async (input: unknown) => `echo ${JSON.stringify(input)}` };
/** A function agent that runs until it is cancelled. */
export const hang = {
  run: (_input: unknown, context: { signal: AbortSignal }) =>
    new Promise((_, reject) => context.signal.addEventListener("abort", () => reject(context.signal.reason))),
};

export async function startTestServer(extra: Partial<ServeConfig> = {}): Promise<TestServer> {
  const path = freshPath();
  const logs: string[] = [];
  const logger = {
    info: (fields: object, message: string) => logs.push(`${message} ${safeJson(fields)}`),
    warn: (fields: object, message: string) => logs.push(`${message} ${safeJson(fields)}`),
    error: (fields: object, message: string) => logs.push(`${message} ${safeJson(fields)}`),
  };
  const { createHash } = await import("node:crypto");
  const served = await serveConfig(
    {
      port: 0,
      defaultAgent: "echo",
      logger,
      tokens: [
        { name: "tenant-a", token: TENANT_A, sessionPrefix: "a-" },
        { name: "reader-a", token: READER_A, sessionPrefix: "a-", verbs: ["read"] },
        { name: "hashed", sha256: createHash("sha256").update(HASHED).digest("hex") },
      ],
      ...extra,
      runtime: {
        agents: { echo, hang },
        store: createSqliteStore({ path, durability: "normal" }),
        logger,
        ...extra.runtime,
      },
    },
    { OFFSTAGE_TOKEN: FULL },
  );
  const url = served.server.url;
  return {
    served,
    url,
    path,
    logs,
    call(route, init = {}) {
      const { token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${url}${route}`, { ...rest, headers });
    },
    rows() {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        const out: Record<string, number> = {};
        for (const table of ["sessions", "inputs", "turns", "history", "session_events"])
          out[table] = Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
        return out;
      } finally {
        db.close();
      }
    },
  };
}

/** Resolves once `condition` holds (asked every 10 ms, for up to 10 s). */
/**
 * A server per test: the returned function starts one (with `extra` config); it is stopped, and its
 * files removed, after the test.
 */
export function serverPerTest(): (extra?: Partial<ServeConfig>) => Promise<TestServer> {
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.served.stop();
    server = undefined;
    removeFiles();
  });
  return async (extra = {}) => {
    server = await startTestServer(extra);
    return server;
  };
}

export async function eventually(condition: () => Promise<boolean>, what = "the condition"): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_, v: unknown) =>
      v instanceof Error ? { message: v.message, stack: v.stack } : v,
    );
  } catch {
    return String(value);
  }
}

/** Posts JSON with a token. */
export function post(
  server: TestServer,
  route: string,
  body: unknown,
  token = FULL,
  headers: Record<string, string> = {},
): Promise<Response> {
  return server.call(route, {
    method: "POST",
    token,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}
