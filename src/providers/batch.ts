/**
 * The OpenAI-compatible Batch API (OpenAI, Together, Groq, Fireworks, vLLM's server and others, by
 * `base_url`): the `batch` model option, request lines (`custom_id` + body), output and error lines
 * back to completions or provider errors, and a small client for `/files` and `/batches`. The
 * pipeline (`pipeline/phases/batch.ts`) decides what to submit and records it in the trial directory.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import tls from "node:tls";
import { EnvHttpProxyAgent, FormData, request as httpRequest } from "undici";
import { z } from "zod";
import {
  BenchlineError,
  type GenerateRequest,
  type Generation,
  type ModelSpec,
  type ProviderEnv,
  type RowError,
} from "../core/index.js";
import { abortReason, ProviderError } from "./http.js";
import { type OpenAIConfig, parseResponse, requestBody, resolveOpenAIConfig } from "./openai.js";
import { costFor, FREE, type Price, priceFor } from "./pricing.js";

/** `batch: true`, or settings: price discount, poll interval (s), and the API's per-file limits. */
export const batchOptionSchema = z.union([
  z.boolean(),
  z.strictObject({
    discount: z.number().min(0).max(1).optional(),
    poll_interval: z.number().positive().optional(),
    max_requests: z.number().int().positive().optional(),
    max_bytes: z.number().int().positive().optional(),
    completion_window: z.string().min(1).optional(),
  }),
]);

export interface BatchSettings {
  /** Fraction taken off the model's price (OpenAI's batch tier: 0.5). */
  discount: number;
  pollMs: number;
  maxRequests: number;
  maxBytes: number;
  completionWindow: string;
}

/** OpenAI's limits: 50,000 requests and 200 MB per input file. */
export const BATCH_DEFAULTS: BatchSettings = {
  discount: 0.5,
  pollMs: 30_000,
  maxRequests: 50_000,
  maxBytes: 200 * 1024 * 1024,
  completionWindow: "24h",
};

/** The batch settings of a model entry, or undefined when it does not use the Batch API. */
export function batchSettings(spec: ModelSpec): BatchSettings | undefined {
  const raw = spec.options.batch as z.infer<typeof batchOptionSchema> | undefined;
  if (raw === undefined || raw === false) return undefined;
  if (raw === true) return { ...BATCH_DEFAULTS };
  return {
    discount: raw.discount ?? BATCH_DEFAULTS.discount,
    pollMs: raw.poll_interval !== undefined ? raw.poll_interval * 1000 : BATCH_DEFAULTS.pollMs,
    maxRequests: raw.max_requests ?? BATCH_DEFAULTS.maxRequests,
    maxBytes: raw.max_bytes ?? BATCH_DEFAULTS.maxBytes,
    completionWindow: raw.completion_window ?? BATCH_DEFAULTS.completionWindow,
  };
}

/** Where a request line's body goes (`url` of the line and `endpoint` of the batch). */
export type BatchEndpoint = "/v1/chat/completions" | "/v1/completions";

/**
 * `custom_id` of a request: `<prefix><id>#<sample>` (the prefix names the trial). The sample is
 * the digits after the last `#`, so any id survives the round trip.
 */
export const customId = (id: string, sample: number, prefix = ""): string => `${prefix}${id}#${sample}`;

/** `{id, sample}` of a custom_id (without its prefix); no `#<digits>` suffix: the whole is the id. */
export function parseCustomId(value: string): { id: string; sample?: number } {
  const match = /^(.*)#(\d+)$/s.exec(value);
  return match ? { id: match[1]!, sample: Number(match[2]) } : { id: value };
}

/** One request line of a batch input file (without the newline). */
export function batchLine(custom_id: string, url: BatchEndpoint, body: Record<string, unknown>): string {
  return JSON.stringify({ custom_id, method: "POST", url, body });
}

