/**
 * What the chat shows and hears, whatever the terminal: `offstage chat` writes through this
 * interface, so the same conversation logic runs on a real terminal (a live region redrawn in
 * place, see `screen.ts`) and on a pipe (plain lines, see `plain-view.ts`).
 *
 * @packageDocumentation
 */
import { styleText } from "node:util";

/** What the person at the keyboard did. */
export interface ViewInput {
  /** A line was entered (Enter). */
  onLine(line: string): void;
  /** Ctrl-C. */
  onInterrupt(): void;
  /** The input ended (Ctrl-D on an empty line, or the pipe closed). */
  onEnd(): void;
}

/** How often the view redrew, for `/status` and the redraw measurement. */
export interface ViewStats {
  /** Redraws since the view opened. */
  readonly frames: number;
  /** The most redraws within one second. */
  readonly peakFramesPerSecond: number;
  /** Answer text deltas handed to `stream`. */
  readonly deltas: number;
}

/** The chat's output and input. */
export interface ChatView {
  /** Writes finished lines above the live region; they stay in the scrollback. */
  print(text: string): void;
  /** Appends answer text; finished lines move above the live region, the unfinished one stays in it. */
  stream(delta: string): void;
  /** Ends the streamed text: its unfinished line becomes a finished one. */
  endStream(): void;
  /** Replaces the status line (empty: none). */
  setStatus(text: string): void;
  readonly stats: ViewStats;
  /** Stops reading input and leaves the terminal as it was. Idempotent. */
  close(): void;
}

/** Text styles the chat uses; plain text where the output takes no colours (a pipe, `NO_COLOR`). */
export type Tone = "dim" | "bold" | "cyan" | "green" | "yellow" | "red" | "magenta";

/** `text` in `tone`, when `stream` takes colours. */
export function paint(tone: Tone, text: string, stream: NodeJS.WritableStream = process.stdout): string {
  return styleText(tone, text, { stream: stream as NodeJS.WriteStream });
}
