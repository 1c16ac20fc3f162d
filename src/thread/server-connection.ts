/**
 * One client, from the worker's side: its calls are answered with the runtime's own public API, so
 * validation, typed errors and every rule of the in-thread runtime hold unchanged, and it hears of
 * the handles it holds (started, stored, their turn events, settled) and, when it listens, the
 * runtime's whole event stream.
 *
 * @packageDocumentation
 */
import type { MessagePort } from "node:worker_threads";
import { InvalidInputError, OffstageError } from "../errors.js";
import { printable, type TurnOutcome, type Usage } from "../kernel/outcome.js";
import type { RuntimeEvent, TurnEvent } from "../runtime/events.js";
import type { Runtime, StopOptions } from "../runtime/runtime.js";
import type { TurnHandle } from "../runtime/turn-handle.js";
import { argumentsOf, fail } from "../validate.js";
import type { ClientMessage, HandleSnapshot, WorkerMessage } from "./protocol.js";
import type { RuntimeServer } from "./runtime-server.js";
import { countPosted, finishCall, markGone, takeCall } from "./sync-call.js";
import { toWire } from "./wire-error.js";

/** What a handle reply carries: the snapshot, and the end when the input had already settled. */
export interface HandleReply {
  readonly snapshot: HandleSnapshot;
  readonly settled: { readonly outcome: TurnOutcome; readonly usage: Usage | undefined } | undefined;
}

type Op = (conn: Connection, args: readonly unknown[]) => unknown;

/** The calls a client may make that are answered at once. */
const CALLS: Readonly<Record<string, Op>> = {
  session: (c, [id, options]) => {
    const session = c.runtime.session(id as string, options as never);
    return { id: session.id, agent: session.agent };
  },
  sessionIds: (c) => c.runtime.sessionIds(),
  send: (c, [sessionId, payload, options]) =>
    c.watch(c.runtime.session(sessionId as string).send(payload, options as never)),
  history: (c, [sessionId]) => c.runtime.session(sessionId as string).history(),
  delegate: (c, [sessionId, spec]) => c.runtime.session(sessionId as string).delegate(spec as never),
  delegateAll: (c, [sessionId, specs]) => c.runtime.session(sessionId as string).delegateAll(specs as never),
  handle: (c, [id]) => {
    const handle = c.runtime.handle(id as string);
    return handle === undefined ? undefined : c.watch(handle);
  },
  withdraw: (c, [id]) => c.handle(id).withdraw(),
  metrics: (c) => c.runtime.metrics(),
  receipt: (c) => c.runtime.receipt,
  "delegations.list": (c, args) => c.runtime.delegations.list(...(args as [never])),
  "delegations.get": (c, args) => c.runtime.delegations.get(...(args as [never])),
  "delegations.cancel": (c, args) => c.runtime.delegations.cancel(...(args as [never])),
  "delegations.interruptAll": (c, args) => c.runtime.delegations.interruptAll(...(args as [never])),
  "delegations.stopChildren": (c, args) => c.runtime.delegations.stopChildren(...(args as [never])),
  "delegations.pendingStale": (c) => c.runtime.delegations.pendingStale(),
  "delegations.deliverStale": (c, args) => c.runtime.delegations.deliverStale(...(args as [never])),
  "delegations.dropStale": (c, args) => c.runtime.delegations.dropStale(...(args as [never])),
  "delegations.running": (c) => c.runtime.delegations.running,
};

/** The calls answered later. `stop` only from the client that started the worker. */
const ASKS: Readonly<Record<string, Op>> = {
  cancel: (c, [id, options]) => c.handle(id).cancel(options as never),
  stop: (c, [options]) => {
    if (c.server.stop === undefined || !c.owner)
      throw new OffstageError("NOT_RUNNING", "only the client that started the runtime's worker stops it");
    return c.server.stop(options as StopOptions);
  },
};

/** One client, from the worker's side. */
export class Connection {
  readonly server: RuntimeServer;
  readonly runtime: Runtime;
  readonly port: MessagePort;
  readonly owner: boolean;
  readonly #words: Int32Array;
  /** The handles this client holds that have not settled. */
  readonly #watched = new Map<string, TurnHandle>();
  /** The inputs this client holds of each running turn, for the turn's events. */
  readonly #turns = new Map<string, readonly string[]>();
  #listening = false;
  #outbox: WorkerMessage[] = [];

