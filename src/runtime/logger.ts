/**
 * The logger port: where the runtime reports what went wrong. A `pino` logger satisfies it.
 *
 * @packageDocumentation
 */

/** Minimal structured logger; `pino` instances satisfy it. */
export interface Logger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** Writes one line per message to stderr. */
export const stderrLogger: Logger = {
  warn: (details, message) => process.stderr.write(`offstage warn: ${message} ${JSON.stringify(details)}\n`),
  error: (details, message) =>
    process.stderr.write(`offstage error: ${message} ${JSON.stringify(details)}\n`),
};

/** Discards everything (tests, benchmarks). */
export const silentLogger: Logger = { warn: () => {}, error: () => {} };
