/**
 * The chat on a pipe or a dumb terminal: lines in, lines out, nothing redrawn. Answers are written
 * as they stream; the status line is not shown (`/status` prints it).
 *
 * @packageDocumentation
 */
import { createInterface, type Interface } from "node:readline";
import type { ChatView, ViewInput, ViewStats } from "./chat-view.js";

/** Options of {@link PlainView}. */
export interface PlainViewOptions {
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  readonly handlers: ViewInput;
}

/** The chat's view without a terminal. */
export class PlainView implements ChatView {
  readonly #output: NodeJS.WritableStream;
  readonly #rl: Interface;
  /** True while a streamed line is unfinished on the output. */
  #midLine = false;
  #deltas = 0;
  #frames = 0;
  #closed = false;
  readonly #onSignal: () => void;

  constructor(options: PlainViewOptions) {
    this.#output = options.output;
    const { handlers } = options;
    this.#rl = createInterface({ input: options.input, terminal: false });
    this.#rl.on("line", (line) => handlers.onLine(line));
    this.#rl.on("close", () => {
      if (!this.#closed) handlers.onEnd();
    });
    this.#onSignal = () => handlers.onInterrupt();
    process.on("SIGINT", this.#onSignal);
  }

  get stats(): ViewStats {
    return { frames: this.#frames, peakFramesPerSecond: 0, deltas: this.#deltas };
  }

  print(text: string): void {
    this.endStream();
    this.#write(`${text}\n`);
  }

  stream(delta: string): void {
    this.#deltas += 1;
    if (delta === "") return;
    this.#write(delta);
    this.#midLine = !delta.endsWith("\n");
  }

  endStream(): void {
    if (this.#midLine) this.#write("\n");
    this.#midLine = false;
  }

  setStatus(): void {}

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.endStream();
    process.removeListener("SIGINT", this.#onSignal);
    this.#rl.close();
  }

  #write(text: string): void {
    this.#frames += 1;
    this.#output.write(text);
  }
}
