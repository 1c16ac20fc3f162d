/**
 * Session events: the runtime's recorder of each session's events into the store's event log, and
 * the subscriptions that replay them and then follow live (`session.events({ after })`,
 * `handle.events({ from: "start" })`).
 *
 * It exists only when `options.eventLog` asks for it, and then it is one more listener of the event
 * bus: a runtime without it pays nothing. Each event that concerns a session (a delegation event
 * concerns the parent) gets the session's next number; a model step's text deltas are joined for
 * `textJoinMs` (or until the session's next other event) and recorded as one event. Numbers continue
 * across restarts from the log's last one.
 *
 * A subscriber is shown an event only once the commit holding it resolved, so a number it saw is
 * never given again after a crash. Subscribers hold no queue: each reads the log from its position
 * up to the last committed number, a page at a time, so a slow one costs no memory; one that falls
 * behind retention (its next event was trimmed) gets `OffstageError` `EVENTS_TRIMMED`. The recorder
 * waits for a commit only for a session someone waits on: a session nobody follows leaves its
 * appends to commit with their group, and the first subscriber to wait asks for that commit, so
 * recording asks nothing of the store's commits (which commit sooner when waited for).
 *
 * On a log that processes share (`EventLog.recordsHere`, the PostgreSQL store's), this process
 * records only the sessions it holds, numbering each event from the log's last number (so a
 * takeover continues where the old holder's commits ended), and a subscriber to a session held
 * elsewhere is shown what the log has committed: it reads the last number when it starts waiting,
 * and waits at most `pollIntervalMs` before reading it again. A session nobody follows costs no
 * read.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import { DEFAULTS } from "../kernel/limits.js";
import type { TimerToken } from "./clock.js";
import type { ResolvedEventLogOptions } from "./event-log-options.js";
import type { RuntimeEvent, TurnEvent } from "./events.js";
import type { RuntimeParts } from "./parts.js";
import type { EventLog, LoggedEvent, LoggedEventType, SessionEvent } from "./ports/event-log.js";
import type { TurnHandle } from "./turn-handle.js";

/** The events of one input's turn: what `handle.events({ from: "start" })` replays. */
const TURN_EVENTS = new Set<string>([
  "input.status",
  "turn.started",
  "model.text",
  "model.reasoning",
  "model.step",
  "model.retry",
  "tool.started",
  "tool.ended",
  "turn.ended",
] satisfies TurnEvent["type"][]);

/** What the log keeps of a session: its turns' events, its inputs' acceptance and steering, its children. */
const LOGGED = new Set<string>([
  ...TURN_EVENTS,
  ...([
    "input.accepted",
    "input.steered",
    "delegation.dispatched",
    "delegation.rejected",
    "delegation.completed",
    "delegation.delivered",
  ] satisfies LoggedEventType[]),
]);

type TextEvent = Extract<LoggedEvent, { type: "model.text" | "model.reasoning" }>;

/** Text deltas being joined, and the timer that records them. */
interface JoinedText {
  readonly type: TextEvent["type"];
  readonly turnId: string;
  delta: string;
  readonly timer: TimerToken;
}

/** Where one session's log stands in this runtime. */
interface Cursor {
  readonly sessionId: string;
  /** The number the next event gets. */
  next: number;
  /** The last number whose commit resolved: what subscribers may read up to. */
  released: number;
  text: JoinedText | undefined;
  readonly waiters: Set<() => void>;
}

/** Options of {@link SessionEvents.follow}. */
interface FollowOptions {
  readonly signal?: AbortSignal | undefined;
  /** Ends the subscription once it has passed this number (asked again after each wake). */
  readonly until?: () => number | undefined;
}

export class SessionEvents {
  readonly #parts: RuntimeParts;
  readonly #log: EventLog;
  readonly #options: ResolvedEventLogOptions;
  readonly #cursors = new Map<string, Cursor>();
  /** The log's `recordsHere` when processes share it; see the module note. */
  readonly #recordsHere: ((sessionId: string) => boolean) | undefined;
  /** Events appended since the last commit was asked for: each cursor with its highest number. */
  #unreleased: Map<Cursor, number> | undefined;
  /** The runtime stopped and everything appended before was released: subscriptions end. */
  #ended = false;
  /** Counts starts and stops, so a stop's late release cannot end the subscriptions of a later start. */
  #epoch = 0;

  constructor(parts: RuntimeParts, log: EventLog, options: ResolvedEventLogOptions) {
    this.#parts = parts;
    this.#log = log;
    this.#options = options;
    const { recordsHere } = log;
    this.#recordsHere = recordsHere === undefined ? undefined : (id) => recordsHere.call(log, id);
  }

