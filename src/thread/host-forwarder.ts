/**
 * The worker's host executor: a call of a tool with `executor: "host"` cannot run in the worker, so
 * it is forwarded to the thread that started the worker, which runs it in its own `HostQueue` when
 * its loop calls `drain()` (see `host-calls.ts`), and answers. The worker keeps the call's promise,
 * its wait and hold figures by tool (`runtime.metrics().host`), and, when the call's signal fires
 * (cancel, stop, the tool's timeout), tells the host thread to drop or abort it.
 *
 * @packageDocumentation
 */
import { HostThreadError } from "../errors.js";
import { HostCallTally } from "../runtime/host-call-tally.js";
import type { HostCall, HostExecutor, HostQueueMetrics } from "../runtime/ports/host-executor.js";
import type { WorkerMessage } from "./protocol.js";
import { fromWire, type WireError } from "./wire-error.js";

interface Forwarded {
  readonly call: HostCall;
  readonly queuedAtMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly onAbort: () => void;
  started: boolean;
}

/** Posts to the host thread's client. */
export type HostPost = (message: WorkerMessage) => void;

/** Forwards host calls to the thread that owns the runtime's worker. */
export class HostForwarder implements HostExecutor {
  readonly #calls = new Map<number, Forwarded>();
  readonly #tally = new HostCallTally();
  #post: HostPost | undefined;
  #next = 0;

  /** Sends calls through `post` from now on (the owner's connection). */
  attach(post: HostPost): void {
    this.#post = post;
  }

  /** {@inheritDoc HostExecutor.submit} */
  submit(call: HostCall): Promise<unknown> {
    const post = this.#post;
    if (post === undefined)
      return Promise.reject(
        new HostThreadError("no thread holds this runtime's worker to run host calls", {}),
      );
    const { signal } = call;
    if (signal.aborted) {
      this.#tally.removed(call.toolName);
      return Promise.reject(signal.reason);
    }
    const callId = this.#next++;
    return new Promise((resolve, reject) => {
      const forwarded: Forwarded = {
        call,
        queuedAtMs: performance.now(),
        resolve,
        reject,
        started: false,
        onAbort: () => {
          if (!this.#calls.delete(callId)) return;
          if (!forwarded.started) this.#tally.removed(call.toolName);
          post({ t: "host-cancel", callId });
          reject(signal.reason);
        },
      };
      this.#calls.set(callId, forwarded);
      this.#tally.submitted(call.toolName);
      signal.addEventListener("abort", forwarded.onAbort, { once: true });
      const { agentName, toolName, args, sessionId, turnId, toolCallId } = call;
      post({ t: "host-call", callId, agentName, toolName, args, sessionId, turnId, toolCallId });
    });
  }

  /** The host thread's `drain()` started call `callId`. */
  started(callId: number): void {
    const forwarded = this.#calls.get(callId);
    if (forwarded === undefined || forwarded.started) return;
    forwarded.started = true;
    this.#tally.started(forwarded.call.toolName, performance.now() - forwarded.queuedAtMs);
    forwarded.call.started?.();
  }

  /** Call `callId` ended on the host thread, holding it `holdMs` (its synchronous part). */
  ended(
    callId: number,
    holdMs: number,
    result: { ok: true; value: unknown } | { ok: false; error: WireError },
  ): void {
    const forwarded = this.#calls.get(callId);
    if (forwarded === undefined) return;
    this.#calls.delete(callId);
    forwarded.call.signal.removeEventListener("abort", forwarded.onAbort);
    const name = forwarded.call.toolName;
    if (forwarded.started) this.#tally.ran(name, holdMs);
    else this.#tally.removed(name);
    if (result.ok) forwarded.resolve(result.value);
    else forwarded.reject(fromWire(result.error));
  }

  /** {@inheritDoc HostExecutor.metrics} */
  metrics(): HostQueueMetrics {
    let depth = 0;
    for (const forwarded of this.#calls.values()) if (!forwarded.started) depth += 1;
    return this.#tally.metrics(depth);
  }
}
