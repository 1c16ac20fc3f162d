/**
 * The chat's logic without a terminal: a runtime on a virtual clock with a gated model, and a view
 * that records what it was asked to show. Covers what tmux cannot time: a steered line the answer
 * never saw, refused sends, and each command's answers to bad arguments.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ChatController } from "../../src/cli/chat/chat-controller.js";
import type { ChatView, ViewStats } from "../../src/cli/chat/chat-view.js";
import { flush, until } from "../support/async.js";
import { text } from "../support/models.js";
import { type ChatSession, gatedChat } from "../support/runtime.js";

/** A view that keeps every printed and streamed line. */
class RecordingView implements ChatView {
  readonly lines: string[] = [];
  status = "";
  #partial = "";
  readonly stats: ViewStats = { frames: 0, peakFramesPerSecond: 0, deltas: 0 };
  print(text: string): void {
    this.lines.push(...text.split("\n"));
  }
  stream(delta: string): void {
    this.#partial += delta;
  }
  endStream(): void {
    if (this.#partial !== "") this.lines.push(...this.#partial.split("\n"));
    this.#partial = "";
  }
  setStatus(text: string): void {
    this.status = text;
  }
  close(): void {}
  get all(): string {
    return this.lines.join("\n");
  }
}

let chat: ChatSession;
let view: RecordingView;
let controller: ChatController;
let quits = 0;

async function open(): Promise<void> {
  chat = await gatedChat();
  view = new RecordingView();
  quits = 0;
  controller = new ChatController({
    runtime: chat.runtime,
    sessionId: "s",
    view,
    policy: "steer",
    about: () => ["model gated"],
    onQuit: () => {
      quits += 1;
    },
  });
}

afterEach(async () => {
  controller.close();
  await chat.runtime.stop();
});

describe("the chat controller", () => {
  it("says when a steered line was not seen by the answer, and answers it in a turn of its own", async () => {
    await open();
    controller.submit("first");
    await until(() => chat.m.calls.length === 1, "the first model call");
    expect(view.status).toMatch(/^● answering \d+ s │ no children running │ policy steer$/);
    controller.submit("also this");
    expect(view.all).toContain("↳ steered into the running answer: the agent reads it at its next step");
    controller.submit("/cancel");
    await until(() => view.all.includes("✕ answer cancelled"), "the cancel");
    await until(() => chat.m.calls.length === 2, "the second turn");
    expect(view.all).toContain(
      '↳ "also this" was not seen by the answer it was steered into: it gets this turn',
    );
    chat.m.last.release(text("second answer"));
    await until(() => view.all.includes("◆ second answer"), "the answer");
    await flush();
    expect(view.status).toMatch(/^○ idle/);
  });

  it("refuses what cannot be sent and keeps going", async () => {
    await open();
    controller.submit("x".repeat(300_000));
    expect(view.all).toMatch(/✕ not sent: PAYLOAD_TOO_LARGE: /);
    controller.submit("   ");
    controller.submit("fine");
    await until(() => chat.m.calls.length === 1, "the model call");
    chat.m.last.release(text("ok"));
    await until(() => view.all.includes("◆ ok"), "the answer");
  });

  it("answers every command, and bad arguments with what is wrong", async () => {
    await open();
    for (const line of [
      "/cancel",
      "/stop-children",
      "/children",
      "/history",
      "/history 0",
      "/policy",
      "/policy steer-ish",
      "/Quit-not",
      "/",
    ])
      controller.submit(line);
    const all = view.all;
    expect(all).toContain("↳ nothing is running");
    expect(all).toContain("↳ no children running");
    expect(all).toContain("↳ no background children yet");
    expect(all).toContain("↳ no messages yet");
    expect(all).toContain('✕ /history takes a positive whole number of messages; got "0"');
    expect(all).toContain("↳ policy steer (one of enqueue, steer, interrupt, merge)");
    expect(all).toContain('✕ unknown policy "steer-ish"; use one of enqueue, steer, interrupt, merge');
    expect(all).toContain('✕ unknown command "/Quit-not"; /help lists the commands');
    expect(all).toContain('✕ unknown command "/"; /help lists the commands');
    controller.submit("/policy merge");
    expect(controller.policy).toBe("merge");
    controller.submit("/status");
    expect(view.all).toMatch(/session s\n\s+model gated\n\s+policy merge\n\s+idle/);
    controller.submit("/help");
    expect(view.all).toMatch(/\/history \[n\]\s+the last n messages/);
    expect(quits).toBe(0);
    controller.submit("/quit");
    controller.submit("/quit");
    expect(quits).toBe(1);
  });

  it("quits on two Ctrl-Cs in a row, not when a line was typed between them", async () => {
    await open();
    controller.interrupt();
    expect(view.all).toContain("↳ nothing is running (Ctrl-C again to quit)");
    controller.submit("/status");
    controller.interrupt();
    expect(quits).toBe(0);
    controller.interrupt();
    expect(quits).toBe(1);
  });
});
