/**
 * A real full disk (issue 15, item 2): the SQLite file lives on a 2 MB tmpfs, filled until its writes
 * fail, then freed. Sends are refused, every handle settles with a reason, the runtime shows itself
 * `degraded`, and once space is free it recovers by itself, without a restart, and runs what the
 * store kept and what is sent later. A stop while degraded says `store_failed` at once.
 *
 * Mounting needs root (CI runs as root): the test fails, saying so, when it cannot mount.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Runtime, type RuntimeEvent, type TurnHandle } from "../../src/index.js";
import { createSqliteStore } from "../../src/store/sqlite/index.js";
import { eventually } from "../support/async.js";

let dir = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "offstage-full-disk-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const why = (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error);
    throw new Error(
      `this test needs a 2 MB tmpfs to fill, and mounting one failed (run it as root, as CI does): ${why}`,
    );
  }
});

afterAll(() => {
  // Lazy: a failed test may leave the file open.
  execFileSync("umount", ["-l", dir]);
  rmSync(dir, { recursive: true, force: true });
});

/** Fills the file system `dir` is on with `filler`; returns its path. */
function fill(): string {
  const filler = join(dir, "filler");
  const fd = openSync(filler, "w");
  try {
    for (const size of [64 * 1024, 4 * 1024, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe("a SQLite store on a disk that fills up", () => {
  it("refuses sends, settles every handle, shows degraded, and recovers by itself once space is free", async () => {
    const held = gate();
    const events: RuntimeEvent[] = [];
    const errors: string[] = [];
    const store = createSqliteStore({ path: join(dir, "db", "store.db") });
    const runtime: Runtime = createRuntime({
      logger: { warn: () => undefined, error: (_fields, message) => errors.push(message) },
      // The session event log writes to the same file: its failing appends must not add noise.
      eventLog: true,
      store,
      agents: {
        echo: {
          async run(input) {
            if (input === "hold") await held.promise;
            return `echo ${String(input).length}`;
          },
        },
      },
    });
    runtime.on((event) => events.push(event));
    await runtime.start();
    const s = runtime.session("s", { agent: "echo" });
    expect((await s.send("first").result({ timeoutMs: 5_000 })).status).toBe("completed");
    const running = s.send("hold");
    expect(await running.stored()).toBe("durable");

    const filler = fill();
    const big = "x".repeat(20_000);
    const sent: TurnHandle[] = [];
    let refused: unknown;
    for (let i = 0; i < 200 && runtime.state === "running"; i++) {
      try {
        sent.push(s.send(big));
      } catch (error) {
        refused = error;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await eventually(() => runtime.state === "degraded", "the runtime to degrade");
    expect(sent.length).toBeGreaterThan(0);
    if (refused !== undefined) expect(refused).toMatchObject({ code: "STORE_FAILED" });
    expect(() => s.send("refused")).toThrow(
      expect.objectContaining({ code: "STORE_FAILED", message: expect.stringMatching(/full/) }),
    );

    // No handle hangs: the running one and every one sent settled, each with its reason.
    await eventually(() => [running, ...sent].every((h) => h.poll() !== undefined), "every handle to settle");
    expect(running.poll()?.outcome).toMatchObject({
      status: "interrupted",
      reason: { code: "store_failed" },
    });
    const lost = sent.filter((h) => h.status === "failed");
    expect(lost.length).toBeGreaterThan(0);
    for (const h of lost) {
      expect(h.poll()?.outcome.reason).toMatchObject({
        code: "store_failed",
        message: expect.stringContaining("not kept"),
      });
      await expect(h.stored()).rejects.toMatchObject({ code: "STORE_FAILED" });
    }
    for (const h of sent) expect(["completed", "interrupted", "failed"]).toContain(h.status);
    expect(runtime.metrics()).toMatchObject({ state: "degraded", store: { degraded: true, failures: 1 } });
    expect(events.filter((e) => e.type === "store.failed")).toHaveLength(1);
    // Logged once, however many writes failed.
    expect(errors).toEqual([expect.stringMatching(/^the store failed: the runtime is degraded/)]);

    // Space is freed: the runtime recovers without a restart, and runs what the store kept.
    rmSync(filler);
    await eventually(() => runtime.state === "running", "the runtime to recover", 10_000);
    expect(events.filter((e) => e.type === "store.recovered")).toHaveLength(1);
    held.open();
    await eventually(() => runtime.handle(running.id)?.status === "completed", "the held input to run again");
    for (const h of sent.filter((h) => h.status === "interrupted"))
      await eventually(() => runtime.handle(h.id)?.status === "completed", `kept input ${h.id} to run`);
    for (const h of lost) expect(runtime.handle(h.id)).toBeUndefined();
    const later = await s.send("later").result({ timeoutMs: 5_000 });
    expect(later).toMatchObject({ status: "completed", output: "echo 5" });
    expect(runtime.metrics().store).toMatchObject({ degraded: false, recoveries: 1 });

    // Full again, and stopped while degraded: at once, and not `clean`.
    const again = fill();
    try {
      for (let i = 0; i < 200 && runtime.state === "running"; i++) {
        try {
          s.send(big);
        } catch {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await eventually(() => runtime.state === "degraded", "the runtime to degrade again");
      const startedMs = Date.now();
      expect(await runtime.stop({ timeoutMs: 10_000 })).toBe("store_failed");
      expect(Date.now() - startedMs).toBeLessThan(2_000);
      expect(events.at(-1)).toMatchObject({ type: "runtime.stopped", status: "store_failed" });
    } finally {
      rmSync(again);
      // What the failed store still held is lost: close() says so, and releases the file.
      await store.close().catch(() => undefined);
    }
  });
});
