/**
 * The driver's bad arguments: a malformed call to a public entry point (`send`, `session`, `stop`,
 * `cancel`, `result`) must throw its typed error, or reject with it, and change nothing.
 */
import { isOffstageError } from "../../src/errors.js";
import type { Policy } from "../../src/kernel/session/inbox.js";
import type { DriverParts } from "./driver-parts.js";

/** A bad argument to a public entry point: a typed error, and nothing changes. */
export function badArgument(p: DriverParts): void {
  const r = p.r;
  const before = p.fingerprint();
  const session = p.session(r.pick(p.config.sessions).id);
  const handle = p.pickHandle();
  const cases: [string, string, () => unknown][] = [
    [
      "send with an unknown policy",
      "INVALID_ARGUMENT",
      () => session.send("x", { policy: "later" as Policy }),
    ],
    ["send of undefined", "INVALID_ARGUMENT", () => session.send(undefined)],
    ["send with an empty key", "INVALID_ARGUMENT", () => session.send("x", { idempotencyKey: "" })],
    [
      "send of a payload too large",
      "PAYLOAD_TOO_LARGE",
      () => session.send("y".repeat(p.config.payloadBytesMax + 1)),
    ],
    ["session with an empty id", "INVALID_ARGUMENT", () => p.runtime().session("")],
    ["new session without an agent", "UNKNOWN_SESSION", () => p.runtime().session("nobody")],
    ["session of an unknown agent", "UNKNOWN_AGENT", () => p.runtime().session("s0", { agent: "ghost" })],
    ["stop with a negative timeout", "INVALID_ARGUMENT", () => p.runtime().stop({ timeoutMs: -1 })],
  ];
  if (handle !== undefined) {
    cases.push([
      "cancel with an unknown mode",
      "INVALID_ARGUMENT",
      () => handle.cancel({ mode: "soon" as "immediate" }),
    ]);
    cases.push([
      "result with a negative timeout",
      "INVALID_ARGUMENT",
      () => handle.result({ timeoutMs: -5 }),
    ]);
  }
  const [what, code, call] = r.pick(cases);
  const check = (error: unknown) => {
    p.trace.add(`> invalid: ${what} -> ${isOffstageError(error) ? error.code : String(error)}`);
    if (!isOffstageError(error, code as "INVALID_ARGUMENT"))
      p.checker.fail(`${what}: threw ${String(error)}, expected ${code}`);
    if (p.fingerprint() !== before) p.checker.fail(`${what} changed state: ${before} -> ${p.fingerprint()}`);
  };
  try {
    const out = call();
    if (out instanceof Promise) out.then(() => p.checker.fail(`${what}: resolved`), check);
    else {
      p.trace.add(`> invalid: ${what} -> accepted`);
      p.checker.fail(`${what}: accepted`);
    }
  } catch (error) {
    check(error);
  }
}
