/**
 * The event bus: hands each event to the runtime's listeners and a turn's events to the handles of
 * its inputs. A throwing listener is contained and logged once (its first failure; a listener that
 * throws on every event would otherwise flood the log), never rethrown into the runtime or into the
 * call that caused the event: a `send()` whose `input.accepted` listener throws has still accepted.
 * Turn events are built only when someone listens (`observed`), since most turns have no audience.
 *
 * @packageDocumentation
 */
import { CAUSE_CHARS_MAX } from "../kernel/limits.js";
import { clip, describeCause } from "../kernel/outcome.js";
import type { EventListener, RuntimeEvent, TurnEvent } from "./events.js";
import type { LogFields, RuntimeLog } from "./logger.js";

/** What a turn event goes to besides the listeners: the handles of the turn's inputs. */
interface EventSink {
  emit(event: TurnEvent): void;
}

export class EventBus {
  readonly #log: RuntimeLog;
  readonly #listeners: EventListener[] = [];
  /** Listeners whose failure was logged already. */
  readonly #failed = new WeakSet<EventListener>();
  /** Failures reported already in another way (a store failure, logged once by the store's health). */
  readonly #quiet = new WeakSet<object>();
  /** Handles whose events someone iterates. */
  #handleSubscribers = 0;

  constructor(log: RuntimeLog) {
    this.#log = log;
  }

  /** Subscribes a listener; returns a function that unsubscribes it. */
  on(listener: EventListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const at = this.#listeners.indexOf(listener);
      if (at >= 0) this.#listeners.splice(at, 1);
    };
  }

  /** Someone listens to the runtime's events. */
  get listening(): boolean {
    return this.#listeners.length > 0;
  }

  /** Someone listens to turn events: a listener, or a consumer of a handle's events. */
  get observed(): boolean {
    return this.#listeners.length > 0 || this.#handleSubscribers > 0;
  }

  /** A consumer started (+1) or stopped (-1) iterating a handle's events. */
  subscribed(delta: 1 | -1): void {
    this.#handleSubscribers += delta;
  }

  emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#contained(listener, event, error);
      }
    }
  }

  #contained(listener: EventListener, event: RuntimeEvent, error: unknown): void {
    // A failure told already (a store failure: the store's health logs it): not the listener's fault.
    if (this.#failed.has(listener) || this.#isQuiet(error)) return;
    this.#failed.add(listener);
    this.#log.error(
      { event: event.type, error },
      "an event listener threw; it was contained (later failures of this listener are not logged)",
    );
  }

  /** Emits a turn's event to the listeners and to the handles of `sinks` (the turn's inputs). */
  emitTo(sinks: readonly EventSink[], event: TurnEvent): void {
    this.emit(event);
    for (const sink of sinks) sink.emit(event);
  }

  #isQuiet(error: unknown): boolean {
    return typeof error === "object" && error !== null && this.#quiet.has(error);
  }

  /** Later reports of `error` are dropped: it was reported in another way already. */
  quiet(error: unknown): void {
    if (typeof error === "object" && error !== null) this.#quiet.add(error);
  }

  /**
   * Logs a failure of the runtime's own work (with `fields` naming what it concerned: a session, a
   * turn) and emits it as an `error` event.
   */
  report(where: string, error: unknown, fields?: LogFields): void {
    if (this.#isQuiet(error)) return;
    this.#log.error({ ...fields, where, error }, `offstage: ${where} failed`);
    this.emit({ type: "error", where, message: messageOf(error) });
  }
}

/**
 * An error's message for the `error` event (the event names where it happened already), or the
 * cause described; never throws, and bounded, whatever was thrown.
 */
function messageOf(error: unknown): string {
  try {
    if (error instanceof Error && typeof error.message === "string")
      return clip(error.message, CAUSE_CHARS_MAX);
  } catch {
    // A getter or proxy trap threw: describe it as any other value.
  }
  return describeCause(error);
}
