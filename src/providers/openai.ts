/**
 * Any OpenAI-compatible server: OpenAI itself, vLLM, Ollama, llama.cpp's server, routers.
 * Chat (`/chat/completions`) or raw text (`/completions`) endpoints, n samples, logprobs.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import type {
  Completion,
  GenerateRequest,
  Generation,
  ModelSpec,
  Provider,
  ProviderEnv,
  ProviderFactory,
} from "../core/index.js";
import { BenchlineError, formatIssues, PARSE_ONCE } from "../core/index.js";
import {
  createJsonClient,
  generateAll,
  generatePerSample,
  type JsonClient,
  type JsonClientOptions,
  ProviderError,
} from "./http.js";
import { costFor, FREE, priceFor, priceSchema } from "./pricing.js";
import { bpeCounter, openAIEncoding, serverCounter } from "./tokens.js";

interface Preset {
  baseUrl: string;
  /** Environment variable that overrides the base URL. */
  baseUrlEnv?: string;
  /** Environment variable holding the key when the entry names none. */
  keyEnv?: string;
  /** Self-hosted: free, and no model name needed. */
  local: boolean;
}

const presets = {
  openai: {
    baseUrl: "https://api.openai.com/v1",
    baseUrlEnv: "OPENAI_BASE_URL",
    keyEnv: "OPENAI_API_KEY",
    local: false,
  },
  vllm: { baseUrl: "http://127.0.0.1:8000/v1", local: true },
  ollama: { baseUrl: "http://127.0.0.1:11434/v1", local: true },
  "llamacpp-server": { baseUrl: "http://127.0.0.1:8080/v1", local: true },
} as const satisfies Record<string, Preset>;

export type OpenAIPreset = keyof typeof presets;
export const openAIPresets = Object.keys(presets) as OpenAIPreset[];

export const optionsSchema = z.looseObject({
  mode: z.enum(["chat", "completion"]).optional(),
  base_url: z.url({ protocol: /^https?$/ }).optional(),
  api_key_env: z.string().min(1).optional(),
  api_keys: z.array(z.string().min(1)).min(1).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  extra_body: z.record(z.string(), z.unknown()).optional(),
  concurrency: z.number().int().positive().optional(),
  price: priceSchema.optional(),
  /** `ca`: a PEM file of extra trusted certificates (relative to the experiment file); `insecure`: accept any. */
  tls: z.strictObject({ ca: z.string().min(1).optional(), insecure: z.boolean().optional() }).optional(),
});
export type OpenAIOptions = z.infer<typeof optionsSchema>;

/** One generated token in `extras.logprobs`, whichever endpoint produced it; alternatives best first. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

/** A resolved model entry; holds the names of the key variables, never their values. */
export interface OpenAIConfig {
  preset: OpenAIPreset;
  baseUrl: string;
  model?: string;
  mode: "chat" | "completion";
  keyEnvs: string[];
  options: OpenAIOptions;
}

/**
 * The model and options of a spec string after its preset name.
 * @example
 * openAISpecFromString("vllm", "Qwen/Qwen2.5-7B@http://gpu:8000") // {model: "Qwen/Qwen2.5-7B", options: {base_url: "http://gpu:8000/v1"}}
 * openAISpecFromString("ollama", "llama3.1:8b") // {model: "llama3.1:8b", options: {}}
 * openAISpecFromString("llamacpp-server", "http://127.0.0.1:8080") // {options: {base_url: "http://127.0.0.1:8080/v1"}}
 */
export function openAISpecFromString(
  preset: OpenAIPreset,
  rest: string,
): { model?: string; options: { base_url?: string } } {
  const at = /^(.*?)@(https?:\/\/.+)$/.exec(rest);
  const model = /^https?:\/\//.test(rest) ? "" : (at?.[1] ?? rest);
  const url = /^https?:\/\//.test(rest) ? rest : at?.[2];
  if (!model && !presets[preset].local)
    throw new BenchlineError("usage", `${preset}: spec needs a model name`);
  const options = url === undefined ? {} : { base_url: normalizeBaseUrl(url, `${preset}:${rest}`) };
  return model ? { model, options } : { options };
}

