/**
 * Terminal statuses and how a thrown cause is named in a reason.
 */
import { describe, expect, it } from "vitest";
import { describeCause, type InputStatus, isTerminal } from "../../src/kernel/outcome.js";

describe("outcome", () => {
  it("queued and running are live; the six terminal statuses are terminal", () => {
    expect(isTerminal("queued")).toBe(false);
    expect(isTerminal("running")).toBe(false);
    const terminal: InputStatus[] = [
      "completed",
      "failed",
      "cancelled",
      "interrupted",
      "max_iterations",
      "withdrawn",
    ];
    for (const status of terminal) expect(isTerminal(status), status).toBe(true);
  });

  it("names an Error by its class and message, with its code when it has a string one", () => {
    expect(describeCause(new TypeError("bad input"))).toBe("TypeError: bad input");
    const coded = Object.assign(new Error("refused"), { code: "ECONNREFUSED" });
    expect(describeCause(coded)).toBe("Error [ECONNREFUSED]: refused");
    const numeric = Object.assign(new RangeError("x"), { code: 7 });
    expect(describeCause(numeric)).toBe("RangeError: x");
  });

  it("renders anything else thrown as a string", () => {
    expect(describeCause("plain string")).toBe("plain string");
    expect(describeCause(404)).toBe("404");
    expect(describeCause(undefined)).toBe("undefined");
  });
});
