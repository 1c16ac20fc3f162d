/**
 * Waiting without the wall clock: deferred promises, and helpers that let queued microtasks and
 * dispatcher slices run (every timer the runtime sets goes through the `VirtualClock`).
 */

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop: microtasks, then whatever `setImmediate` queued before. */
export function turnOfLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Lets pending microtasks, dispatcher slices and promise chains run (no time passes). */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await turnOfLoop();
}

/** Spins the event loop until `condition` holds; fails (without sleeping) if it never does. */
export async function until(condition: () => boolean, what = "the condition"): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await turnOfLoop();
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * Waits for `condition` on the wall clock: for flows that cross real commits and fsyncs, which a
 * loaded machine can slow down past what a fixed number of event-loop turns allows.
 */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Whether a promise has settled yet, without waiting for it. */
export function track<T>(promise: Promise<T>): { settled: () => boolean; promise: Promise<T> } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled, promise };
}

/** What `action` throws synchronously; `undefined` when it returns. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * Polls an asynchronous `condition` (a query of the database, say) every 20 ms until it holds; fails
 * after `timeoutMs`.
 */
export async function polled(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
