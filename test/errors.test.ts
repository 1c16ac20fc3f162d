import { describe, expect, it } from "vitest";
import { describeValue } from "../src/errors.js";

describe("describeValue", () => {
  it("shows the number that is wrong, not its JSON", () => {
    expect(describeValue(Number.NaN)).toBe("NaN (number)");
    expect(describeValue(Number.POSITIVE_INFINITY)).toBe("Infinity (number)");
    expect(describeValue(-0.5)).toBe("-0.5 (number)");
  });

  it("quotes strings, names arrays and null, and shortens long values", () => {
    expect(describeValue("x")).toBe('"x" (string)');
    expect(describeValue([1])).toBe("[1] (array)");
    expect(describeValue(null)).toBe("null (null)");
    expect(describeValue(undefined)).toBe("undefined (undefined)");
    expect(describeValue("a".repeat(100))).toMatch(/^"a{56}\.\.\. \(string\)$/);
  });

  it("survives values JSON cannot show", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe("[object Object] (object)");
    expect(describeValue(10n)).toBe("10 (bigint)");
  });
});
