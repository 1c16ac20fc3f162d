/**
 * Checks of model settings, for every place they come from: an agent, what `prepareStep` returned,
 * the defaults a model adapter is given. A failed check throws the {@link Subject}'s error quoting
 * the bad value (never a header's value: headers carry credentials).
 *
 * @packageDocumentation
 */
import {
  checkObject,
  checkPositiveInteger,
  fail,
  isRecord,
  isStringArray,
  type Subject,
} from "../../validate.js";
import type { ModelSettings, ProviderOptions } from "./model.js";

const NUMBER_SETTINGS = ["temperature", "topP", "presencePenalty", "frequencyPenalty"] as const;
const INTEGER_SETTINGS = ["maxOutputTokens", "topK"] as const;

/** The settings that are single numbers, passed to a provider as they are. */
export const SAMPLING_SETTINGS = [...INTEGER_SETTINGS, ...NUMBER_SETTINGS, "seed"] as const;

/** Every key of {@link ModelSettings}. */
export const MODEL_SETTING_KEYS = [
  ...SAMPLING_SETTINGS,
  "stopSequences",
  "toolChoice",
  "providerOptions",
  "headers",
] as const satisfies readonly (keyof ModelSettings)[];

/** Checks model settings (an agent's, or what `prepareStep` returned); `where` prefixes each name. */
export function checkModelSettings(subject: Subject, where: string, settings: ModelSettings): void {
  for (const key of NUMBER_SETTINGS) {
    const value = settings[key];
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value)))
      fail(subject, `${where}.${key}`, value, "a finite number");
  }
  for (const key of INTEGER_SETTINGS) {
    if (settings[key] !== undefined) checkPositiveInteger(subject, `${where}.${key}`, settings[key]);
  }
  const { seed, stopSequences, toolChoice, providerOptions, headers } = settings;
  if (seed !== undefined && !Number.isSafeInteger(seed)) fail(subject, `${where}.seed`, seed, "an integer");
  if (stopSequences !== undefined && !isStringArray(stopSequences))
    fail(subject, `${where}.stopSequences`, stopSequences, "an array of strings");
  if (toolChoice !== undefined && !isToolChoice(toolChoice))
    fail(
      subject,
      `${where}.toolChoice`,
      toolChoice,
      '"auto", "none", "required" or { type: "tool", toolName }',
    );
  if (providerOptions !== undefined) {
    checkObject(subject, `${where}.providerOptions`, providerOptions, "an object of options by provider");
    for (const [provider, options] of Object.entries(providerOptions)) {
      if (!isRecord(options)) fail(subject, `${where}.providerOptions.${provider}`, options, "an object");
    }
  }
  if (headers !== undefined) checkHeaders(subject, `${where}.headers`, headers);
}

function isToolChoice(value: unknown): boolean {
  if (value === "auto" || value === "none" || value === "required") return true;
  return isRecord(value) && value.type === "tool" && typeof value.toolName === "string";
}

/** Checks an object of header values by name. */
export function checkHeaders(subject: Subject, name: string, headers: unknown): void {
  checkObject(subject, name, headers, "an object of header values by name");
  for (const [header, value] of Object.entries(headers)) {
    // The value is not quoted: headers carry credentials.
    if (typeof value !== "string") fail(subject, `${name}.${header}`, typeof value, "a string");
  }
}

/** Provider options merged per provider: the later one's keys win. */
export function mergeProviderOptions(a: ProviderOptions, b: ProviderOptions): ProviderOptions {
  const merged: Record<string, Readonly<Record<string, unknown>>> = { ...a };
  for (const [provider, values] of Object.entries(b)) merged[provider] = { ...merged[provider], ...values };
  return merged;
}
