/**
 * A store that fails on demand, for unit tests of what the runtime does when its store fails: a test
 * double of the store port over a memory store. Like a real group-commit store, its receipt is
 * `durable` and a failure loses every write made since the last commit: the store is rebuilt from
 * the committed writes alone when it is opened again.
 */
import { createMemoryStore, type Store } from "../../src/index.js";
import type {
  InputEnd,
  InputRecord,
  InputSnapshot,
  RecoveredState,
  SessionRecord,
  Steer,
  StepCheckpoint,
  TurnEnd,
  TurnStart,
} from "../../src/runtime/ports/store.js";

type Write = (store: Store) => void;

export class FlakyStore implements Store {
  readonly kind = "flaky";
  readonly receipt = "durable" as const;
  /** Operations that fail from now on, one each: writes, commits, and opens of a failed store. */
  failures = 0;
  /** Only commits fail (`failures` counts them); writes go through. */
  commitsOnly = false;
  /** When set, a commit waits for it before it completes (a slow fsync). */
  commitGate: Promise<void> | undefined;
  /** Operations that failed so far. */
  failed = 0;
  opens = 0;
  #inner: Store = createMemoryStore();
  #committed: Write[] = [];
  #pending: Write[] = [];
  /** Set when a failure lost the pending writes, until an open succeeds. */
  #lost: Error | undefined;

  async open(): Promise<RecoveredState> {
    this.opens += 1;
    if (this.#lost !== undefined) {
      if (this.failures > 0) this.#fail("open");
      const fresh = createMemoryStore();
      await fresh.open();
      for (const write of this.#committed) write(fresh);
      this.#inner = fresh;
      this.#pending = [];
      this.#lost = undefined;
    }
    return this.#inner.open();
  }

  createSession(session: SessionRecord): void {
    const copy = structuredClone(session);
    this.#write((s) => s.createSession(copy));
  }

  accept(input: InputRecord): void {
    const copy = structuredClone(input);
    this.#write((s) => s.accept(copy));
  }

  steer(steer: Steer): void {
    const copy = structuredClone(steer);
    this.#write((s) => s.steer(copy));
  }

  endInput(end: InputEnd): void {
    const copy = structuredClone(end);
    this.#write((s) => s.endInput(copy));
  }

  startTurn(turn: TurnStart): void {
    const copy = structuredClone(turn);
    this.#write((s) => s.startTurn(copy));
  }

  checkpoint(checkpoint: StepCheckpoint): void {
    const copy = structuredClone(checkpoint);
    this.#write((s) => s.checkpoint(copy));
  }

  endTurn(end: TurnEnd): void {
    const copy = structuredClone(end);
    this.#write((s) => s.endTurn(copy));
  }

  async commit(): Promise<void> {
    if (this.#lost !== undefined) throw this.#lost;
    const group = this.#pending;
    this.#pending = [];
    if (this.failures > 0) this.#fail("commit");
    // Committed as of now; a slow fsync may still hold its waiters back.
    this.#committed.push(...group);
    if (this.commitGate !== undefined) await this.commitGate;
    await this.#inner.commit();
  }

  history(sessionId: string) {
    return this.#inner.history(sessionId);
  }

  findByIdempotencyKey(sessionId: string, key: string): InputSnapshot | undefined {
    return this.#inner.findByIdempotencyKey(sessionId, key);
  }

  input(inputId: string): InputSnapshot | undefined {
    return this.#inner.input(inputId);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #write(write: Write): void {
    if (this.#lost !== undefined) throw this.#lost;
    if (this.failures > 0 && !this.commitsOnly) this.#fail("write");
    write(this.#inner);
    this.#pending.push(write);
  }

  #fail(what: string): never {
    this.failures -= 1;
    this.failed += 1;
    this.#lost = new Error(`disk full (a ${what} the test failed)`);
    throw this.#lost;
  }
}
