/**
 * A session's events as a Server-Sent Events body. The stream is pulled: the next event is read
 * from the session's log only when the client has taken what was sent (the body's queue holds at
 * most `bufferBytes`), so a slow client costs a bounded buffer, never a growing one. A client that
 * takes nothing for `stallMs` while events wait is cut off with a final `end` event
 * (`slow_reader`); it can reconnect with `Last-Event-ID` and go on where it was. While nothing
 * happens, a comment line every `heartbeatMs` keeps proxies from closing the connection.
 *
 * @packageDocumentation
 */
import type { StreamEnd } from "../client/wire.js";
import { isOffstageError } from "../errors.js";
import type { SessionEvent } from "../runtime/ports/event-log.js";

/** Options of a server's event streams. */
export interface EventStreamOptions {
  /** A comment line when nothing was sent for this long (default 15 000 ms). */
  readonly heartbeatMs: number;
  /** A client that takes nothing for this long while events wait is cut off (default 30 000 ms). */
  readonly stallMs: number;
  /** Bytes the body queues for a client before it stops reading events (default 65 536). */
  readonly bufferBytes: number;
}

const encoder = new TextEncoder();

/** One SSE frame. */
function frame(event: string, data: unknown, id?: number): Uint8Array {
  const head = id === undefined ? "" : `id: ${id}\n`;
  return encoder.encode(`${head}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

const HEARTBEAT = encoder.encode(": heartbeat\n\n");
const BEAT = Symbol("beat");

/**
 * The body: `events` as frames (`event:` the event's type, `id:` its seq), ended by `end` when
 * `closing` fires (`shutdown`), the runtime stops, the log no longer holds what the client asked
 * for (`trimmed`), or the client is too slow (`slow_reader`, after which `onCut` runs). `abort` is
 * fired when the body ends, however it ends, so the subscription stops.
 */
export function eventStream(
  events: AsyncGenerator<SessionEvent, void, undefined>,
  abort: AbortController,
  closing: AbortSignal,
  options: EventStreamOptions,
  onCut: () => void,
): ReadableStream<Uint8Array> {
  let finished = false;
  let stall: ReturnType<typeof setTimeout> | undefined;
  let next: Promise<IteratorResult<SessionEvent, void>> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const finish = (end: StreamEnd | undefined): void => {
    if (finished) return;
    finished = true;
    clearTimeout(stall);
    closing.removeEventListener("abort", onClosing);
    abort.abort();
    if (end === undefined) return;
    try {
      controller.enqueue(frame("end", end));
      controller.close();
    } catch {
      // The client is gone already: nothing to tell it.
    }
  };
  const onClosing = () => finish({ reason: "shutdown", message: "the server is stopping" });

  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        if (closing.aborted) onClosing();
        else closing.addEventListener("abort", onClosing, { once: true });
      },
      async pull(c) {
        clearTimeout(stall);
        if (finished) return;
        next ??= events.next();
        let beat: ReturnType<typeof setTimeout> | undefined;
        const beating = new Promise<typeof BEAT>((resolve) => {
          beat = setTimeout(() => resolve(BEAT), options.heartbeatMs);
        });
        let got: IteratorResult<SessionEvent, void> | typeof BEAT;
        try {
          got = await Promise.race([next, beating]);
        } catch (error) {
          finish(
            isOffstageError(error, "EVENTS_TRIMMED")
              ? { reason: "trimmed", message: error.message }
              : { reason: "runtime_stopped", message: "the event log failed; reconnect" },
          );
          return;
        } finally {
          clearTimeout(beat);
        }
        if (finished) return;
        if (got === BEAT) c.enqueue(HEARTBEAT);
        else {
          next = undefined;
          if (got.done === true) {
            finish({ reason: "runtime_stopped", message: "the runtime stopped" });
            return;
          }
          c.enqueue(frame(got.value.event.type, got.value, got.value.seq));
        }
        if ((c.desiredSize ?? 1) <= 0) {
          stall = setTimeout(() => {
            finish({ reason: "slow_reader", message: `the client took nothing for ${options.stallMs} ms` });
            onCut();
          }, options.stallMs);
        }
      },
      cancel() {
        finish(undefined);
      },
    },
    { highWaterMark: options.bufferBytes, size: (chunk) => chunk.byteLength },
  );
}
