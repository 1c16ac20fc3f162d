/** A logger for tests that keeps every line it is told, to assert on what was logged and how often. */
import type { Logger } from "../../src/index.js";

/** One line a logger was told. */
export interface LogLine {
  readonly level: "info" | "warn" | "error";
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A {@link Logger} whose every line, of every level, lands in `lines` in the order told. */
export function recordingLogger(): Logger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine["level"]) =>
    (fields: object, message: string): void => {
      lines.push({ level, message, fields: fields as Record<string, unknown> });
    };
  return { lines, info: at("info"), warn: at("warn"), error: at("error") };
}
