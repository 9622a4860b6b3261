import { resolve } from "node:path";
import {
  BenchlineError,
  type ModelSpec,
  type Provider,
  type ProviderEnv,
  type ProviderFactory,
} from "../core/index.js";
import { withCache } from "./cache.js";
import { createCommandProvider } from "./command.js";
import { createEchoProvider } from "./echo.js";
import { createGoldProvider } from "./gold.js";
import { createGuidedProvider } from "./guided.js";
import { createImportProvider } from "./import.js";
import { createLlamaCppProvider } from "./llamacpp.js";
import { createOpenAIProvider, resolveOpenAIConfig } from "./openai.js";
import { schedulerOptionsFrom, withScheduler } from "./scheduler.js";

/**
 * Providers by registry name (the part of a spec string before the first colon), with what the
 * pipeline wraps around them: `scheduled` — concurrency, rate limits, retries, timeouts;
 * `cached` — the on-disk response cache.
 */
export const providers = {
  gold: { create: createGoldProvider, scheduled: false, cached: false },
  echo: { create: createEchoProvider, scheduled: false, cached: false },
  import: { create: createImportProvider, scheduled: false, cached: false },
  openai: { create: createOpenAIProvider, scheduled: true, cached: true },
  vllm: { create: createOpenAIProvider, scheduled: true, cached: true },
  ollama: { create: createOpenAIProvider, scheduled: true, cached: true },
  "llamacpp-server": { create: createOpenAIProvider, scheduled: true, cached: true },
  command: { create: createCommandProvider, scheduled: true, cached: true },
  llamacpp: { create: createLlamaCppProvider, scheduled: false, cached: true },
  // Base and oracle get their own scheduler; guided rows are not cached (their options are not in the key).
  guided: {
    create: (spec: ModelSpec, env: ProviderEnv) =>
      createGuidedProvider(spec, env, (sub, e) => createProvider(sub, e)),
    scheduled: false,
    cached: false,
  },
} satisfies Record<string, { create: ProviderFactory; scheduled: boolean; cached: boolean }>;

export type ProviderName = keyof typeof providers;

export function isProviderName(name: string): name is ProviderName {
  return Object.hasOwn(providers, name);
}

export interface CreateProviderOptions {
  /** Response cache directory; undefined turns the cache off. */
  cacheDir?: string;
  /** Requests in flight for a scheduled provider whose model sets no `concurrency`. */
  defaultConcurrency?: number;
}

/** Creates the provider for a resolved model spec, wrapped in its scheduler and cache. */
export function createProvider(
  spec: ModelSpec,
  env: ProviderEnv,
  options: CreateProviderOptions = {},
): Provider {
  if (!isProviderName(spec.provider)) {
    throw new BenchlineError(
      "not_found",
      `unknown provider "${spec.provider}" in model "${spec.id}" (available: ${Object.keys(providers).join(", ")})`,
    );
  }
  const entry = providers[spec.provider];
  let provider: Provider = entry.create(spec, env);
  if (entry.scheduled) {
    const scheduling = schedulerOptionsFrom(spec.options, `model "${spec.id}"`);
    if (scheduling.concurrency === undefined && options.defaultConcurrency !== undefined) {
      scheduling.concurrency = options.defaultConcurrency;
    }
    provider = withScheduler(provider, scheduling);
  }
  if (entry.cached && options.cacheDir) {
    const remote = entry.create === createOpenAIProvider;
    const baseUrl = remote ? resolveOpenAIConfig(spec, env).baseUrl : undefined;
    // A local model or program is identified by its resolved path, not the path as written.
    const model = !remote && spec.model !== undefined ? resolve(env.baseDir, spec.model) : spec.model;
    provider = withCache(provider, {
      dir: options.cacheDir,
      key: {
        provider: spec.provider,
        model,
        base_url: baseUrl,
        params: {
          mode: spec.options.mode ?? null,
          path: typeof spec.options.path === "string" ? resolve(env.baseDir, spec.options.path) : null,
          args: spec.options.args ?? null,
          extra_body: spec.options.extra_body ?? null,
          context_size: spec.options.context_size ?? null,
        },
      },
    });
  }
  return provider;
}

export { checkResponses, loadResponses, type ResponseCheck, type Responses } from "./import.js";
export { costFor, priceFor } from "./pricing.js";