/**
 * Validates a model entry for `spec.provider` (one of the presets) against the environment.
 * `keys: false` skips the check that the key variables are set (a queued run's coordinator keys
 * its response cache by the base URL; the workers hold the keys).
 */
export function resolveOpenAIConfig(
  spec: ModelSpec,
  env: ProviderEnv,
  { keys = true }: { keys?: boolean } = {},
): OpenAIConfig {
  const preset = (Object.hasOwn(presets, spec.provider) ? spec.provider : "openai") as OpenAIPreset;
  const defaults: Preset = presets[preset];
  const parsed = optionsSchema.safeParse(spec.options, PARSE_ONCE);
  if (!parsed.success) throw configError(spec, formatIssues(parsed.error.issues));
  const options = parsed.data;
  // `vllm:<model>@<base-url>` and `llamacpp-server:<base-url>`: the URL part is the base URL.
  let model = spec.model;
  if (model !== undefined && /(^|@)https?:\/\//.test(model)) {
    const fromSpec = openAISpecFromString(preset, model);
    if (options.base_url !== undefined && fromSpec.options.base_url !== undefined)
      throw configError(spec, "the base URL is given twice (in the spec string and in base_url)");
    model = fromSpec.model;
    if (fromSpec.options.base_url !== undefined) options.base_url = fromSpec.options.base_url;
  }
  const fromEnv = defaults.baseUrlEnv ? env.env[defaults.baseUrlEnv] : undefined;
  const baseUrl = normalizeBaseUrl(options.base_url ?? (fromEnv || defaults.baseUrl), spec.id);
  if (!model && !defaults.local) throw configError(spec, "a model name is required");
  const keyEnvs = options.api_keys ?? (options.api_key_env ? [options.api_key_env] : []);
  // EditBench users keep several keys in OPENAI_KEYS (comma-separated): used when no other is named.
  if (keyEnvs.length === 0 && preset === "openai" && !env.env.OPENAI_API_KEY && env.env.OPENAI_KEYS)
    keyEnvs.push("OPENAI_KEYS");
  if (keyEnvs.length === 0 && defaults.keyEnv && (env.env[defaults.keyEnv] || isOpenAI(baseUrl)))
    keyEnvs.push(defaults.keyEnv);
  for (const name of keys ? keyEnvs : []) {
    if (!env.env[name]) throw configError(spec, `environment variable ${name} (API key) is not set`);
  }
  const config: OpenAIConfig = { preset, baseUrl, mode: options.mode ?? "chat", keyEnvs, options };
  if (model) config.model = model;
  return config;
}

/**
 * The keys a model's key variables hold, in order. A variable may hold several keys,
 * comma-separated (OPENAI_KEYS); the provider uses all of them round-robin.
 */
export function apiKeys(config: OpenAIConfig, env: ProviderEnv): string[] {
  return config.keyEnvs.flatMap((name) =>
    (env.env[name] ?? "")
      .split(",")
      .map((k) => k.trim())
      .filter((k) => k !== ""),
  );
}

/**
 * `openai`, `vllm`, `ollama` and `llamacpp-server` models. Reads `options`: mode, base_url,
 * api_key_env, api_keys (env var names; each may hold comma-separated keys; all used round-robin), headers, extra_body, concurrency
 * (connections per server), price, tls ({ca, insecure}).
 */
