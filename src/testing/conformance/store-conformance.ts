/**
 * The store conformance suite: what every `Store` adapter must do, as vitest tests. An adapter
 * proves itself by running it:
 *
 * @example
 * import { runStoreConformance } from "offstage/testing/conformance";
 * runStoreConformance("my store", {
 *   create: () => createMyStore({ path: freshPath() }),
 *   reopen: (store) => createMyStore({ path: pathOf(store) }),
 * });
 *
 * It covers sessions, acceptance and `seq` order, idempotency look-ups, steering, inputs ended
 * without a turn (`input-cases.ts`); turn starts, checkpoints and ends, history order
 * (`turn-cases.ts`); attempt fencing and what `commit()` promises (`fencing-cases.ts`); recovery:
 * what `open()` returns after the store was closed, or dropped as by `kill -9`, and reopened
 * (`recovery-cases.ts`); recovery page by page (`paging-cases.ts`); the delegation log
 * (`delegation-log-cases.ts`); and the event log (`event-log-cases.ts`).
 *
 * This module imports `vitest`, so `offstage/testing/conformance` needs it installed; the main `offstage` entry
 * never loads this file.
 *
 * @packageDocumentation
 */
import { afterEach, describe } from "vitest";
import { delegationLogCases } from "./delegation-log-cases.js";
import { eventLogCases } from "./event-log-cases.js";
import { fencingCases } from "./fencing-cases.js";
import { inputCases } from "./input-cases.js";
import { pagingCases } from "./paging-cases.js";
import { recoveryCases } from "./recovery-cases.js";
import { createSuiteKit, type StoreFactory } from "./suite-kit.js";
import { turnCases } from "./turn-cases.js";

export type { StoreFactory } from "./suite-kit.js";

/**
 * Registers the conformance suite for one adapter. Call it at the top level of a vitest test file.
 */
export function runStoreConformance(name: string, factory: StoreFactory): void {
  const kit = createSuiteKit(factory);
  describe(`store conformance: ${name}`, () => {
    afterEach(() => kit.closeAll());
    inputCases(kit);
    turnCases(kit);
    fencingCases(kit);
    recoveryCases(kit);
    pagingCases(kit);
    delegationLogCases(kit);
    eventLogCases(kit);
  });
}
