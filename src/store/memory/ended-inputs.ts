/**
 * The memory store's ended inputs and the retention rules of `../retention.ts` over them: every
 * ended input in one queue, oldest end first, and those with an idempotency key in a second one. An
 * input leaves when either queue's bound (count or age) drops it; forgetting one marks it, so the
 * other queue skips it when it reaches its head. Each queue is read from a head index (`shift()` on
 * a long array moves every element) and compacted once most of it is behind the head.
 *
 * @packageDocumentation
 */
import type { Retention } from "../retention.js";

/** What the queues need of an ended input. */
export interface EndedInput {
  readonly id: string;
  /** Its key in the store's key map, when it has one. */
  readonly key: string | undefined;
  readonly endedAtMs: number;
  forgotten: boolean;
}

/** Below this many dropped slots a queue is not compacted (the copy would cost more than it frees). */
const COMPACT_MIN = 1_024;

class Queue<T extends EndedInput> {
  #items: (T | undefined)[] = [];
  #head = 0;
  /** Entries not forgotten. */
  count = 0;

  push(item: T): void {
    this.#items.push(item);
    this.count += 1;
  }

  /** The oldest entry, forgotten ones skipped (and dropped). */
  peek(): T | undefined {
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      if (!item.forgotten) return item;
      this.#drop();
    }
    return undefined;
  }

  /** Drops the head slot, letting go of its entry. */
  #drop(): void {
    this.#items[this.#head] = undefined;
    this.#head += 1;
    if (this.#head >= COMPACT_MIN && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Forgets and drops the head (which `peek()` returned). */
  shift(): void {
    this.count -= 1;
    this.#drop();
  }

  find(id: string): T | undefined {
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i]!;
      if (item.id === id && !item.forgotten) return item;
    }
    return undefined;
  }
}

export class EndedInputs<T extends EndedInput> {
  readonly #retention: Retention;
  readonly #all = new Queue<T>();
  readonly #keyed = new Queue<T>();
  #newestMs = Number.NEGATIVE_INFINITY;

  constructor(retention: Retention) {
    this.#retention = retention;
  }

  /** Adds a newly ended input, then forgets what the bounds drop; `forget` is told of each. */
  add(input: T, forget: (input: T) => void): void {
    this.#all.push(input);
    if (input.key !== undefined) this.#keyed.push(input);
    this.#newestMs = Math.max(this.#newestMs, input.endedAtMs);
    const r = this.#retention;
    // Keys first: the count of ended inputs counts those their key's bound let stay.
    this.#trim(this.#keyed, r.idempotencyKeysMax, r.idempotencyKeyAgeMaxMs, forget);
    this.#trim(this.#all, r.endedInputsMax, r.endedInputAgeMaxMs, forget);
  }

  find(id: string): T | undefined {
    return this.#all.find(id);
  }

  #trim(queue: Queue<T>, countMax: number, ageMaxMs: number, forget: (input: T) => void): void {
    for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
      if (queue.count <= countMax && head.endedAtMs >= this.#newestMs - ageMaxMs) return;
      head.forgotten = true;
      queue.shift();
      // Forgotten here, it leaves the other queue's count now and its slot when it reaches the head.
      if (queue === this.#all && head.key !== undefined) this.#keyed.count -= 1;
      else if (queue === this.#keyed) this.#all.count -= 1;
      forget(head);
    }
  }
}