  constructor(server: RuntimeServer, port: MessagePort, words: Int32Array, owner: boolean) {
    this.server = server;
    this.runtime = server.runtime;
    this.port = port;
    this.owner = owner;
    this.#words = words;
    port.on("message", (message: ClientMessage) => this.#receive(message));
  }

  /** Tells the client about `handle` from now on; returns what it needs to make its own. */
  watch(handle: TurnHandle): HandleReply {
    const settled = handle.poll();
    if (settled !== undefined)
      return { snapshot: snapshotOf(handle, true), settled: { outcome: settled.outcome, usage: undefined } };
    if (!this.#watched.has(handle.id)) {
      this.#watched.set(handle.id, handle);
      void handle.stored().then(() => this.post({ t: "status", snapshot: snapshotOf(handle, true) }));
      const ended = (usage: Usage | undefined) => {
        this.#watched.delete(handle.id);
        this.post({
          t: "settled",
          snapshot: snapshotOf(handle, true),
          outcome: handle.poll()!.outcome,
          usage,
        });
      };
      handle.result().then(
        (result) => ended(result.usage),
        () => ended(undefined),
      );
    }
    return { snapshot: snapshotOf(handle, false), settled: undefined };
  }

  /** The handle of input `id`, or `InvalidInputError` `UNKNOWN_INPUT`. */
  handle(id: unknown): TurnHandle {
    const handle = typeof id === "string" ? (this.#watched.get(id) ?? this.runtime.handle(id)) : undefined;
    if (handle === undefined) throw new InvalidInputError("UNKNOWN_INPUT", `no input ${printable(id)}`);
    return handle;
  }

  /** A runtime event: the turn events of the handles this client holds, and the whole stream when listened to. */
  onEvent(event: RuntimeEvent): void {
    if (this.#listening) this.post({ t: "runtime-event", event });
    const ids = this.#inputsOf(event);
    if (ids !== undefined && ids.length > 0) this.post({ t: "event", ids, event: event as TurnEvent });
  }

  /** The watched inputs a turn event belongs to (`undefined` for other events). */
  #inputsOf(event: RuntimeEvent): readonly string[] | undefined {
    switch (event.type) {
      case "input.status":
        return this.#watched.has(event.inputId) ? [event.inputId] : undefined;
      case "turn.started": {
        const ids = event.inputIds.filter((id) => this.#watched.has(id));
        if (ids.length > 0) this.#turns.set(event.turnId, ids);
        return ids;
      }
      case "turn.ended": {
        this.#turns.delete(event.turnId);
        return event.inputIds.filter((id) => this.#watched.has(id));
      }
      case "model.text":
      case "model.reasoning":
      case "model.step":
      case "model.retry":
      case "tool.started":
      case "tool.ended":
        return this.#turns.get(event.turnId);
      default:
        return undefined;
    }
  }

  #receive(message: ClientMessage): void {
    switch (message.t) {
      case "call":
        this.#call(message.seq, message.op, message.args);
        return;
      case "ask":
        this.#ask(message.seq, message.op, message.args);
        return;
      case "listen":
        this.#listening = message.on;
        return;
      case "connect":
        this.server.connect(message.port, message.words, false);
        return;
      case "host-started":
        this.server.host?.started(message.callId);
        return;
      case "host-result":
        this.server.host?.ended(
          message.callId,
          message.holdMs,
          message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error! },
        );
        return;
    }
  }

  #call(seq: number, op: string, args: readonly unknown[]): void {
    if (!takeCall(this.#words, seq)) return;
    let result: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: run(CALLS, this, op, args) };
    } catch (error) {
      result = { ok: false, error };
    }
    this.#reply(seq, result);
    finishCall(this.#words, seq);
  }

  #ask(seq: number, op: string, args: readonly unknown[]): void {
    let answer: Promise<unknown>;
    try {
      answer = Promise.resolve(run(ASKS, this, op, args));
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (value) => this.#reply(seq, { ok: true, value }),
      (error: unknown) => this.#reply(seq, { ok: false, error }),
    );
  }

  #reply(seq: number, result: { ok: true; value: unknown } | { ok: false; error: unknown }): void {
    // What the client was told before this call happened reaches it before the answer.
    this.flush();
    if (result.ok) {
      try {
        this.#send({ t: "reply", seq, ok: true, value: result.value });
        return;
      } catch (error) {
        result = {
          ok: false,
          error: new OffstageError(
            "INVALID_ARGUMENT",
            `the answer cannot cross to the client's thread: ${printable(error)}`,
          ),
        };
      }
    }
    this.#send({ t: "reply", seq, ok: false, error: toWire(result.error) });
  }

  /**
   * Queues news for the client, posted as one batch when the worker's loop next turns: a client
   * that polls reads one message per batch, not one per event, and the worker clones once per batch.
   */
  post(message: WorkerMessage): void {
    this.#outbox.push(message);
    // A handle's status goes at once: the next job may hold the worker's thread for long (a function
    // agent's CPU work), and a polling client must see the input running meanwhile.
    if (changesStatus(message)) this.flush();
    else if (this.#outbox.length === 1) setImmediate(this.flush);
  }

  /** The worker is dying: its last news goes now, and a call this client is blocked in ends. */
  exiting(code: number, cause: string | undefined): void {
    this.post({ t: "exit", code, cause });
    markGone(this.#words);
  }

  /** Posts the queued news now (turn outputs and events are JSON values, which always clone). */
  readonly flush = (): void => {
    if (this.#outbox.length === 0) return;
    const messages = this.#outbox;
    this.#outbox = [];
    this.#send(messages.length === 1 ? messages[0]! : { t: "batch", messages });
  };

  #send(message: WorkerMessage): void {
    this.port.postMessage(message);
    countPosted(this.#words);
  }
}

/** True for news that changes what a handle's `status` or `poll()` says, and host calls to run. */
function changesStatus(message: WorkerMessage): boolean {
  return (
    message.t === "status" ||
    message.t === "settled" ||
    message.t === "exit" ||
    message.t === "host-call" ||
    message.t === "host-cancel" ||
    (message.t === "event" &&
      (message.event.type === "input.status" || message.event.type === "turn.started"))
  );
}

const WORKER_CALL = argumentsOf("a call to the runtime's worker");

/** Runs `op` of `table`, as `{ ok, value }` or `{ ok: false, error }`; an unknown op is a client bug. */
function run(
  table: Readonly<Record<string, Op>>,
  conn: Connection,
  op: string,
  args: readonly unknown[],
): never | unknown {
  const fn = Object.hasOwn(table, op) ? table[op] : undefined;
  if (fn === undefined) fail(WORKER_CALL, "op", op, "a call the runtime's worker knows");
  return fn(conn, args);
}

/** The handle as the client sees it; `stored` only once known (the client never unlearns it). */
function snapshotOf(handle: TurnHandle, stored: boolean): HandleSnapshot {
  return {
    id: handle.id,
    sessionId: handle.sessionId,
    status: handle.status,
    turnId: handle.turnId,
    receipt: handle.receipt,
    stored,
  };
}
