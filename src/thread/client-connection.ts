/**
 * A client's end of its port to the runtime's worker: calls answered at once (`call`, blocking on
 * the shared words), calls answered later (`ask`), the handles this client holds, and what happens
 * to all of them when the worker goes away.
 *
 * The client never needs to yield for news to arrive: `drain()` reads the worker's messages with
 * `receiveMessageOnPort`, and costs one atomic load when there are none. When the host does yield,
 * the port's `message` listener reads them instead.
 *
 * @packageDocumentation
 */
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import { InvalidInputError, OffstageError } from "../errors.js";
import { describeCause, type Reason } from "../kernel/outcome.js";
import type { RuntimeEvent } from "../runtime/events.js";
import type { HostExecutor } from "../runtime/ports/host-executor.js";
import { ClientTurnHandle } from "./client-turn-handle.js";
import { HostCalls, type HostTools } from "./host-calls.js";
import type { ClientMessage, WorkerMessage } from "./protocol.js";
import type { HandleReply } from "./server-connection.js";
import { awaitCall, beginCall, dropCall, nextSeq, postedCount } from "./sync-call.js";
import { fromWire, toWire } from "./wire-error.js";

/** Why a connection ended: the reason its unsettled handles get, and the error later calls throw. */
export interface Ending {
  readonly reason: Reason;
  readonly error: () => OffstageError;
}

interface Ask {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** One client's connection to the worker. */
export class ClientConnection {
  readonly #port: MessagePort;
  readonly #words: Int32Array;
  readonly #timeoutMs: number;
  readonly #onEvent: (event: RuntimeEvent) => void;
  readonly #onExit: (code: number, cause: string | undefined) => void;
  /** Runs the worker's host calls in this thread's queue (the owner's connection, given a queue). */
  readonly #host: HostCalls | undefined;
  readonly #handles = new Map<string, ClientTurnHandle>();
  readonly #asks = new Map<number, Ask>();
  #read = 0;
  #seq = 0;
  /** The reply to the sync call in progress, once read. */
  #syncReply: Extract<WorkerMessage, { t: "reply" }> | undefined;
  #ending: Ending | undefined;
  /** Promises someone awaits on this connection: while there are any, the port keeps the process alive. */
  #holds = 0;

