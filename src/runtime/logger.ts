/**
 * The logger port: where the runtime says what it did and what went wrong, as structured fields
 * plus a message. A `pino` logger satisfies it as it is (`createRuntime({ logger: pino() })`).
 *
 * Fields name what a line is about — `sessionId`, `turnId`, `inputId`, `inputIds`, `delegationId`,
 * `toolName`, `model` — and a failure's `error` is an object (`name`, `message`, `code`, `cause`, ...),
 * never a pre-rendered string, so a log pipeline can filter on it. Secrets are redacted before any
 * logger sees the fields (see `redact.ts`). A logger that throws is contained: the line is dropped.
 *
 * Levels: `error` — the runtime's own work failed (a commit, a listener, an invariant); `warn` — a
 * turn failed, a job held the thread, work crashed and resumed; `info` — lifecycle (started,
 * stopped, recovered); `debug` — per-turn detail, off unless the logger enables it.
 *
 * @packageDocumentation
 */
import { errorFields, redactFields, redactText } from "./redact.js";

/** The levels a logger takes, least severe first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields of one log line. */
export interface LogFields {
  readonly sessionId?: string;
  readonly turnId?: string;
  readonly inputId?: string;
  readonly inputIds?: readonly string[];
  readonly delegationId?: string;
  /** A failure: given as the thrown value, logged as an object with `name`, `message`, `code`, `cause`. */
  readonly error?: unknown;
  readonly [field: string]: unknown;
}

/**
 * A structured logger; `pino` instances satisfy it. `debug` and `info` may be left out (those lines
 * are dropped then).
 */
export interface Logger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  /** When present and false for a level, the runtime builds no line for it (pino has it). */
  isLevelEnabled?(level: string): boolean;
}

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Options of {@link createStderrLogger}. */
export interface StderrLoggerOptions {
  /** The least severe level written (default `warn`). */
  readonly level?: LogLevel;
  /** Write one JSON object per line (like pino) instead of `offstage <level>: <message> <fields>`. */
  readonly json?: boolean;
}

/** A logger writing one line per message to stderr, from `level` up. */
export function createStderrLogger(options: StderrLoggerOptions = {}): Logger {
  const min = LEVELS.indexOf(options.level ?? "warn");
  const enabled = (level: string) => LEVELS.indexOf(level as LogLevel) >= min;
  const line = (level: LogLevel) => (fields: object, message: string) => {
    if (!enabled(level)) return;
    const text = options.json
      ? JSON.stringify({ level, time: Date.now(), msg: message, ...fields })
      : `offstage ${level}: ${message} ${JSON.stringify(fields)}`;
    process.stderr.write(`${text}\n`);
  };
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    isLevelEnabled: enabled,
  };
}

/** Writes warnings and errors to stderr, one line each (the default). */
export const stderrLogger: Logger = createStderrLogger();

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  isLevelEnabled: () => false,
};

/**
 * The runtime's side of the port: redacts the fields, turns `error` into an object, and contains a
 * logger that throws.
 */
export class RuntimeLog {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  debug(fields: LogFields, message: string): void {
    this.#write("debug", fields, message);
  }

  info(fields: LogFields, message: string): void {
    this.#write("info", fields, message);
  }

  warn(fields: LogFields, message: string): void {
    this.#write("warn", fields, message);
  }

  error(fields: LogFields, message: string): void {
    this.#write("error", fields, message);
  }

  #write(level: LogLevel, fields: LogFields, message: string): void {
    const logger = this.#logger;
    const write = logger[level];
    if (typeof write !== "function") return;
    try {
      if (typeof logger.isLevelEnabled === "function" && !logger.isLevelEnabled(level)) return;
      const safe = redactFields(fields);
      if (fields.error !== undefined) safe.error = errorFields(fields.error);
      write.call(logger, safe, redactText(message));
    } catch {
      // A throwing logger must not take the runtime down, and there is nobody left to tell.
    }
  }
}
