/**
 * A Server-Sent Events parser over a byte stream (the `text/event-stream` format: `id:`, `event:`,
 * `data:` fields, comments, frames ended by a blank line), for `fetch` bodies in browsers and Node.
 *
 * @packageDocumentation
 */

/** One dispatched SSE frame. */
export interface SseFrame {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/** The frames of `body`, as they complete. */
export async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseFrame, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | undefined;
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (let end = lineEnd(buffer); end !== undefined; end = lineEnd(buffer)) {
        const line = buffer.slice(0, end.at);
        buffer = buffer.slice(end.at + end.length);
        if (line === "") {
          if (data.length > 0 || event !== "") yield { id, event: event || "message", data: data.join("\n") };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") data.push(value);
        else if (field === "event") event = value;
        else if (field === "id" && !value.includes("\0")) id = value;
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Where the first line of `text` ends, and how long its line break is. */
function lineEnd(text: string): { at: number; length: number } | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) return { at: i, length: 1 };
    if (c === 13) {
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (i + 1 === text.length) return undefined;
      return { at: i, length: text.charCodeAt(i + 1) === 10 ? 2 : 1 };
    }
  }
  return undefined;
}
