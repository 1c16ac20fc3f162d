/**
 * The chat on a real terminal. Finished lines scroll up as in any program; below them a live
 * region holds the answer being streamed (its last rows), the status line and the prompt with the
 * line being typed. Lines printed while an answer streams go above it, so the answer reads as one
 * block. `log-update` redraws the region in place (only the lines that changed, inside the
 * terminal's synchronized-output markers) and Node's `readline` does the line editing (cursor keys,
 * history, Ctrl-A/E/W/U, Ctrl-C, Ctrl-D) with its own echo muted: the prompt line is part of the
 * region, its cursor drawn in inverse video.
 *
 * No redraw storms: every change marks the region dirty and one redraw happens at most every
 * `frameMs` (33 ms: 30 a second), however fast the model streams or the person types; the stats
 * count redraws and their peak per second.
 *
 * @packageDocumentation
 */
import { createInterface, type Interface } from "node:readline";
import { Writable } from "node:stream";
import { styleText } from "node:util";
import { createLogUpdate } from "log-update";
import wrapAnsi from "wrap-ansi";
import { DEFAULTS } from "../../kernel/limits.js";
import type { ChatView, ViewInput, ViewStats } from "./chat-view.js";

/** Options of {@link Screen}. */
export interface ScreenOptions {
  readonly input: NodeJS.ReadStream;
  readonly output: NodeJS.WriteStream;
  readonly handlers: ViewInput;
  /** Shown before the line being typed (default `› `). */
  readonly prompt?: string;
  /** The shortest time between two redraws (default 33 ms). */
  readonly frameMs?: number;
}

