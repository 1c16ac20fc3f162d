/**
 * The store conformance cases about recovery page by page: `open({ paged: true })` and the optional
 * `queuedSessions` and `queuedOf`, through which a runtime reads a large backlog session by session
 * while turns already run. A store without them must hand every queued input to `open()` anyway.
 */
import { describe, expect } from "vitest";
import type { InputRecord, Store } from "../../runtime/ports/store.js";
import { end, record, start } from "./fixtures.js";
import type { SuiteKit } from "./suite-kit.js";

/** Inputs over three sessions, in this acceptance order; `i4` ends, the rest stay queued. */
async function backlog(kit: SuiteKit): Promise<Store> {
  const store = await kit.fresh();
  for (const id of ["s3", "s2"]) store.createSession({ id, agent: "a", createdAtMs: 501 });
  const sessions = ["s2", "s1", "s3", "s1", "s2", "s1"];
  sessions.forEach((sessionId, i) => {
    store.accept(record(`i${i + 1}`, i + 1, { sessionId }));
  });
  store.startTurn(start("t4", ["i4"]));
  store.endTurn(end("t4", ["i4"]));
  await store.commit();
  return store;
}

const QUEUED: Record<string, string[]> = { s1: ["i2", "i6"], s2: ["i1", "i5"], s3: ["i3"] };

function ids(inputs: readonly InputRecord[]): string[] {
  return inputs.map((input) => input.id);
}

/** Registers these cases of the store conformance suite. */
export function pagingCases(kit: SuiteKit): void {
  const { test } = kit;
  describe("recovery page by page", () => {
    test(
      "open({ paged: true }) counts the queued inputs; pages visit each session once",
      ["reopen"],
      async () => {
        const store = await kit.reopened(await backlog(kit));
        const state = await store.open({ paged: true });
        if (store.queuedSessions === undefined || store.queuedOf === undefined) {
          // Without paging, open() hands them all over, in acceptance order (a count is optional).
          expect(state.queuedCount ?? state.queued.length).toBe(5);
          expect(ids(state.queued)).toEqual(["i1", "i2", "i3", "i5", "i6"]);
          return;
        }
        expect(state.queuedCount).toBe(5);
        expect(state.queued).toEqual([]);
        const seen: Record<string, string[]> = {};
        let after: string | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = store.queuedSessions(after, 2);
          expect(page.length).toBeLessThanOrEqual(2);
          for (const { sessionId, inputs } of page) {
            expect(seen[sessionId]).toBeUndefined();
            seen[sessionId] = ids(inputs);
          }
          if (page.length < 2) break;
          after = page[page.length - 1]!.sessionId;
        }
        expect(seen).toEqual(QUEUED);
        expect(store.queuedOf("s2")).toEqual([
          record("i1", 1, { sessionId: "s2" }),
          record("i5", 5, { sessionId: "s2" }),
        ]);
        expect(store.queuedOf("nobody")).toEqual([]);
      },
    );

    test("queuedOf sees writes not committed yet, and only queued inputs", [], async () => {
      const store = await backlog(kit);
      if (store.queuedOf === undefined) return;
      store.accept(record("i7", 7, { sessionId: "s3" }));
      store.startTurn(start("t2", ["i2"]));
      expect(ids(store.queuedOf("s3"))).toEqual(["i3", "i7"]);
      expect(ids(store.queuedOf("s1"))).toEqual(["i6"]);
      expect(
        store.queuedSessions!(undefined, 10)
          .map((page) => page.sessionId)
          .sort(),
      ).toEqual(["s1", "s2", "s3"]);
    });
  });
}