  constructor(
    port: MessagePort,
    words: SharedArrayBuffer,
    timeoutMs: number,
    onEvent: (event: RuntimeEvent) => void,
    onExit: (code: number, cause: string | undefined) => void,
    host?: { readonly queue: HostExecutor; readonly tools: HostTools },
  ) {
    this.#port = port;
    this.#words = new Int32Array(words);
    this.#timeoutMs = timeoutMs;
    this.#onEvent = onEvent;
    this.#onExit = onExit;
    this.#host =
      host === undefined
        ? undefined
        : new HostCalls(host.queue, host.tools, (m) => this.#port.postMessage(m));
    port.on("message", (message: WorkerMessage) => {
      this.#read = (this.#read + 1) | 0;
      this.#receive(message);
    });
    port.unref();
  }

  /** Why the connection ended, once it has. */
  get ending(): Ending | undefined {
    return this.#ending;
  }

  /** Reads every message the worker has posted so far, without yielding. */
  drain(): void {
    if (postedCount(this.#words) === this.#read) return;
    while (this.#ending === undefined) {
      const next = receiveMessageOnPort(this.#port);
      if (next === undefined) return;
      this.#read = (this.#read + 1) | 0;
      this.#receive(next.message as WorkerMessage);
    }
  }

  /**
   * Runs `op` in the worker and returns its value, blocking this thread (never yielding) until the
   * worker answers. Throws the worker's typed error, `InvalidInputError` for arguments that cannot
   * cross, `OffstageError` `WORKER_UNRESPONSIVE` when the worker did not answer in time.
   */
  call(op: string, args: readonly unknown[]): unknown {
    this.drain();
    this.#assertOpen();
    const seq = this.#nextSeq();
    beginCall(this.#words, seq);
    try {
      this.#post({ t: "call", seq, op, args });
    } catch (error) {
      dropCall(this.#words, seq);
      throw error;
    }
    const waited = awaitCall(this.#words, seq, this.#timeoutMs);
    if (waited !== "done") {
      // The worker may have said why it is gone: then that is the answer.
      this.drain();
      if (this.#ending !== undefined) throw this.#ending.error();
      throw new OffstageError(
        "WORKER_UNRESPONSIVE",
        waited === "abandoned"
          ? `${op}(): the runtime's worker did not take the call within ${this.#timeoutMs} ms (it is busy or gone); nothing was done`
          : `${op}(): the runtime's worker took the call but did not finish it within ${this.#timeoutMs} ms; it may have taken effect`,
        { details: { op, timeoutMs: this.#timeoutMs } },
      );
    }
    const reply = this.#readReply(op, seq);
    if (!reply.ok) throw fromWire(reply.error);
    return reply.value;
  }

  /** Runs `op` in the worker; settles with its value or typed error. */
  ask(op: string, args: readonly unknown[]): Promise<unknown> {
    if (this.#ending !== undefined) return Promise.reject(this.#ending.error());
    const seq = this.#nextSeq();
    try {
      this.#post({ t: "ask", seq, op, args });
    } catch (error) {
      return Promise.reject(error);
    }
    const release = this.hold();
    return new Promise<unknown>((resolve, reject) => {
      this.#asks.set(seq, { resolve, reject });
    }).finally(release);
  }

  /** Asks the worker for every runtime event, or no more of them. */
  listen(on: boolean): void {
    if (this.#ending === undefined) this.#post({ t: "listen", on });
  }

  /** Hands a new client's port and shared words to the worker. */
  connect(port: MessagePort, words: SharedArrayBuffer): void {
    this.#assertOpen();
    this.#port.postMessage({ t: "connect", port, words } satisfies ClientMessage, [port]);
  }

  /** The client's handle for a handle reply: the one it already holds, or a new one. */
  handleOf(reply: HandleReply): ClientTurnHandle {
    const known = this.#handles.get(reply.snapshot.id);
    if (known !== undefined) return known;
    const handle = new ClientTurnHandle(this, reply.snapshot);
    if (reply.settled === undefined) this.#handles.set(handle.id, handle);
    else handle.settle(reply.settled.outcome, reply.settled.usage);
    return handle;
  }

  /** Keeps the process alive while someone awaits news from the worker; returns the release. */
  hold(): () => void {
    if (this.#holds++ === 0) this.#port.ref();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.#holds === 0) this.#port.unref();
    };
  }

  /**
   * Ends the connection: reads what the worker posted before it went, then settles every handle
   * still open with `ending.reason`, and rejects every pending ask with `ending.error()`.
   */
  end(ending: Ending): void {
    if (this.#ending !== undefined) return;
    try {
      this.drain();
    } catch {
      // A port already closed has nothing more to read.
    }
    this.#ending = ending;
    this.#port.close();
    this.#host?.abortAll();
    for (const ask of this.#asks.values()) ask.reject(ending.error());
    this.#asks.clear();
    const open = [...this.#handles.values()];
    this.#handles.clear();
    for (const handle of open) handle.settle({ status: "interrupted", reason: ending.reason }, undefined);
  }

  #nextSeq(): number {
    this.#seq = nextSeq(this.#seq);
    return this.#seq;
  }

  /** Reads the worker's messages up to the reply to sync call `seq`. */
  #readReply(op: string, seq: number): Extract<WorkerMessage, { t: "reply" }> {
    this.#syncReply = undefined;
    for (;;) {
      const reply = this.#syncReply as Extract<WorkerMessage, { t: "reply" }> | undefined;
      if (reply?.seq === seq) {
        this.#syncReply = undefined;
        return reply;
      }
      const next = receiveMessageOnPort(this.#port);
      if (next === undefined)
        throw new OffstageError(
          "WORKER_UNRESPONSIVE",
          `${op}(): the runtime's worker answered, but no reply arrived`,
        );
      this.#read = (this.#read + 1) | 0;
      this.#receive(next.message as WorkerMessage);
    }
  }

  #assertOpen(): void {
    if (this.#ending !== undefined) throw this.#ending.error();
  }

  #post(message: ClientMessage): void {
    try {
      this.#port.postMessage(message);
    } catch (error) {
      throw new InvalidInputError(
        "INVALID_ARGUMENT",
        `${"op" in message ? `${message.op}()` : message.t}: the arguments cannot cross to the runtime's worker thread (${describeCause(error)}); pass plain data`,
      );
    }
  }

  #receive(message: WorkerMessage): void {
    switch (message.t) {
      case "reply": {
        const ask = this.#asks.get(message.seq);
        if (ask === undefined) {
          this.#syncReply = message;
          return;
        }
        this.#asks.delete(message.seq);
        if (message.ok) ask.resolve(message.value);
        else ask.reject(fromWire(message.error));
        return;
      }
      case "status":
        this.#handles.get(message.snapshot.id)?.update(message.snapshot);
        return;
      case "settled": {
        const handle = this.#handles.get(message.snapshot.id);
        if (handle === undefined) return;
        this.#handles.delete(handle.id);
        handle.update(message.snapshot);
        handle.settle(message.outcome, message.usage);
        return;
      }
      case "event":
        for (const id of message.ids) this.#handles.get(id)?.pushEvent(message.event);
        return;
      case "runtime-event":
        this.#onEvent(message.event);
        return;
      case "host-call":
        if (this.#host !== undefined) this.#host.call(message);
        else
          this.#port.postMessage({
            t: "host-result",
            callId: message.callId,
            holdMs: 0,
            ok: false,
            error: toWire(
              new OffstageError(
                "WRONG_THREAD",
                `tool ${JSON.stringify(message.toolName)} runs on the host's thread, which has no host queue: pass { host: createHostQueue() } to startRuntimeWorker() and drain it`,
              ),
            ),
          } satisfies ClientMessage);
        return;
      case "host-cancel":
        this.#host?.cancel(message.callId);
        return;
      case "batch":
        for (const m of message.messages) this.#receive(m);
        return;
      case "exit":
        this.#onExit(message.code, message.cause);
        return;
      case "hello":
        return;
    }
  }
}
