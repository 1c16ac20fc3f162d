/**
 * Shared fakes for the runtime tests: deferred promises, scripted and gated models, plain tools, a
 * store spy, and helpers that let queued microtasks and dispatcher slices run without sleeping on the
 * wall clock (every timer the runtime sets goes through the `VirtualClock`).
 */
import {
  type Agent,
  createMemoryStore,
  createRuntime,
  type Message,
  type Model,
  type ModelPart,
  type ModelRequest,
  type Runtime,
  type RuntimeOptions,
  type Session,
  type Store,
  silentLogger,
  type Tool,
  type ToolContext,
  type TurnHandle,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop: microtasks, then whatever `setImmediate` queued before. */
export function turnOfLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Lets pending microtasks, dispatcher slices and promise chains run (no time passes). */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await turnOfLoop();
}

/** Spins the event loop until `condition` holds; fails (without sleeping) if it never does. */
export async function until(condition: () => boolean, what = "the condition"): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await turnOfLoop();
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Whether a promise has settled yet, without waiting for it. */
export function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled, promise };
}

// ---- models ------------------------------------------------------------------------------------

export function text(value: string): ModelPart[] {
  return [
    { type: "text-delta", id: "t", delta: value },
    { type: "finish", finishReason: "stop", usage: { inputTokens: 1, outputTokens: 1 } },
  ];
}

export function toolCall(toolCallId: string, toolName: string, input: unknown): ModelPart {
  return {
    type: "tool-call",
    toolCallId,
    toolName,
    input: typeof input === "string" ? input : JSON.stringify(input),
  };
}

/** A step that asks for these tool calls. */
export function callTools(...calls: ModelPart[]): ModelPart[] {
  return [...calls, { type: "finish", finishReason: "tool-calls" }];
}

/** Answers each step synchronously from `script(request, callIndex)` and records every request. */
export {
  createScriptedModel as scriptedModel,
  type ScriptedModel,
} from "../../src/testing/index.js";

export interface GatedCall {
  readonly request: ModelRequest;
  readonly signal: AbortSignal;
  /** Lets the step answer with these parts. */
  release(parts: ModelPart[]): void;
  /** Makes the step's stream throw. */
  fail(error: unknown): void;
  /** True once the stream has finished (answered, failed or aborted). */
  ended: boolean;
}

/**
 * A model whose every step waits until the test releases it. It honours its abort signal (the
 * stream throws the abort reason) unless `ignoreAbort` is set.
 */
export class GatedModel implements Model {
  readonly id = "gated";
  readonly calls: GatedCall[] = [];
  readonly #ignoreAbort: boolean;

  constructor(options: { ignoreAbort?: boolean } = {}) {
    this.#ignoreAbort = options.ignoreAbort === true;
  }

  get last(): GatedCall {
    const call = this.calls.at(-1);
    if (call === undefined) throw new Error("the model was not called");
    return call;
  }

  stream(request: ModelRequest): AsyncIterable<ModelPart> {
    const gate = deferred<ModelPart[]>();
    const signal = request.abortSignal;
    const call: GatedCall = {
      request,
      signal,
      release: (parts) => gate.resolve(parts),
      fail: (error) => gate.reject(error),
      ended: false,
    };
    this.calls.push(call);
    if (!this.#ignoreAbort) {
      signal.addEventListener("abort", () => gate.reject(signal.reason), { once: true });
    }
    return (async function* () {
      try {
        yield* await gate.promise;
      } finally {
        call.ended = true;
      }
    })();
  }
}

// ---- tools -------------------------------------------------------------------------------------

/** A tool that accepts any arguments. */
export function tool(
  name: string,
  execute: (args: unknown, context: ToolContext) => unknown,
  extra: Partial<Omit<Tool, "execute">> = {},
): Tool {
  return {
    name,
    description: `the ${name} tool`,
    inputSchema: { type: "object" },
    check: (args) => ({ ok: true, value: args }),
    execute,
    ...extra,
  };
}

/** A tool whose calls each wait for the test; it honours its signal unless told not to. */
export class GatedTool {
  readonly calls: { args: unknown; context: ToolContext; gate: Deferred<unknown> }[] = [];
  readonly tool: Tool;

