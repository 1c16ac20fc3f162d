/**
 * The built-in `delegate` tool: lets a model hand tasks to background children. It answers at once —
 * dispatched with ids, or rejected with what to do instead — and each child's result arrives later
 * as a new turn, never as this tool's result.
 *
 * @packageDocumentation
 */
import type { DelegateResult, DelegateSpec } from "../../runtime/delegations.js";
import type { Tool } from "../../runtime/ports/tool.js";
import { defineTool } from "../define-tool.js";

/** Dispatches the specs for the session the tool runs in. */
export type Dispatch = (sessionId: string, specs: readonly DelegateSpec[]) => DelegateResult;

const TASK_SCHEMA = {
  type: "object",
  properties: {
    goal: { type: "string", minLength: 1, description: "What the child must achieve, stated on its own." },
    context: { type: "string", description: "Everything the child needs to know; it sees nothing else." },
    role: { type: "string", description: "Who the child should be, e.g. 'a careful code reviewer'." },
    tools: {
      type: "array",
      items: { type: "string" },
      description: "Tool names it may use (default: yours).",
    },
  },
  required: ["goal"],
  additionalProperties: false,
} as const;

/** Creates the `delegate` tool over a dispatch function. */
export function createDelegateTool(dispatch: Dispatch): Tool {
  return defineTool<{ tasks: DelegateSpec[] }>({
    name: "delegate",
    description:
      "Hand one or more independent tasks to background workers and go on at once. Each worker's result " +
      "arrives later as a new message, when you are idle; do not wait for it in this turn. Either all " +
      "tasks are dispatched or none (if capacity is short the answer says what to do instead).",
    schema: {
      type: "object",
      properties: { tasks: { type: "array", items: TASK_SCHEMA, minItems: 1, maxItems: 16 } },
      required: ["tasks"],
      additionalProperties: false,
    },
    execute: ({ tasks }, { sessionId }) => {
      const result = dispatch(sessionId, tasks);
      return result.status === "dispatched"
        ? `dispatched ${result.ids.length} background task(s): ${result.ids.join(", ")}. Their results will arrive as new messages.`
        : `rejected (${result.code}): ${result.reason}`;
    },
  });
}
