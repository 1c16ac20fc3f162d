/**
 * Store writes of a whole turn, for store tests: one that starts and ends at once, adding a
 * question and its answer (`q<n>`, `a<n>`) to its session's history.
 */
import type { Store } from "../../src/index.js";

const OK = { status: "completed", reason: { code: "ok", message: "ok" } } as const;
const NO_USAGE = { inputTokens: 0, outputTokens: 0 };

/** Starts and ends turn `turnId` of `sessionId`, taking `inputId`, at `atMs`; its history is `q<n>`, `a<n>`. */
export function answeredTurn(
  store: Store,
  {
    sessionId,
    turnId,
    inputId,
    n,
    atMs,
  }: { sessionId: string; turnId: string; inputId: string; n: number; atMs: number },
): void {
  store.startTurn({ turnId, sessionId, inputIds: [inputId], attempt: 1, startedAtMs: atMs });
  store.endTurn({
    turnId,
    sessionId,
    attempt: 1,
    outcome: OK,
    messages: [
      { role: "user", content: [{ type: "text", text: `q${n}` }] },
      { role: "assistant", content: [{ type: "text", text: `a${n}` }] },
    ],
    inputIds: [inputId],
    requeued: [],
    usage: NO_USAGE,
    endedAtMs: atMs,
  });
}
