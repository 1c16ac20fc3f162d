/**
 * `offstage chat --model <provider:model>`: the chat on a real AI SDK provider package
 * (`@ai-sdk/openai-compatible`) talking to a loopback server written under test/ — tool calls, an
 * answer streamed in thousands of fragments, a line steered into the running answer, and what the
 * screen's redraw rate is under that stream.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LoopbackLlm, startLoopbackLlm } from "../models/loopback-llm.js";
import { cliCommand, shellQuote, TmuxTerminal } from "./tmux-terminal.js";

let dir: string;
let llm: LoopbackLlm;
const terminals: TmuxTerminal[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "offstage-chat-provider-"));
  await mkdir(join(dir, "src"));
  await writeFile(join(dir, "src", "app.ts"), "export const app = 1;\n");
  llm = await startLoopbackLlm();
});

afterEach(async () => {
  for (const terminal of terminals.splice(0)) terminal.close();
  await llm.close();
  await rm(dir, { recursive: true, force: true });
});

async function chat(): Promise<TmuxTerminal> {
  const model = `openai-compatible:${llm.baseURL}:loopback-model`;
  const command = cliCommand("chat", "--memory", "--model", model);
  const terminal = TmuxTerminal.open(shellQuote(command), { cwd: dir, cols: 160 });
  terminals.push(terminal);
  await terminal.waitFor("/help for commands");
  return terminal;
}

describe("offstage chat on a provider's model", () => {
  it("runs the provider's tool calls, streams its answer and steers a line typed meanwhile into it", async () => {
    llm.reply((request) =>
      request.toolResults === 0
        ? {
            // The first step is slow, so a line typed meanwhile joins the turn at its next step.
            firstByteDelayMs: 1_500,
            toolCalls: [{ id: "call_1", name: "list_files", args: ['{"path":', '"src"}'] }],
          }
        : { text: ["The ", "folder ", "src ", "holds ", "app.ts", "."], eventDelayMs: 20 },
    );
    const t = await chat();
    expect(t.screen()).toContain(`model openai-compatible:${llm.baseURL}:loopback-model`);
    t.type("what is in src?");
    await t.waitFor("● answering", { rows: 2 });
    t.type("and be brief");
    await t.waitFor("↳ steered into the running answer: the agent reads it at its next step");
    await t.waitFor(/⚙ list_files · \d+ ms/);
    await t.waitFor("◆ The folder src holds app.ts.");
    await t.waitFor("○ idle", { rows: 2 });
    // The provider's second request carried the tool's result and the steered line.
    const second = llm.requests[1]!;
    expect(second.toolResults).toBe(1);
    expect(JSON.stringify(second.body.messages)).toContain("and be brief");
  });

  it("redraws at most 31 times a second while the provider streams 3 000 fragments", async () => {
    const words = Array.from({ length: 3_000 }, (_, i) => `w${i} `);
    llm.reply(() => ({ text: words, eventDelayMs: 1 }));
    const t = await chat();
    t.type("stream a lot");
    await t.waitFor("w2999", { timeoutMs: 60_000 });
    await t.waitFor("○ idle", { rows: 2 });
    t.type("/status");
    const status = await t.waitFor(
      /screen: (\d+) redraws, at most (\d+) in one second, for (\d+) streamed deltas/,
    );
    const [, redraws, peak, deltas] =
      /screen: (\d+) redraws, at most (\d+) in one second, for (\d+) streamed deltas/
        .exec(status)!
        .map(Number);
    expect(deltas).toBeGreaterThanOrEqual(3_000);
    expect(peak).toBeLessThanOrEqual(31);
    expect(redraws).toBeLessThan(deltas! / 10);
    const seen = [...t.screen().matchAll(/\bw(\d+)\b/g)].map((m) => Number(m[1]));
    expect(seen).toEqual(words.map((_, i) => i));
  });
});
