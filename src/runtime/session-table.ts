/**
 * The sessions this process knows, by id, and what the runtime keeps for each: the session's inbox
 * (the kernel's state, which the entry is), its agent and tools and its place in the scheduler's
 * line.
 *
 * @packageDocumentation
 */
import { type Message, systemMessage } from "../kernel/messages.js";
import type { Schedulable } from "../kernel/scheduler/scheduler.js";
import type { InboxState } from "../kernel/session/inbox.js";
import { type Agent, isFunctionAgent, type ModelAgent } from "./agent.js";
import { createDelegateTool } from "./delegation/delegate-tool.js";
import type { LiveInput } from "./live-input.js";
import type { LiveTurn } from "./live-turn.js";
import type { RuntimeParts } from "./parts.js";
import type { Session } from "./session.js";
import { createToolRegistry, type ToolRegistry } from "./tools/tool-registry.js";

/** A session in this process. It is its own inbox state, so a turn reaches both in one object. */
export interface SessionEntry extends Schedulable, InboxState<LiveInput, LiveTurn> {
  readonly id: string;
  readonly agentName: string;
  /** The named agent, or a background child's agent derived from it. */
  readonly agent: Agent;
  /** The agent's tools; `undefined` for function agents. */
  readonly tools: ToolRegistry | undefined;
  /**
   * The agent's system prompt as the message that opens every prompt (built once, shared), when it
   * is a string; a `system` function is called per turn (`model-step.ts`).
   */
  readonly system: Message | undefined;
  /** A wake for it is posted and not yet run: a send need not post another. */
  wakePending: boolean;
  /** Its stored queued inputs may not be read yet (see `queued-recovery.ts`). */
  recovering: boolean;
  /** The public face handed out by `runtime.session()`, made on first use. */
  facade: Session | undefined;
}

export class SessionTable {
  readonly #parts: RuntimeParts;
  readonly #byId = new Map<string, SessionEntry>();
  /** The tools of each named model agent, built once. */
  readonly #tools = new Map<string, ToolRegistry>();

  constructor(parts: RuntimeParts) {
    this.#parts = parts;
  }

  get(id: string): SessionEntry | undefined {
    return this.#byId.get(id);
  }

  get size(): number {
    return this.#byId.size;
  }

  ids(): string[] {
    return [...this.#byId.keys()];
  }

  values(): IterableIterator<SessionEntry> {
    return this.#byId.values();
  }

  /** Inputs waiting in every inbox. */
  queuedCount(): number {
    let n = 0;
    for (const entry of this.#byId.values()) n += entry.queue.length;
    return n;
  }

  /**
   * Adds a session run by the named agent, or by `own` (a background child's agent derived from
   * it). A child's session known from the delegation log runs the agent its record describes.
   */
  add(id: string, agentName: string, own?: ModelAgent): SessionEntry {
    const named = this.#parts.options.agents.get(agentName)!;
    const agent = own ?? this.#parts.children?.agentFor(id) ?? named;
    const entry: SessionEntry = {
      id,
      agentName,
      agent,
      tools: isFunctionAgent(agent)
        ? undefined
        : agent === named
          ? this.#namedTools(agentName, agent)
          : this.#toolsOf(agent),
      system:
        isFunctionAgent(agent) || typeof agent.system !== "string" ? undefined : systemMessage(agent.system),
      queue: [],
      turn: undefined,
      merges: 0,
      wakePending: false,
      recovering: false,
      waiting: false,
      runStartedAtMs: undefined,
      runTurns: 0,
      facade: undefined,
    };
    this.#byId.set(id, entry);
    return entry;
  }

  #namedTools(name: string, agent: ModelAgent): ToolRegistry {
    let tools = this.#tools.get(name);
    if (tools === undefined) {
      tools = this.#toolsOf(agent);
      this.#tools.set(name, tools);
    }
    return tools;
  }

  /** The agent's tools, with the `delegate` tool added when it delegates. */
  #toolsOf(agent: ModelAgent): ToolRegistry {
    const tools = agent.tools ?? [];
    if (agent.delegates !== true) return createToolRegistry(tools);
    return createToolRegistry([...tools, createDelegateTool(this.#parts)]);
  }
}
