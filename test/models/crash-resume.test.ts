/**
 * A crash in the middle of a real-provider turn: a child process runs a SQLite-backed runtime whose
 * model is `@ai-sdk/openai-compatible` against this test's loopback server. Step 1 asks for a tool
 * call; while step 2's request is in flight the child is killed with SIGKILL. A new child on the
 * same file resumes the turn from its step-1 checkpoint: step 1 and its tool are not repeated, step
 * 2 is sent again with the tool's result in its history, and the turn completes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startLoopbackLlm } from "./loopback-llm.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const HOOK = join(HERE, "..", "crash", "ts-hook.ts");
const CHILD = join(HERE, "crash-resume-child.ts");

interface Running {
  readonly child: ChildProcess;
  /** Resolves with the next JSON line the child prints that has `key`. */
  line(key: string): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

function run(args: string[]): Running {
  const child = spawn(process.execPath, ["--import", HOOK, CHILD, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  const waiting: { key: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let buffered = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  child.stdout!.on("data", (d: Buffer) => {
    buffered += d.toString();
    for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
      const line = JSON.parse(buffered.slice(0, at)) as Record<string, unknown>;
      buffered = buffered.slice(at + 1);
      lines.push(line);
      for (const w of [...waiting]) {
        if (!(w.key in line)) continue;
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    exited,
    stderr: () => err,
    line: (key) =>
      new Promise((resolve) => {
        const found = lines.find((l) => key in l);
        if (found !== undefined) resolve(found);
        else waiting.push({ key, resolve });
      }),
  };
}

describe("crash mid-turn against a real provider package", () => {
  it("SIGKILL during step 2; a restart on the same SQLite file resumes from the step-1 checkpoint", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "offstage-crash-model-"));
    const db = join(dir, "db.sqlite");
    const log = join(dir, "effects.jsonl");
    let step2Requests = 0;
    const llm = await startLoopbackLlm((request) => {
      if (request.toolResults === 0)
        return { toolCalls: [{ id: "call_1", name: "record", args: ['{"note":', '"milk"}'] }] };
      step2Requests += 1;
      // The first step-2 request never answers: the child dies while it waits.
      return step2Requests === 1 ? { text: ["never"], hangAfter: 1 } : { text: ["I noted ", "milk."] };
    });
    try {
      const first = run([db, llm.baseURL, log]);
      const accepted = await first.line("accepted");
      const step2 = await llm.nextRequest(2);
      expect(step2.toolResults).toBe(1);
      // The step-1 checkpoint is written before step 2's call and committed within the group-commit
      // window (2 ms); a margin, then the kill.
      await new Promise((resolve) => setTimeout(resolve, 300));
      first.child.kill("SIGKILL");
      expect(await first.exited).toBeNull();
      await step2.ended;
      expect(step2.closedByClient).toBe(true);

      const second = run([db, llm.baseURL, log]);
      const resumed = await second.line("accepted");
      expect(resumed.accepted).toBe(accepted.accepted);
      const { result } = (await second.line("result")) as { result: { status: string; output: string } };
      expect(await second.exited, second.stderr()).toBe(0);
      expect(result.status).toBe("completed");
      expect(result.output).toBe("I noted milk.");
      // Step 1 ran once; step 2 twice (the one the crash cut short, then the resumed one).
      expect(llm.requests.map((r) => r.toolResults)).toEqual([0, 1, 1]);
      const resent = llm.requests[2]!.body.messages;
      expect(resent.find((m: { role: string }) => m.role === "tool").content).toBe("recorded milk");
      const effects = readFileSync(log, "utf8").trim().split("\n");
      expect(effects).toHaveLength(1);
    } finally {
      await llm.close();
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    }
  });
});
