/**
 * `offstage/testing/conformance`: the conformance suites adapters run to prove themselves. It
 * imports `vitest`, which must be installed where it runs; `offstage/testing` does not.
 *
 * @packageDocumentation
 */
export { runStoreConformance, type StoreFactory } from "./store-conformance.js";