/** The request body of one sample, as the live provider would send it (sample i seeded seed + i). */
export function sampleBody(config: BodyConfig, request: GenerateRequest): Record<string, unknown> {
  const sample = request.sampleIndices[0] ?? 0;
  const one = { ...request, n: 1, sampleIndices: [sample] };
  if (request.seed !== undefined) one.seed = request.seed + sample;
  return requestBody(config as OpenAIConfig, one);
}

/** What a request body needs: the model name, chat or raw completion, extra_body. */
export type BodyConfig = Pick<OpenAIConfig, "preset" | "model" | "mode" | "options">;

/** The body settings of any model entry, for `benchline export --format openai-batch` (no key needed). */
export function exportBodyConfig(spec: ModelSpec): BodyConfig {
  const mode = spec.options.mode === "completion" ? "completion" : "chat";
  const extra = spec.options.extra_body as Record<string, unknown> | undefined;
  return {
    preset: spec.provider === "openai" ? "openai" : "vllm",
    // `vllm:<model>@<base-url>`: the name is the part before the URL.
    model: (spec.model ?? spec.id).replace(/@https?:\/\/.*$/s, "") || spec.id,
    mode,
    options: extra ? { extra_body: extra } : {},
  };
}

export type BatchResult =
  | { custom_id: string; generation: Generation }
  | { custom_id: string; error: RowError; retry: boolean };

/**
 * One line of a batch output or error file: `{custom_id, response: {status_code, body}, error}`.
 * A line the API did not run (expired, cancelled) has `retry: true`: the request is missing, not failed.
 */
export function parseBatchResult(value: unknown, mode: "chat" | "completion"): BatchResult | undefined {
  if (!isObject(value) || typeof value.custom_id !== "string") return undefined;
  const { custom_id } = value;
  const response = isObject(value.response) ? value.response : undefined;
  const status = typeof response?.status_code === "number" ? response.status_code : undefined;
  if (isObject(value.error)) {
    const code = typeof value.error.code === "string" ? value.error.code : "batch_error";
    const message =
      typeof value.error.message === "string" ? value.error.message : JSON.stringify(value.error);
    return { custom_id, error: { code, message }, retry: /expired|cancel/.test(code) };
  }
  if (!response || (status !== undefined && (status < 200 || status >= 300))) {
    const body = isObject(response?.body) ? response.body : {};
    const detail = isObject(body.error) ? body.error : body;
    const message = typeof detail.message === "string" ? detail.message : JSON.stringify(body);
    return { custom_id, error: { code: status ? `http_${status}` : "batch_error", message }, retry: false };
  }
  try {
    return { custom_id, generation: parseResponse(response.body, mode, false) };
  } catch (error) {
    return { custom_id, error: { code: "bad_response", message: (error as Error).message }, retry: false };
  }
}

/** The first completion text of a batch output line, for `benchline import`; undefined for failed lines. */
export function batchLineCompletions(value: unknown): string[] | undefined {
  const result = parseBatchResult(value, "chat");
  if (result && "generation" in result) {
    // A raw-completion body has `text`, which parseResponse("chat") reads as empty: read it directly.
    const body = (value as { response: { body: { choices?: unknown[] } } }).response.body;
    const choices = (body.choices ?? []).filter(isObject);
    return result.generation.completions.map((c, i) =>
      c.text === "" && typeof choices[i]?.text === "string" ? (choices[i].text as string) : c.text,
    );
  }
  return undefined;
}

export interface BatchInfo {
  id: string;
  status: string;
  input_file_id?: string;
  output_file_id?: string | null;
  error_file_id?: string | null;
  request_counts?: { total: number; completed: number; failed: number };
  errors?: { data?: { code?: string; message?: string; line?: number | null }[] } | null;
  metadata?: Record<string, string> | null;
}

/** A batch is over: its output (if any) can be read and nothing more will change. */
export const isFinal = (status: string): boolean =>
  status === "completed" || status === "failed" || status === "expired" || status === "cancelled";

