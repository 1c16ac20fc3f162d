/**
 * `ClientSession`: a session of a runtime in a worker thread, with the API of `Session`. Every
 * call runs in the worker, so its validation and typed errors are the runtime's own.
 *
 * @packageDocumentation
 */
import { markAsUncloneable } from "node:worker_threads";
import type { Message } from "../kernel/messages.js";
import type { DelegateResult, DelegateSpec } from "../runtime/delegation/delegate-spec.js";
import type { SendOptions } from "../runtime/session.js";
import type { ResultOptions, TurnResult } from "../runtime/turn-result.js";
import type { ClientConnection } from "./client-connection.js";
import type { ClientTurnHandle } from "./client-turn-handle.js";
import type { HandleReply } from "./server-connection.js";

/** A session of a runtime in a worker thread. */
export class ClientSession {
  readonly id: string;
  /** The name of the agent that runs this session's turns. */
  readonly agent: string;
  readonly #connection: () => ClientConnection;

  /** @internal Made by `client.session()`. */
  constructor(connection: () => ClientConnection, id: string, agent: string) {
    this.#connection = connection;
    this.id = id;
    this.agent = agent;
    markAsUncloneable(this);
  }

  /**
   * Accepts an input and returns its handle once the worker has accepted it (see `Session.send`
   * for the errors); the turn runs in the worker.
   */
  send(payload: unknown, options?: SendOptions): ClientTurnHandle {
    const conn = this.#connection();
    const args = options === undefined ? [this.id, payload] : [this.id, payload, options];
    return conn.handleOf(conn.call("send", args) as HandleReply);
  }

  /** Sends, then waits for the result. */
  invoke(payload: unknown, options: SendOptions & ResultOptions = {}): Promise<TurnResult> {
    const { timeoutMs, signal, ...send } = options;
    let handle: ClientTurnHandle;
    try {
      handle = this.send(payload, send);
    } catch (error) {
      return Promise.reject(error);
    }
    return handle.result({
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(signal === undefined ? {} : { signal }),
    });
  }

  /** Hands a task to a background child (see `Session.delegate`). */
  delegate(
    spec: DelegateSpec,
  ): { status: "dispatched"; id: string } | Extract<DelegateResult, { status: "rejected" }> {
    return this.#connection().call("delegate", [this.id, spec]) as ReturnType<ClientSession["delegate"]>;
  }

  /** Dispatches several children as one fan-out (see `Session.delegateAll`). */
  delegateAll(specs: readonly DelegateSpec[]): DelegateResult {
    return this.#connection().call("delegateAll", [this.id, specs]) as DelegateResult;
  }

  /** The committed conversation, oldest first. */
  history(): readonly Message[] {
    return this.#connection().call("history", [this.id]) as Message[];
  }
}
