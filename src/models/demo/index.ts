/**
 * `offstage/demo`: the deterministic offline demo model — no key, no network — for trying Offstage
 * and for examples.
 *
 * @packageDocumentation
 */
export { createDemoModel, type DemoModelOptions, type Sleep } from "./demo-model.js";
