/**
 * `RuntimeClient`: the runtime's API for a thread that does not run it. Sessions, `send`, handles,
 * `delegations`, `metrics` and the event stream work as they do on a `Runtime`; calls that return at
 * once block this thread until the worker answers (typically tens of microseconds), and `poll()`
 * and `status` never wait at all.
 *
 * @packageDocumentation
 */
import {
  MessageChannel,
  type MessagePort,
  markAsUncloneable,
  receiveMessageOnPort,
} from "node:worker_threads";
import { OffstageError } from "../errors.js";
import type { EventListener, RuntimeEvent } from "../runtime/events.js";
import type { RuntimeMetrics } from "../runtime/metrics.js";
import type { HostExecutor } from "../runtime/ports/host-executor.js";
import type { Receipt } from "../runtime/ports/store.js";
import type { SessionOptions } from "../runtime/runtime.js";
import { argumentsOf, checkFunction, fail } from "../validate.js";
import { ClientConnection, type Ending } from "./client-connection.js";
import { ClientDelegations } from "./client-delegations.js";
import { ClientSession } from "./client-session.js";
import type { ClientTurnHandle } from "./client-turn-handle.js";
import type { HostTools } from "./host-calls.js";
import { WORDS, type WorkerMessage } from "./protocol.js";
import type { HandleReply } from "./server-connection.js";

/** Options of a client. */
export interface ClientOptions {
  /**
   * How long a call that returns at once (`session()`, `send()`, `metrics()`) waits for a busy worker
   * before it throws `OffstageError` `WORKER_UNRESPONSIVE` having done nothing (default 2000 ms).
   */
  readonly callTimeoutMs?: number;
}

/** The default of {@link ClientOptions.callTimeoutMs}. */
export const CALL_TIMEOUT_MS = 2000;

/** A runtime in another thread, seen from this one. */
export class RuntimeClient {
  /** Background children, as on `Runtime`. */
  readonly delegations: ClientDelegations;
  readonly #callTimeoutMs: number;
  readonly #listeners = new Set<EventListener>();
  readonly #sessions = new Map<string, ClientSession>();
  #conn: ClientConnection | undefined;

  /** @internal Use `connectRuntime(port)`, or `startRuntimeWorker()` for the thread that owns it. */
  constructor(options: ClientOptions = {}) {
    this.#callTimeoutMs = options.callTimeoutMs ?? CALL_TIMEOUT_MS;
    this.delegations = new ClientDelegations((op, args) => this.connection().call(op, args));
    markAsUncloneable(this);
  }

  /** What an accepted input's receipt will say once committed: `stored` or `durable`. */
  get receipt(): Receipt {
    return this.connection().call("receipt", []) as Receipt;
  }

  /**
   * Gets a session, creating it on first use with the named agent (see `Runtime.session`; the same
   * errors, thrown here).
   */
  session(id: string, options?: SessionOptions): ClientSession {
    const conn = this.connection();
    const known = this.#sessions.get(id);
    if (known !== undefined && (options?.agent === undefined || options.agent === known.agent)) return known;
    const { agent } = conn.call("session", options === undefined ? [id] : [id, options]) as { agent: string };
    const session = new ClientSession(() => this.connection(), id, agent);
    this.#sessions.set(id, session);
    return session;
  }

  /** Ids of every known session. */
  sessionIds(): string[] {
    return this.connection().call("sessionIds", []) as string[];
  }

  /** A handle for an input by id (see `Runtime.handle`); `undefined` when unknown. */
  handle(inputId: string): ClientTurnHandle | undefined {
    const conn = this.connection();
    const reply = conn.call("handle", [inputId]) as HandleReply | undefined;
    return reply === undefined ? undefined : conn.handleOf(reply);
  }

  /** The runtime's metrics, as `Runtime.metrics()` gives them. */
  metrics(): RuntimeMetrics {
    return this.connection().call("metrics", []) as RuntimeMetrics;
  }

