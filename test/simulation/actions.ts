/**
 * What the driver does next: the actions it can take, and how likely each is in the runtime's current
 * state and the seed's profile (a cancel storm cancels more, a stop-heavy seed stops and crashes more;
 * the delegation actions only in seeds that delegate).
 */
import type { RuntimeState } from "../../src/runtime/runtime.js";
import type { SeededRandom } from "../../src/testing/seeded-random.js";
import type { SimConfig } from "./config.js";

export type Action =
  | "send"
  | "keyed"
  | "cancel"
  | "withdraw"
  | "result"
  | "lookup"
  | "follow"
  | "invoke"
  | "tick"
  | "wait"
  | "stop"
  | "start"
  | "crash"
  | "invalid"
  | "delegate"
  | "control"
  | "stale";

/** One item of `table`, drawn with the weights beside each. */
export function weighted<T>(r: SeededRandom, table: readonly [T, number][]): T {
  let total = 0;
  for (const [, w] of table) total += w;
  let x = r.next() * total;
  for (const [item, w] of table) {
    x -= w;
    if (x < 0) return item;
  }
  return table[table.length - 1]![0];
}

/** The next action for a runtime in `state`. */
export function pickAction(
  r: SeededRandom,
  state: RuntimeState,
  profile: SimConfig["profile"],
  delegates: 0 | 1,
): Action {
  if (state === "starting") return "tick";
  if (state === "stopping") {
    return weighted<Action>(r, [
      ["delegate", 0.5 * delegates],
      ["control", 1 * delegates],
      ["stale", 0.5 * delegates],
      ["tick", 10],
      ["wait", 4],
      ["cancel", 2],
      ["withdraw", 1],
      ["send", 1],
      ["keyed", 0.5],
      ["stop", 1],
      ["start", 1],
      ["lookup", 1],
      ["result", 1],
      ["crash", 1],
    ]);
  }
  if (state !== "running") {
    return weighted<Action>(r, [
      ["delegate", 0.3 * delegates],
      ["control", 0.3 * delegates],
      ["stale", 0.5 * delegates],
      ["start", 10],
      ["tick", 2],
      ["send", 1],
      ["cancel", 1],
      ["withdraw", 1],
      ["result", 0.5],
      ["stop", 0.5],
      ["lookup", 1],
      ["crash", 1],
    ]);
  }
  const storm = profile === "cancel_storm";
  return weighted<Action>(r, [
    ["delegate", 8 * delegates],
    ["control", (storm ? 6 : 2) * delegates],
    ["stale", 1 * delegates],
    ["send", 26],
    ["keyed", 8],
    ["cancel", storm ? 20 : 6],
    ["withdraw", storm ? 10 : 5],
    ["result", 5],
    ["lookup", 2],
    ["follow", 2],
    ["invoke", 2],
    ["tick", 22],
    ["wait", 6],
    ["stop", profile === "stop_heavy" ? 8 : 2.5],
    ["start", 0.5],
    ["crash", profile === "stop_heavy" ? 3 : 1],
    ["invalid", 2],
  ]);
}