/** The chat's view on a TTY. */
export class Screen implements ChatView {
  readonly #input: NodeJS.ReadStream;
  readonly #output: NodeJS.WriteStream;
  readonly #region: ReturnType<typeof createLogUpdate>;
  readonly #rl: Interface;
  readonly #prompt: string;
  readonly #frameMs: number;
  /** Finished lines not yet written above the region. */
  #pending: string[] = [];
  /** Finished lines of the answer being streamed, still in the region, and the rows each takes. */
  #answer: string[] = [];
  #answerRows: number[] = [];
  /** The streamed line not finished yet. */
  #partial = "";
  #status = "";
  /** The region as last drawn. */
  #drawn = "";
  #timer: NodeJS.Timeout | undefined;
  #lastFrameAt = Number.NEGATIVE_INFINITY;
  /** When the redraws of the last second happened. */
  #recent: number[] = [];
  #frames = 0;
  #peak = 0;
  #deltas = 0;
  #closed = false;
  readonly #onKey = () => this.#schedule();
  readonly #onResize = () => {
    this.#drawn = "";
    this.#schedule();
  };

  constructor(options: ScreenOptions) {
    this.#input = options.input;
    this.#output = options.output;
    this.#prompt = options.prompt ?? "› ";
    this.#frameMs = options.frameMs ?? DEFAULTS.chat.frameMs;
    this.#region = createLogUpdate(options.output);
    // readline edits the line; its echo goes nowhere, because the region draws the prompt.
    const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
    this.#rl = createInterface({
      input: options.input,
      output: muted,
      terminal: true,
      historySize: 500,
      prompt: "",
    });
    const { handlers } = options;
    this.#rl.on("line", (line) => {
      this.#schedule();
      handlers.onLine(line);
    });
    this.#rl.on("SIGINT", () => handlers.onInterrupt());
    this.#rl.on("close", () => {
      if (!this.#closed) handlers.onEnd();
    });
    options.input.on("keypress", this.#onKey);
    options.output.on("resize", this.#onResize);
    this.#schedule();
  }

  get stats(): ViewStats {
    return { frames: this.#frames, peakFramesPerSecond: this.#peak, deltas: this.#deltas };
  }

  print(text: string): void {
    for (const line of text.split("\n")) this.#pending.push(line);
    this.#schedule();
  }

  stream(delta: string): void {
    this.#deltas += 1;
    const lines = (this.#partial + delta).split("\n");
    this.#partial = lines.pop()!;
    const width = this.#width();
    for (const line of lines) this.#keep(line, width);
    // A very long unfinished line gives its head to the finished lines, so the region stays small.
    const most = ANSWER_ROWS_MAX * width;
    while (this.#partial.length > most) {
      const space = this.#partial.lastIndexOf(" ", most / 2);
      const cut = space > 0 ? space + 1 : most / 2;
      this.#keep(this.#partial.slice(0, cut).trimEnd(), width);
      this.#partial = `  ${this.#partial.slice(cut)}`;
    }
    // A long answer keeps its last rows in the region; the rest moves above, where it stays.
    let rows = Math.ceil(this.#partial.length / (width - 2));
    for (const n of this.#answerRows) rows += n;
    while (rows > ANSWER_ROWS_MAX && this.#answer.length > 0) {
      rows -= this.#answerRows.shift()!;
      this.#pending.push(this.#answer.shift()!);
    }
    this.#schedule();
  }

  endStream(): void {
    for (const line of this.#answer) this.#pending.push(line);
    this.#answer = [];
    this.#answerRows = [];
    if (this.#partial !== "") this.#pending.push(this.#partial);
    this.#partial = "";
    this.#schedule();
  }

  setStatus(text: string): void {
    if (text === this.#status) return;
    this.#status = text;
    this.#schedule();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.endStream();
    // The finished lines stay; the status and the prompt go.
    this.#region.clear();
    const width = this.#width();
    if (this.#pending.length > 0)
      this.#output.write(`${this.#pending.flatMap((line) => wrap(line, width)).join("\n")}\n`);
    this.#pending = [];
    this.#region.done();
    this.#input.removeListener("keypress", this.#onKey);
    this.#output.removeListener("resize", this.#onResize);
    this.#rl.close();
  }

  /** A finished line of the streamed answer, kept in the region for now. */
  #keep(line: string, width: number): void {
    this.#answer.push(line);
    this.#answerRows.push(wrap(line, width).length);
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const waitMs = Math.max(0, this.#lastFrameAt + this.#frameMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#draw();
    }, waitMs);
  }

  /** One redraw: finished lines above, then the region, if anything changed. */
  #draw(): void {
    const live = this.#live();
    if (this.#pending.length > 0) {
      const width = this.#width();
      this.#region.persist(this.#pending.flatMap((line) => wrap(line, width)).join("\n"));
      this.#pending = [];
      this.#region(live);
    } else if (live === this.#drawn) return;
    else this.#region(live);
    this.#drawn = live;
    const now = performance.now();
    this.#lastFrameAt = now;
    this.#frames += 1;
    this.#recent.push(now);
    while (this.#recent[0]! <= now - 1000) this.#recent.shift();
    if (this.#recent.length > this.#peak) this.#peak = this.#recent.length;
  }

  /** The region: the unfinished answer line, the status line, the prompt with the typed line. */
  #live(): string {
    const width = this.#width();
    const rows: string[] = [];
    for (const line of this.#answer) rows.push(...wrap(line, width));
    if (this.#partial !== "") rows.push(...wrap(this.#partial, width));
    if (this.#status !== "") rows.push(styleText("dim", clip(this.#status, width), { stream: this.#output }));
    const { line, cursor } = this.#rl;
    const at = line[cursor] ?? " ";
    // The cursor is drawn, not placed: the terminal's own stays hidden below the region.
    const caret = styleText("inverse", at, { validateStream: false });
    rows.push(`${this.#prompt}${line.slice(0, cursor)}${caret}${line.slice(cursor + 1)}`);
    return rows.join("\n");
  }

  /** Columns a line may fill (one less than the terminal's, so nothing lands in the last column). */
  #width(): number {
    return Math.max(20, (this.#output.columns ?? 80) - 1);
  }
}

/** Rows the answer being streamed may take in the region before its head is written above it. */
const ANSWER_ROWS_MAX = 8;

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the terminal's style codes
const LEADING_SPACE = /^((?:\u001b\[[0-9;]*m)*) /;

/** A line as rows of at most `width` columns, wrapped at spaces, continuation rows indented by two. */
function wrap(line: string, width: number): string[] {
  const rows = wrapAnsi(line, width - 2, { hard: true, trim: false }).split("\n");
  // The space a row was broken at may sit behind the style codes that reopen the row.
  for (let i = 1; i < rows.length; i++) rows[i] = `  ${rows[i]!.replace(LEADING_SPACE, "$1")}`;
  return rows;
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}
