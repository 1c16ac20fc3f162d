/**
 * A live turn: a turn running in this process. It is the kernel's state of the turn (`TurnState`,
 * which the turn machine changes) plus what the runtime keeps beside it, and it is the turn its
 * session's inbox holds, so a session has one record of its running turn.
 *
 * @packageDocumentation
 */
import { type Message, userMessage } from "../kernel/messages.js";
import type { InboxTurn } from "../kernel/session/inbox.js";
import { type NewTurn, TurnState } from "../kernel/turn/turn-machine.js";
import type { LiveInput } from "./live-input.js";
import type { TurnTelemetry } from "./ports/telemetry.js";
import type { SessionEntry } from "./session-table.js";

const NO_IDS: readonly string[] = [];

export class LiveTurn extends TurnState implements InboxTurn<LiveInput> {
  // Declared, then assigned once in the constructor (see TurnState for why).
  declare readonly sessionId: string;
  declare readonly entry: SessionEntry;
  /**
   * The session's history before this turn, as the store hands it out: not to be changed, and
   * copied before agents' code gets it.
   */
  declare readonly history: readonly Message[];
  /** Every input it answers: those it started with, then those steered into it. */
  declare readonly inputs: LiveInput[];
  /** Monotonic time it started in this process. */
  declare readonly startedAtMs: number;
  /** Made on first use (the first model, tool or function call), not for turns that make none. */
  declare controller: AbortController | undefined;
  /** Its end is decided (and written); it waits for the commit that holds it. */
  declare ended: boolean;
  /** Set at its end: steered inputs the model never saw, which go back to the queue. */
  declare unsteered: readonly string[];
  /** Its span, while a telemetry adapter traces it. */
  declare telemetry: TurnTelemetry | undefined;
  /** The ids `inputIds()` last made. */
  declare ids: readonly string[];

  constructor(
    init: NewTurn,
    entry: SessionEntry,
    inputs: LiveInput[],
    history: readonly Message[],
    startedAtMs: number,
  ) {
    super(init);
    this.sessionId = entry.id;
    this.entry = entry;
    this.history = history;
    this.inputs = inputs;
    this.startedAtMs = startedAtMs;
    this.controller = undefined;
    this.ended = false;
    this.unsteered = NO_IDS;
    this.telemetry = undefined;
    this.ids = NO_IDS;
  }

  /**
   * The ids of its inputs, as they are now: the same array as long as they stay the same, so its
   * start, its end and their events share one.
   */
  inputIds(): readonly string[] {
    const { inputs, ids } = this;
    if (ids.length === inputs.length) {
      let i = 0;
      while (i < ids.length && ids[i] === inputs[i]!.id) i++;
      if (i === ids.length) return ids;
    }
    this.ids = inputs.map((live) => live.id);
    return this.ids;
  }

  /** The signal passed to every call the turn makes; it fires when the turn is cancelled. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
}

/**
 * A turn's opening user messages, one per input, in an array with room for the model's answer
 * (bench/NOTES.md, "opening messages": 1.03x).
 */
export function openingMessages(inputs: readonly LiveInput[]): Message[] {
  if (inputs.length > 1) return inputs.map((live) => userMessage(live.payload));
  const opening = userMessage(inputs[0]!.payload);
  const messages = [opening, opening];
  messages.pop();
  return messages;
}
