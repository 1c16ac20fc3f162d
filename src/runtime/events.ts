/**
 * The typed event stream. Every observable thing the runtime does is one of these events; metrics
 * derive from the same facts. Listener errors are contained and logged once, never rethrown.
 *
 * @packageDocumentation
 */

import type { ProviderMetadata } from "../kernel/messages.js";
import type { InputStatus, TurnOutcome, Usage } from "../kernel/outcome.js";
import type { Policy } from "../kernel/session/inbox.js";
import type { StopStatus } from "../kernel/shutdown/stop-status.js";
import type { HogSource } from "./dispatcher.js";

/** One event of the runtime's stream. */
export type RuntimeEvent =
  | { readonly type: "runtime.started"; readonly recoveredInputs: number; readonly resumedTurns: number }
  | {
      readonly type: "runtime.stopped";
      readonly status: StopStatus;
      /** With `store_failed`: inputs accepted since the start whose write the store lost. */
      readonly lostInputs?: number;
      /** With `store_failed`: why the store failed. */
      readonly storeError?: string;
    }
  | {
      /**
       * The store failed (`code` `STORE_FAILED`, or `STORE_FILE_GONE` when its file was deleted or
       * replaced): the runtime is `degraded`, refuses sends, and settles every live handle.
       */
      readonly type: "store.failed";
      readonly code: string;
      readonly message: string;
    }
  | {
      /** The store works again: what it kept was recovered and the runtime is `running` again. */
      readonly type: "store.recovered";
      readonly downMs: number;
      readonly recoveredInputs: number;
      readonly resumedTurns: number;
    }
  | {
      readonly type: "input.accepted";
      readonly sessionId: string;
      readonly inputId: string;
      readonly policy: Policy;
    }
  | {
      readonly type: "input.status";
      readonly sessionId: string;
      readonly inputId: string;
      readonly status: InputStatus;
    }
  | {
      /**
       * An input sent with the `steer` policy joined the running turn `turnId`: a model agent's
       * turn shows it to the model at its next step boundary. A function agent's turn takes none:
       * the input goes back to the queue when that turn ends and starts a later turn of its own.
       */
      readonly type: "input.steered";
      readonly sessionId: string;
      readonly inputId: string;
      readonly turnId: string;
    }
  | {
      readonly type: "turn.started";
      readonly sessionId: string;
      readonly turnId: string;
      readonly inputIds: readonly string[];
      readonly attempt: number;
    }
  | {
      readonly type: "model.text";
      readonly sessionId: string;
      readonly turnId: string;
      readonly delta: string;
    }
  | {
      /** Reasoning the model streams before its answer (only from models that show it). */
      readonly type: "model.reasoning";
      readonly sessionId: string;
      readonly turnId: string;
      readonly delta: string;
    }
  | {
      /** A model step ended: why the model stopped, what it used, who answered. */
      readonly type: "model.step";
      readonly sessionId: string;
      readonly turnId: string;
      readonly step: number;
      readonly modelId: string;
      readonly finishReason: string;
      readonly usage: Usage | undefined;
      /** Tries the step took (1 when nothing was retried). */
      readonly tries: number;
      readonly responseId?: string;
      readonly providerMetadata?: ProviderMetadata;
    }
  | {
      /**
       * A model step failed transiently and starts again, clean, after `delayMs`. Text streamed
       * since the step began (`discardedChars` characters of `model.text`) is not part of the
       * answer: a consumer showing it drops it.
       */
      readonly type: "model.retry";
      readonly sessionId: string;
      readonly turnId: string;
      readonly step: number;
      /** The try that failed, from 1. */
      readonly failedTry: number;
      readonly attemptsMax: number;
      readonly delayMs: number;
      readonly statusCode?: number;
      readonly error: string;
      readonly discardedChars: number;
    }
  | {
      readonly type: "tool.started";
      readonly sessionId: string;
      readonly turnId: string;
      readonly toolCallId: string;
      readonly toolName: string;
    }
  | {
      readonly type: "tool.ended";
      readonly sessionId: string;
      readonly turnId: string;
      readonly toolCallId: string;
      readonly toolName: string;
      readonly isError: boolean;
      readonly durationMs: number;
    }
  | {
      readonly type: "turn.ended";
      readonly sessionId: string;
      readonly turnId: string;
      readonly inputIds: readonly string[];
      readonly outcome: TurnOutcome;
      readonly usage: Usage;
      readonly durationMs: number;
    }
  | {
      readonly type: "delegation.dispatched";
      readonly parentSessionId: string;
      readonly delegationId: string;
      readonly childSessionId: string;
    }
  | {
      readonly type: "delegation.rejected";
      readonly parentSessionId: string;
      readonly code: string;
      readonly reason: string;
    }
  | {
      readonly type: "delegation.completed";
      readonly parentSessionId: string;
      readonly delegationId: string;
      readonly status: string;
      readonly delivery: "pending" | "dropped";
    }
  | { readonly type: "delegation.delivered"; readonly parentSessionId: string; readonly delegationId: string }
  | {
      readonly type: "dispatcher.hog";
      /** What held the thread: a job's label, `tool <name>`, `function agent <name>`, or `one of: …`. */
      readonly label: string;
      readonly durationMs: number;
      /** `job`, `call` (a tool's or function agent's own synchronous code) or `stall` (see `HogSource`). */
      readonly source: HogSource;
    }
  | { readonly type: "error"; readonly where: string; readonly message: string };

/** The event types a turn handle's iterator yields. */
export type TurnEvent = Extract<
  RuntimeEvent,
  {
    type:
      | "input.status"
      | "turn.started"
      | "model.text"
      | "model.reasoning"
      | "model.step"
      | "model.retry"
      | "tool.started"
      | "tool.ended"
      | "turn.ended";
  }
>;

/** Receives runtime events. Must not throw (errors are contained and logged once). */
export type EventListener = (event: RuntimeEvent) => void;