  constructor(name: string, options: { ignoreAbort?: boolean; timeoutMs?: number } = {}) {
    this.tool = tool(
      name,
      (args, context) => {
        const gate = deferred<unknown>();
        this.calls.push({ args, context, gate });
        if (options.ignoreAbort !== true) {
          context.signal.addEventListener("abort", () => gate.reject(context.signal.reason), { once: true });
        }
        return gate.promise;
      },
      options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs },
    );
  }
}

// ---- runtime -----------------------------------------------------------------------------------

export interface TestRuntime {
  readonly runtime: Runtime;
  readonly clock: VirtualClock;
}

/** A runtime on a virtual clock with a silent logger. */
export function testRuntime(
  agents: Record<string, Agent>,
  extra: Partial<Omit<RuntimeOptions, "agents">> = {},
): TestRuntime {
  const clock = new VirtualClock();
  const runtime = createRuntime({
    logger: silentLogger,
    clock,
    agents,
    store: createMemoryStore(),
    ...extra,
  });
  return { runtime, clock };
}

export interface GatedFunction {
  readonly agent: Agent;
  /** Every call, in order: the input, its context and a gate the test opens. */
  readonly calls: { input: unknown; turnId: string; signal: AbortSignal; gate: Deferred<unknown> }[];
}

/** A function agent whose every call waits for the test and honours its signal. */
export function gatedFunction(): GatedFunction {
  const calls: GatedFunction["calls"] = [];
  return {
    calls,
    agent: {
      run(input, context) {
        const gate = deferred<unknown>();
        calls.push({ input, turnId: context.turnId, signal: context.signal, gate });
        context.signal.addEventListener("abort", () => gate.reject(context.signal.reason), { once: true });
        return gate.promise;
      },
    },
  };
}

/** Text of the user messages in a prompt, in order. */
export function userTexts(messages: readonly Message[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    if (m.role !== "user") continue;
    for (const part of m.content) if (part.type === "text") out.push(part.text);
  }
  return out;
}

/** The roles of a prompt's messages, in order. */
export function roles(messages: readonly Message[]): string[] {
  return messages.map((m) => m.role);
}

/** What a refused call must leave exactly as it was. */
export function stateOf(runtime: Runtime, sessions: readonly Session[], handles: readonly TurnHandle[]) {
  const m = runtime.metrics();
  return {
    state: runtime.state,
    sessionIds: runtime.sessionIds(),
    sessions: m.sessions,
    queuedInputs: m.queuedInputs,
    readySessions: m.readySessions,
    runningTurns: m.runningTurns,
    outstandingCalls: m.outstandingCalls,
    inputsAccepted: m.inputsAccepted,
    turnsStarted: m.turnsStarted,
    ended: m.ended,
    histories: sessions.map((s) => JSON.parse(JSON.stringify(s.history())) as unknown),
    handles: handles.map((h) => ({ id: h.id, status: h.status, turnId: h.turnId })),
  };
}

export interface StoreSpy {
  readonly store: Store;
  /** Every write method called, by name, with its first argument. */
  readonly writes: { method: string; arg: unknown }[];
  /** When set, `commit()` waits for this before resolving. */
  commitGate: Promise<void> | undefined;
  opens: number;
}

/** A memory store that records its writes and can hold commits back. */
export function spyStore(inner: Store = createMemoryStore()): StoreSpy {
  const spy: StoreSpy = {
    store: undefined as unknown as Store,
    writes: [],
    commitGate: undefined,
    opens: 0,
  };
  const record =
    (method: string) =>
    (arg: never): void => {
      spy.writes.push({ method, arg });
      (inner[method as keyof Store] as (a: never) => void).call(inner, arg);
    };
  const store: Store = {
    kind: inner.kind,
    receipt: inner.receipt,
    open: () => {
      spy.opens += 1;
      return inner.open();
    },
    createSession: record("createSession"),
    accept: record("accept"),
    steer: record("steer"),
    endInput: record("endInput"),
    startTurn: record("startTurn"),
    checkpoint: record("checkpoint"),
    endTurn: record("endTurn"),
    commit: async () => {
      const gate = spy.commitGate;
      if (gate !== undefined) await gate;
      await inner.commit();
    },
    history: (sessionId) => inner.history(sessionId),
    findByIdempotencyKey: (sessionId, key) => inner.findByIdempotencyKey(sessionId, key),
    input: (inputId) => inner.input(inputId),
    close: () => inner.close(),
  };
  return Object.assign(spy, { store });
}
