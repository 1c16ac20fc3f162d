/**
 * The adapter's mappings, part by part: Offstage's messages as the V4 and V3 prompt (files, reasoning
 * with its provider metadata, tool calls parsed), the stream's parts back (usage of every version as
 * numbers, finish reasons, metadata, files), provider errors as `ModelCallError`s, and what
 * `fromAiSdk` refuses.
 */
import { describe, expect, it } from "vitest";
import { isOffstageError, type Message, ModelCallError } from "../../src/index.js";
import { fromStreamPart, usageOf } from "../../src/models/ai-sdk/from-stream.js";
import { fromAiSdk } from "../../src/models/ai-sdk/index.js";
import { redact, toModelCallError } from "../../src/models/ai-sdk/provider-error.js";
import { toPrompt } from "../../src/models/ai-sdk/to-prompt.js";

const history: Message[] = [
  { role: "system", content: "be brief" },
  {
    role: "user",
    content: [
      { type: "text", text: "what is in these?" },
      { type: "file", mediaType: "image/png", data: "iVBORw0KGgo=", filename: "a.png" },
      { type: "file", mediaType: "application/pdf", url: "https://example.com/b.pdf" },
    ],
  },
  {
    role: "assistant",
    content: [
      { type: "reasoning", text: "look closely", providerMetadata: { anthropic: { signature: "sig" } } },
      { type: "text", text: "Checking." },
      { type: "tool-call", toolCallId: "c1", toolName: "zoom", input: '{"level":2}' },
      { type: "tool-call", toolCallId: "c2", toolName: "zoom", input: "not json" },
    ],
  },
  {
    role: "tool",
    content: [
      { type: "tool-result", toolCallId: "c1", toolName: "zoom", output: { type: "text", value: "zoomed" } },
      {
        type: "tool-result",
        toolCallId: "c2",
        toolName: "zoom",
        output: { type: "error-text", value: "bad input" },
      },
    ],
  },
  { role: "assistant", content: [] },
];

describe("toPrompt", () => {
  it("V4: tagged file data, reasoning metadata as provider options, tool input parsed; empty assistant messages left out", () => {
    const prompt = toPrompt(history, "v4");
    expect(prompt).toHaveLength(4);
    expect(prompt[1]).toEqual({
      role: "user",
      content: [
        { type: "text", text: "what is in these?" },
        {
          type: "file",
          filename: "a.png",
          mediaType: "image/png",
          data: { type: "data", data: "iVBORw0KGgo=" },
        },
        {
          type: "file",
          mediaType: "application/pdf",
          data: { type: "url", url: new URL("https://example.com/b.pdf") },
        },
      ],
    });
    expect(prompt[2]).toEqual({
      role: "assistant",
      content: [
        { type: "reasoning", text: "look closely", providerOptions: { anthropic: { signature: "sig" } } },
        { type: "text", text: "Checking." },
        { type: "tool-call", toolCallId: "c1", toolName: "zoom", input: { level: 2 } },
        { type: "tool-call", toolCallId: "c2", toolName: "zoom", input: "not json" },
      ],
    });
    expect(prompt[3]).toMatchObject({
      role: "tool",
      content: [{ output: { type: "text" } }, { output: { type: "error-text" } }],
    });
  });

  it("V3 and V2: a file's data is the base64 string or a URL", () => {
    const user = toPrompt(history, "v3")[1] as { content: { data?: unknown }[] };
    expect(user.content[1]!.data).toBe("iVBORw0KGgo=");
    expect(user.content[2]!.data).toEqual(new URL("https://example.com/b.pdf"));
  });

  it("converts each message once (the same object comes back)", () => {
    expect(toPrompt(history, "v4")[2]).toBe(toPrompt(history, "v4")[2]);
  });
});

