/**
 * The options of the runtime's event log (`options.eventLog`), and their check. What the log does
 * with them is in `session-events.ts`.
 *
 * @packageDocumentation
 */
import { DEFAULTS } from "../kernel/limits.js";
import {
  checkBoolean,
  checkDurationMs,
  checkOptions,
  checkPositiveInteger,
  type Subject,
} from "../validate.js";

/** Options of the runtime's event log (`options.eventLog`). */
export interface EventLogOptions {
  /** Events kept per session (default 1 000); older ones are trimmed. */
  readonly eventsPerSessionMax?: number;
  /** How long a model step's text deltas are joined into one recorded event (default 50 ms). */
  readonly textJoinMs?: number;
}

export interface ResolvedEventLogOptions {
  readonly eventsPerSessionMax: number;
  readonly textJoinMs: number;
}

const EVENT_LOG_KEYS = Object.keys({ eventsPerSessionMax: true, textJoinMs: true } satisfies Record<
  keyof EventLogOptions,
  true
>);

/** Checks `options.eventLog`: `true`, `false`, or {@link EventLogOptions}; `undefined` when off. */
export function resolveEventLogOptions(
  subject: Subject,
  given: EventLogOptions | boolean | undefined,
): ResolvedEventLogOptions | undefined {
  if (given === undefined || given === false) return undefined;
  if (given === true) return DEFAULTS.eventLog;
  if (typeof given !== "object") checkBoolean(subject, "eventLog", given);
  const options = checkOptions(subject, "eventLog", given, EVENT_LOG_KEYS, "a boolean or an object");
  const eventsPerSessionMax = options.eventsPerSessionMax ?? DEFAULTS.eventLog.eventsPerSessionMax;
  checkPositiveInteger(subject, "eventLog.eventsPerSessionMax", eventsPerSessionMax);
  const textJoinMs = options.textJoinMs ?? DEFAULTS.eventLog.textJoinMs;
  checkDurationMs(subject, "eventLog.textJoinMs", textJoinMs, { integer: true });
  return { eventsPerSessionMax, textJoinMs };
}