export const createOpenAIProvider: ProviderFactory = (spec, env) => {
  const config = resolveOpenAIConfig(spec, env);
  const keys = apiKeys(config, env);
  const client = createJsonClient(clientOptions(spec, config.options, env));
  const url = new URL(`${config.baseUrl}/${config.mode === "chat" ? "chat/completions" : "completions"}`);
  const price = config.options.price ?? (presets[config.preset].local ? FREE : priceFor(config.model));
  let turn = 0;
  // One headers object per key, made once (the client checks and merges each only the first time).
  const headerSets: Record<string, string>[] =
    keys.length > 0
      ? keys.map((key) => ({ ...config.options.headers, authorization: `Bearer ${key}` }))
      : [{ ...config.options.headers }];

  const once = async (
    request: GenerateRequest,
    signal: AbortSignal,
    timeoutMs: number | undefined,
  ): Promise<Generation> => {
    const headers = headerSets[turn++ % headerSets.length]!;
    const json = await client.post(url, requestBody(config, request), {
      headers,
      signal,
      secrets: keys,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    });
    return parseResponse(json, config.mode, request.top_logprobs !== undefined);
  };

  const countTokens = tokenCounter(config, client, keys);
  return {
    id: spec.id,
    timesOut: true,
    ...(countTokens ? { countTokens } : {}),
    async generate(request, { signal, timeoutMs }) {
      // With a seed, sample i is asked alone with seed + i (see generatePerSample).
      const { seed } = request;
      const generation =
        seed === undefined
          ? await generateAll(request, (r) => once(r, signal, timeoutMs))
          : await generatePerSample({ ...request, seed }, (r) => once(r, signal, timeoutMs));
      const cost = generation.usage && price && costFor(config.model, generation.usage, price);
      return cost === undefined ? generation : { ...generation, cost_usd: cost };
    },
    async close() {
      await client.close();
    },
  };
};

// ---------------------------------------------------------------- internal helpers

/** The model's tokenizer: gpt-tokenizer for OpenAI models, the server's for vLLM and llama.cpp. */
function tokenCounter(config: OpenAIConfig, client: JsonClient, keys: string[]): Provider["countTokens"] {
  if (config.preset === "openai") {
    const encoding = openAIEncoding(config.model);
    return encoding ? bpeCounter(encoding, config.mode) : undefined;
  }
  if (config.preset !== "vllm" && config.preset !== "llamacpp-server") return undefined;
  return serverCounter({
    client,
    root: config.baseUrl.replace(/\/v1\/?$/, ""),
    kind: config.preset,
    mode: config.mode,
    model: config.model,
    headers: () => ({
      ...config.options.headers,
      ...(keys[0] ? { authorization: `Bearer ${keys[0]}` } : {}),
    }),
    secrets: keys,
  });
}

