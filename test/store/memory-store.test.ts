import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { createMemoryStore, type Store } from "../../src/index.js";
import { runStoreConformance } from "../../src/testing/conformance/index.js";

// The memory store's data lives in the store object, so reopening it means opening the same object
// again, and a crash of the runtime that held it loses nothing: every write is committed at once.
runStoreConformance("memory", {
  create: () => createMemoryStore(),
  reopen: (store) => store,
  crash: () => {},
});

describe("memory store: the bound of ended inputs kept", () => {
  const OK = { status: "completed", reason: { code: "ok", message: "ok" } } as const;
  const NO_USAGE = { inputTokens: 0, outputTokens: 0 };

  function accept(store: Store, n: number, key?: string): string {
    const id = `i${n}`;
    store.accept({
      id,
      sessionId: `s${n % 3}`,
      seq: n,
      payload: n,
      policy: "enqueue",
      idempotencyKey: key,
      acceptedAtMs: n,
    });
    return id;
  }

  function run(store: Store, n: number): void {
    const id = `i${n}`;
    const sessionId = `s${n % 3}`;
    store.startTurn({ turnId: `t${n}`, sessionId, inputIds: [id], attempt: 1, startedAtMs: n });
    store.endTurn({
      turnId: `t${n}`,
      sessionId,
      attempt: 1,
      outcome: OK,
      messages: [],
      inputIds: [id],
      requeued: [],
      usage: NO_USAGE,
      endedAtMs: n,
    });
  }

  it("forgets the oldest ended inputs and their keys, never a live one", async () => {
    const store = createMemoryStore({ endedInputsMax: 2 });
    await store.open();
    for (let n = 1; n <= 6; n++) accept(store, n, `k${n}`);
    // Inputs end out of acceptance order across sessions; the bound counts ends, oldest first.
    for (const n of [2, 1, 4, 3]) run(store, n);
    expect(store.input("i2")).toBeUndefined();
    expect(store.input("i1")).toBeUndefined();
    expect(store.findByIdempotencyKey("s2", "k2")).toBeUndefined();
    expect(store.input("i4")?.status).toBe("completed");
    expect(store.input("i3")?.status).toBe("completed");
    expect(store.input("i5")?.status).toBe("queued");
    expect(store.findByIdempotencyKey("s0", "k6")?.id).toBe("i6");
  });

  it("lets go of a forgotten input's record at once, also when no look-up ever indexed it", async () => {
    // A full collection on demand, without starting the test process with --expose-gc.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const store = createMemoryStore({ endedInputsMax: 1 });
    await store.open();
    const records: WeakRef<object>[] = [];
    for (let n = 1; n <= 3; n++) {
      const record = {
        id: `i${n}`,
        sessionId: `s${n % 3}`,
        seq: n,
        payload: "x".repeat(1000),
        policy: "enqueue",
        acceptedAtMs: n,
      } as const;
      records.push(new WeakRef(record));
      store.accept(record);
      run(store, n);
    }
    // A WeakRef keeps its target alive until the job that made it ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(records.map((ref) => ref.deref() !== undefined)).toEqual([false, false, true]);
    expect(store.input("i3")?.status).toBe("completed");
    expect(store.input("i1")).toBeUndefined();
  });

  it("keeps finding live inputs when many are accepted and ended between look-ups", async () => {
    const store = createMemoryStore({ endedInputsMax: 10 });
    await store.open();
    for (let n = 1; n <= 5000; n++) {
      accept(store, n);
      if (n % 2 === 0) run(store, n);
    }
    const { queued } = await store.open();
    expect(queued).toHaveLength(2500);
    for (let n = 1; n <= 5000; n += 2) expect(store.input(`i${n}`)?.status).toBe("queued");
    for (let n = 4982; n <= 5000; n += 2) expect(store.input(`i${n}`)?.status).toBe("completed");
    expect(store.input("i4980")).toBeUndefined();
  });

  it("keeps its id index current once a look-up built it", async () => {
    const store = createMemoryStore({ endedInputsMax: 1 });
    await store.open();
    accept(store, 1);
    expect(store.input("i1")?.status).toBe("queued");
    // Accepted, started, ended and forgotten after the index was built.
    accept(store, 4);
    accept(store, 7);
    expect(store.input("i4")?.status).toBe("queued");
    store.startTurn({ turnId: "t4", sessionId: "s1", inputIds: ["i4"], attempt: 1, startedAtMs: 4 });
    expect(store.input("i4")).toMatchObject({ status: "running", turnId: "t4" });
    store.steer({ inputId: "i7", sessionId: "s1", turnId: "t4", attempt: 1 });
    expect(store.input("i7")).toMatchObject({ status: "running", turnId: "t4" });
    store.endTurn({
      turnId: "t4",
      sessionId: "s1",
      attempt: 1,
      outcome: OK,
      messages: [],
      inputIds: ["i4", "i7"],
      requeued: ["i7"],
      usage: NO_USAGE,
      endedAtMs: 5,
    });
    expect(store.input("i4")?.status).toBe("completed");
    expect(store.input("i7")).toMatchObject({ status: "queued", turnId: undefined });
    run(store, 7);
    expect(store.input("i7")?.status).toBe("completed");
    expect(store.input("i4")).toBeUndefined();
  });
});
