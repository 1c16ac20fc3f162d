// The turn the in-process peers (p-queue, the naive chain) run: one no-op model turn as a user of
// theirs would write it, so the core benchmark compares the same work, not an empty task with a turn.

/**
 * One no-op model turn: the prompt is the session's history plus the input, the model is called with
 * an abort signal (it may be cancelled), its text is collected, both messages join the history, and
 * the answer is the task's value. The no-op model answers with an array, which is read synchronously
 * (as Offstage's fast path does), so the peer pays no promise per part.
 */
export async function peerTurn(model, history, payload) {
  const user = { role: "user", content: [{ type: "text", text: payload }] };
  const controller = new AbortController();
  const parts = await model.stream({
    prompt: history.concat(user),
    tools: [],
    maxOutputTokens: undefined,
    abortSignal: controller.signal,
  });
  let text = "";
  for (const part of parts) if (part.type === "text-delta") text += part.delta;
  history.push(user, { role: "assistant", content: [{ type: "text", text }] });
  return text;
}
