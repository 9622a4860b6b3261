import { join, resolve } from "node:path";
import { z } from "zod";
import {
  BenchlineError,
  type ModelSpec,
  type Provider,
  type ProviderEnv,
  type Usage,
} from "../core/index.js";
import { batchOptionSchema, checkBatchOptions } from "./batch.js";
import { withCache } from "./cache.js";
import { commandModel, createCommandProvider } from "./command.js";
import { createEchoProvider, echoModel } from "./echo.js";
import { FileHashes } from "./file-hash.js";
import { createGoldProvider, goldModel } from "./gold.js";
import { createGuidedProvider, guidedModel, type SubProviderFactory } from "./guided.js";
import { createImportProvider, importModel } from "./import.js";
import { createLlamaCppProvider, llamaCppModel } from "./llamacpp.js";
import { createOpenAIProvider, optionsSchema as openAIClientOptions, resolveOpenAIConfig } from "./openai.js";
import {
  checkModelSpec,
  contextLengthOption,
  fieldOf,
  type ModelDeclaration,
  schedulingOptions,
  takesOption,
} from "./options.js";
import { costFor, FREE, type Price, priceFor } from "./pricing.js";
import { type SchedulerOptions, schedulerOptionsFrom, withScheduler } from "./scheduler.js";

/** The OpenAI-compatible presets: their client options, the scheduler's, and `context_length`. */
const openAIOptions = z.strictObject({
  ...schedulingOptions,
  ...contextLengthOption,
  ...openAIClientOptions.shape,
  adaptive: z.boolean().optional(),
  batch: batchOptionSchema.optional(),
});
const hosted: ModelDeclaration = { options: openAIOptions, model: "required", sampling: true };
const selfHosted: ModelDeclaration = { ...hosted, model: "optional" };

interface ProviderEntry {
  create: (spec: ModelSpec, env: ProviderEnv, options: CreateProviderOptions) => Provider;
  /** What a model entry may set; anything else is a config error (see `checkModel`). */
  declares: ModelDeclaration;
  /**
   * Wrapped in the scheduler (concurrency, rate limits, retries, timeouts): `"run"` — unless the
   * model sets `concurrency`, as many requests as its trials can have in flight; a number — that
   * many by default (an embedded model's memory grows with it); `false` — not scheduled.
   */
  scheduled: "run" | number | false;
  /** Answers go through the on-disk response cache. */
  cached: boolean;
  /** The model is a file whose content (not its path) identifies it. */
  file: boolean;
}

const openAIEntry = (declares: ModelDeclaration): ProviderEntry => ({
  create: createOpenAIProvider,
  declares,
  scheduled: "run",
  cached: true,
  file: false,
});

/**
 * Providers by registry name (the part of a spec string before the first colon), with the
 * options each honours and what the pipeline wraps around them.
 */
export const providers = {
  gold: { create: createGoldProvider, declares: goldModel, scheduled: false, cached: false, file: false },
  echo: { create: createEchoProvider, declares: echoModel, scheduled: false, cached: false, file: false },
  import: {
    create: createImportProvider,
    declares: importModel,
    scheduled: false,
    cached: false,
    file: true,
  },
  openai: openAIEntry(hosted),
  vllm: openAIEntry(selfHosted),
  ollama: openAIEntry(selfHosted),
  "llamacpp-server": openAIEntry(selfHosted),
  command: {
    create: createCommandProvider,
    declares: commandModel,
    scheduled: "run",
    cached: true,
    file: true,
  },
  llamacpp: {
    create: createLlamaCppProvider,
    declares: llamaCppModel,
    scheduled: 1,
    cached: true,
    file: true,
  },
  // Base and oracle get their own scheduler; guided rows are not cached (their options are not in the key).
  guided: {
    create: (spec: ModelSpec, env: ProviderEnv, options: CreateProviderOptions) =>
      createGuidedProvider(spec, env, options.createSub ?? ((sub, e) => createProvider(sub, e))),
    declares: guidedModel,
    scheduled: false,
    cached: false,
    file: false,
  },
} satisfies Record<string, ProviderEntry>;

export type ProviderName = keyof typeof providers;

export function isProviderName(name: string): name is ProviderName {
  return Object.hasOwn(providers, name);
}

export interface CreateProviderOptions {
  /** Response cache directory; undefined turns the cache off. */
  cacheDir?: string;
  /** Requests in flight for a scheduled provider whose model sets no `concurrency`. */
  defaultConcurrency?: number;
  /**
   * Changes the scheduler settings read from the model (a queue worker makes one attempt per job:
   * the run holds the model's retries and rate limits for all workers).
   */
  adjustScheduling?: (options: SchedulerOptions) => SchedulerOptions;
  /** How a guided model creates its base and oracle (default: `createProvider(sub, env)`). */
  createSub?: SubProviderFactory;
}

/**
 * Checks that a model entry sets only what its provider honours, with valid values; errors name
 * `where` and the field (`exp.yaml: models[1].rpm: not supported by provider "llamacpp" ...`).
 */
export function checkModel(spec: ModelSpec, where = `model "${spec.id}"`): void {
  if (!isProviderName(spec.provider)) {
    throw new BenchlineError(
      "not_found",
      `${where}: unknown provider "${spec.provider}" (available: ${Object.keys(providers).join(", ")})`,
    );
  }
  checkModelSpec(spec, providers[spec.provider].declares, where);
  checkBatchOptions(spec, (field) => fieldOf(where, field));
}

