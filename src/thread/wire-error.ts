/**
 * Errors across the thread boundary. A structured clone keeps an `Error`'s message but drops its
 * class, `code` and `details`; these two functions carry them, so the other side gets the same
 * typed error (`isOffstageError(e, "SESSION_BUSY")`, `e instanceof CapacityError`).
 *
 * @packageDocumentation
 */
import {
  BootError,
  CapacityError,
  DeadlockError,
  InvalidInputError,
  isOffstageError,
  ModelCallError,
  OffstageError,
  type OffstageErrorCode,
  TurnCancelled,
  TurnTimeout,
} from "../errors.js";
import { describeCause } from "../kernel/outcome.js";

/** An error as it crosses: plain data. */
export interface WireError {
  readonly name: string;
  readonly code: OffstageErrorCode | undefined;
  readonly message: string;
  readonly details: Record<string, unknown>;
  readonly stack: string | undefined;
}

/** Makes plain data of any thrown value (never throws). */
export function toWire(error: unknown): WireError {
  if (isOffstageError(error)) {
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      details: cloneable(error.details),
      stack: error.stack,
    };
  }
  const message = describeCause(error);
  return { name: "Error", code: undefined, message, details: {}, stack: undefined };
}

/** The typed error `wire` describes, made in this thread. */
export function fromWire(wire: WireError): Error {
  if (wire.code === undefined) return new Error(wire.message);
  const { code, message, details } = wire;
  let error: OffstageError;
  switch (wire.name) {
    case "BootError":
      error = new BootError(code, message, { details });
      break;
    case "InvalidInputError":
      error = new InvalidInputError(code, message, { details });
      break;
    case "CapacityError":
      error = new CapacityError(code, message, { details });
      break;
    case "TurnTimeout":
      error = new TurnTimeout(message, details);
      break;
    case "TurnCancelled":
      error = new TurnCancelled(message, details);
      break;
    case "DeadlockError":
      error = new DeadlockError(message, details);
      break;
    case "ModelCallError":
      error = new ModelCallError(message, { retryable: details.retryable === true, details });
      break;
    default:
      error = new OffstageError(code, message, { details });
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

/** `details` as they can be cloned: as they are when they can, else as text. */
function cloneable(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return structuredClone(details) as Record<string, unknown>;
  } catch {
    return { text: describeCause(details) };
  }
}
