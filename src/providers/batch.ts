/**
 * The OpenAI-compatible Batch API (OpenAI, Together, Groq, Fireworks, vLLM's server and others, by
 * `base_url`): the `batch` model option, request lines (`custom_id` + body), and output and error
 * lines back to completions or provider errors. `batch-client.ts` talks to `/files` and
 * `/batches`; the pipeline (`pipeline/phases/batch.ts`) decides what to submit and records it.
 */
import { z } from "zod";
import {
  BenchlineError,
  type GenerateRequest,
  type Generation,
  type ModelSpec,
  type RowError,
} from "../core/index.js";
import { type OpenAIConfig, parseResponse, requestBody } from "./openai.js";

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

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;