/** Whether the model's provider honours `option` (so a CLI override such as `--timeout` applies). */
export function modelTakes(spec: ModelSpec, option: string): boolean {
  return isProviderName(spec.provider) && takesOption(providers[spec.provider].declares, option);
}

/** The file a model is, when its content identifies it (command, llamacpp, import). */
export function modelFile(spec: ModelSpec, baseDir: string): string | undefined {
  if (!isProviderName(spec.provider) || !providers[spec.provider].file || spec.model === undefined)
    return undefined;
  return spec.path ?? resolve(baseDir, spec.model);
}

/** Creates the provider for a resolved model spec, wrapped in its scheduler and cache. */
export function createProvider(
  spec: ModelSpec,
  env: ProviderEnv,
  options: CreateProviderOptions = {},
): Provider {
  checkModel(spec);
  // Batch models are run by the pipeline's batch phase; a live provider would ignore the option.
  if (spec.options.batch)
    throw new BenchlineError(
      "config",
      `model "${spec.id}": batch: this model is called live here (e.g. as guided decoding's base or oracle); remove batch`,
    );
  const entry: ProviderEntry = providers[spec.provider as ProviderName];
  let scheduling: SchedulerOptions | undefined;
  if (entry.scheduled !== false) {
    scheduling = schedulerOptionsFrom(spec.options, `model "${spec.id}"`);
    const fallback = entry.scheduled === "run" ? options.defaultConcurrency : entry.scheduled;
    if (scheduling.concurrency === undefined && fallback !== undefined) scheduling.concurrency = fallback;
    scheduling = options.adjustScheduling?.(scheduling) ?? scheduling;
  }
  // The scheduler's slots are the requests in flight: an HTTP provider keeps that many connections.
  const inFlight = scheduling?.concurrency;
  let provider: Provider = entry.create(spec, inFlight !== undefined ? { ...env, inFlight } : env, options);
  const countTokens = provider.countTokens?.bind(provider);
  if (scheduling) provider = withScheduler(provider, scheduling);
  if (options.cacheDir) provider = withModelCache(provider, spec, env, options.cacheDir);
  // The wrappers keep the model's tokenizer reachable (prompts are fitted by it).
  if (countTokens && !provider.countTokens) provider.countTokens = countTokens;
  return provider;
}

/**
 * `provider` behind the model's on-disk response cache in `cacheDir` (as `createProvider` puts
 * it), or `provider` itself when the model's answers are not cached (gold, echo, import, guided).
 * A queued run's coordinator puts its job-submitting provider here, so hits never reach a worker.
 */
export function withModelCache(
  provider: Provider,
  spec: ModelSpec,
  env: ProviderEnv,
  cacheDir: string,
): Provider {
  checkModel(spec);
  const entry: ProviderEntry = providers[spec.provider as ProviderName];
  if (!entry.cached) return provider;
  const remote = entry.create === createOpenAIProvider;
  const baseUrl = remote ? resolveOpenAIConfig(spec, env, { keys: false }).baseUrl : undefined;
  // A model file or program is identified by its content, not by where it lies.
  const file = modelFile(spec, env.baseDir);
  let sha256 = spec.sha256;
  if (file && sha256 === undefined) {
    const hashes = new FileHashes(join(cacheDir, HASH_CACHE));
    sha256 = hashes.of(file);
    hashes.save();
  }
  const price = priceOf(spec);
  return withCache(provider, {
    dir: cacheDir,
    key: {
      provider: spec.provider,
      model: sha256 ? `sha256:${sha256}` : spec.model,
      base_url: baseUrl,
      params: {
        mode: spec.options.mode ?? null,
        path: null, // a retired option, kept so that cache entries written before still match
        args: spec.options.args ?? null,
        extra_body: spec.options.extra_body ?? null,
        context_size: spec.options.context_size ?? null,
      },
    },
    // Cached answers are priced at today's price from their stored usage.
    ...(price ? { cost: (usage: Usage) => costFor(spec.model, usage, price) } : {}),
  });
}

/** Where content hashes of model files are remembered, inside a cache directory. */
export const HASH_CACHE = "file-hashes.json";

/** What a model's tokens cost now: its `price`, else the list price (hosted) or nothing (self-hosted). */
function priceOf(spec: ModelSpec): Price | undefined {
  const own = spec.options.price as Price | undefined;
  if (own) return own;
  if (spec.provider === "openai") return priceFor(spec.model);
  return spec.provider === "llamacpp" ? undefined : FREE;
}

export {
  type BatchSettings,
  batchLine,
  batchSettings,
  customId,
  exportBodyConfig,
  noBatchApi,
  parseBatchResult,
  parseCustomId,
  sampleBody,
} from "./batch.js";
export { type BatchApi, type BatchInfo, createBatchApi, isFinal, sleep } from "./batch-client.js";
export { FileHashes } from "./file-hash.js";
export { type GuidedPoint, guidedHubModels, withHubFile } from "./guided.js";
export { abortReason, ProviderError, raceAbort } from "./http.js";
export {
  checkResponses,
  findPromptMismatch,
  loadResponses,
  type ResponseCheck,
  type Responses,
} from "./import.js";
export { fieldOf } from "./options.js";
export { costFor, priceFor } from "./pricing.js";
export {
  estimateTokens,
  type SchedulerOptions,
  type SharedRate,
  schedulerOptionsFrom,
  withScheduler,
} from "./scheduler.js";