export interface BatchApi {
  readonly endpoint: BatchEndpoint;
  readonly mode: "chat" | "completion";
  readonly baseUrl: string;
  readonly body: BodyConfig;
  readonly price: Price | undefined;
  upload(filename: string, content: string, signal: AbortSignal): Promise<string>;
  create(inputFileId: string, metadata: Record<string, string>, signal: AbortSignal): Promise<BatchInfo>;
  get(batchId: string, signal: AbortSignal): Promise<BatchInfo>;
  /** Recent batches (newest first), for finding one whose creation was not recorded. */
  list(signal: AbortSignal): Promise<BatchInfo[]>;
  content(fileId: string, signal: AbortSignal): Promise<string>;
  close(): Promise<void>;
  /** Cost of one answer at the batch price. */
  cost(usage: { prompt_tokens: number; completion_tokens: number }): number | undefined;
}

/**
 * A Batch API client for an OpenAI-compatible model entry. Keys come from the environment
 * variables the entry names and only ever go into the `authorization` header; every error message
 * has them removed. Transient failures (429, 5xx, dropped connections) are retried with backoff.
 */
export function createBatchApi(spec: ModelSpec, env: ProviderEnv, settings: BatchSettings): BatchApi {
  const config = resolveOpenAIConfig(spec, env);
  const keys = config.keyEnvs.map((name) => env.env[name] as string);
  const local = spec.provider !== "openai";
  const price = config.options.price ?? (local ? FREE : priceFor(config.model));
  const headers: Record<string, string> = { ...config.options.headers, "user-agent": "benchline" };
  if (keys[0]) headers.authorization = `Bearer ${keys[0]}`;
  const base = config.baseUrl;
  const dispatcher = new EnvHttpProxyAgent({
    connect: tlsOptions(spec, config, env),
    requestTls: tlsOptions(spec, config, env),
  });

  /** `attempts`: 1 for a request that must not be sent twice (creating a batch pays for it). */
  const call = async (
    method: "GET" | "POST",
    path: string,
    signal: AbortSignal,
    body?: unknown,
    attempts = 5,
  ) => {
    const url = `${base}${path}`;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortReason(signal);
      try {
        const form = body instanceof FormData;
        const response = await httpRequest(url, {
          method,
          headers: form || body === undefined ? headers : { ...headers, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: form ? body : JSON.stringify(body) }),
          signal,
          dispatcher,
        });
        const text = await response.body.text();
        if (response.statusCode >= 200 && response.statusCode < 300) return text;
        const error = new ProviderError(
          response.statusCode === 401 || response.statusCode === 403 ? "auth" : `http_${response.statusCode}`,
          `HTTP ${response.statusCode} from ${method} ${url}: ${redact(text, keys).slice(0, 300)}`,
          { status: response.statusCode },
        );
        const transient = response.statusCode === 429 || response.statusCode >= 500;
        if (!transient || attempt >= attempts) throw error;
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        if (error instanceof ProviderError) {
          if (!(error.status === 429 || (error.status ?? 0) >= 500) || attempt >= attempts) throw error;
        } else {
          const code = causeCode(error);
          // Nothing listens, no such host, or TLS refused: sending again cannot help.
          if (
            code &&
            /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ERR_TLS|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED)/.test(code)
          )
            throw new ProviderError(
              "connection",
              `${method} ${url}: ${code} — is the server running? check base_url`,
            );
          if (attempt >= attempts)
            throw new ProviderError("connection", `${method} ${url}: ${redact(String(error), keys)}`);
        }
      }
      await sleep(Math.min(8000, 250 * 2 ** attempt), signal);
    }
  };
  const json = async (
    method: "GET" | "POST",
    path: string,
    signal: AbortSignal,
    body?: unknown,
    attempts = 5,
  ) => {
    const text = await call(method, path, signal, body, attempts);
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ProviderError("bad_response", `${base}${path}: response is not JSON`);
    }
  };
  const info = (value: Record<string, unknown>, what: string): BatchInfo => {
    if (typeof value.id !== "string" || typeof value.status !== "string")
      throw new ProviderError("bad_response", `${base}/batches: ${what} has no id or status`);
    return value as unknown as BatchInfo;
  };

  return {
    endpoint: config.mode === "chat" ? "/v1/chat/completions" : "/v1/completions",
    mode: config.mode,
    baseUrl: base,
    body: config,
    price,
    async upload(filename, content, signal) {
      const form = new FormData();
      form.set("purpose", "batch");
      form.set("file", new Blob([content], { type: "application/jsonl" }), filename);
      const file = await json("POST", "/files", signal, form);
      if (typeof file.id !== "string")
        throw new ProviderError("bad_response", `${base}/files: upload answered no file id`);
      return file.id;
    },
    async create(inputFileId, metadata, signal) {
      const body = {
        input_file_id: inputFileId,
        endpoint: config.mode === "chat" ? "/v1/chat/completions" : "/v1/completions",
        completion_window: settings.completionWindow,
        metadata,
      };
      // Never retried here: a create whose answer was lost may have made the batch (see list).
      return info(await json("POST", "/batches", signal, body, 1), "the created batch");
    },
    async get(batchId, signal) {
      return info(await json("GET", `/batches/${encodeURIComponent(batchId)}`, signal), batchId);
    },
    async list(signal) {
      const page = await json("GET", "/batches?limit=100", signal);
      return Array.isArray(page.data) ? (page.data.filter(isObject) as unknown as BatchInfo[]) : [];
    },
    content: (fileId, signal) => call("GET", `/files/${encodeURIComponent(fileId)}/content`, signal),
    close: () => dispatcher.close(),
    cost(usage) {
      if (!price) return undefined;
      const full = costFor(config.model, usage, price);
      return full === undefined ? undefined : full * (1 - settings.discount);
    },
  };
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A config error for `--batch` on a model whose provider has no Batch API. */
export function noBatchApi(spec: ModelSpec): BenchlineError {
  return new BenchlineError(
    "usage",
    `--batch: model "${spec.id}" (provider ${spec.provider}) has no batch API; only OpenAI-compatible models (openai, vllm, ollama, llamacpp-server) do`,
  );
}