  /** The event bus listener. */
  readonly record = (event: RuntimeEvent): void => {
    if (event.type === "runtime.started") {
      this.#epoch += 1;
      this.#ended = false;
    } else if (event.type === "runtime.stopped") this.#end();
    if (!LOGGED.has(event.type)) return;
    const logged = event as LoggedEvent;
    const sessionId = "sessionId" in logged ? logged.sessionId : logged.parentSessionId;
    // The session's holder records it (a shared log): a number given here would clash with its own.
    if (this.#recordsHere?.(sessionId) === false) return;
    const cursor = this.#cursor(sessionId);
    if (logged.type === "model.text" || logged.type === "model.reasoning") {
      this.#join(cursor, logged);
      return;
    }
    this.#flushText(cursor);
    this.#append(cursor, logged);
  };

  /**
   * The session's events after `afterSeq`, then its new ones as they are committed, until the
   * runtime stops or `signal` fires. Throws `EVENTS_TRIMMED` when an event it must show next was
   * trimmed (only the first read of a subscription from 0 may start past a trimmed beginning).
   */
  async *follow(
    sessionId: string,
    afterSeq: number,
    options: FollowOptions = {},
  ): AsyncGenerator<SessionEvent, void, undefined> {
    const { signal, until } = options;
    const cursor = this.#cursor(sessionId);
    let after = afterSeq;
    let mayStartLater = afterSeq === 0;
    for (;;) {
      if (signal?.aborted) return;
      const end = until?.();
      if (end !== undefined && after >= end) return;
      if (after < cursor.released) {
        const page = this.#log.read(sessionId, after, DEFAULTS.eventLog.pageEvents);
        const first = page[0];
        if (first === undefined || (first.seq !== after + 1 && !mayStartLater))
          throw trimmed(sessionId, after, first?.seq);
        mayStartLater = false;
        for (const event of page) {
          if (event.seq > cursor.released) break;
          after = event.seq;
          yield event;
          if (signal?.aborted) return;
        }
        continue;
      }
      if (this.#ended) return;
      await this.#released(cursor, signal);
    }
  }

  /**
   * The events of one input, from its acceptance on (as far as retention keeps them), then live,
   * until the input has settled and its events are shown.
   */
  async *followInput(handle: TurnHandle, signal?: AbortSignal): AsyncGenerator<TurnEvent, void, undefined> {
    const turns = new Set<string>();
    let end: number | undefined;
    const until = () => {
      if (end === undefined && handle.done) end = this.lastSeq(handle.sessionId);
      return end;
    };
    for await (const { event } of this.follow(handle.sessionId, 0, { signal, until })) {
      // A steered input's turn started before it joined: its events are the input's from here on.
      if (event.type === "input.steered" && event.inputId === handle.id) turns.add(event.turnId);
      if (!TURN_EVENTS.has(event.type)) continue;
      const turnEvent = event as TurnEvent;
      if (turnEvent.type === "input.status") {
        if (turnEvent.inputId === handle.id) yield turnEvent;
        continue;
      }
      if (turnEvent.type === "turn.started" || turnEvent.type === "turn.ended") {
        if (turnEvent.inputIds.includes(handle.id)) turns.add(turnEvent.turnId);
      }
      if (turns.has(turnEvent.turnId)) yield turnEvent;
    }
  }

  /** The last number given to an event of the session (0 when none); in a shared log, by any process. */
  lastSeq(sessionId: string): number {
    if (this.#recordsHere !== undefined) return this.#log.lastSeq(sessionId);
    return this.#cursor(sessionId).next - 1;
  }

  #cursor(sessionId: string): Cursor {
    let cursor = this.#cursors.get(sessionId);
    if (cursor === undefined) {
      const last = this.#log.lastSeq(sessionId);
      cursor = { sessionId, next: last + 1, released: last, text: undefined, waiters: new Set() };
      this.#cursors.set(sessionId, cursor);
    }
    return cursor;
  }

  #join(cursor: Cursor, event: TextEvent): void {
    const text = cursor.text;
    if (text !== undefined && text.type === event.type && text.turnId === event.turnId) {
      text.delta += event.delta;
      return;
    }
    this.#flushText(cursor);
    const timer = this.#parts.clock.setTimeout(() => this.#flushText(cursor), this.#options.textJoinMs);
    cursor.text = { type: event.type, turnId: event.turnId, delta: event.delta, timer };
  }

  #flushText(cursor: Cursor): void {
    const text = cursor.text;
    if (text === undefined) return;
    cursor.text = undefined;
    this.#parts.clock.clearTimeout(text.timer);
    const { type, turnId, delta } = text;
    this.#append(cursor, { type, sessionId: cursor.sessionId, turnId, delta });
  }

