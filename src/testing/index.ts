/**
 * `offstage/testing`: the public test kit — a virtual clock, a seeded PRNG and the conformance suites
 * adapters run to prove themselves.
 *
 * @packageDocumentation
 */

export { createScriptedModel, type ScriptedModel, type ScriptedStep } from "../models/scripted-model.js";
export { SeededRandom } from "./seeded-random.js";
export { runStoreConformance, type StoreFactory } from "./store-conformance.js";
export { VirtualClock } from "./virtual-clock.js";
