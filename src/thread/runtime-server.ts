/**
 * The worker's side of the runtime's clients: it serves one runtime to any number of clients, each
 * on its own port (`server-connection.ts`), and is where the worker's entry reaches them all: a
 * deliberate stop, the worker's death, the owner's thread for host calls.
 *
 * @packageDocumentation
 */
import type { MessagePort } from "node:worker_threads";
import type { StopStatus } from "../kernel/shutdown/stop-status.js";
import type { Runtime, StopOptions } from "../runtime/runtime.js";
import type { HostForwarder } from "./host-forwarder.js";
import { Connection } from "./server-connection.js";

/** Serves one runtime to any number of clients, each on its own port. */
export class RuntimeServer {
  readonly runtime: Runtime;
  /** Stops the runtime and closes its store (the worker's entry gives it). */
  readonly stop: ((options: StopOptions) => Promise<StopStatus>) | undefined;
  readonly #connections = new Set<Connection>();
  readonly #unlisten: () => void;
  #stopped = false;

  /** Where the runtime's host calls go: to the owner's thread. */
  readonly host: HostForwarder | undefined;

  constructor(runtime: Runtime, stop?: (options: StopOptions) => Promise<StopStatus>, host?: HostForwarder) {
    this.runtime = runtime;
    this.stop = stop;
    this.host = host;
    this.#unlisten = runtime.on((event) => {
      for (const c of this.#connections) c.onEvent(event);
    });
  }

  /** Serves a client on `port`, whose shared words are `words`. */
  connect(port: MessagePort, words: SharedArrayBuffer, owner: boolean): void {
    const conn = new Connection(this, port, new Int32Array(words), owner);
    this.#connections.add(conn);
    if (owner) this.host?.attach((message) => conn.post(message));
    port.on("close", () => this.#connections.delete(conn));
  }

  /** The runtime was stopped on purpose: the end of the worker that follows is no news for the clients. */
  stopped(): void {
    this.#stopped = true;
  }

  /** The worker is dying: tells every client why, as its last message (unless it was stopped). */
  exiting(code: number, cause: string | undefined): void {
    if (this.#stopped) return;
    for (const c of this.#connections) c.exiting(code, cause);
  }

  /** Closes every client's port and stops listening to the runtime. */
  close(): void {
    this.#unlisten();
    for (const c of this.#connections) c.port.close();
    this.#connections.clear();
  }
}