  #append(cursor: Cursor, event: LoggedEvent): void {
    if (this.#recordsHere !== undefined) {
      // Text joined while the session was held here, flushed after it moved: its holder numbers now.
      if (!this.#recordsHere(cursor.sessionId)) return;
      // A shared log knows the last number, whichever process gave it (from memory while held).
      cursor.next = this.#log.lastSeq(cursor.sessionId) + 1;
    }
    const seq = cursor.next;
    this.#log.append({ sessionId: cursor.sessionId, seq, atMs: this.#parts.clock.epochMs(), event });
    cursor.next = seq + 1;
    const max = this.#options.eventsPerSessionMax;
    // Trimmed in steps of an eighth of the bound, so a trim's cost is shared by many appends.
    if (seq > max && seq % Math.max(1, Math.floor(max / 8)) === 0)
      this.#log.trim(cursor.sessionId, seq - max);
    if (cursor.waiters.size > 0) this.#releaseLater(cursor);
  }

  /** Releases the cursor's appends so far once the commit holding them resolves (one wait per run). */
  #releaseLater(cursor: Cursor): void {
    if (this.#unreleased === undefined) {
      this.#unreleased = new Map();
      queueMicrotask(this.#commit);
    }
    this.#unreleased.set(cursor, cursor.next - 1);
  }

  readonly #commit = (): void => {
    const batch = this.#unreleased;
    this.#unreleased = undefined;
    if (batch !== undefined) this.#release(batch, undefined);
  };

  /** Shows `batch` to subscribers once the commit holding it resolves, then runs `then`. */
  #release(batch: ReadonlyMap<Cursor, number>, then: (() => void) | undefined): void {
    const { store, clock } = this.#parts;
    store.commit().then(
      () => {
        for (const [cursor, seq] of batch) {
          if (seq > cursor.released) cursor.released = seq;
          wake(cursor);
        }
        then?.();
      },
      // The store's health has logged the failure and probes the store; try again at its pace.
      () => clock.setTimeout(() => this.#release(batch, then), DEFAULTS.storeProbe.maxMs),
    );
  }

  /** The runtime stopped: record joined text, and end subscriptions once all of it is shown. */
  #end(): void {
    const batch = this.#unreleased ?? new Map<Cursor, number>();
    this.#unreleased = undefined;
    for (const cursor of this.#cursors.values()) {
      this.#flushText(cursor);
      if (cursor.next - 1 > cursor.released) batch.set(cursor, cursor.next - 1);
    }
    const epoch = ++this.#epoch;
    this.#release(batch, () => {
      if (epoch !== this.#epoch) return;
      this.#ended = true;
      for (const cursor of this.#cursors.values()) wake(cursor);
    });
  }

  /**
   * Resolves when the cursor's released number moves, the runtime stops, or `signal` fires; on a
   * shared log also after `pollIntervalMs`, for the caller to look again (the session may be
   * another process's by then, or its input settled there).
   */
  #released(cursor: Cursor, signal: AbortSignal | undefined): Promise<void> {
    if (this.#recordsHere?.(cursor.sessionId) === false && this.#committedElsewhere(cursor))
      return Promise.resolve();
    // Appends made while nobody waited: released once their commit resolves.
    if (cursor.next - 1 > cursor.released && this.#unreleased?.has(cursor) !== true)
      this.#releaseLater(cursor);
    const { clock, options } = this.#parts;
    return new Promise<void>((resolve) => {
      const done = () => {
        cursor.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        if (timer !== undefined) clock.clearTimeout(timer);
        resolve();
      };
      // A shared log: look again after a poll's interval (the session may have moved, or its input settled).
      const timer =
        this.#recordsHere === undefined ? undefined : clock.setTimeout(done, options.pollIntervalMs);
      cursor.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Reads the last number another process committed for the session, and releases up to it;
   * whether that moved the cursor. A read that fails (the store is down) moves nothing: the next
   * look tries again.
   */
  #committedElsewhere(cursor: Cursor): boolean {
    let last: number;
    try {
      last = this.#log.lastSeq(cursor.sessionId);
    } catch {
      return false;
    }
    if (last <= cursor.released) return false;
    cursor.released = last;
    return true;
  }
}

/** The runtime's event recorder; throws `EVENT_LOG_UNAVAILABLE` when it records none. */
export function recorderOf(parts: RuntimeParts): SessionEvents {
  if (parts.sessionEvents !== undefined) return parts.sessionEvents;
  throw new OffstageError(
    "EVENT_LOG_UNAVAILABLE",
    parts.store.eventLog === undefined
      ? `the ${parts.store.kind} store keeps no event log, so events cannot be replayed`
      : "the runtime records no events; create it with { eventLog: true } to replay them",
  );
}

function wake(cursor: Cursor): void {
  for (const waiter of [...cursor.waiters]) waiter();
}

function trimmed(sessionId: string, after: number, oldest: number | undefined): OffstageError {
  return new OffstageError(
    "EVENTS_TRIMMED",
    `session ${JSON.stringify(sessionId)}: the events after ${after} were trimmed (retention keeps the newest only); read again from 0`,
    { details: { sessionId, afterSeq: after, oldestSeq: oldest } },
  );
}
