/**
 * Every bound Offstage enforces and every default it assumes, in one place, with units in the names.
 * Each overflow of a limit is refused with a stable code; each default is what an option means when
 * it is left out.
 */

/** The bounds of one runtime (`options.limits`). */
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
}

export const DEFAULT_LIMITS: Limits = {
  maxConcurrentTurns: 256,
  inboxLengthMax: 1_000,
  payloadBytesMax: 256 * 1024,
  modelCallsPerTurnMax: 16,
  toolCallsPerStepMax: 32,
  toolTimeoutMs: 60_000,
  handleEventBufferMax: 10_000,
};

/** The longest delay a Node timer honours; a longer one fires at once. */
export const TIMER_DELAY_MAX_MS = 2 ** 31 - 1;

/** Longest cause a reason message quotes (a thrown value can be any size), in characters. */
export const CAUSE_CHARS_MAX = 2_000;

/** Longest reason a caller may give a cancel or a stop, in characters (it is stored with the outcome). */
export const REASON_CHARS_MAX = 2_000;

/** Deepest nesting of arrays and objects a payload (or a function agent's output) may have. */
export const JSON_DEPTH_MAX = 512;

/** What every other option of the package means when it is left out. */
export const DEFAULTS = {
  /** How often the recovery poll drives sessions whose wake was lost. */
  pollIntervalMs: 400,
  /** How long a session may keep its turn slot for back-to-back turns while others wait. */
  slotQuantumMs: 10,
  /** A synchronous dispatcher job holding the thread longer is reported. */
  hogThresholdMs: 50,
  /** How long the dispatcher runs jobs before it yields to the event loop. */
  dispatcherSliceMs: 10,
  /** How long `stop()` waits for a drain and for calls to return after their abort. */
  stopTimeoutMs: 10_000,
  /**
   * A store that failed is probed again after `firstMs`, then after twice as long each time, up to
   * `maxMs`, until it works again; while it fails, the log repeats the failure once per `logEveryMs`.
   * Handles settle once the commits already asked for have landed, or after `landWaitMs` at most.
   */
  storeProbe: { firstMs: 100, maxMs: 2_000, logEveryMs: 60_000, landWaitMs: 1_000 },
  /** Attempts a turn gets across crashes before it ends `failed`/`crashed`. */
  crashAttemptsMax: 3,
  /** How a model step retries 429s, 5xx, timeouts and dropped connections (an agent's `retry`). */
  retry: {
    /** Tries per model step, the first included. */
    attemptsMax: 3,
    /** The backoff before the first retry, doubled (`factor`) for each later one. */
    backoffMs: 1_000,
    backoffMaxMs: 30_000,
    factor: 2,
    /** A provider's `retry-after` longer than this fails the step rather than wait. */
    retryAfterMaxMs: 60_000,
    /** A try that streams nothing for this long is abandoned and retried. */
    idleTimeoutMs: 180_000,
  },
  delegation: {
    /** Children running at once across the runtime. */
    runningMax: 64,
    /** Children running at once under one parent session. */
    perParentRunningMax: 8,
    /** How deep a tree may grow: a top-level session is depth 0, its children depth 1. */
    depthMax: 2,
    /** Finished delegation records kept per parent. */
    keepPerParent: 100,
    /** Completions older than this at startup are held for the host to confirm. */
    staleAfterMs: 24 * 60 * 60 * 1000,
    /** Several waiting completions become one parent turn. */
    mergeCompletions: true,
  },
  eventLog: {
    /** Events kept per session; older ones are trimmed. */
    eventsPerSessionMax: 1_000,
    /** How long a model step's text deltas are joined before they are recorded as one event. */
    textJoinMs: 50,
    /** Events one read of the log returns while a subscriber catches up. */
    pageEvents: 256,
  },
  memoryStore: {
    /** Ended inputs the memory store keeps for look-ups by id and idempotency key. */
    endedInputsMax: 10_000,
    /** Of those, the ones with an idempotency key. */
    idempotencyKeysMax: 10_000,
  },
  mcp: {
    /** How long connecting to an MCP server (and listing its tools) may take. */
    connectTimeoutMs: 10_000,
    /** Restarts in a row that may fail before a dead MCP server is given up. */
    restartsMax: 5,
    /** The wait before the second restart; it doubles for each further one (up to 30 s). */
    restartDelayMs: 250,
    /** How long `offstage mcp`'s `result` tool waits when the caller names no bound. */
    resultWaitMs: 10_000,
    /** The longest wait `result` accepts: below MCP clients' usual 60 s request timeout. */
    resultWaitMsMax: 50_000,
  },
  chat: {
    /** The shortest time between two redraws of `offstage chat`'s live region (at most 30 a second). */
    frameMs: 33,
    /** Messages of a resumed session's history shown when the chat opens. */
    historyShown: 20,
    /** How long quitting waits for the running answer and background children before it leaves them stored. */
    quitDrainMs: 10_000,
  },
  postgresStore: {
    /** Ended inputs the PostgreSQL store keeps for look-ups by id and idempotency key, fleet-wide. */
    endedInputsMax: 100_000,
    /** Of those, the ones with an idempotency key. */
    idempotencyKeysMax: 100_000,
    /** How often each process tries to sweep (one process of the fleet sweeps at a time). */
    sweepIntervalMs: 1_000,
    /**
     * Rows one statement of a sweep deletes. The sweep runs on a connection of its own, off the
     * event loop, so its batches can be larger than the SQLite store's; each stays short all the
     * same (a key sent again waits for the statement that deletes that key's input).
     */
    sweepBatchRows: 500,
    /** Rows one sweep deletes at most; when more are due, the next follows at once. */
    sweepRowsMax: 2_000,
    /** Index entries one step of a count bound's cut-off search passes (a few milliseconds of the server's). */
    cutoffWalkRows: 10_000,
  },
  sqliteStore: {
    /** The database file, relative to the working directory. */
    path: "./.offstage/offstage.db",
    durability: "full",
    /** How long a group of writes stays open before it commits. */
    groupCommitMs: 2,
    /** How long boot waits for another connection's write transaction on the file. */
    busyTimeoutMs: 5_000,
    /** Ended inputs the SQLite store keeps for look-ups by id and idempotency key. */
    endedInputsMax: 100_000,
    /** Of those, the ones with an idempotency key. */
    idempotencyKeysMax: 100_000,
    /** How often the store looks for rows its retention options let it delete. */
    sweepIntervalMs: 1_000,
    /**
     * Rows the retention sweep deletes per statement (about a millisecond's work); a sweep deletes
     * about as many as ended since the last one, and a batch more, before it lets the event loop run.
     */
    sweepBatchRows: 100,
    /** Messages of recently read histories the store keeps parsed, so a turn reads only what is new (a history is read whole again once let go: a bound below what busy sessions hold would re-read them at every turn). */
    historyCacheMessagesMax: 1_000_000,
  },
} as const;
