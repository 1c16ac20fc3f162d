/**
 * Building the messages a turn records.
 */
import { describe, expect, it } from "vitest";
import { assistantMessage, type ToolCallPart, userMessage } from "../../src/kernel/messages.js";

describe("messages", () => {
  it("a string payload becomes the user's text as it is", () => {
    expect(userMessage('say "hi"')).toEqual({ role: "user", content: [{ type: "text", text: 'say "hi"' }] });
  });

  it("any other payload becomes its JSON text", () => {
    expect(userMessage({ a: [1, 2], b: null })).toEqual({
      role: "user",
      content: [{ type: "text", text: '{"a":[1,2],"b":null}' }],
    });
    expect(userMessage(42)).toEqual({ role: "user", content: [{ type: "text", text: "42" }] });
  });

  it("an assistant step keeps its text, then its tool calls in the order asked", () => {
    const calls: ToolCallPart[] = [
      { type: "tool-call", toolCallId: "1", toolName: "a", input: "{}" },
      { type: "tool-call", toolCallId: "2", toolName: "b", input: '{"x":1}' },
    ];
    expect(assistantMessage("thinking", calls)).toEqual({
      role: "assistant",
      content: [{ type: "text", text: "thinking" }, ...calls],
    });
  });

  it("an assistant step without text records no empty text part", () => {
    const call: ToolCallPart = { type: "tool-call", toolCallId: "1", toolName: "a", input: "{}" };
    expect(assistantMessage("", [call])).toEqual({ role: "assistant", content: [call] });
    expect(assistantMessage("", [])).toEqual({ role: "assistant", content: [] });
  });
});
