/**
 * `Session`: one conversation or state machine, with a durable inbox and history. Obtained from
 * `runtime.session(id, { agent })`; cheap to get again.
 *
 * @packageDocumentation
 */
import type { Message } from "../kernel/messages.js";
import type { Policy } from "../kernel/session/inbox.js";
import { checkResultOptions, type ResultOptions, type TurnHandle, type TurnResult } from "./turn-handle.js";

/** Options of {@link Session.send}. */
export interface SendOptions {
  /** What to do if the session is busy (default `enqueue`). */
  readonly policy?: Policy;
  /** A repeated send with the same key returns the original handle; with a different payload it throws. */
  readonly idempotencyKey?: string;
}

/** What a session needs from its runtime. */
export interface SessionOwner {
  send(sessionId: string, payload: unknown, options: SendOptions | undefined): TurnHandle;
  invoke(sessionId: string, payload: unknown, options: SendOptions & ResultOptions): Promise<TurnResult>;
  history(sessionId: string): readonly Message[];
  agentOf(sessionId: string): string;
}

/** A session of a runtime. */
export class Session {
  readonly id: string;
  readonly #owner: SessionOwner;

  /** @internal */
  constructor(owner: SessionOwner, id: string) {
    this.#owner = owner;
    this.id = id;
  }

  /** The name of the agent that runs this session's turns. */
  get agent(): string {
    return this.#owner.agentOf(this.id);
  }

  /**
   * Accepts an input and returns its handle at once; the turn runs in the background. Throws
   * `CapacityError` (`SESSION_BUSY` under policy `reject`, `INBOX_FULL`), `InvalidInputError`
   * (`INVALID_ARGUMENT`, `PAYLOAD_TOO_LARGE`, `IDEMPOTENCY_CONFLICT`) or `OffstageError`
   * (`NOT_RUNNING`, `STOPPING`); a refused send changes nothing.
   *
   * @example
   * const handle = session.send("summarise ./notes");
   * const { output } = await handle.result({ timeout: 30_000 });
   */
  send(payload: unknown, options?: SendOptions): TurnHandle {
    return this.#owner.send(this.id, payload, options);
  }

  /**
   * Sends, then waits for the result. Refuses with `DeadlockError` when called from inside a turn
   * of this same session, where it could never finish.
   */
  invoke(payload: unknown, options: SendOptions & ResultOptions = {}): Promise<TurnResult> {
    // Checked before sending: a refused call must not leave an input behind.
    try {
      checkResultOptions("invoke()", options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#owner.invoke(this.id, payload, options);
  }

  /** The committed conversation, oldest first. */
  history(): readonly Message[] {
    return this.#owner.history(this.id);
  }
}
