/**
 * Ready helpers for an agent's `prepareStep`: keep a long conversation's prompt within reach of the
 * model without changing what is stored. Each returns a new array of the same message objects, and
 * never cuts an exchange so that a tool result loses the call it answers: a window always begins at
 * a user message.
 */
import type { Message } from "./messages.js";

/** Tokens a file is counted as by {@link estimateTokens} (providers charge images and PDFs per page or tile). */
const FILE_TOKENS = 1_000;

/**
 * A rough token count of a message: about four characters per token, as for English text with real
 * tokenizers, and a flat 1,000 per file. Good enough to keep a prompt under a budget with a margin.
 */
export function estimateTokens(message: Message): number {
  if (message.role === "system") return Math.ceil(message.content.length / 4);
  let chars = 0;
  let files = 0;
  for (const part of message.content) {
    switch (part.type) {
      case "text":
      case "reasoning":
        chars += part.text.length;
        break;
      case "file":
        files += 1;
        break;
      case "tool-call":
        chars += part.toolName.length + part.input.length;
        break;
      case "tool-result":
        chars += part.output.value.length;
        break;
    }
  }
  return Math.ceil(chars / 4) + files * FILE_TOKENS;
}

/**
 * The last `count` messages, moved to begin at a user message. When the last `count` hold no user
 * message (a long tool loop), the window reaches back to the latest one, so the model still sees
 * what it was asked: it may then hold more than `count`.
 *
 * @example
 * ```ts
 * prepareStep: ({ messages }) => ({ messages: lastMessages(messages, 20) })
 * ```
 */
export function lastMessages(messages: readonly Message[], count: number): Message[] {
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`lastMessages: count must be an integer, 0 or more; got ${String(count)}`);
  const from = Math.max(0, messages.length - count);
  for (let i = from; i < messages.length; i++) if (messages[i]!.role === "user") return messages.slice(i);
  for (let i = from - 1; i >= 0; i--) if (messages[i]!.role === "user") return messages.slice(i);
  return messages.slice(from);
}

/**
 * The longest tail of whole exchanges (each from a user message to the next) whose estimated tokens
 * fit `tokensMax`. The latest exchange is always kept, even alone over the budget: without it the
 * model would not know what it is doing.
 *
 * @example
 * ```ts
 * prepareStep: ({ messages }) => ({ messages: fitTokenBudget(messages, 100_000) })
 * ```
 */
export function fitTokenBudget(
  messages: readonly Message[],
  tokensMax: number,
  estimate: (message: Message) => number = estimateTokens,
): Message[] {
  if (!(typeof tokensMax === "number" && tokensMax >= 0))
    throw new RangeError(`fitTokenBudget: tokensMax must be a number, 0 or more; got ${String(tokensMax)}`);
  let total = 0;
  let fit = -1;
  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i--) {
    total += estimate(messages[i]!);
    if (messages[i]!.role !== "user") continue;
    if (lastUser < 0) lastUser = i;
    if (total <= tokensMax) fit = i;
  }
  const from = fit >= 0 ? fit : Math.max(lastUser, 0);
  return messages.slice(from);
}
