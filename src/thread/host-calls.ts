/**
 * The host thread's side of host-executor tools of a runtime in a worker: the worker forwards each
 * call (see `host-forwarder.ts`); this submits it to the host's own `HostQueue`, so it runs when the
 * host's loop calls `host.drain()`, on this thread, and sends back when it started and how it ended.
 * The tools themselves come from the module the worker imported, loaded in this thread too.
 *
 * @packageDocumentation
 */
import { OffstageError } from "../errors.js";
import type { Agent } from "../runtime/agent.js";
import { isFunctionAgent } from "../runtime/agent.js";
import type { HostExecutor } from "../runtime/ports/host-executor.js";
import type { Tool } from "../runtime/ports/tool.js";
import type { ClientMessage, WorkerMessage } from "./protocol.js";
import { toWire } from "./wire-error.js";

type Ended = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The host tools of a module's agents, by `agent/tool`. */
export type HostTools = ReadonlyMap<string, Tool>;

/** The tools with `executor: "host"` of `agents`. */
export function hostToolsOf(agents: Readonly<Record<string, Agent>>): HostTools {
  const tools = new Map<string, Tool>();
  for (const [agentName, agent] of Object.entries(agents)) {
    if (isFunctionAgent(agent)) continue;
    for (const tool of agent.tools ?? [])
      if (tool.executor === "host") tools.set(`${agentName}/${tool.name}`, tool);
  }
  return tools;
}

/** Runs forwarded host calls in this thread's queue. */
export class HostCalls {
  readonly #queue: HostExecutor;
  readonly #tools: HostTools;
  readonly #post: (message: ClientMessage) => void;
  readonly #running = new Map<number, AbortController>();

  constructor(queue: HostExecutor, tools: HostTools, post: (message: ClientMessage) => void) {
    this.#queue = queue;
    this.#tools = tools;
    this.#post = post;
  }

  /** The worker forwarded a call: queue it for the host's `drain()`. */
  call(message: Extract<WorkerMessage, { t: "host-call" }>): void {
    const { callId, agentName, toolName, args, sessionId, turnId, toolCallId } = message;
    const tool = this.#tools.get(`${agentName}/${toolName}`);
    if (tool === undefined) {
      this.#answer(callId, 0, {
        ok: false,
        error: new OffstageError(
          "WRONG_THREAD",
          `this thread has no host tool ${JSON.stringify(toolName)} of agent ${JSON.stringify(agentName)}`,
        ),
      });
      return;
    }
    const abort = new AbortController();
    this.#running.set(callId, abort);
    let holdMs = 0;
    this.#queue
      .submit({
        agentName,
        toolName,
        args,
        sessionId,
        turnId,
        toolCallId,
        signal: abort.signal,
        started: () => this.#post({ t: "host-started", callId }),
        run: (signal) => {
          const startMs = performance.now();
          let value: unknown;
          try {
            value = tool.execute(args, { signal, sessionId, turnId, toolCallId });
          } catch (error) {
            this.#end(callId, performance.now() - startMs, { ok: false, error });
            throw error;
          }
          holdMs = performance.now() - startMs;
          // A value known now is answered now: a host that never yields still gets it to the worker.
          if (!isThenable(value)) this.#end(callId, holdMs, { ok: true, value });
          return value;
        },
      })
      .then(
        (value) => this.#end(callId, holdMs, { ok: true, value }),
        (error: unknown) => this.#end(callId, holdMs, { ok: false, error }),
      );
  }

  /** The worker's signal for call `callId` fired: drop it from the queue, or abort it if running. */
  cancel(callId: number): void {
    this.#running.get(callId)?.abort(new OffstageError("TURN_CANCELLED", "the host call was cancelled"));
  }

  /** The worker is gone: every call still waiting or running here is aborted. */
  abortAll(): void {
    for (const abort of this.#running.values())
      abort.abort(new OffstageError("WORKER_EXITED", "the runtime's worker went away"));
    this.#running.clear();
  }

  /** Answers call `callId` once: the first of its ends (a value known at once, or its promise) wins. */
  #end(callId: number, holdMs: number, result: Ended): void {
    if (this.#running.delete(callId)) this.#answer(callId, holdMs, result);
  }

  #answer(callId: number, holdMs: number, result: Ended): void {
    if (result.ok) {
      try {
        this.#post({ t: "host-result", callId, holdMs, ok: true, value: result.value });
        return;
      } catch (error) {
        result = {
          ok: false,
          error: new OffstageError(
            "INVALID_ARGUMENT",
            `the host tool's result cannot cross to the worker: ${String(error)}`,
          ),
        };
      }
    }
    this.#post({ t: "host-result", callId, holdMs, ok: false, error: toWire(result.error) });
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
