/**
 * The event bus: hands each event to the runtime's listeners and a turn's events to the handles of
 * its inputs. A throwing listener is contained and logged, never rethrown into the runtime. Turn
 * events are built only when someone listens (`observed`), since most turns have no audience.
 *
 * @packageDocumentation
 */
import type { EventListener, RuntimeEvent, TurnEvent } from "./events.js";
import type { LogFields, RuntimeLog } from "./logger.js";

/** What a turn event goes to besides the listeners: the handles of the turn's inputs. */
interface EventSink {
  emit(event: TurnEvent): void;
}

export class EventBus {
  readonly #log: RuntimeLog;
  readonly #listeners: EventListener[] = [];
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
        this.#log.error({ event: event.type, error }, "an event listener threw; it was contained");
      }
    }
  }

  /** Emits a turn's event to the listeners and to the handles of `sinks` (the turn's inputs). */
  emitTo(sinks: readonly EventSink[], event: TurnEvent): void {
    this.emit(event);
    for (const sink of sinks) sink.emit(event);
  }

  /**
   * Logs a failure of the runtime's own work (with `fields` naming what it concerned: a session, a
   * turn) and emits it as an `error` event.
   */
  report(where: string, error: unknown, fields?: LogFields): void {
    this.#log.error({ ...fields, where, error }, `offstage: ${where} failed`);
    this.emit({ type: "error", where, message: messageOf(error) });
  }
}

/** An error's message for the `error` event; reading a hostile value must not throw here. */
function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "(an unprintable value)";
  }
}
