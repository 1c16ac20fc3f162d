/**
 * The inbox policies a chat sends with, and what each does with a line typed while the agent is
 * answering (DESIGN.md §3). `reject` is left out: a chat never refuses what its person typed.
 *
 * @packageDocumentation
 */

/** The policies a chat may send with. */
export const CHAT_POLICIES = ["enqueue", "steer", "interrupt", "merge"] as const;

/** One of {@link CHAT_POLICIES}. */
export type ChatPolicy = (typeof CHAT_POLICIES)[number];

/** What each policy does with a line typed while the agent answers. */
export const POLICY_MEANING: Readonly<Record<ChatPolicy, string>> = {
  enqueue: "a line typed while the agent answers waits for its own turn",
  steer: "a line typed while the agent answers joins that answer at its next step",
  interrupt: "a line typed while the agent answers stops that answer and runs instead",
  merge: "lines typed while the agent answers wait, then go into one turn together",
};
