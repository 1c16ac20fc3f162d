/**
 * Recovery of queued inputs, page by page: a restart with a million inputs queued starts its first
 * turn after reading one page, not the million. Boot marks every stored session `recovering`; a
 * dispatcher job then reads the queued inputs of the next few sessions (`Store.queuedSessions`),
 * puts them in their inboxes and drives those sessions, and posts the next page, so turns run while
 * later pages are read.
 *
 * Why order and exactly-once hold: a session's queued inputs all arrive in its inbox together, in
 * acceptance order, exactly as when everything was read at boot, and before anything else can reach
 * that inbox: a send, a completion or a look-up by id that concerns a session still `recovering`
 * reads that session's queued inputs first (`load`, through `Store.queuedOf`). A session read either
 * way is no longer `recovering`, so a page that names it later leaves it alone, and nothing is read
 * twice. A draining stop reads whatever is left (it must run it all); any other stop leaves it
 * stored for the next start.
 *
 * A store without the two paging methods hands every queued input to `open()`, which boot queues at
 * once, as before.
 *
 * @packageDocumentation
 */
import { accept, type Policy } from "../kernel/session/inbox.js";
import type { Stamp } from "./dispatcher.js";
import type { RuntimeParts } from "./parts.js";
import type { InputRecord } from "./ports/store.js";
import type { SessionEntry } from "./session-table.js";

/** Sessions read by the first page: few, so the first turn starts soon. */
const FIRST_PAGE_SESSIONS = 16;
/** Sessions read by each later page. */
const PAGE_SESSIONS = 256;

export class QueuedRecovery {
  readonly #parts: RuntimeParts;
  /** Sessions still marked `recovering`; 0 once paging is done. */
  #pending = 0;
  /** The last session of the last page read. */
  #cursor: string | undefined;
  /** Bumped by each start and stop: a page job of an earlier run does nothing. */
  #run = 0;

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
  }

  /** Whether queued inputs may still be unread. */
  get pending(): boolean {
    return this.#pending > 0;
  }

  /** Boot: every stored session may have queued inputs (read on demand until `drive()`). */
  begin(sessionIds: readonly string[]): void {
    const { sessions } = this.#parts;
    this.#run += 1;
    this.#cursor = undefined;
    this.#pending = 0;
    for (const id of sessionIds) {
      const entry = sessions.get(id)!;
      entry.recovering = true;
      this.#pending += 1;
    }
  }

  /** The runtime runs: pages are read from the next dispatcher job on. */
  drive(): void {
    if (this.#pending === 0) return;
    const run = this.#run;
    this.#parts.dispatcher.post("recovery page", () => this.#page(run, FIRST_PAGE_SESSIONS));
  }

  /** Reads the session's queued inputs now, if they may not have been read yet. */
  load(entry: SessionEntry): void {
    if (!entry.recovering) return;
    this.#enqueue(entry, this.#parts.store.queuedOf!(entry.id));
  }

  /** Reads every queued input not read yet (a draining stop runs them all). */
  loadAll(): void {
    if (this.#pending === 0) return;
    while (this.#pending > 0 && this.#readPage(PAGE_SESSIONS));
    this.#finish();
  }

  /** A stop: what is not read yet stays stored for the next start. */
  end(): void {
    this.#run += 1;
    this.#finish();
  }

  #page(run: number, sessionsMax: number): void {
    if (run !== this.#run || !this.#parts.run.driving) return;
    if (!this.#readPage(sessionsMax)) {
      this.#finish();
      return;
    }
    this.#parts.dispatcher.post("recovery page", () => this.#page(run, PAGE_SESSIONS));
  }

  /** Reads one page and drives its sessions; false once no session with queued inputs is left. */
  #readPage(sessionsMax: number): boolean {
    const { store, sessions, scheduler } = this.#parts;
    const page = store.queuedSessions!(this.#cursor, sessionsMax);
    for (const { sessionId, inputs } of page) {
      const entry = sessions.get(sessionId);
      if (entry?.recovering !== true) continue;
      this.#enqueue(entry, inputs);
      scheduler.poke(entry);
    }
    if (page.length > 0) this.#cursor = page[page.length - 1]!.sessionId;
    return page.length === sessionsMax;
  }

  /** Queues a session's stored inputs, and marks it read. */
  #enqueue(entry: SessionEntry, inputs: readonly InputRecord[]): void {
    entry.recovering = false;
    this.#pending -= 1;
    for (const input of inputs) queueRecovered(this.#parts, entry, input);
  }

  /** Paging is over: no session is `recovering` any more. */
  #finish(): void {
    if (this.#pending === 0) return;
    for (const entry of this.#parts.sessions.values()) entry.recovering = false;
    this.#pending = 0;
  }
}

/** Queues an input read back from the store behind those of its session queued before it. */
export function queueRecovered(parts: RuntimeParts, entry: SessionEntry, input: InputRecord): void {
  const { intake, dispatcher, store } = parts;
  // Its wait counts from its acceptance, its place in this process from now.
  const stamp: Stamp = { epochMs: input.acceptedAtMs, monotonicMs: dispatcher.monotonicNow() };
  // The ordering part of the policy only: a recovered input was accepted already, so `reject` and
  // `steer` no longer apply to it.
  const policy: Policy = input.policy === "interrupt" || input.policy === "merge" ? input.policy : "enqueue";
  const live = intake.track(input, "queued", policy, stamp);
  live.markStored(store.receipt);
  accept(entry, live, Number.POSITIVE_INFINITY);
}