/**
 * Options of a model entry that only shape live requests (rate limits, per-request timeouts,
 * connections, several keys used in turn): with `batch` they would be ignored, so they are refused.
 */
export function checkBatchOptions(spec: ModelSpec, field: (name: string) => string): void {
  if (batchSettings(spec) === undefined) return;
  for (const name of ["rpm", "tpm", "timeout", "max_attempts", "adaptive", "concurrency"]) {
    if (spec.options[name] !== undefined)
      throw new BenchlineError(
        "config",
        `${field(name)}: not used with batch (the Batch API has no per-request limits); remove one of the two`,
      );
  }
  const keys = spec.options.api_keys;
  if (Array.isArray(keys) && keys.length > 1)
    throw new BenchlineError(
      "config",
      `${field("api_keys")}: batch uses one key (a batch can only be read with the key that made it); give one`,
    );
}

// ---------------------------------------------------------------- internal helpers

const tlsCache = new WeakMap<ModelSpec, Record<string, unknown>>();

function tlsOptions(spec: ModelSpec, config: OpenAIConfig, env: ProviderEnv): Record<string, unknown> {
  const cached = tlsCache.get(spec);
  if (cached) return cached;
  const out: Record<string, unknown> = {};
  const { tls: settings } = config.options;
  if (settings?.insecure) out.rejectUnauthorized = false;
  if (settings?.ca !== undefined) {
    const path = resolve(env.baseDir, settings.ca);
    try {
      out.ca = [...tls.rootCertificates, readFileSync(path, "utf8")];
    } catch (error) {
      throw new BenchlineError(
        "config",
        `model ${spec.id}: tls.ca: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      );
    }
  }
  tlsCache.set(spec, out);
  return out;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;

/** The first string `code` along an error's `cause` chain. */
function causeCode(error: unknown): string | undefined {
  for (
    let e = error as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 5;
    e = e.cause as typeof e, i++
  )
    if (typeof e.code === "string" && e.code !== "UND_ERR_SOCKET") return e.code;
  return undefined;
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.replaceAll(secret, "***");
  return out;
}
