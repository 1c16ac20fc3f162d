/**
 * The checks of `options.agents`: each agent's name, its keys (a plain object's every key must mean
 * something), its limits and crash policy, a model agent's tools, and, once the runtime's executors
 * are known, that every tool's executor has one. Called from `options.ts`, so a bad agent fails
 * `createRuntime` with `BootError` `INVALID_OPTIONS` quoting it, before anything starts.
 *
 * @packageDocumentation
 */
import {
  checkBoolean,
  checkDurationMs,
  checkObject,
  checkOneOf,
  checkOptions,
  checkPositiveInteger,
  fail,
  type Subject,
} from "../validate.js";
import { type Agent, type FunctionAgent, isFunctionAgent, type ModelAgent } from "./agent.js";
import { checkModelAgent } from "./model-agent-options.js";
import type { HostExecutor } from "./ports/host-executor.js";
import type { WorkerExecutor } from "./ports/worker-executor.js";
import { checkTools } from "./tools/tool-registry.js";

/** The keys a plain-object agent may have (records over the interfaces' keys, so a new one must be listed). */
const MODEL_AGENT_KEYS = Object.keys({
  model: true,
  system: true,
  tools: true,
  modelCallsPerTurnMax: true,
  toolCallsPerStepMax: true,
  delegates: true,
  onCrash: true,
  maxAttempts: true,
  retry: true,
  prepareStep: true,
  // Model settings (ports/model-settings.ts).
  maxOutputTokens: true,
  temperature: true,
  topP: true,
  topK: true,
  presencePenalty: true,
  frequencyPenalty: true,
  stopSequences: true,
  seed: true,
  toolChoice: true,
  providerOptions: true,
  headers: true,
} satisfies Record<keyof ModelAgent, true>);
const FUNCTION_AGENT_KEYS = Object.keys({
  run: true,
  onCrash: true,
  maxAttempts: true,
} satisfies Record<keyof FunctionAgent, true>);
const AGENT_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Checks `options.agents`: at least one, each well named and well formed; returns them by name. */
export function checkAgents(subject: Subject, agents: Readonly<Record<string, Agent>>): Map<string, Agent> {
  const byName = new Map<string, Agent>();
  for (const [name, agent] of Object.entries(agents)) {
    if (!AGENT_NAME.test(name)) fail(subject, "agent name", name, "1-128 letters, digits, or _ . : -");
    byName.set(name, checkAgent(subject, name, agent));
  }
  if (byName.size === 0) fail(subject, "agents", agents, "at least one agent");
  return byName;
}

/** Checks an agent; returns it, or a plain copy of it when it is a plain object (read once). */
function checkAgent(subject: Subject, name: string, given: Agent): Agent {
  checkObject(subject, `agents.${name}`, given, "an agent object");
  // A plain object is a definition, whose every key must mean something; an instance of a class
  // (a function agent with state) may carry fields of its own.
  const proto = Object.getPrototypeOf(given);
  const agent =
    proto === Object.prototype || proto === null
      ? checkOptions(
          subject,
          `agents.${name}`,
          given,
          isFunctionAgent(given) ? FUNCTION_AGENT_KEYS : MODEL_AGENT_KEYS,
        )
      : given;
  if (!isFunctionAgent(agent)) {
    checkModelAgent(subject, name, agent);
    for (const key of ["modelCallsPerTurnMax", "toolCallsPerStepMax"] as const) {
      if (agent[key] !== undefined) checkPositiveInteger(subject, `agents.${name}.${key}`, agent[key]);
    }
    if (agent.delegates !== undefined) checkBoolean(subject, `agents.${name}.delegates`, agent.delegates);
    checkAgentTools(subject, name, agent);
  }
  if (agent.onCrash !== undefined)
    checkOneOf(subject, `agents.${name}.onCrash`, agent.onCrash, ["resume", "fail"]);
  if (agent.maxAttempts !== undefined)
    checkPositiveInteger(subject, `agents.${name}.maxAttempts`, agent.maxAttempts);
  return agent;
}

/** The agent's tools, as the runtime's registry will take them (with `delegate` added if it delegates). */
function checkAgentTools(subject: Subject, name: string, agent: ModelAgent): void {
  const tools = checkTools(subject, `agents.${name}.tools`, agent.tools ?? []);
  for (const [i, tool] of tools.entries()) {
    if (tool.timeoutMs !== undefined)
      checkDurationMs(subject, `agents.${name}.tools[${i}].timeoutMs`, tool.timeoutMs, {
        min: 1,
        integer: true,
      });
    if (agent.delegates === true && tool.name === "delegate")
      fail(
        subject,
        `agents.${name}.tools[${i}].name`,
        tool.name,
        "a name other than delegate (the agent delegates)",
      );
  }
}

/** A tool that runs on the host's thread needs a host queue to wait in; one that runs in a worker, a pool. */
export function checkExecutors(
  subject: Subject,
  agents: ReadonlyMap<string, Agent>,
  host: HostExecutor | undefined,
  workers: WorkerExecutor | undefined,
): void {
  for (const [name, agent] of agents) {
    if (isFunctionAgent(agent)) continue;
    for (const [i, tool] of (agent.tools ?? []).entries()) {
      const which = `agents.${name}.tools[${i}] (${JSON.stringify(tool.name)})`;
      if (tool.executor === "host" && host === undefined)
        fail(subject, "host", host, `a HostExecutor (createHostQueue()): ${which} runs on the host's thread`);
      if (tool.executor === "worker" && workers === undefined)
        fail(
          subject,
          "workers",
          workers,
          `a WorkerExecutor (createWorkerPool() from offstage/workers): ${which} runs in a worker thread`,
          { code: "WORKER_POOL_MISSING" },
        );
    }
  }
}