describe("stream parts and usage", () => {
  it("V3/V4 nested usage becomes numbers with cached and reasoning tokens; never strings or objects", () => {
    expect(
      usageOf({
        inputTokens: { total: 100, noCache: 60, cacheRead: 40, cacheWrite: 0 },
        outputTokens: { total: 30, text: 20, reasoning: 10 },
      }),
    ).toEqual({
      inputTokens: 100,
      outputTokens: 30,
      cachedInputTokens: 40,
      cacheWriteTokens: 0,
      reasoningTokens: 10,
    });
    expect(
      usageOf({
        inputTokens: { total: undefined, noCache: 5, cacheRead: 2, cacheWrite: undefined },
        outputTokens: { total: undefined, text: 3, reasoning: undefined },
      }),
    ).toEqual({ inputTokens: 7, outputTokens: 3, cachedInputTokens: 2 });
    expect(usageOf({ inputTokens: { total: "12" }, outputTokens: { total: { n: 1 } } })).toBeUndefined();
    expect(usageOf(undefined)).toBeUndefined();
  });

  it("V2 flat usage and string finish reasons", () => {
    expect(
      usageOf({
        inputTokens: 10,
        outputTokens: 4,
        totalTokens: 14,
        cachedInputTokens: 3,
        reasoningTokens: 1,
      }),
    ).toEqual({ inputTokens: 10, outputTokens: 4, cachedInputTokens: 3, reasoningTokens: 1 });
    expect(fromStreamPart({ type: "finish", finishReason: "tool-calls", usage: {} })).toEqual({
      type: "finish",
      finishReason: "tool-calls",
    });
    expect(fromStreamPart({ type: "finish", finishReason: "unknown" })).toMatchObject({
      finishReason: "interrupted",
    });
  });

  it("V3/V4 finish: the unified reason, the raw one beside it, metadata without empty providers", () => {
    expect(
      fromStreamPart({
        type: "finish",
        finishReason: { unified: "length", raw: "max_tokens" },
        usage: { inputTokens: { total: 1 }, outputTokens: { total: 2 } },
        providerMetadata: { openai: {}, anthropic: { stopSequence: null } },
      }),
    ).toEqual({
      type: "finish",
      finishReason: "length",
      rawFinishReason: "max_tokens",
      usage: { inputTokens: 1, outputTokens: 2 },
      providerMetadata: { anthropic: { stopSequence: null } },
    });
  });

  it("files as base64 or URL; tool calls the provider ran itself and other parts are dropped", () => {
    expect(
      fromStreamPart({
        type: "file",
        mediaType: "image/png",
        data: { type: "data", data: new Uint8Array([1, 2, 3]) },
      }),
    ).toEqual({
      type: "file",
      mediaType: "image/png",
      data: "AQID",
    });
    expect(
      fromStreamPart({
        type: "file",
        mediaType: "image/png",
        data: { type: "url", url: new URL("https://x.test/i.png") },
      }),
    ).toEqual({
      type: "file",
      mediaType: "image/png",
      url: "https://x.test/i.png",
    });
    expect(fromStreamPart({ type: "file", mediaType: "image/png", data: "AQID" })).toMatchObject({
      data: "AQID",
    });
    expect(
      fromStreamPart({
        type: "tool-call",
        toolCallId: "x",
        toolName: "web_search",
        input: "{}",
        providerExecuted: true,
      }),
    ).toBeUndefined();
    for (const type of ["tool-input-start", "tool-input-delta", "source", "raw", "stream-start", "ping"])
      expect(fromStreamPart({ type })).toBeUndefined();
  });
});

describe("provider errors", () => {
  const apiCallError = (statusCode: number, headers: Record<string, string> = {}) =>
    Object.assign(new Error("Rate limit reached for gpt-5 sk-secret-123456"), {
      [Symbol.for("vercel.ai.error.AI_APICallError")]: true,
      statusCode,
      isRetryable: statusCode === 429,
      responseHeaders: headers,
      responseBody: "sk-secret-123456",
    });

  it("an APICallError keeps status, retryability and retry-after, loses its bodies, and is redacted", () => {
    const error = toModelCallError(apiCallError(429, { "retry-after": "3" }), "openai.chat", [
      "sk-secret-123456",
    ]);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ statusCode: 429, retryable: true, retryAfterMs: 3_000 });
    expect(error.message).toBe("openai.chat: HTTP 429: Rate limit reached for gpt-5 [redacted]");
    expect(error.cause).toBeUndefined();
    expect(JSON.stringify(error.details)).not.toContain("sk-secret");
  });

  it("a provider's in-stream error object, a network error, and values that throw when read", () => {
    const streamed = toModelCallError(
      { message: "overloaded", type: "overloaded_error", isRetryable: true },
      "anthropic",
      [],
    );
    expect(streamed).toMatchObject({ retryable: true, message: "anthropic: overloaded (overloaded_error)" });
    const reset = toModelCallError(
      Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
      "p",
      [],
    );
    expect(reset.retryable).toBe(true);
    const hostile = new Proxy(
      {},
      {
        get: () => {
          throw new Error("no");
        },
      },
    );
    expect(toModelCallError(hostile, "p", []).message).toBe(
      "p: the model call failed with an unreadable error",
    );
    expect(redact("a short key", ["key"])).toBe("a short key");
  });
});

describe("fromAiSdk refuses what is not a language model, or bad settings", () => {
  for (const bad of [
    null,
    {},
    { specificationVersion: "v1", doStream() {} },
    { specificationVersion: "v4" },
  ]) {
    it(JSON.stringify(bad), () => {
      let thrown: unknown;
      try {
        fromAiSdk(bad as never);
      } catch (error) {
        thrown = error;
      }
      expect(isOffstageError(thrown, "INVALID_ARGUMENT")).toBe(true);
    });
  }

  it("bad settings name the setting", () => {
    const model = {
      specificationVersion: "v4",
      provider: "p",
      modelId: "m",
      supportedUrls: {},
      doGenerate() {},
      doStream() {},
    };
    expect(() => fromAiSdk(model as never, { temperature: Number.NaN })).toThrow(/options.temperature/);
    expect(() => fromAiSdk(model as never, { redact: "key" as never })).toThrow(/redact/);
    expect(fromAiSdk(model as never).id).toBe("p:m");
  });
});
