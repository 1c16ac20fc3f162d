/**
 * While the runtime holds accepted, unsettled work it keeps the process alive; an idle or stopped
 * runtime lets it end. Real child processes on the real clock, each with nothing but the runtime to
 * keep it alive (issue #15 item 5: `await handle.result({ timeoutMs })` on a running turn ended the
 * process with exit code 13, "unsettled top-level await", and a lost wake was never recovered).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const CHILD = fileURLToPath(new URL("./keep-alive/child.ts", import.meta.url));
const HOOK = fileURLToPath(new URL("../crash/ts-hook.ts", import.meta.url));

interface Ran {
  readonly code: number | null;
  readonly lines: string[];
  readonly stderr: string;
  /** When the process ended, on the child's own clock (its performance.now() at exit, roughly). */
  readonly wallMs: number;
}

function run(scenario: string): Promise<Ran> {
  const started = performance.now();
  const child = spawn(process.execPath, ["--import", HOOK, CHILD, scenario], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, lines: stdout.trim().split("\n"), stderr, wallMs: performance.now() - started });
    });
  });
}

describe("the runtime keeps the process alive exactly while it has work", () => {
  it("await handle.result({ timeoutMs }) on a running turn gets its result (no exit 13)", async () => {
    const ran = await run("await-result");
    expect(ran.stderr).toBe("");
    expect(ran.lines).toEqual(["done x"]);
    expect(ran.code).toBe(0);
  });

  it("an input whose wake was lost is found by the recovery poll before the process may end", async () => {
    const ran = await run("lost-wake");
    expect(ran.lines).toEqual(["done x"]);
    expect(ran.code).toBe(0);
  });

  it("a result() that times out on a turn that never ends throws TurnTimeout; stop() then lets go", async () => {
    const ran = await run("result-timeout");
    expect(ran.lines).toEqual(["timed out", "timeout"]);
    expect(ran.code).toBe(0);
  });

  it("an idle runtime, never stopped, lets the process end by itself", async () => {
    const ran = await run("idle-exits");
    expect(ran.lines[0]).toBe("done x");
    expect(ran.code).toBe(0);
    // Not held until some later poll: well under the 30 s the test would wait.
    expect(ran.wallMs).toBeLessThan(10_000);
  });

  it("so does one whose last work was withdrawn and cancelled", async () => {
    const ran = await run("withdrawn-exits");
    expect(ran.lines[0]).toBe("cancelled withdrawn");
    expect(ran.code).toBe(0);
    expect(ran.wallMs).toBeLessThan(10_000);
  });
});
