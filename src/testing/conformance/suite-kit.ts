/**
 * What every case of the store conformance suite is built on: the adapter's {@link StoreFactory},
 * the stores a case opens (closed after it), and `test()`, which skips a case the factory cannot run
 * and says why.
 */
import { it, type TestContext } from "vitest";
import type { Store } from "../../runtime/ports/store.js";

/** How the suite makes, reopens and drops the stores it tests. */
export interface StoreFactory {
  /** A new store over new, empty backing data; the suite calls `open()` itself. */
  create(): Store | Promise<Store>;
  /**
   * A store over the same backing data as `store`, after `store` was closed or crashed: the memory
   * store reopens the same object, a file store opens a new store on the same file. Without it the
   * recovery cases are skipped, each saying so.
   */
  reopen?(store: Store): Store | Promise<Store>;
  /**
   * Drops `store` the way a killed process would: no commit, no clean release (locks stay behind
   * for the next open to take over). Without it the crash cases are skipped, each saying so.
   */
  crash?(store: Store): void | Promise<void>;
  /** Frees what the test's stores used (temporary files); runs after each test. */
  cleanup?(): void | Promise<void>;
  /** Cases this adapter cannot run, by name, each with the reason the skip prints. */
  readonly skip?: readonly { readonly reason: string; readonly tests: readonly string[] }[];
}

/** What a case needs of the factory beyond `create()`. */
export type Needs = "reopen" | "crash";

/** The suite's helpers, shared by every area of cases. */
export interface SuiteKit {
  readonly factory: StoreFactory;
  /** A new store, not yet opened; closed after the case. */
  create(): Promise<Store>;
  /** A new store, opened with one session `s1`. */
  fresh(): Promise<Store>;
  /** Closes `store`, reopens its data and opens it again, as a restarted process would. */
  reopened(store: Store): Promise<Store>;
  /** Drops `store` as `kill -9` would and reopens its data. */
  crashed(store: Store): Promise<Store>;
  /** Registers a case; it is skipped, saying why, when the adapter asks or the factory lacks what it needs. */
  test(title: string, needs: readonly Needs[], body: (context: TestContext) => Promise<void>): void;
  /** Closes every store the last case left open, then lets the factory clean up. */
  closeAll(): Promise<void>;
}

export function createSuiteKit(factory: StoreFactory): SuiteKit {
  const live: Store[] = [];
  const skipped = new Map<string, string>();
  for (const { reason, tests } of factory.skip ?? []) for (const test of tests) skipped.set(test, reason);

  const create = async (): Promise<Store> => {
    const store = await factory.create();
    live.push(store);
    return store;
  };

  return {
    factory,
    create,
    async fresh() {
      const store = await create();
      await store.open();
      store.createSession({ id: "s1", agent: "a", createdAtMs: 500 });
      return store;
    },
    async reopened(store) {
      await store.close();
      const next = await factory.reopen!(store);
      live.push(next);
      return next;
    },
    async crashed(store) {
      await factory.crash!(store);
      live.splice(live.indexOf(store), 1);
      const next = await factory.reopen!(store);
      live.push(next);
      return next;
    },
    test(title, needs, body) {
      const missing = needs.filter((need) => factory[need] === undefined);
      const reason =
        skipped.get(title) ??
        (missing.length > 0 ? `the factory has no ${missing.join(" or ")}()` : undefined);
      if (reason === undefined) it(title, body);
      else it.skip(`${title} (skipped: ${reason})`, body);
    },
    async closeAll() {
      const stores = live.splice(0);
      for (const store of stores) await store.close();
      await factory.cleanup?.();
    },
  };
}
