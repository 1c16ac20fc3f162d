/**
 * Runtimes for the tests: a runtime on a virtual clock with a silent logger, the started-session
 * fixtures most tests open with, a gated function agent, a store spy, and a snapshot of what a
 * refused call must leave as it was.
 */
import {
  type Agent,
  createMemoryStore,
  createRuntime,
  type ModelAgent,
  type Runtime,
  type RuntimeOptions,
  type Session,
  type Store,
  silentLogger,
  type TurnHandle,
} from "../../src/index.js";
import { VirtualClock } from "../../src/testing/virtual-clock.js";
import { type Deferred, deferred, until } from "./async.js";
import { GatedModel } from "./models.js";

export interface TestRuntime {
  readonly runtime: Runtime;
  readonly clock: VirtualClock;
}

/** A runtime on a virtual clock with a silent logger. */
export function testRuntime(agents: Record<string, Agent>, extra: TestOptions = {}): TestRuntime {
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

/** Options of a test runtime besides its agents. */
export type TestOptions = Partial<Omit<RuntimeOptions, "agents">>;

export interface StartedSession extends TestRuntime {
  /** Session "s", on the first agent. */
  readonly s: Session;
}

/** A started test runtime with session "s" on the first agent of `agents`. */
export async function startSession(
  agents: Record<string, Agent>,
  extra: TestOptions = {},
): Promise<StartedSession> {
  const agent = Object.keys(agents)[0];
  if (agent === undefined) throw new Error("startSession needs an agent");
  const started = testRuntime(agents, extra);
  await started.runtime.start();
  return { ...started, s: started.runtime.session("s", { agent }) };
}

export interface GatedSession extends StartedSession {
  /** Agent "f", the gated function session "s" runs on. */
  readonly fn: GatedFunction;
}

/** A started runtime whose agent "f" is a {@link gatedFunction}, with session "s" on it. */
export async function gatedSession(extra: TestOptions = {}): Promise<GatedSession> {
  const fn = gatedFunction();
  return { fn, ...(await startSession({ f: fn.agent }, extra)) };
}

export interface BusySession extends GatedSession {
  /** Input "a", whose turn is running: its call to "f" waits at the gate. */
  readonly a: TurnHandle;
}

/** A {@link gatedSession} whose session "s" is busy running input "a". */
export async function busySession(extra: TestOptions = {}): Promise<BusySession> {
  const gated = await gatedSession(extra);
  const a = gated.s.send("a");
  await until(() => gated.fn.calls.length === 1, "the turn of input a to start");
  return { ...gated, a };
}

export interface ChatSession extends StartedSession {
  /** The model of agent "chat", which session "s" runs on. */
  readonly m: GatedModel;
}

/** A started runtime whose agent "chat" runs a {@link GatedModel} with `agent`'s settings, with session "s" on it. */
export async function gatedChat(
  agent: Omit<ModelAgent, "model"> = {},
  extra: TestOptions = {},
): Promise<ChatSession> {
  const m = new GatedModel();
  return { m, ...(await startSession({ chat: { ...agent, model: m } }, extra)) };
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
