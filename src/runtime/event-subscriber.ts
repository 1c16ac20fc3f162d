/**
 * One consumer iterating a handle's turn events: what reached it and is not yet taken, bounded, and
 * how to wake it. The runtime's handles and a worker client's handles both feed theirs with `offer`
 * and read them with `drain`.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import type { TurnEvent } from "./events.js";

export class EventSubscriber {
  readonly #queue: TurnEvent[] = [];
  readonly #bufferMax: number;
  #wake: (() => void) | undefined;
  #overflowed = false;

  constructor(bufferMax: number) {
    this.#bufferMax = bufferMax;
  }

  /** Queues `event` for the consumer (or marks it fallen behind), and wakes it. */
  offer(event: TurnEvent): void {
    if (this.#queue.length >= this.#bufferMax) this.#overflowed = true;
    else this.#queue.push(event);
    this.wake();
  }

  /** Wakes the consumer to look again (the input settled). */
  wake(): void {
    this.#wake?.();
  }

  /**
   * Yields the events as they come until `settled()` holds and none is left; throws `OffstageError`
   * `EVENT_BUFFER_OVERFLOW` once the consumer fell more than the bound behind.
   */
  async *drain(handleId: string, settled: () => boolean): AsyncGenerator<TurnEvent, void, undefined> {
    for (;;) {
      if (this.#overflowed) {
        throw new OffstageError(
          "EVENT_BUFFER_OVERFLOW",
          `handle ${handleId}: the event consumer fell more than ${this.#bufferMax} events behind`,
        );
      }
      const next = this.#queue.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (settled()) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}
