/**
 * The store conformance cases about the event log: each session's events in number order, reads
 * after a number and bounded by a limit, trimming that never lets a number be reused, and all of it
 * across a reopen (committed appends stay) or a crash (uncommitted ones may go, but never half a
 * group). A store that keeps no event log skips them (the runtime refuses replay on it).
 */
import { describe, expect } from "vitest";
import type { EventLog, SessionEvent } from "../../runtime/ports/event-log.js";
import type { Store } from "../../runtime/ports/store.js";
import type { Needs, SuiteKit } from "./suite-kit.js";

/** Registers these cases of the store conformance suite. */
export function eventLogCases(kit: SuiteKit): void {
  const { crashed, fresh, reopened, test } = kit;
  describe("event log", () => {
    function logOf(store: Store): EventLog {
      if (store.eventLog === undefined) throw new Error("the store keeps no event log");
      return store.eventLog;
    }
    function etest(title: string, needs: readonly Needs[], body: () => Promise<void>): void {
      test(title, needs, async (context) => {
        const probe = await kit.factory.create();
        const supported = probe.eventLog !== undefined;
        await probe.close();
        // The runtime refuses replay on such a store (EVENT_LOG_UNAVAILABLE): nothing to prove.
        if (!supported) context.skip("the store keeps no event log");
        await body();
      });
    }

    etest("reads a session's events after a number, in order, at most limit of them", [], async () => {
      const log = logOf(await fresh());
      for (let seq = 1; seq <= 5; seq++) log.append(event("s1", seq));
      log.append(event("s2", 1));
      expect(log.read("s1", 0, 100)).toEqual([1, 2, 3, 4, 5].map((seq) => event("s1", seq)));
      expect(log.read("s1", 2, 2).map((e) => e.seq)).toEqual([3, 4]);
      expect(log.read("s1", 5, 10)).toEqual([]);
      expect(log.read("s2", 0, 10)).toEqual([event("s2", 1)]);
      expect(log.read("nobody", 0, 10)).toEqual([]);
      expect(log.lastSeq("s1")).toBe(5);
      expect(log.lastSeq("nobody")).toBe(0);
    });

    etest("trims the oldest events and keeps the last number", [], async () => {
      const log = logOf(await fresh());
      for (let seq = 1; seq <= 6; seq++) log.append(event("s1", seq));
      log.append(event("s2", 1));
      log.trim("s1", 4);
      expect(log.read("s1", 0, 10).map((e) => e.seq)).toEqual([5, 6]);
      expect(log.lastSeq("s1")).toBe(6);
      log.trim("s1", 6);
      expect(log.read("s1", 0, 10)).toEqual([]);
      expect(log.lastSeq("s1")).toBe(6);
      expect(log.read("s2", 0, 10)).toHaveLength(1);
    });

    etest("committed events and the last number survive a reopen", ["reopen"], async () => {
      const store = await fresh();
      const log = logOf(store);
      for (let seq = 1; seq <= 3; seq++) log.append(event("s1", seq));
      log.trim("s1", 1);
      await store.commit();
      const again = await reopened(store);
      await again.open();
      expect(
        logOf(again)
          .read("s1", 0, 10)
          .map((e) => e.seq),
      ).toEqual([2, 3]);
      expect(logOf(again).lastSeq("s1")).toBe(3);
    });

    etest(
      "a crash keeps every committed event and loses only the uncommitted group",
      ["reopen", "crash"],
      async () => {
        const store = await fresh();
        const log = logOf(store);
        log.append(event("s1", 1));
        await store.commit();
        log.append(event("s1", 2));
        const again = await crashed(store);
        await again.open();
        const seqs = logOf(again)
          .read("s1", 0, 10)
          .map((e) => e.seq);
        expect(seqs[0]).toBe(1);
        expect(logOf(again).lastSeq("s1")).toBe(seqs.at(-1));
      },
    );
  });
}

/** An event of `sessionId` numbered `seq`. */
function event(sessionId: string, seq: number): SessionEvent {
  return {
    sessionId,
    seq,
    atMs: 1_000 + seq,
    event: { type: "model.text", sessionId, turnId: `t${seq}`, delta: `text ${seq} ✓` },
  };
}
