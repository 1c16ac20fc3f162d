/**
 * The built-in `delegate` tool: lets a model hand tasks to background children. It answers at once —
 * dispatched with ids, or rejected with what to do instead — and each child's result arrives later
 * as a new turn, never as this tool's result.
 *
 * @packageDocumentation
 */
import type { RuntimeParts } from "../parts.js";
import type { Tool, ToolArgsCheck } from "../ports/tool.js";
import type { DelegateSpec } from "./delegate-spec.js";

const TASKS_MAX = 16;
const TASK_KEYS: ReadonlySet<string> = new Set(["goal", "context", "role", "tools"]);

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

/** Creates the `delegate` tool of a runtime: it dispatches for the session it runs in. */
export function createDelegateTool(parts: RuntimeParts): Tool {
  return {
    name: "delegate",
    description:
      "Hand one or more independent tasks to background workers and go on at once. Each worker's result " +
      "arrives later as a new message, when you are idle; do not wait for it in this turn. Either all " +
      "tasks are dispatched or none (if capacity is short the answer says what to do instead).",
    inputSchema: {
      type: "object",
      properties: { tasks: { type: "array", items: TASK_SCHEMA, minItems: 1, maxItems: TASKS_MAX } },
      required: ["tasks"],
      additionalProperties: false,
    },
    check: checkTasks,
    execute: (args, { sessionId }) => {
      const { tasks } = args as { tasks: DelegateSpec[] };
      const result = parts.children!.dispatch(parts.sessions.get(sessionId)!, tasks);
      return result.status === "dispatched"
        ? `dispatched ${result.ids.length} background task(s): ${result.ids.join(", ")}. Their results will arrive as new messages.`
        : `rejected (${result.code}): ${result.reason}`;
    },
  };
}

/**
 * The shape of the arguments; what each field may hold (a tool the agent has, say) is checked by the
 * dispatch itself, whose refusal the model sees as the tool's error.
 */
function checkTasks(args: unknown): ToolArgsCheck {
  if (typeof args !== "object" || args === null || Object.keys(args).some((key) => key !== "tasks"))
    return { ok: false, message: "the arguments must be an object with one field, tasks" };
  const { tasks } = args as { tasks?: unknown };
  if (!Array.isArray(tasks) || tasks.length === 0 || tasks.length > TASKS_MAX)
    return { ok: false, message: `tasks must be an array of 1-${TASKS_MAX} tasks` };
  for (const [i, task] of tasks.entries()) {
    if (typeof task !== "object" || task === null || Array.isArray(task))
      return { ok: false, message: `tasks[${i}] must be an object` };
    const unknown = Object.keys(task).find((key) => !TASK_KEYS.has(key));
    if (unknown !== undefined)
      return { ok: false, message: `tasks[${i}] has an unknown field ${JSON.stringify(unknown)}` };
    if (typeof (task as { goal?: unknown }).goal !== "string")
      return { ok: false, message: `tasks[${i}].goal must be a string` };
  }
  return { ok: true, value: args };
}