  /**
   * Subscribes to the runtime's event stream, delivered when this thread's loop runs (or when a
   * `poll()` reads the worker's news); returns a function that unsubscribes.
   */
  on(listener: EventListener): () => void {
    checkFunction(argumentsOf("on()"), "listener", listener);
    if (this.#listeners.size === 0) this.#conn?.listen(true);
    this.#listeners.add(listener);
    return () => {
      if (this.#listeners.delete(listener) && this.#listeners.size === 0) this.#conn?.listen(false);
    };
  }

  /**
   * Reads what the worker has sent so far, now, without yielding: handle news, events, and host
   * calls for this thread's `host.drain()`. `poll()`, `status` and `done` do it too; a loop that never
   * yields and reads no handle calls it before `host.drain()`.
   */
  receive(): void {
    this.connection().drain();
  }

  /**
   * A port for another thread to hold a client of the same runtime: post it (in the transfer list)
   * to a worker, which calls `connectRuntime(port)`. Each call makes a new one.
   */
  port(): MessagePort {
    const conn = this.connection();
    const words = new SharedArrayBuffer(WORDS * Int32Array.BYTES_PER_ELEMENT);
    const { port1, port2 } = new MessageChannel();
    // Queued on port1 before it leaves: the connecting thread reads it first, without waiting.
    port2.postMessage({ t: "hello", words } satisfies WorkerMessage);
    conn.connect(port2, words);
    return port1;
  }

  /** @internal The current connection, or the error that says why there is none. */
  connection(): ClientConnection {
    const conn = this.#conn;
    if (conn === undefined)
      throw new OffstageError("NOT_RUNNING", "the runtime is not running; call start() first");
    if (conn.ending !== undefined) throw conn.ending.error();
    return conn;
  }

  /** @internal Talks to the worker over `port` from now on; runs its host calls in `host` when given. */
  attach(
    port: MessagePort,
    words: SharedArrayBuffer,
    host?: { readonly queue: HostExecutor; readonly tools: HostTools },
  ): ClientConnection {
    const conn = new ClientConnection(
      port,
      words,
      this.#callTimeoutMs,
      (event) => this.#emit(event),
      (code, cause) => this.lost(code, cause),
      host,
    );
    this.#conn = conn;
    // A new worker knows only the sessions its store keeps: each is looked up again on first use.
    this.#sessions.clear();
    if (this.#listeners.size > 0) conn.listen(true);
    return conn;
  }

  /**
   * @internal The worker died (`cause`: what it threw): handles settle `interrupted` with reason
   * `crashed`, later calls throw `OffstageError` `WORKER_EXITED`, and listeners get an `error` event.
   */
  lost(code: number, cause: string | undefined): void {
    const message = `the runtime's worker died (${cause === undefined ? `it exited with code ${code}` : `it threw ${cause}`})`;
    this.detach(
      {
        reason: { code: "crashed", message: `${message}; the input stays stored for the next start()` },
        error: () =>
          new OffstageError("WORKER_EXITED", `${message}; call start() again`, { details: { code } }),
      },
      true,
    );
  }

  /** @internal The connection ended: handles settle, and listeners hear why when it was not a stop. */
  detach(ending: Ending, announce: boolean): void {
    const conn = this.#conn;
    if (conn === undefined || conn.ending !== undefined) return;
    conn.end(ending);
    if (announce) this.#emit({ type: "error", where: "runtime worker", message: ending.reason.message });
  }

  #emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's error is the listener's: it must not stop the others or the client.
      }
    }
  }
}

/**
 * A client of a runtime that runs in another thread, from a port that thread's owner made with
 * `runtime.port()` and posted here. Throws `InvalidInputError` `INVALID_ARGUMENT` for any other
 * value.
 *
 * @example
 * // in a worker: parentPort.once("message", ({ runtime }) => { const client = connectRuntime(runtime); ... })
 */
export function connectRuntime(port: MessagePort, options: ClientOptions = {}): RuntimeClient {
  const subject = argumentsOf("connectRuntime()");
  let hello: unknown;
  try {
    hello = receiveMessageOnPort(port)?.message;
  } catch {
    hello = undefined;
  }
  if (typeof hello !== "object" || hello === null || (hello as WorkerMessage).t !== "hello")
    fail(subject, "port", port, "a port made by runtime.port(), not yet connected");
  const client = new RuntimeClient(options);
  client.attach(port, (hello as Extract<WorkerMessage, { t: "hello" }>).words);
  // A worker that dies says so in its last message; a port closed without one went away otherwise.
  port.on("close", () => client.lost(-1, "nothing: its port closed"));
  return client;
}
