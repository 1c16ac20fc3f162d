/**
 * `startServer`: the app on a Node HTTP server, and its graceful stop. Stopping refuses new
 * connections, answers `/readyz` with 503, ends every event stream with a final `end` event
 * (`shutdown`), waits for requests in flight to finish (up to `timeoutMs`), then closes what is
 * left. The runtime is the caller's: the server never stops it.
 *
 * @packageDocumentation
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { createServer } from "node:http";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import type { Store } from "../runtime/ports/store.js";
import { type AppOptions, createApp } from "./app.js";

/** Options of {@link startServer}. */
export interface ServerOptions extends AppOptions {
  /** Default 8787; 0 picks a free port. */
  readonly port?: number;
  /** Default `127.0.0.1` (loopback only). */
  readonly host?: string;
}

/** Options of {@link RunningServer.close}. */
export interface CloseOptions {
  /** How long requests in flight may take to finish before their connections are closed (default 10 000 ms). */
  readonly timeoutMs?: number;
}

/** A listening server. */
export interface RunningServer extends AsyncDisposable {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  /** Stops gracefully (see the module); idempotent. */
  close(options?: CloseOptions): Promise<void>;
}

/** Starts listening; resolves once it does. Throws `BootError` for bad options. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { app, closing } = createApp(options);
  const host = options.host ?? "127.0.0.1";
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const listener = getRequestListener(
    async (request, env) => {
      inFlight++;
      try {
        return await app.fetch(request, env);
      } finally {
        inFlight--;
        if (inFlight === 0) drained?.();
      }
    },
    {
      hostname: host,
      // A request line or Host header no URL can be made of.
      errorHandler: () =>
        new Response(BAD_REQUEST, { status: 400, headers: { "content-type": "application/json" } }),
    },
  );
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8787, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("clientError", badRequest);
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : (options.port ?? 8787);
  let closed: Promise<void> | undefined;
  const close = (closeOptions: CloseOptions = {}): Promise<void> => {
    closed ??= (async () => {
      closing.abort();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const timeoutMs = closeOptions.timeoutMs ?? 10_000;
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      // Streams ended with their final event; give their last bytes a moment, then close what is left.
      const forced = setTimeout(() => {
        server.closeAllConnections();
      }, 1_000);
      forced.unref();
      await done;
      clearTimeout(forced);
    })();
    return closed;
  };
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

const BAD_REQUEST = JSON.stringify({
  error: { code: "BAD_REQUEST", message: "the request is not well-formed HTTP" },
});

/** A request Node's parser refused (a malformed line or header) gets the same typed JSON as any refusal. */
function badRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || (error.code === "ECONNRESET" && socket.destroyed)) {
    socket.destroy();
    return;
  }
  const status =
    error.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(BAD_REQUEST)}\r\nconnection: close\r\n\r\n${BAD_REQUEST}`,
  );
}

/**
 * Whether a store takes writes: its file and folder are writable (for a store with a `path`) and a
 * commit resolves within a second.
 */
export async function storeWritable(store: Store): Promise<boolean> {
  try {
    const path = (store as { path?: unknown }).path;
    if (typeof path === "string") {
      await access(path, constants.W_OK);
      await access(dirname(path), constants.W_OK);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 1_000);
    });
    const ok = await Promise.race([store.commit().then(() => true), late]);
    clearTimeout(timer);
    return ok;
  } catch {
    return false;
  }
}
