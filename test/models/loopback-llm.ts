/**
 * A model provider on loopback: a `node:http` server that speaks the streaming protocols the real
 * AI SDK provider packages call — OpenAI Chat Completions (`POST /v1/chat/completions`: text,
 * tool-call argument fragments, parallel calls, usage in the last chunk, `reasoning_content`),
 * OpenAI Responses (`POST /v1/responses`) and Anthropic Messages (`POST /v1/messages`:
 * `content_block_delta` with `text_delta`, `thinking_delta`, `input_json_delta`, `message_delta`
 * usage) — and fails on request the ways real providers do: an HTTP status with `retry-after`, a
 * malformed event, a reset connection, a slow first byte, a stream that stops or ends early.
 *
 * A test scripts each reply from the request (`(request, index) => Reply`); the server records
 * every request (path, headers, parsed body) and whether the client hung up before it finished.
 *
 * Self-contained (only `node:` imports, erasable TypeScript) so that the benchmarks load it too,
 * on Node 24's type stripping.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One tool call of an answer; `args` is sent in these fragments. */
export interface ScriptedCall {
  readonly id: string;
  readonly name: string;
  readonly args: readonly string[];
}

/** A streamed answer. Counts of events (`resetAfter`, …) include the opening ones. */
export interface Answer {
  readonly kind?: "answer";
  readonly text?: readonly string[];
  readonly reasoning?: readonly string[];
  readonly toolCalls?: readonly ScriptedCall[];
  readonly usage?: {
    readonly input: number;
    readonly output: number;
    readonly cached?: number;
    readonly reasoning?: number;
  };
  /** Wait this long before the response's headers. */
  readonly firstByteDelayMs?: number;
  /** Wait this long before each event. */
  readonly eventDelayMs?: number;
  /** Reset the connection (TCP RST) after this many events. */
  readonly resetAfter?: number;
  /** Send this many events, then nothing until the client leaves. */
  readonly hangAfter?: number;
  /** Send this many events, then end the response cleanly, without the finishing events. */
  readonly cutAfter?: number;
}

