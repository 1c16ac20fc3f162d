/**
 * No redraw storms: the chat's screen, in a real terminal (tmux), under a fast stream — 20 000
 * deltas at several thousand a second — redraws at most 31 times in any second, and every word
 * reaches the scrollback once, in order.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cliCommand, ROOT, shellQuote, TmuxTerminal } from "./tmux-terminal.js";

const terminals: TmuxTerminal[] = [];
afterEach(() => {
  for (const terminal of terminals.splice(0)) terminal.close();
});

describe("the chat's screen under a fast stream", () => {
  it("redraws at most 31 times a second and loses no word", async () => {
    const words = 20_000;
    const [node, hookFlag, hook] = cliCommand();
    const command = [
      node!,
      hookFlag!,
      hook!,
      join(ROOT, "test/cli/fixtures/fast-stream.ts"),
      String(words),
      "33",
    ];
    const t = TmuxTerminal.open(shellQuote(command), { cwd: ROOT, cols: 100, rows: 30 });
    terminals.push(t);
    const screen = await t.waitFor(/stream done: .*\n/, { timeoutMs: 60_000 });
    const report =
      /stream done: (\d+) deltas in ([\d.]+) s; (\d+) redraws \(([\d.]+)\/s\), at most (\d+) in one second/.exec(
        screen,
      );
    expect(report, screen.slice(-500)).not.toBeNull();
    const [, deltas, , redraws, , peak] = report!.map(Number);
    expect(deltas).toBe(words + 1);
    expect(peak).toBeLessThanOrEqual(31);
    expect(redraws).toBeLessThan(deltas! / 50);
    const seen = [...screen.matchAll(/\bw(\d+)\b/g)].map((m) => Number(m[1]));
    expect(seen).toEqual(Array.from({ length: words }, (_, i) => i));
  });
});
