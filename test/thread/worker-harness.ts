/**
 * What the worker-thread tests share: the built package, loaded as a user loads it; the fixture
 * module the workers import; workers started by a test and stopped after it; and waits that either
 * spin without yielding (as a frame loop would) or yield.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach } from "vitest";
import type * as Root from "../../src/index.js";
import type * as Thread from "../../src/thread/index.js";
import { ensureBuilt, ROOT } from "../support/build.js";

ensureBuilt();
/** `offstage/worker`, built. */
export const thread = (await import(pathToFileURL(join(ROOT, "dist/thread/index.js")).href)) as typeof Thread;
/** `offstage`, built. */
export const root = (await import(pathToFileURL(join(ROOT, "dist/index.js")).href)) as typeof Root;
/** The agents' module every worker of these tests imports. */
export const MODULE = new URL("./fixtures/runtime.mjs", import.meta.url);

const running: Thread.WorkerRuntime[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

/** Starts a runtime worker on {@link MODULE}, stopped after the test. */
export async function start(options: Thread.WorkerRuntimeOptions = {}): Promise<Thread.WorkerRuntime> {
  const runtime = await thread.startRuntimeWorker(MODULE, options);
  running.push(runtime);
  return runtime;
}

/** Polls without yielding until `handle` settles (or `ms` pass). */
export function spin(handle: Thread.ClientTurnHandle, ms = 10_000): Root.Settled | undefined {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const settled = handle.poll();
    if (settled !== undefined) return settled;
  }
  return undefined;
}

/** Spins without yielding until `done()` or `ms` pass; returns every status seen, in order, once each. */
export function spinUntil(done: () => boolean, seen: () => string, ms = 10_000): string[] {
  const statuses: string[] = [];
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const finished = done();
    const status = seen();
    if (statuses.at(-1) !== status) statuses.push(status);
    if (finished) break;
  }
  return statuses;
}

/** Waits, yielding, until `predicate()` holds. */
export async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