/** What the server answers a request with. */
export type Reply =
  | Answer
  | {
      readonly kind: "status";
      readonly status: number;
      readonly message?: string;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** A 200 stream whose second event is not JSON. */
  | { readonly kind: "malformed" }
  /** The connection is reset before any response. */
  | { readonly kind: "reset" };

export type Protocol = "openai-chat" | "openai-responses" | "anthropic";

export interface RecordedRequest {
  readonly index: number;
  readonly protocol: Protocol;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  // biome-ignore lint/suspicious/noExplicitAny: a provider's request body, read by tests as they need.
  readonly body: any;
  /** Tool results in the request's messages: how many tool round trips the conversation has had. */
  readonly toolResults: number;
  /** The text of the last user message. */
  readonly lastUserText: string;
  /** The client closed the connection before the response was complete. */
  closedByClient: boolean;
  /** Resolves when the response ended, either way. */
  readonly ended: Promise<void>;
}

export type ReplyFn = (request: RecordedRequest) => Reply;

export interface LoopbackLlm {
  /** `http://127.0.0.1:<port>/v1`: the base URL for every provider. */
  readonly baseURL: string;
  readonly requests: RecordedRequest[];
  /** Replaces the reply function. */
  reply(fn: ReplyFn): void;
  /** Resolves with the next request (or the `count`-th from now). */
  nextRequest(count?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

const PATHS: Readonly<Record<string, Protocol>> = {
  "/v1/chat/completions": "openai-chat",
  "/v1/responses": "openai-responses",
  "/v1/messages": "anthropic",
};

/** Starts the server on an ephemeral loopback port. */
export async function startLoopbackLlm(initial?: ReplyFn): Promise<LoopbackLlm> {
  let replyFn: ReplyFn = initial ?? (() => ({ text: ["ok"] }));
  const requests: RecordedRequest[] = [];
  const waiters: { at: number; resolve: (r: RecordedRequest) => void }[] = [];
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = (req.url ?? "").split("?")[0]!;
    const protocol = PATHS[path];
    if (req.method !== "POST" || protocol === undefined) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      res.writeHead(400).end();
      return;
    }
    let endResponse!: () => void;
    const ended = new Promise<void>((resolve) => {
      endResponse = resolve;
    });
    const recorded: RecordedRequest = {
      index: requests.length,
      protocol,
      path,
      headers: req.headers,
      body,
      toolResults: countToolResults(protocol, body),
      lastUserText: lastUserText(protocol, body),
      closedByClient: false,
      ended,
    };
    requests.push(recorded);
    res.on("close", () => {
      if (!res.writableFinished) recorded.closedByClient = true;
      endResponse();
    });
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.at === recorded.index) {
        waiters[i]!.resolve(recorded);
        waiters.splice(i, 1);
      }
    }
    let reply: Reply;
    try {
      reply = replyFn(recorded);
    } catch (error) {
      reply = { kind: "status", status: 500, message: `the test's reply function threw: ${String(error)}` };
    }
    await send(res, protocol, reply, recorded);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    reply(fn) {
      replyFn = fn;
    },
    nextRequest(count = 1) {
      const at = requests.length + count - 1;
      return new Promise((resolve) => waiters.push({ at, resolve }));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function send(
  res: ServerResponse,
  protocol: Protocol,
  reply: Reply,
  request: RecordedRequest,
): Promise<void> {
  if (reply.kind === "reset") {
    res.socket?.resetAndDestroy();
    return;
  }
  if (reply.kind === "status") {
    const message = reply.message ?? `status ${reply.status}`;
    const body =
      protocol === "anthropic"
        ? { type: "error", error: { type: anthropicErrorType(reply.status), message } }
        : { error: { message, type: "server_error", param: null, code: null } };
    res
      .writeHead(reply.status, { "content-type": "application/json", ...reply.headers })
      .end(JSON.stringify(body));
    return;
  }
  const events =
    reply.kind === "malformed"
      ? malformed(protocol)
      : protocol === "openai-chat"
        ? openaiChatEvents(reply, request)
        : protocol === "openai-responses"
          ? openaiResponsesEvents(reply, request)
          : anthropicEvents(reply, request);
  const answer: Answer = reply.kind === "malformed" ? {} : reply;
  if (answer.firstByteDelayMs !== undefined) {
    await sleep(answer.firstByteDelayMs);
    if (request.closedByClient) return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  for (let i = 0; i < events.length; i++) {
    if (request.closedByClient) return;
    if (answer.resetAfter === i) {
      res.socket?.resetAndDestroy();
      return;
    }
    if (answer.hangAfter === i) return; // the client hangs up, or the server closes
    if (answer.cutAfter === i) {
      res.end();
      return;
    }
    if (answer.eventDelayMs !== undefined) await sleep(answer.eventDelayMs);
    res.write(events[i]);
  }
  res.end();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sse(data: unknown, event?: string): string {
  return `${event === undefined ? "" : `event: ${event}\n`}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
}

function malformed(protocol: Protocol): string[] {
  const first =
    protocol === "anthropic"
      ? sse(
          { type: "message_start", message: anthropicMessage("x", { input: 1, output: 1 }) },
          "message_start",
        )
      : sse({ id: "x", object: "chat.completion.chunk", created: 1, model: "m", choices: [] });
  return [
    first,
    `${protocol === "anthropic" ? "event: content_block_delta\n" : ""}data: {"this is": not json\n\n`,
  ];
}

// ---- OpenAI Chat Completions ---------------------------------------------------------------------

function openaiChatEvents(answer: Answer, request: RecordedRequest): string[] {
  const id = `chatcmpl-${request.index}`;
  const model = String(request.body.model ?? "model");
  const chunk = (delta: object, finish: string | null = null) =>
    sse({
      id,
      object: "chat.completion.chunk",
      created: 1,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
  const events = [chunk({ role: "assistant", content: "" })];
  for (const r of answer.reasoning ?? []) events.push(chunk({ reasoning_content: r }));
  for (const t of answer.text ?? []) events.push(chunk({ content: t }));
  const calls = answer.toolCalls ?? [];
  // Parallel calls: each call's first fragment opens it, then the fragments interleave by index.
  for (let index = 0; index < calls.length; index++) {
    const call = calls[index]!;
    events.push(
      chunk({
        tool_calls: [{ index, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
      }),
    );
  }
  const longest = Math.max(0, ...calls.map((c) => c.args.length));
  for (let f = 0; f < longest; f++) {
    calls.forEach((call, index) => {
      const fragment = call.args[f];
      if (fragment !== undefined)
        events.push(chunk({ tool_calls: [{ index, function: { arguments: fragment } }] }));
    });
  }
  events.push(chunk({}, calls.length > 0 ? "tool_calls" : "stop"));
  const usage = answer.usage ?? { input: 10, output: 5 };
  events.push(
    sse({
      id,
      object: "chat.completion.chunk",
      created: 1,
      model,
      choices: [],
      usage: {
        prompt_tokens: usage.input,
        completion_tokens: usage.output,
        total_tokens: usage.input + usage.output,
        prompt_tokens_details: { cached_tokens: usage.cached ?? 0 },
        completion_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 },
      },
    }),
  );
  events.push("data: [DONE]\n\n");
  return events;
}

// ---- OpenAI Responses ----------------------------------------------------------------------------

function openaiResponsesEvents(answer: Answer, request: RecordedRequest): string[] {
  const id = `resp_${request.index}`;
  const model = String(request.body.model ?? "model");
  const events = [
    sse({ type: "response.created", response: { id, created_at: 1, model } }, "response.created"),
  ];
  let index = 0;
  const text = answer.text ?? [];
  if (text.length > 0) {
    const item = `msg_${request.index}`;
    const at = index++;
    events.push(
      sse({ type: "response.output_item.added", output_index: at, item: { type: "message", id: item } }),
    );
    for (const delta of text)
      events.push(
        sse({ type: "response.output_text.delta", item_id: item, output_index: at, content_index: 0, delta }),
      );
    events.push(
      sse({ type: "response.output_item.done", output_index: at, item: { type: "message", id: item } }),
    );
  }
  for (const call of answer.toolCalls ?? []) {
    const item = `fc_${call.id}`;
    const at = index++;
    const base = { type: "function_call", id: item, call_id: call.id, name: call.name };
    events.push(
      sse({ type: "response.output_item.added", output_index: at, item: { ...base, arguments: "" } }),
    );
    for (const delta of call.args)
      events.push(
        sse({ type: "response.function_call_arguments.delta", item_id: item, output_index: at, delta }),
      );
    events.push(
      sse({
        type: "response.output_item.done",
        output_index: at,
        item: { ...base, arguments: call.args.join(""), status: "completed" },
      }),
    );
  }
  const usage = answer.usage ?? { input: 10, output: 5 };
  events.push(
    sse({
      type: "response.completed",
      response: {
        id,
        usage: {
          input_tokens: usage.input,
          input_tokens_details: { cached_tokens: usage.cached ?? 0 },
          output_tokens: usage.output,
          output_tokens_details: { reasoning_tokens: usage.reasoning ?? 0 },
        },
      },
    }),
  );
  return events;
}

// ---- Anthropic Messages --------------------------------------------------------------------------

function anthropicMessage(id: string, usage: { input: number; output: number; cached?: number }): object {
  return {
    id,
    type: "message",
    role: "assistant",
    model: "claude-loopback",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: {
      input_tokens: usage.input,
      output_tokens: 1,
      cache_read_input_tokens: usage.cached ?? 0,
      cache_creation_input_tokens: 0,
    },
  };
}

function anthropicEvents(answer: Answer, request: RecordedRequest): string[] {
  const usage = answer.usage ?? { input: 10, output: 5 };
  const events = [
    sse({ type: "message_start", message: anthropicMessage(`msg_${request.index}`, usage) }, "message_start"),
  ];
  let index = 0;
  const block = (start: object, deltas: object[]) => {
    const at = index++;
    events.push(sse({ type: "content_block_start", index: at, content_block: start }, "content_block_start"));
    for (const delta of deltas)
      events.push(sse({ type: "content_block_delta", index: at, delta }, "content_block_delta"));
    events.push(sse({ type: "content_block_stop", index: at }, "content_block_stop"));
  };
  if ((answer.reasoning ?? []).length > 0)
    block({ type: "thinking", thinking: "" }, [
      ...(answer.reasoning ?? []).map((thinking) => ({ type: "thinking_delta", thinking })),
      { type: "signature_delta", signature: `sig-${request.index}` },
    ]);
  if ((answer.text ?? []).length > 0)
    block(
      { type: "text", text: "" },
      (answer.text ?? []).map((text) => ({ type: "text_delta", text })),
    );
  for (const call of answer.toolCalls ?? [])
    block(
      { type: "tool_use", id: call.id, name: call.name, input: {} },
      call.args.map((partial_json) => ({ type: "input_json_delta", partial_json })),
    );
  const stop = (answer.toolCalls ?? []).length > 0 ? "tool_use" : "end_turn";
  events.push(
    sse(
      {
        type: "message_delta",
        delta: { stop_reason: stop, stop_sequence: null },
        usage: { output_tokens: usage.output },
      },
      "message_delta",
    ),
  );
  events.push(sse({ type: "message_stop" }, "message_stop"));
  return events;
}

function anthropicErrorType(status: number): string {
  if (status === 429) return "rate_limit_error";
  if (status === 401) return "authentication_error";
  if (status === 529) return "overloaded_error";
  return status >= 500 ? "api_error" : "invalid_request_error";
}

// ---- reading requests ----------------------------------------------------------------------------

// biome-ignore lint/suspicious/noExplicitAny: provider request bodies.
function countToolResults(protocol: Protocol, body: any): number {
  if (protocol === "openai-chat")
    return (body.messages ?? []).filter((m: { role: string }) => m.role === "tool").length;
  if (protocol === "openai-responses")
    return (body.input ?? []).filter((i: { type?: string }) => i.type === "function_call_output").length;
  let n = 0;
  for (const m of body.messages ?? [])
    if (Array.isArray(m.content))
      n += m.content.filter((c: { type: string }) => c.type === "tool_result").length;
  return n;
}

// biome-ignore lint/suspicious/noExplicitAny: provider request bodies.
function lastUserText(protocol: Protocol, body: any): string {
  const list = protocol === "openai-responses" ? (body.input ?? []) : (body.messages ?? []);
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i];
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      const texts = m.content
        .filter((c: { type: string }) => c.type === "text" || c.type === "input_text")
        .map((c: { text: string }) => c.text);
      if (texts.length > 0) return texts.join("");
    }
  }
  return "";
}
