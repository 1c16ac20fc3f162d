/**
 * The default model resolver: a model name becomes an AI SDK provider's model, built from the
 * provider package the application installed (imported on demand: none is a dependency of
 * Offstage) and wrapped with {@link fromAiSdk}.
 *
 * Names:
 * - `openai:<model>` — OpenAI's Responses API (`@ai-sdk/openai`, the AI SDK's default for OpenAI);
 *   `openai.chat:<model>` — its Chat Completions API. Key `OPENAI_API_KEY`, base URL `OPENAI_BASE_URL`.
 * - `anthropic:<model>` — `@ai-sdk/anthropic`. Key `ANTHROPIC_API_KEY`, base URL `ANTHROPIC_BASE_URL`.
 * - `openai-compatible:<baseURL>:<model>` — any server speaking OpenAI's Chat Completions (Ollama,
 *   llama.cpp, vLLM) through `@ai-sdk/openai-compatible`; the base URL includes its path
 *   (`http://127.0.0.1:11434/v1`), and the model name may hold colons (`llama3.2:3b`). A key is
 *   optional: `OPENAI_COMPATIBLE_API_KEY`.
 *
 * Settings: `options.providers[provider]` (`apiKey`, `baseURL`, `headers`) wins over the
 * environment. The key found is handed to the provider and to the model's error redaction, and
 * never written anywhere else.
 *
 * @packageDocumentation
 */
import { BootError } from "../../errors.js";
import type { Model } from "../../runtime/ports/model.js";
import type {
  ModelResolveContext,
  ModelResolver,
  ProviderSettings,
} from "../../runtime/ports/model-resolver.js";
import { type AiSdkLanguageModel, fromAiSdk } from "./from-ai-sdk.js";
import { redact } from "./provider-error.js";

/** How one provider is reached. */
interface ProviderEntry {
  /** The npm package to import. */
  readonly package: string;
  /** Imports it (a literal `import()` each, so the import is known and checked). */
  load(): Promise<unknown>;
  /** The key in `options.providers` (several names may share one provider's settings). */
  readonly settingsKey: string;
  readonly keyVariable: string;
  readonly keyRequired: boolean;
  /** Builds the model from the imported package, the settings and the model id. */
  make(module: Record<string, unknown>, settings: ResolvedSettings, modelId: string): AiSdkLanguageModel;
}

interface ResolvedSettings {
  readonly apiKey: string | undefined;
  readonly baseURL: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
}

type Factory = (
  settings: Record<string, unknown>,
) => ((modelId: string) => AiSdkLanguageModel) & Record<string, (modelId: string) => AiSdkLanguageModel>;

const PROVIDERS: Readonly<Record<string, ProviderEntry>> = {
  openai: {
    package: "@ai-sdk/openai",
    load: () => import("@ai-sdk/openai"),
    settingsKey: "openai",
    keyVariable: "OPENAI_API_KEY",
    keyRequired: true,
    make: (module, settings, modelId) => factory(module, "createOpenAI")(plain(settings))(modelId),
  },
  "openai.chat": {
    package: "@ai-sdk/openai",
    load: () => import("@ai-sdk/openai"),
    settingsKey: "openai",
    keyVariable: "OPENAI_API_KEY",
    keyRequired: true,
    make: (module, settings, modelId) => factory(module, "createOpenAI")(plain(settings)).chat!(modelId),
  },
  anthropic: {
    package: "@ai-sdk/anthropic",
    load: () => import("@ai-sdk/anthropic"),
    settingsKey: "anthropic",
    keyVariable: "ANTHROPIC_API_KEY",
    keyRequired: true,
    make: (module, settings, modelId) => factory(module, "createAnthropic")(plain(settings))(modelId),
  },
  "openai-compatible": {
    package: "@ai-sdk/openai-compatible",
    load: () => import("@ai-sdk/openai-compatible"),
    settingsKey: "openai-compatible",
    keyVariable: "OPENAI_COMPATIBLE_API_KEY",
    keyRequired: false,
    make: (module, settings, modelId) =>
      factory(
        module,
        "createOpenAICompatible",
      )({
        ...plain(settings),
        name: "openai-compatible",
        includeUsage: true,
      }).chatModel!(modelId),
  },
};

/** `<baseURL with its path>:<model>`: the path holds no colon, the model may. */
const COMPATIBLE_REST = /^(https?:\/\/[^/\s]+\/[^:\s]*):(\S+)$/;

/** Options of {@link createAiSdkResolver}. */
export interface AiSdkResolverOptions {
  /** Where keys and base URLs are read when `options.providers` gives none (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Imports a provider package by name (default: the package's own `import()`); a test may stand in for a missing one. */
  readonly importPackage?: (name: string) => Promise<unknown>;
}

