/**
 * The messages between a runtime in a worker thread and the clients that talk to it. One
 * `MessagePort` per client carries both directions; the client reads the worker's messages with
 * `receiveMessageOnPort` when it must not yield (`poll()`, `status`) and with a `message` listener
 * when it does, so either way each message is read once and in order.
 *
 * A call that returns a value at once (`session()`, `send()`, `metrics()`) is a `call`: the client
 * blocks on the connection's shared words until the worker has taken and answered it, and gives up
 * (without effect) if the worker does not take it in time. See `sync-call.ts`.
 *
 * @packageDocumentation
 */

import type { MessagePort } from "node:worker_threads";
import type { InputStatus, TurnOutcome, Usage } from "../kernel/outcome.js";
import type { RuntimeEvent, TurnEvent } from "../runtime/events.js";
import type { Receipt } from "../runtime/ports/store.js";
import type { WireError } from "./wire-error.js";

/** A handle as the worker last saw it. */
export interface HandleSnapshot {
  readonly id: string;
  readonly sessionId: string;
  readonly status: InputStatus;
  readonly turnId: string | undefined;
  readonly receipt: Receipt;
  /** True once the store committed the input (a later snapshot may not say so again). */
  readonly stored: boolean;
}

/** What a client asks of the worker. */
export type ClientMessage =
  /** A call answered at once; `seq` pairs it with the shared words' sequence number. */
  | { readonly t: "call"; readonly seq: number; readonly op: string; readonly args: readonly unknown[] }
  /** A call answered later (cancel, stop) with a `reply` of the same `seq`. */
  | { readonly t: "ask"; readonly seq: number; readonly op: string; readonly args: readonly unknown[] }
  /** Forward (or stop forwarding) every runtime event. */
  | { readonly t: "listen"; readonly on: boolean }
  /** A new client on `port` with its own shared words (sent by the owner for `client.port()`). */
  | { readonly t: "connect"; readonly port: MessagePort; readonly words: SharedArrayBuffer }
  /** The host's `drain()` started host call `callId`. */
  | { readonly t: "host-started"; readonly callId: number }
  /** Host call `callId` ended, having held the host thread `holdMs` (its synchronous part). */
  | {
      readonly t: "host-result";
      readonly callId: number;
      readonly holdMs: number;
      readonly ok: boolean;
      readonly value?: unknown;
      readonly error?: WireError;
    };

/** What the worker tells a client. */
export type WorkerMessage =
  | { readonly t: "hello"; readonly words: SharedArrayBuffer }
  /** Several messages in their order, posted together. */
  | { readonly t: "batch"; readonly messages: readonly WorkerMessage[] }
  | { readonly t: "reply"; readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly t: "reply"; readonly seq: number; readonly ok: false; readonly error: WireError }
  | { readonly t: "status"; readonly snapshot: HandleSnapshot }
  | {
      readonly t: "settled";
      readonly snapshot: HandleSnapshot;
      readonly outcome: TurnOutcome;
      readonly usage: Usage | undefined;
    }
  /** A turn event of the inputs `ids` (handles this client holds). */
  | { readonly t: "event"; readonly ids: readonly string[]; readonly event: TurnEvent }
  | { readonly t: "runtime-event"; readonly event: RuntimeEvent }
  /**
   * The worker is dying (`process.exit` in it, or an uncaught error): its last message, posted from
   * its `exit` handler so that a client that never yields still learns of it.
   */
  | { readonly t: "exit"; readonly code: number; readonly cause: string | undefined }
  /** Queue a call of a host-executor tool for this thread's `host.drain()`; answer `host-started`, `host-result`. */
  | {
      readonly t: "host-call";
      readonly callId: number;
      readonly agentName: string;
      readonly toolName: string;
      readonly args: unknown;
      readonly sessionId: string;
      readonly turnId: string;
      readonly toolCallId: string;
    }
  /** Host call `callId` was cancelled (its turn, a stop, its timeout): drop it, or abort it if running. */
  | { readonly t: "host-cancel"; readonly callId: number };

/** What the owner learns from the worker's entry while it boots. */
export type BootMessage =
  | { readonly t: "started" }
  | { readonly t: "boot-failed"; readonly error: WireError };

/**
 * The shared words of a connection (`Int32Array` indices): the sync call's sequence number and
 * state, how many messages the worker has posted (so a client that finds nothing new skips reading
 * its port), and whether the worker is gone (so a call blocked on it ends at once).
 */
export const WORD = { call: 0, posted: 1, gone: 2 } as const;
/** The number of shared words a connection has. */
export const WORDS = 3;

/**
 * States of a sync call, in the low two bits of the `call` word; the bits above hold the call's
 * sequence number, so one compare-and-swap checks both and a late message of an abandoned call can
 * never take a newer one.
 */
export const CALL = { idle: 0, pending: 1, taken: 2, done: 3 } as const;
