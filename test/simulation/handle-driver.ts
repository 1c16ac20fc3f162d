/**
 * The driver's calls on the handles it kept: `cancel()` (immediate and after_step), `withdraw()`,
 * `result()` with and without a timeout, `runtime.handle()` look-ups, and following a handle's event
 * iterator. Each is checked as it returns or settles: a cancel resolves only once its handle settled,
 * with its status; a refused withdraw changes nothing; a result() times out only after its timeout;
 * an iterator ends only once its handle settled.
 */
import { isOffstageError, TurnCancelled, TurnTimeout } from "../../src/errors.js";
import type { DriverParts } from "./driver-parts.js";

export class HandleDriver {
  readonly #p: DriverParts;

  constructor(parts: DriverParts) {
    this.#p = parts;
  }

  cancel(): void {
    const p = this.#p;
    const handle = p.pickHandle();
    if (handle === undefined) return;
    const mode = p.r.chance(0.7) ? "immediate" : "after_step";
    const fact = p.checker.inputs.get(handle.id);
    const state = p.runtime().state;
    const live =
      (state === "running" || state === "stopping") &&
      !handle.done &&
      fact !== undefined &&
      fact.state !== "terminal";
    const mustCancel = live && (mode === "immediate" || fact.state === "queued");
    const was = fact?.state;
    p.trace.add(`> cancel ${handle.id} ${mode} (${handle.status}${live ? ", live" : ""})`);
    // A steered input the model never saw leaves its turn alone; any other running input's cancel
    // ends its turn.
    const unseenSteer = fact?.steeredInto !== undefined && !fact.seen;
    if (mustCancel && fact.state === "running" && fact.turnId !== undefined && !unseenSteer)
      p.checker.expectTurnEnd(fact.turnId, ["cancelled"], `immediate cancel of ${handle.id}`);
    const promise = handle.cancel({ mode, reason: "simulated cancel" });
    p.checker.watch(promise, `cancel(${handle.id})`);
    promise.then(
      (status) => {
        p.trace.add(`  cancel(${handle.id}) -> ${status}`);
        if (!handle.done) p.checker.fail(`cancel(${handle.id}) resolved ${status} before its handle settled`);
        else if (handle.status !== status)
          p.checker.fail(`cancel(${handle.id}) resolved ${status}; the handle is ${handle.status}`);
        if (mustCancel && status !== "cancelled")
          p.checker.fail(
            `cancel(${handle.id}, ${mode}) of a ${String(was)} input resolved ${status}, expected cancelled`,
          );
      },
      (error: unknown) => p.checker.fail(`cancel(${handle.id}) rejected: ${String(error)}`),
    );
  }

  withdraw(): void {
    const p = this.#p;
    const handle = p.pickHandle();
    if (handle === undefined) return;
    const fact = p.checker.inputs.get(handle.id);
    const state = p.runtime().state;
    const expectOk = (state === "running" || state === "stopping") && fact?.state === "queued";
    const before = p.fingerprint();
    let error: unknown;
    try {
      handle.withdraw();
    } catch (e) {
      error = e;
    }
    p.trace.add(
      `> withdraw ${handle.id} (${handle.status}) -> ${error === undefined ? "ok" : isOffstageError(error) ? error.code : String(error)}`,
    );
    if (error === undefined) p.checker.count("withdraw of a queued input");
    if (error === undefined && !expectOk)
      p.checker.fail(
        `withdraw(${handle.id}) succeeded but the input was ${String(fact?.state)} (runtime ${state})`,
      );
    if (error !== undefined) {
      if (expectOk) p.checker.fail(`withdraw(${handle.id}) of a queued input threw ${String(error)}`);
      else if (!isOffstageError(error, "NOT_WITHDRAWABLE"))
        p.checker.fail(`withdraw(${handle.id}) threw ${String(error)}`);
      if (p.fingerprint() !== before)
        p.checker.fail(`a refused withdraw changed state: ${before} -> ${p.fingerprint()}`);
    }
  }

  result(): void {
    const p = this.#p;
    const handle = p.pickHandle();
    if (handle === undefined) return;
    const timeout = p.r.chance(0.2) ? undefined : p.r.int(0, 300);
    const startedAtMs = p.clock.monotonicMs();
    p.trace.add(`> result ${handle.id} timeout=${String(timeout)} (${handle.status})`);
    const promise = handle.result(timeout === undefined ? {} : { timeoutMs: timeout });
    p.checker.watch(promise, `result(${handle.id}, timeout ${String(timeout)})`);
    const fail = (why: string) => p.checker.fail(`result(${handle.id}): ${why}`);
    promise.then(
      (value) => {
        p.trace.add(`  result(${handle.id}) -> ${value.status}`);
        if (!handle.done) fail(`resolved before the handle settled`);
        if (value.inputId !== handle.id || value.status !== handle.status)
          fail(`resolved ${value.inputId} ${value.status}; handle ${handle.status}`);
      },
      (error: unknown) => {
        p.trace.add(`  result(${handle.id}) threw ${isOffstageError(error) ? error.code : String(error)}`);
        if (error instanceof TurnTimeout) {
          p.checker.count("result() timed out");
          const waited = p.clock.monotonicMs() - startedAtMs;
          if (timeout === undefined || waited < timeout)
            fail(`TurnTimeout after ${waited}ms with timeout ${String(timeout)}`);
          if (handle.done) fail(`TurnTimeout though the handle settled ${handle.status}`);
        } else if (error instanceof TurnCancelled) {
          if (!["cancelled", "interrupted", "withdrawn"].includes(handle.status))
            fail(`TurnCancelled for a ${handle.status} handle`);
        } else fail(`threw ${String(error)}`);
      },
    );
  }

  lookup(): void {
    const p = this.#p;
    const ids = [...p.checker.inputs.keys()];
    if (ids.length === 0) return;
    const id = ids[p.r.int(0, ids.length - 1)]!;
    const handle = p.runtime().handle(id);
    p.trace.add(`> lookup ${id} -> ${handle === undefined ? "nothing" : handle.status}`);
    if (handle === undefined) {
      p.checker.fail(`runtime.handle(${id}) found nothing for an accepted input`);
      return;
    }
    const fact = p.checker.inputs.get(id)!;
    if (fact.state === "terminal" && handle.status !== fact.status)
      p.checker.fail(`runtime.handle(${id}) says ${handle.status}; the input ended ${fact.status}`);
    p.keep(handle, "lookup");
  }

  /** Follows a handle's event iterator: it must end once the handle settles, never before. */
  follow(): void {
    const p = this.#p;
    const handle = p.pickHandle();
    if (handle === undefined) return;
    p.trace.add(`> follow events of ${handle.id} (${handle.status})`);
    const events: string[] = [];
    const following = (async () => {
      for await (const event of handle) {
        events.push(event.type);
        if (event.sessionId !== handle.sessionId)
          p.checker.fail(
            `handle ${handle.id} of ${handle.sessionId} got a ${event.type} event of ${event.sessionId}`,
          );
      }
    })();
    p.checker.watch(following, `events of ${handle.id}`);
    following.then(
      () => {
        p.trace.add(`  events of ${handle.id}: ${events.join(",") || "none"}`);
        if (!handle.done)
          p.checker.fail(`the event iterator of ${handle.id} ended before the handle settled`);
      },
      (error: unknown) => p.checker.fail(`the event iterator of ${handle.id} threw ${String(error)}`),
    );
  }
}