/**
 * Creates the resolver `createRuntime` uses for models named by strings. See the file header for
 * the names it knows and where each provider's key comes from.
 */
export function createAiSdkResolver(options: AiSdkResolverOptions = {}): ModelResolver {
  const importPackage = options.importPackage;
  return {
    async resolve(name: string, context: ModelResolveContext): Promise<Model> {
      const env = options.env ?? process.env;
      const at = name.indexOf(":");
      const providerName = at < 0 ? "" : name.slice(0, at);
      const entry = PROVIDERS[providerName];
      if (entry === undefined) {
        throw new BootError(
          "MODEL_NAME_INVALID",
          `model ${JSON.stringify(name)}: unknown provider ${JSON.stringify(providerName)}; ` +
            `known: ${Object.keys(PROVIDERS).join(", ")} (or pass a Model made with fromAiSdk())`,
        );
      }
      let modelId = name.slice(at + 1);
      let baseURL: string | undefined;
      let shownName = name;
      if (providerName === "openai-compatible") {
        const match = COMPATIBLE_REST.exec(modelId);
        if (match === null || !URL.canParse(match[1]!)) {
          throw new BootError(
            "MODEL_NAME_INVALID",
            `model ${JSON.stringify(name)}: expected openai-compatible:<baseURL>:<model>, with the base URL's path (http://127.0.0.1:11434/v1:llama3.2)`,
          );
        }
        const url = new URL(match[1]!);
        // Credentials in a URL are still credentials: the id shown in events carries none.
        url.username = "";
        url.password = "";
        baseURL = match[1]!;
        modelId = match[2]!;
        shownName = `openai-compatible:${url.href.replace(/\/$/, "")}:${modelId}`;
      }
      const given: ProviderSettings = context.providers[entry.settingsKey] ?? {};
      const apiKey = given.apiKey ?? nonEmpty(env[entry.keyVariable]);
      if (apiKey === undefined && entry.keyRequired) {
        throw new BootError(
          "MODEL_KEY_MISSING",
          `model ${JSON.stringify(shownName)} needs an API key: set ${entry.keyVariable}, or pass providers.${entry.settingsKey}.apiKey`,
          { details: { model: shownName, variable: entry.keyVariable } },
        );
      }
      const load = importPackage === undefined ? () => entry.load() : () => importPackage(entry.package);
      const module = await importProvider(load, entry.package, shownName, apiKey);
      const settings: ResolvedSettings = {
        apiKey,
        baseURL: given.baseURL ?? baseURL,
        headers: given.headers,
      };
      let model: AiSdkLanguageModel;
      try {
        model = entry.make(module, settings, modelId);
      } catch (error) {
        throw new BootError(
          "MODEL_NAME_INVALID",
          `model ${JSON.stringify(shownName)}: ${entry.package} could not build it: ${redact(error instanceof Error ? error.message : String(error), apiKey === undefined ? [] : [apiKey])}`,
        );
      }
      return fromAiSdk(model, {
        id: shownName,
        ...(apiKey === undefined ? {} : { redact: [apiKey] }),
      });
    },
  };
}

async function importProvider(
  load: () => Promise<unknown>,
  packageName: string,
  shownName: string,
  apiKey: string | undefined,
): Promise<Record<string, unknown>> {
  try {
    return (await load()) as Record<string, unknown>;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new BootError(
        "MODEL_PACKAGE_MISSING",
        `model ${JSON.stringify(shownName)} needs the package ${packageName}: npm install ${packageName}`,
        { details: { model: shownName, package: packageName } },
      );
    }
    // No `cause`: what a failed import says is not ours to pass on unread, and it is told here.
    const said = redact(
      error instanceof Error ? error.message : String(error),
      apiKey === undefined ? [] : [apiKey],
    );
    throw new BootError(
      "MODEL_PACKAGE_MISSING",
      `model ${JSON.stringify(shownName)}: importing ${packageName} failed: ${said}`,
      {
        details: { model: shownName, package: packageName },
      },
    );
  }
}

function factory(module: Record<string, unknown>, name: string): Factory {
  const make = module[name];
  if (typeof make !== "function") throw new TypeError(`the package exports no ${name}()`);
  return make as Factory;
}

/** Settings as a provider factory takes them, without the keys left undefined. */
function plain(settings: ResolvedSettings): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (settings.apiKey !== undefined) out.apiKey = settings.apiKey;
  if (settings.baseURL !== undefined) out.baseURL = settings.baseURL;
  if (settings.headers !== undefined) out.headers = { ...settings.headers };
  return out;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
