/**
 * A call across threads that returns at once, as `session.send()` does in one thread. The client
 * writes `(seq, pending)` into the connection's `call` word, posts the call and blocks on the word
 * (`Atomics.wait`, never yielding to its event loop). The worker takes the call only by swapping
 * `(seq, pending)` for `(seq, taken)`, runs it, posts the reply, and stores `(seq, done)`. A client
 * that waited `timeoutMs` swaps `(seq, pending)` back to idle: if that wins, the worker will find the
 * call abandoned and never run it, so a call that timed out changed nothing.
 *
 * @packageDocumentation
 */
import { CALL, WORD } from "./protocol.js";

/** Sequence numbers use the bits above the two state bits; they wrap well before overflow. */
const SEQ_MAX = 2 ** 28;

/** Packs a sequence number and a state into the `call` word. */
function word(seq: number, state: number): number {
  return seq * 4 + state;
}

/** The sequence number after `seq`. */
export function nextSeq(seq: number): number {
  return (seq + 1) % SEQ_MAX;
}

/** Client side: marks call `seq` pending. */
export function beginCall(words: Int32Array, seq: number): void {
  Atomics.store(words, WORD.call, word(seq, CALL.pending));
}

/** Client side: the call could not even be posted; nothing waits for it. */
export function dropCall(words: Int32Array, seq: number): void {
  Atomics.compareExchange(words, WORD.call, word(seq, CALL.pending), word(seq, CALL.idle));
}

/**
 * Client side: blocks until the worker answered call `seq` (`"done"`), or until `timeoutMs` passed
 * without the worker taking it (`"abandoned"`: it will never run) or without it finishing once taken
 * (`"stuck"`: it may have run), or until the worker is dying (`"gone"`).
 */
export function awaitCall(
  words: Int32Array,
  seq: number,
  timeoutMs: number,
): "done" | "abandoned" | "stuck" | "gone" {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const now = Atomics.load(words, WORD.call);
    if (now !== word(seq, CALL.done) && Atomics.load(words, WORD.gone) !== 0) return "gone";
    if (now === word(seq, CALL.done)) {
      Atomics.store(words, WORD.call, word(seq, CALL.idle));
      return "done";
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      if (now === word(seq, CALL.taken)) return "stuck";
      const was = Atomics.compareExchange(words, WORD.call, word(seq, CALL.pending), word(seq, CALL.idle));
      if (was === word(seq, CALL.pending)) return "abandoned";
      continue;
    }
    Atomics.wait(words, WORD.call, now, left);
  }
}

/** Worker side: takes call `seq` unless its client abandoned it (or a newer call replaced it). */
export function takeCall(words: Int32Array, seq: number): boolean {
  const pending = word(seq, CALL.pending);
  return Atomics.compareExchange(words, WORD.call, pending, word(seq, CALL.taken)) === pending;
}

/** Worker side: the reply to call `seq` is posted; wakes the client. */
export function finishCall(words: Int32Array, seq: number): void {
  Atomics.store(words, WORD.call, word(seq, CALL.done));
  Atomics.notify(words, WORD.call);
}

/** Worker side: the worker is dying; a client blocked in a call stops waiting. */
export function markGone(words: Int32Array): void {
  Atomics.store(words, WORD.gone, 1);
  Atomics.notify(words, WORD.call);
}

/** Worker side: counts a message posted to the client, so its `drain()` knows there is one. */
export function countPosted(words: Int32Array): void {
  Atomics.add(words, WORD.posted, 1);
}

/** Client side: how many messages the worker has posted so far. */
export function postedCount(words: Int32Array): number {
  return Atomics.load(words, WORD.posted);
}
