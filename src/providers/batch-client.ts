/**
 * A client for the OpenAI-compatible `/files` and `/batches` endpoints (undici; proxies from the
 * environment, the model's `tls` and `headers`). Keys only ever go into the `authorization`
 * header and are removed from every error message. A batch create is never retried.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Dispatcher, EnvHttpProxyAgent } from "undici";
import { BenchlineError, type ModelSpec, type ProviderEnv, readline, tls } from "../core/index.js";
import type { BatchEndpoint, BatchSettings, BodyConfig } from "./batch.js";
import { abortReason, ProviderError } from "./http.js";
import { apiKeys, type OpenAIConfig, resolveOpenAIConfig } from "./openai.js";
import { costFor, FREE, type Price, priceFor } from "./pricing.js";

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
  /** The lines of a file (output or error file), streamed. */
  lines(fileId: string, signal: AbortSignal): AsyncIterable<string>;
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
  // A batch is uploaded, created, polled and downloaded with one key (its files belong to that
  // key's organisation): the first of the variables' keys (OPENAI_KEYS may hold several,
  // comma-separated). Every key is removed from error messages.
  const keys = apiKeys(config, env);
  const local = spec.provider !== "openai";
  const price = config.options.price ?? (local ? FREE : priceFor(config.model));
  const headers: Record<string, string> = { ...config.options.headers, "user-agent": "benchline" };
  if (keys[0]) headers.authorization = `Bearer ${keys[0]}`;
  const base = config.baseUrl;
  const connect = tlsOptions(spec, config, env);
  const requestTls = tlsOptions(spec, config, env);
  // undici's index (request, FormData, the proxy agent) loads on the first call, not when a run
  // starts (issue 15: start-up).
  let client: Promise<{ undici: typeof import("undici"); dispatcher: EnvHttpProxyAgent }> | undefined;
  const undici = () =>
    (client ??= import("undici").then((undici) => ({
      undici,
      dispatcher: new undici.EnvHttpProxyAgent({ connect, requestTls }),
    })));

  /** `attempts`: 1 for a request that must not be sent twice (creating a batch pays for it). */
  const call = async (
    method: "GET" | "POST",
    path: string,
    signal: AbortSignal,
    body?: unknown,
    attempts = 5,
    onOk?: (stream: BodyReadable) => void,
  ): Promise<string> => {
    const url = `${base}${path}`;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortReason(signal);
      try {
        const { undici: lib, dispatcher } = await undici();
        const form = body instanceof lib.FormData;
        const response = await lib.request(url, {
          method,
          headers: form || body === undefined ? headers : { ...headers, "content-type": "application/json" },
          ...(body === undefined ? {} : { body: form ? body : JSON.stringify(body) }),
          signal,
          dispatcher,
        });
        const ok = response.statusCode >= 200 && response.statusCode < 300;
        if (ok && onOk) {
          onOk(response.body);
          return "";
        }
        const text = await response.body.text();
        if (ok) return text;
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
      const form = new (await undici()).undici.FormData();
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
    async *lines(fileId, signal) {
      let stream: BodyReadable | undefined;
      await call("GET", `/files/${encodeURIComponent(fileId)}/content`, signal, undefined, 5, (s) => {
        stream = s;
      });
      // Line by line: an output file can be far larger than its input.
      yield* readline().createInterface({ input: stream!, crlfDelay: Number.POSITIVE_INFINITY });
    },
    close: async () => {
      if (client) await (await client).dispatcher.close();
    },
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

// ---------------------------------------------------------------- internal helpers

type BodyReadable = Dispatcher.ResponseData["body"];

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
      out.ca = [...tls().rootCertificates, readFileSync(path, "utf8")];
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
