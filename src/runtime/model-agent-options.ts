/**
 * The checks of a model agent's model settings, retry options and context hooks, and of the
 * runtime's provider settings; and the retry policy an agent's options mean. Called from
 * `options.ts` when a runtime is created, so a bad value fails `createRuntime` with `BootError`
 * `INVALID_OPTIONS` quoting it, before anything starts.
 *
 * @packageDocumentation
 */
import { DEFAULTS } from "../kernel/limits.js";
import type { RetryPolicy } from "../kernel/retry-policy.js";
import {
  checkDurationMs,
  checkFunction,
  checkObject,
  checkOptions,
  checkPositiveInteger,
  fail,
  type Subject,
} from "../validate.js";
import type { ModelAgent } from "./agent.js";
import type { ProviderSettings } from "./ports/model-resolver.js";
import { checkHeaders, checkModelSettings } from "./ports/model-settings.js";

/** `provider:model`; the resolver decides which providers exist. */
const MODEL_NAME = /^[A-Za-z0-9][\w.-]*:\S+$/;

/** Checks a model agent's `model`, `system`, settings, `retry` and `prepareStep`. */
export function checkModelAgent(subject: Subject, name: string, agent: ModelAgent): void {
  const { model } = agent;
  if (typeof model === "string") {
    if (!MODEL_NAME.test(model))
      fail(subject, `agents.${name}.model`, model, 'a Model or a model name "provider:model"');
  } else if (typeof model?.stream !== "function") {
    fail(subject, `agents.${name}`, agent, "a model agent ({ model }) or a function agent ({ run })");
  }
  if (agent.system !== undefined && typeof agent.system !== "string" && typeof agent.system !== "function")
    fail(subject, `agents.${name}.system`, agent.system, "a string or a function (context) => string");
  if (agent.prepareStep !== undefined)
    checkFunction(subject, `agents.${name}.prepareStep`, agent.prepareStep);
  checkModelSettings(subject, `agents.${name}`, agent);
  if (agent.retry !== undefined) checkRetry(subject, `agents.${name}.retry`, agent.retry);
}

const RETRY_KEYS = Object.keys(DEFAULTS.retry);
const PROVIDER_KEYS = ["apiKey", "baseURL", "headers"];

function checkRetry(subject: Subject, name: string, retry: unknown): void {
  const r = checkOptions(
    subject,
    name,
    retry as Partial<RetryPolicy>,
    RETRY_KEYS,
    "an object of retry options",
  );
  if (r.attemptsMax !== undefined) checkPositiveInteger(subject, `${name}.attemptsMax`, r.attemptsMax);
  for (const key of ["backoffMs", "backoffMaxMs", "retryAfterMaxMs"] as const) {
    if (r[key] !== undefined) checkDurationMs(subject, `${name}.${key}`, r[key]);
  }
  if (r.idleTimeoutMs !== undefined)
    checkDurationMs(subject, `${name}.idleTimeoutMs`, r.idleTimeoutMs, { min: 1 });
  if (r.factor !== undefined && !(typeof r.factor === "number" && Number.isFinite(r.factor) && r.factor >= 1))
    fail(subject, `${name}.factor`, r.factor, "a finite number, 1 or more");
}

/** Checks `options.providers`: settings by provider name. Never quotes a key. */
export function checkProviders(subject: Subject, providers: unknown): void {
  checkObject(subject, "providers", providers, "an object of provider settings by name");
  for (const [provider, settings] of Object.entries(providers as Record<string, unknown>)) {
    const where = `providers.${provider}`;
    const { apiKey, baseURL, headers } = checkOptions(
      subject,
      where,
      settings as ProviderSettings,
      PROVIDER_KEYS,
      "an object ({ apiKey, baseURL, headers })",
    );
    if (apiKey !== undefined && (typeof apiKey !== "string" || apiKey === ""))
      fail(subject, `${where}.apiKey`, typeof apiKey, "a non-empty string");
    if (baseURL !== undefined && (typeof baseURL !== "string" || !URL.canParse(baseURL)))
      fail(subject, `${where}.baseURL`, baseURL, "an absolute URL");
    if (headers !== undefined) checkHeaders(subject, `${where}.headers`, headers);
  }
}

const policies = new WeakMap<ModelAgent, RetryPolicy>();

/** The retry policy of an agent: its `retry` over `DEFAULTS.retry` (computed once per agent). */
export function retryPolicyOf(agent: ModelAgent): RetryPolicy {
  let policy = policies.get(agent);
  if (policy === undefined) {
    const own = agent.retry ?? {};
    const pick = <K extends keyof RetryPolicy>(key: K): RetryPolicy[K] =>
      (own[key] as RetryPolicy[K] | undefined) ?? DEFAULTS.retry[key];
    policy = {
      attemptsMax: pick("attemptsMax"),
      backoffMs: pick("backoffMs"),
      backoffMaxMs: pick("backoffMaxMs"),
      factor: pick("factor"),
      retryAfterMaxMs: pick("retryAfterMaxMs"),
      idleTimeoutMs: pick("idleTimeoutMs"),
    };
    policies.set(agent, policy);
  }
  return policy;
}
