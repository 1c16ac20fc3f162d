/**
 * `Session`: one conversation or state machine, with a durable inbox and history. Obtained from
 * `runtime.session(id, { agent })`; cheap to get again.
 *
 * @packageDocumentation
 */
import { markAsUncloneable } from "node:worker_threads";
import { OffstageError } from "../errors.js";
import type { Message } from "../kernel/messages.js";
import type { Policy } from "../kernel/session/inbox.js";
import { argumentsOf, checkOptions, fail, isInstance, type Subject } from "../validate.js";
import type { DelegateResult, DelegateSpec } from "./delegation/delegate-spec.js";
import type { RuntimeParts } from "./parts.js";
import type { SessionEvent } from "./ports/event-log.js";
import { recorderOf } from "./session-events.js";
import type { SessionEntry } from "./session-table.js";
import type { TurnHandle } from "./turn-handle.js";
import { checkResultOptions, RESULT_KEYS, type ResultOptions, type TurnResult } from "./turn-result.js";

/** Options of {@link Session.send}. */
export interface SendOptions {
  /** What to do if the session is busy (default `enqueue`). */
  readonly policy?: Policy;
  /** A repeated send with the same key returns the original handle; with a different payload it throws. */
  readonly idempotencyKey?: string;
}

/** The keys of {@link SendOptions}. */
export const SEND_KEYS = Object.keys({ policy: true, idempotencyKey: true } satisfies Record<
  keyof SendOptions,
  true
>);
const INVOKE_KEYS = [...SEND_KEYS, ...RESULT_KEYS];

/** See {@link Session.inbox}. */
export interface SessionInbox {
  readonly queued: readonly { readonly inputId: string; readonly policy: Policy }[];
  readonly running: { readonly turnId: string; readonly inputIds: readonly string[] } | undefined;
}

/** Options of {@link Session.events}. */
export interface SessionEventsOptions {
  /** Show the events after this number (default 0: from the oldest the log keeps). */
  readonly after?: number;
  /** Ends the iteration when it fires. */
  readonly signal?: AbortSignal;
}

const EVENTS: Subject = argumentsOf("events()");
const EVENTS_KEYS = Object.keys({ after: true, signal: true } satisfies Record<
  keyof SessionEventsOptions,
  true
>);

/** A session of a runtime. */
export class Session {
  readonly id: string;
  readonly #parts: RuntimeParts;
  readonly #entry: SessionEntry;

  /** @internal */
  constructor(parts: RuntimeParts, entry: SessionEntry) {
    this.#parts = parts;
    this.id = entry.id;
    this.#entry = entry;
    // A structured clone would hand another thread a plain object that looks like a session and is none.
    markAsUncloneable(this);
  }

  /** The name of the agent that runs this session's turns. */
  get agent(): string {
    return this.#entry.agentName;
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
    return this.#parts.intake.send(this.#entry, payload, options);
  }

  /**
   * Sends, then waits for the result. Refuses with `DeadlockError` when called from inside a turn
   * of this same session, where it could never finish.
   */
  invoke(payload: unknown, options: SendOptions & ResultOptions = {}): Promise<TurnResult> {
    // Checked before sending: a refused call must not leave an input behind.
    let given: SendOptions & ResultOptions;
    try {
      given = checkResultOptions("invoke()", options, INVOKE_KEYS);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#parts.intake.invoke(this.#entry, payload, given);
  }

  /**
   * Hands a task to a background child and returns at once: `{ status: "dispatched", id }`, or
   * `{ status: "rejected", code, reason }` when a cap (running children in total or under this
   * session, or tree depth) would be exceeded. The child's result arrives later as a new turn of
   * this session. Throws `InvalidInputError` for a malformed spec and `OffstageError`
   * `DELEGATION_UNSUPPORTED` when the store keeps no delegation log.
   *
   * @example
   * const sent = session.delegate({ goal: "count the TODOs under src", tools: ["read_file", "list_files"] });
   */
  delegate(
    spec: DelegateSpec,
  ): { status: "dispatched"; id: string } | Extract<DelegateResult, { status: "rejected" }> {
    const result = this.delegateAll([spec]);
    return result.status === "dispatched" ? { status: "dispatched", id: result.ids[0]! } : result;
  }

  /** Dispatches several children as one fan-out: all of them, or none when the caps cannot hold them all. */
  delegateAll(specs: readonly DelegateSpec[]): DelegateResult {
    const { run, children, store } = this.#parts;
    run.assertAccepting();
    if (children === undefined)
      throw new OffstageError("DELEGATION_UNSUPPORTED", `the ${store.kind} store keeps no delegation log`);
    return children.dispatch(this.#entry, specs);
  }

  /**
   * The session's recorded events after number `after` (default 0: from the oldest kept), then its
   * new ones as they are committed, until the runtime stops or `signal` fires. Each carries its
   * `seq`, so a subscriber that reconnects passes the last one it saw. Throws `OffstageError`
   * `EVENT_LOG_UNAVAILABLE` unless the runtime records events (`options.eventLog`); the iteration
   * throws `EVENTS_TRIMMED` when the events after `after` were trimmed already.
   *
   * @example
   * for await (const { seq, event } of session.events({ after: lastSeen })) console.log(seq, event.type);
   */
  events(options: SessionEventsOptions = {}): AsyncGenerator<SessionEvent, void, undefined> {
    const given = checkOptions(EVENTS, "options", options, EVENTS_KEYS);
    const after = given.after ?? 0;
    if (!Number.isSafeInteger(after) || after < 0) fail(EVENTS, "after", after, "an integer from 0");
    if (given.signal !== undefined && !isInstance(given.signal, AbortSignal))
      fail(EVENTS, "signal", given.signal, "an AbortSignal");
    this.#parts.run.assertAccepting();
    return recorderOf(this.#parts).follow(this.id, after, { signal: given.signal });
  }

  /** What waits in the session's inbox, in the order it will run, and the turn running now. */
  inbox(): SessionInbox {
    const { queue, turn } = this.#entry;
    return {
      queued: queue.map((input) => ({ inputId: input.id, policy: input.policy })),
      running:
        turn === undefined
          ? undefined
          : { turnId: turn.turnId, inputIds: turn.inputs.map((input) => input.id) },
    };
  }

  /** The committed conversation, oldest first. */
  history(): readonly Message[] {
    // A copy: a store may hand out (and later append to) the array it keeps.
    return [...this.#parts.store.history(this.id)];
  }
}
