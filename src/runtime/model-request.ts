/**
 * The settings a model request carries: the agent's own, with what `prepareStep` returned for one
 * call laid over them (provider options and headers merged per key), and the check of what
 * `prepareStep` returned, which may be anything.
 *
 * @packageDocumentation
 */
import type { Message } from "../kernel/messages.js";
import { argumentsOf, checkObject, fail, isRecord, type Subject } from "../validate.js";
import type { ModelAgent, StepOverrides } from "./agent.js";
import type { ModelSettings } from "./ports/model.js";
import { checkModelSettings, MODEL_SETTING_KEYS, mergeProviderOptions } from "./ports/model-settings.js";

const ROLES = new Set(["system", "user", "assistant", "tool"]);
const PREPARE: Subject = argumentsOf("prepareStep()");

/** Each agent's settings, picked once (`null`: it sets none). */
const agentSettings = new WeakMap<ModelAgent, ModelSettings | null>();

/** The settings of one request: the agent's, then the step's overrides; `undefined` when there are none. */
export function requestSettings(
  agent: ModelAgent,
  overrides: StepOverrides | undefined,
): ModelSettings | undefined {
  let own = agentSettings.get(agent);
  if (own === undefined) {
    own = pickSettings(agent) ?? null;
    agentSettings.set(agent, own);
  }
  const step = overrides === undefined ? undefined : pickSettings(overrides);
  if (step === undefined) return own ?? undefined;
  if (own === null) return step;
  const merged: Record<string, unknown> = { ...own, ...step };
  if (own.providerOptions !== undefined && step.providerOptions !== undefined)
    merged.providerOptions = mergeProviderOptions(own.providerOptions, step.providerOptions);
  if (own.headers !== undefined && step.headers !== undefined)
    merged.headers = { ...own.headers, ...step.headers };
  return merged as ModelSettings;
}

function pickSettings(from: ModelSettings): ModelSettings | undefined {
  let picked: Record<string, unknown> | undefined;
  for (const key of MODEL_SETTING_KEYS) {
    const value = from[key];
    if (value === undefined) continue;
    picked ??= {};
    picked[key] = value;
  }
  return picked as ModelSettings | undefined;
}

/**
 * Checks what `prepareStep` returned: `undefined`, or overrides whose messages, system prompt, tool
 * names and settings are well-formed. Throws `InvalidInputError` naming the bad value.
 */
export function checkStepOverrides(value: unknown): StepOverrides | undefined {
  if (value === undefined || value === null) return undefined;
  checkObject(PREPARE, "the returned value", value, "an object of overrides, or undefined");
  const overrides = value as StepOverrides;
  const { messages, system, activeTools } = overrides;
  if (messages !== undefined) {
    if (!Array.isArray(messages)) fail(PREPARE, "messages", messages, "an array of messages");
    messages.forEach((message: unknown, i) => {
      if (!isMessage(message)) fail(PREPARE, `messages[${i}]`, message, "a message ({ role, content })");
    });
  }
  if (system !== undefined && typeof system !== "string") fail(PREPARE, "system", system, "a string");
  if (
    activeTools !== undefined &&
    !(Array.isArray(activeTools) && activeTools.every((t) => typeof t === "string"))
  )
    fail(PREPARE, "activeTools", activeTools, "an array of tool names");
  checkModelSettings(PREPARE, "overrides", overrides);
  return overrides;
}

function isMessage(message: unknown): message is Message {
  if (!isRecord(message) || !ROLES.has(message.role as string)) return false;
  return message.role === "system" ? typeof message.content === "string" : Array.isArray(message.content);
}
