/**
 * Idempotency keys: a send that repeats a key gets the original input's handle back — the live one
 * while the input is queued or running here, else one built from the store — and a repeated key
 * with a different payload is refused. Live inputs are found by key here; once an input has ended,
 * its key is the store's to remember.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from "../errors.js";
import type { LiveInput } from "./live-input.js";
import type { RuntimeParts } from "./parts.js";
import { storedHandle } from "./stored-handle.js";
import type { TurnHandle } from "./turn-handle.js";

export class IdempotencyKeys {
  readonly #parts: RuntimeParts;
  /** Live inputs sent with an idempotency key, by session and key. */
  readonly #live = new Map<string, LiveInput>();

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
  }

  /** A live input with a key: a repeated send finds it here. */
  remember(live: LiveInput): void {
    this.#live.set(keyOf(live.sessionId, live.idempotencyKey!), live);
  }

  /** The input ended: its idempotency key is the store's to remember from now on. */
  forget(live: LiveInput): void {
    const key = live.idempotencyKey;
    if (key !== undefined) this.#live.delete(keyOf(live.sessionId, key));
  }

  /** The runtime stopped: every live input is the store's to remember. */
  clear(): void {
    this.#live.clear();
  }

  /**
   * The handle of the input sent with this key, `undefined` when none was. Throws
   * `InvalidInputError` `IDEMPOTENCY_CONFLICT` when that input's payload, as JSON, is not `json`.
   */
  find(sessionId: string, key: string, json: string): TurnHandle | undefined {
    const live = this.#live.get(keyOf(sessionId, key));
    if (live !== undefined) {
      // The payload is a private copy made from JSON (or a string), so it serialises back to the same.
      if (JSON.stringify(live.payload) !== json) throw conflict(sessionId, key, live.id);
      return live;
    }
    const stored = this.#parts.store.findByIdempotencyKey(sessionId, key);
    if (stored === undefined) return undefined;
    if (JSON.stringify(stored.payload) !== json) throw conflict(sessionId, key, stored.id);
    return this.#parts.gate.endingInput(stored.id) ?? storedHandle(this.#parts, stored);
  }
}

function keyOf(sessionId: string, key: string): string {
  return `${sessionId}\u0000${key}`;
}

function conflict(sessionId: string, key: string, inputId: string): InvalidInputError {
  return new InvalidInputError(
    "IDEMPOTENCY_CONFLICT",
    `idempotency key ${JSON.stringify(key)} of session ${JSON.stringify(sessionId)} was used for input ${inputId} with a different payload`,
    { details: { sessionId, idempotencyKey: key, inputId } },
  );
}
