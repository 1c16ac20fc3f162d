/**
 * `offstage/testing`: the public test kit — a virtual clock, a seeded PRNG and model doubles. It needs
 * no test framework; the conformance suites live in `offstage/testing/conformance`.
 *
 * @packageDocumentation
 */
export { createNoopModel } from "./noop-model.js";
export { createScriptedModel, type ScriptedModel, type ScriptedStep } from "./scripted-model.js";
export { SeededRandom } from "./seeded-random.js";
export { VirtualClock } from "./virtual-clock.js";
