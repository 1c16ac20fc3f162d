/**
 * The lease keeper: this runtime's side of a store shared by many processes
 * (`ports/session-leases.ts`). It exists only when the store has leases; with the memory and
 * SQLite stores the runtime runs every session and this file plays no part.
 *
 * - Input accepted here for a session another process holds is that process's to run: the keeper
 *   watches it, and its handle settles with what the store says of it (asked at every poll).
 * - The store's wakes (another process accepted input for a session this one holds) and the
 *   recovery poll ask the store to `claim`: what comes back — sessions whose holder stopped or
 *   died, input accepted elsewhere — is taken up as boot takes up stored work (`recovery.ts`),
 *   committed, then driven. One claim runs at a time; wakes that arrive meanwhile join the next.
 *
 * @packageDocumentation
 */

import { isOffstageError } from "../errors.js";
import type { Reason } from "../kernel/outcome.js";
import type { LiveInput } from "./live-input.js";
import type { RuntimeParts } from "./parts.js";
import type { Claimed, EndRequest, SessionLeases } from "./ports/session-leases.js";
import type { InputRecord, InputSnapshot, SessionRecord } from "./ports/store.js";
import { recoverWork } from "./recovery.js";
import type { SessionEntry } from "./session-table.js";
import { abandonTurn } from "./turn-stops.js";

const LEASE_LOST: Reason = {
  code: "lease_lost",
  message: "this process lost the session's lease; another process runs it now",
};

export class LeaseKeeper {
  readonly #parts: RuntimeParts;
  readonly #leases: SessionLeases;
  /** Inputs accepted here that another process runs, by id. */
  readonly #remote = new Map<string, LiveInput>();
  /**
   * Handles made here for inputs another process runs, accepted elsewhere (`runtime.handle(id)`,
   * a repeated idempotency key), by id: they only follow what the store says.
   */
  readonly #followers = new Map<string, LiveInput>();
  #unlisten: (() => void) | undefined;
  /** Sessions woken since the last claim began; `"all"` after a poll asked for everything. */
  #wanted: Set<string> | "all" | undefined;
  #claiming = false;
  #watching = false;

  constructor(parts: RuntimeParts, leases: SessionLeases) {
    this.#parts = parts;
    this.#leases = leases;
  }

  /** Inputs accepted here that another process runs and that have not settled. */
  get watching(): number {
    return this.#remote.size + this.#followers.size;
  }

  /** Whether this runtime may begin the session's turns. */
  holds(sessionId: string): boolean {
    return this.#leases.holds(sessionId);
  }

  /** The record of a session another process created, which this runtime has not met. */
  lookup(sessionId: string): SessionRecord | undefined {
    return this.#leases.lookup(sessionId);
  }

