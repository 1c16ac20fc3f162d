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
import { dirname } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
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
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve(
      {
        fetch: async (request, env) => {
          inFlight++;
          try {
            return await app.fetch(request, env);
          } finally {
            inFlight--;
            if (inFlight === 0) drained?.();
          }
        },
        port: options.port ?? 8787,
        hostname: host,
      },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : (options.port ?? 8787);
  let closed: Promise<void> | undefined;
  const close = (closeOptions: CloseOptions = {}): Promise<void> => {
    closed ??= (async () => {
      closing.abort();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      if ("closeIdleConnections" in server) server.closeIdleConnections();
      if (inFlight > 0) {
        const timeoutMs = closeOptions.timeoutMs ?? 10_000;
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, timeoutMs).unref();
        });
      }
      // Streams ended with their final event; give their last bytes a moment, then close what is left.
      const forced = setTimeout(() => {
        if ("closeAllConnections" in server) server.closeAllConnections();
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