function clientOptions(spec: ModelSpec, options: OpenAIOptions, env: ProviderEnv): JsonClientOptions {
  const { baseDir } = env;
  const out: JsonClientOptions = {};
  // As many connections as requests in flight: an answer's connection carries the slot's next
  // request (undici frees it a moment after the answer; uncapped, it opened a new one instead:
  // 383 connections for 256 slots, each a connect on the hot path, issue 15).
  const connections = options.concurrency ?? env.inFlight;
  if (connections !== undefined) out.connections = connections;
  if (options.tls?.insecure) out.insecure = true;
  if (options.tls?.ca !== undefined) {
    const path = resolve(baseDir, options.tls.ca);
    try {
      out.ca = readFileSync(path, "utf8");
    } catch (error) {
      throw configError(
        spec,
        `tls.ca: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
    if (!out.ca.includes("-----BEGIN CERTIFICATE-----"))
      throw configError(spec, `tls.ca: ${path} holds no PEM certificate`);
  }
  return out;
}

export function requestBody(config: OpenAIConfig, request: GenerateRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { ...config.options.extra_body };
  if (config.model !== undefined) body.model = config.model;
  if (config.mode === "chat") body.messages = request.messages;
  else body.prompt = request.prompt;
  if (request.n !== 1) body.n = request.n;
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.top_p !== undefined) body.top_p = request.top_p;
  if (request.max_tokens !== undefined) {
    // OpenAI's reasoning models reject `max_tokens`.
    const reasoning = config.preset === "openai" && /^(o\d|gpt-5)/.test(config.model ?? "");
    body[reasoning ? "max_completion_tokens" : "max_tokens"] = request.max_tokens;
  }
  if (request.stop?.length) body.stop = request.stop;
  if (request.seed !== undefined) body.seed = request.seed;
  if (request.top_logprobs !== undefined) {
    if (config.mode === "chat") {
      body.logprobs = true;
      body.top_logprobs = request.top_logprobs;
    } else body.logprobs = request.top_logprobs;
  }
  return body;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;

export function parseResponse(json: unknown, mode: "chat" | "completion", withLogprobs: boolean): Generation {
  const choices = isObject(json) && Array.isArray(json.choices) ? json.choices.filter(isObject) : [];
  if (choices.length === 0) throw new ProviderError("bad_response", "response has no choices");
  choices.sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0));
  const completions = choices.map((choice): Completion => {
    const message = isObject(choice.message) ? choice.message : {};
    const text = mode === "chat" ? message.content : choice.text;
    if (text !== null && text !== undefined && typeof text !== "string")
      throw new ProviderError("bad_response", "choice text is not a string");
    const completion: Completion = { text: text ?? "" };
    if (typeof choice.finish_reason === "string") completion.finish_reason = choice.finish_reason;
    const extras: Json = {};
    if (withLogprobs) extras.logprobs = normaliseLogprobs(choice.logprobs);
    const reasoning = message.reasoning_content ?? message.reasoning;
    if (typeof reasoning === "string") extras.reasoning = reasoning;
    if (Object.keys(extras).length > 0) completion.extras = extras;
    return completion;
  });
  const usage = isObject(json) && isObject(json.usage) ? json.usage : {};
  const { prompt_tokens, completion_tokens } = usage;
  if (typeof prompt_tokens === "number" && typeof completion_tokens === "number")
    return { completions, usage: { prompt_tokens, completion_tokens } };
  return { completions };
}

/** Chat (`{content: [{token, logprob, top_logprobs}]}`) and legacy completion logprobs, one shape. */
function normaliseLogprobs(raw: unknown): TokenLogprob[] {
  if (!isObject(raw)) return [];
  if (Array.isArray(raw.content)) {
    return raw.content.filter(isObject).map((t) => ({
      token: String(t.token),
      logprob: Number(t.logprob),
      top_logprobs: (Array.isArray(t.top_logprobs) ? t.top_logprobs.filter(isObject) : [])
        .map((alt) => ({ token: String(alt.token), logprob: Number(alt.logprob) }))
        .sort((a, b) => b.logprob - a.logprob),
    }));
  }
  const tokens = Array.isArray(raw.tokens) ? raw.tokens : [];
  const logprobs = Array.isArray(raw.token_logprobs) ? raw.token_logprobs : [];
  const tops = Array.isArray(raw.top_logprobs) ? raw.top_logprobs : [];
  return tokens.map((token, i) => {
    const top = tops[i];
    return {
      token: String(token),
      logprob: Number(logprobs[i]),
      top_logprobs: (isObject(top) ? Object.entries(top) : [])
        .map(([alt, logprob]) => ({ token: alt, logprob: Number(logprob) }))
        .sort((a, b) => b.logprob - a.logprob),
    };
  });
}

function normalizeBaseUrl(raw: string, label: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BenchlineError("config", `${label}: base URL "${raw}" is not a URL`);
  }
  // A bare host means the server's standard `/v1` root.
  const path = url.pathname.replace(/\/+$/, "");
  return `${url.origin}${path || "/v1"}`;
}

function isOpenAI(baseUrl: string): boolean {
  return new URL(baseUrl).hostname === "api.openai.com";
}

function configError(spec: ModelSpec, message: string): BenchlineError {
  return new BenchlineError("config", `model ${spec.id}: ${message}`);
}
