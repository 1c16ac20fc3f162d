/**
 * Every bound Offstage enforces, with units in the names. Each overflow is refused with a stable code.
 */
export interface Limits {
  /** Turns running at once across all sessions. */
  readonly maxConcurrentTurns: number;
  /** Inputs waiting in one session's inbox. */
  readonly inboxLengthMax: number;
  /** Size of one input payload, as UTF-8 JSON. */
  readonly payloadBytesMax: number;
  /** Model calls in one turn before it ends `max_iterations`. */
  readonly modelCallsPerTurnMax: number;
  /** Tool calls one model step may ask for. */
  readonly toolCallsPerStepMax: number;
  /** Default per-tool timeout. */
  readonly toolTimeoutMs: number;
  /** Events buffered for one slow handle iterator before it fails. */
  readonly handleEventBufferMax: number;
  /** Idempotency keys remembered per runtime after their input ended. */
  readonly idempotencyKeysMax: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxConcurrentTurns: 256,
  inboxLengthMax: 1_000,
  payloadBytesMax: 256 * 1024,
  modelCallsPerTurnMax: 16,
  toolCallsPerStepMax: 32,
  toolTimeoutMs: 60_000,
  handleEventBufferMax: 10_000,
  idempotencyKeysMax: 100_000,
};