  /** Starts listening for wakes from other processes. */
  open(): void {
    this.#unlisten = this.#leases.listen(
      (sessionId) => this.#want(sessionId),
      (sessionIds) => this.#parts.dispatcher.post("leases lost", () => this.#lost(sessionIds)),
    );
  }

  /** The recovery poll: claim what nobody holds, and ask where watched inputs stand. */
  poll(): void {
    this.#want(undefined);
    void this.#watch();
  }

  /** The input, accepted here, is run elsewhere: its handle settles with what the store says. */
  watch(live: LiveInput): void {
    this.#remote.set(live.id, live);
  }

  /** A handle for an input accepted elsewhere and live in another process (one per input). */
  follow(inputId: string, make: () => LiveInput): LiveInput {
    const known = this.#remote.get(inputId) ?? this.#followers.get(inputId);
    if (known !== undefined) return known;
    const live = make();
    this.#followers.set(inputId, live);
    return live;
  }

  /** Stops listening; watched handles settle as every live handle does at a stop. */
  close(settle: (live: LiveInput) => void): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.settleWatched(settle);
    this.#wanted = undefined;
  }

  /** Hands every watched handle to `settle` and watches none (a failed store settles them all). */
  settleWatched(settle: (live: LiveInput) => void): void {
    for (const live of this.#remote.values()) settle(live);
    for (const live of this.#followers.values()) settle(live);
    this.#remote.clear();
    this.#followers.clear();
  }

  #want(sessionId: string | undefined): void {
    if (sessionId === undefined) this.#wanted = "all";
    else if (this.#wanted === undefined) this.#wanted = new Set([sessionId]);
    else if (this.#wanted !== "all") this.#wanted.add(sessionId);
    if (!this.#claiming) void this.#claim();
  }

  async #claim(): Promise<void> {
    const { run, events } = this.#parts;
    this.#claiming = true;
    try {
      while (this.#wanted !== undefined && run.state === "running") {
        const wanted = this.#wanted;
        this.#wanted = undefined;
        const state = await this.#leases.claim(wanted === "all" ? undefined : [...wanted]);
        if (run.state !== "running") return;
        if (state.queued.length > 0 || state.interrupted.length > 0) await this.#takeUp(state);
        if (run.state !== "running") return;
        for (const request of state.endRequests) this.#end(request);
      }
    } catch (error) {
      // A stop that closed or dropped the store under the claim: nothing to tell.
      if (run.state === "running") events.report("claiming work from other processes", error);
    } finally {
      this.#claiming = false;
    }
  }

  /** Takes up claimed work as boot takes up stored work, commits, then drives it. */
  async #takeUp(state: Claimed): Promise<void> {
    const { run, store, children } = this.#parts;
    // Before their sessions are rebuilt: a child taken over runs the agent its record describes.
    const claimed = new Set(state.sessions.map((session) => session.id));
    if (claimed.size > 0)
      children?.restore((id) => claimed.has(id) && !children.runsChild(id), {
        childrenOnly: true,
      });
    const resumed = recoverWork(this.#parts, state, {
      live: (record, status, policy, stamp) => {
        const watched = this.#remote.get(record.id);
        // Accepted elsewhere for a session held here before this claim (see `#logAccepted`).
        if (status === "queued" && watched === undefined && !claimed.has(record.sessionId))
          this.#logAccepted(record);
        this.#remote.delete(record.id);
        return watched ?? this.#parts.intake.track(record, status, policy, stamp);
      },
      route: true,
    });
    this.#leases.taken(state.queued.map((input) => input.id));
    this.#parts.keepAlive.busy();
    await store.commit();
    if (run.state !== "running") return;
    for (const turn of resumed) this.#parts.driver.start(turn);
    const touched = new Set(state.queued.map((input) => input.sessionId));
    for (const id of touched) this.#parts.scheduler.wake(id);
  }

  /**
   * Logs the acceptance of input another process accepted for a session this one held meanwhile:
   * only a session's holder records its events, so the sender could not, and nobody else will. It
   * goes to the session's log alone (this process's event bus reports what happened here, and the
   * sender's reported the acceptance), before the input is routed, so it precedes the input's turn.
   * Input accepted before this process held the session (taken over with it) is not logged here:
   * whether its acceptance was logged then, by the holder that sent it, is not known.
   */
  #logAccepted(record: InputRecord): void {
    const { sessionId, id: inputId, policy } = record;
    this.#parts.sessionEvents?.record({ type: "input.accepted", sessionId, inputId, policy });
  }

  /**
   * Another process took these sessions over (this one was cut off past its lease, or its thread
   * was held past it). Their queued input is the new holder's now, and so is a running turn: it
   * resumes there from its checkpoint, so here it is let go of at once — its calls aborted, nothing
   * more written (its epoch is stale anyway) — rather than ended. Every handle of their input here
   * follows the store and settles with what the new holder does.
   */
  #lost(sessionIds: readonly string[]): void {
    let lost = false;
    for (const id of sessionIds) {
      const entry = this.#parts.sessions.get(id);
      if (entry === undefined) continue;
      this.letGo(entry);
      lost = true;
    }
    if (lost) this.#parts.keepAlive.settled();
  }

  /**
   * Lets a session this process no longer holds go (see `#lost`): its queue and its running turn's
   * inputs follow the store from now on. Also for a turn whose end committed when the session was
   * held no more: the end may have been refused (its epoch was stale), so the store says how its
   * inputs ended, not this process.
   */
  letGo(entry: SessionEntry): void {
    const { children, log } = this.#parts;
    for (const live of entry.queue.splice(0)) this.#followers.set(live.id, live);
    entry.merges = 0;
    for (const live of abandonTurn(this.#parts, entry, LEASE_LOST)) this.#followers.set(live.id, live);
    children?.letGo(entry.id);
    log.warn(
      { sessionId: entry.id },
      "lost the lease of a session to another process (cut off past leaseMs)",
    );
  }

  /** Carries out a cancel or withdraw another process asked of input this one runs. */
  #end(request: EndRequest): void {
    const { intake } = this.#parts;
    const live = intake.find(request.sessionId, request.inputId);
    if (live === undefined) return;
    if (request.status === "cancelled") {
      intake.cancel(live, request.mode, request.message);
      return;
    }
    try {
      intake.withdraw(live);
    } catch (error) {
      // Started meanwhile: the asker's handle follows the turn's outcome, as a late withdraw here would fail.
      if (!isOffstageError(error, "NOT_WITHDRAWABLE")) throw error;
    }
  }

  /** Asks the holder of the input's session to cancel or withdraw it (see `SessionLeases.askToEnd`). */
  askToEnd(request: EndRequest): "queued" | "running" | undefined {
    return this.#leases.askToEnd(request);
  }

  async #watch(): Promise<void> {
    if (this.#watching || this.watching === 0) return;
    this.#watching = true;
    try {
      const snapshots = await this.#leases.outcomes([...this.#remote.keys(), ...this.#followers.keys()]);
      this.#parts.dispatcher.post("remote outcomes", () => this.#settle(snapshots));
    } catch (error) {
      if (this.#parts.run.state === "running")
        this.#parts.events.report("reading where inputs other processes run stand", error);
    } finally {
      this.#watching = false;
    }
  }

  #settle(snapshots: readonly InputSnapshot[]): void {
    const { events, intake } = this.#parts;
    let settled = false;
    for (const snapshot of snapshots) {
      const live = this.#remote.get(snapshot.id) ?? this.#followers.get(snapshot.id);
      if (live === undefined || snapshot.outcome === undefined) continue;
      this.#remote.delete(snapshot.id);
      this.#followers.delete(snapshot.id);
      intake.keys.forget(live);
      live.settle(snapshot.outcome, snapshot.turnId, undefined);
      settled = true;
      events.emit({
        type: "input.status",
        sessionId: snapshot.sessionId,
        inputId: snapshot.id,
        status: snapshot.outcome.status,
      });
    }
    if (settled) this.#parts.keepAlive.settled();
  }
}
