/**
 * Plumbing shared by remote providers: coded per-request errors, abort fan-out, Retry-After
 * parsing, a keep-alive JSON-over-HTTP client (undici), and filling answers one sample at a time
 * when a backend returns fewer completions than asked for.
 */
import { createRequire } from "node:module";
import type { Agent, Dispatcher, EnvHttpProxyAgent } from "undici";
import type { Completion, GenerateRequest, Generation, Usage } from "../core/index.js";
import { tls, zlib } from "../core/index.js";

/**
 * undici's Agent from its own module (undici is pinned to an exact version): undici's index also
 * loads fetch, WebSocket, caches and mocks, which cost twice the start-up CPU of the client. With
 * a proxy set, the whole of undici is loaded (its proxy agent tunnels through the `connect` API
 * that the index adds to every dispatcher). The build bundles the Agent's modules into the CLI
 * instead of reading them from node_modules (scripts/build.ts, "undici-agent-bundled").
 */
const requireUndici = createRequire(import.meta.url);
export const undiciAgent = (): typeof Agent => requireUndici("undici/lib/dispatcher/agent.js");
export const undiciEnvProxyAgent = (): typeof EnvHttpProxyAgent =>
  (requireUndici("undici") as { EnvHttpProxyAgent: typeof EnvHttpProxyAgent }).EnvHttpProxyAgent;

/**
 * A failed request. `code` is what error rows record: `http_<status>`, `auth`, `timeout`,
 * `connection`, `bad_response`, `aborted`, `command_failed`, ... Messages never contain secrets.
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  readonly code: string;
  readonly status?: number;
  /** How long the server asked us to wait before retrying (from `Retry-After`). */
  readonly retryAfterMs?: number;
  /** Set by the scheduler: how many attempts were made before giving up. */
  attempts?: number;
  /**
   * Retrying cannot help (refused connection, unknown host, TLS failure, 401/403): the scheduler
   * fails the model's later requests at once with this error and the run stops with its message.
   */
  fatal?: boolean;

  constructor(code: string, message: string, extra: { status?: number; retryAfterMs?: number } = {}) {
    super(message);
    this.code = code;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.retryAfterMs !== undefined) this.retryAfterMs = extra.retryAfterMs;
  }
}

/** The string `code` of any thrown value, if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

const abortWatchers = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fn` once when `signal` aborts (soon, if it already has); returns the unsubscribe. One
 * real listener per signal however many requests wait on it: a run's shared signal would otherwise
 * collect a listener per in-flight request (a MaxListeners warning, and O(n) removal).
 */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    queueMicrotask(fn);
    return () => undefined;
  }
  let watchers = abortWatchers.get(signal);
  if (!watchers) {
    const created = new Set<() => void>();
    watchers = created;
    abortWatchers.set(signal, created);
    signal.addEventListener(
      "abort",
      () => {
        abortWatchers.delete(signal);
        for (const watcher of created) watcher();
      },
      { once: true },
    );
  }
  const set = watchers;
  set.add(fn);
  return () => set.delete(fn);
}

/** `promise`, or the signal's abort reason as soon as it aborts, whichever comes first. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const unsubscribe = onAbort(signal, () => reject(abortReason(signal)));
    promise.then(
      (value) => {
        unsubscribe();
        resolve(value);
      },
      (error: unknown) => {
        unsubscribe();
        reject(error);
      },
    );
  });
}

/** The error an aborted signal should surface: its reason when coded, else `aborted`. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && errorCode(reason)) return reason;
  return new ProviderError("aborted", "request aborted");
}

/**
 * `Retry-After` (delay in seconds, or an HTTP date) or `retry-after-ms` in milliseconds; undefined
 * when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | undefined,
  valueMs?: string,
  now: number = Date.now(),
): number | undefined {
  if (valueMs !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(valueMs)) return Number(valueMs);
  if (value === undefined || value.trim() === "") return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface PostOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
  /** Strings (API keys) removed from any error message. */
  secrets?: readonly string[];
  /**
   * Fails the request with code `timeout` when its headers, or the next part of its body, do not
   * arrive within this many ms (undici's own per-request timers; no timer of ours).
   */
  timeoutMs?: number;
}

export interface JsonClient {
  /** POSTs JSON; resolves with the parsed 2xx body, throws a ProviderError otherwise. */
  post(url: URL, body: unknown, options: PostOptions): Promise<unknown>;
  /** Closes the connections (idle ones never keep the process alive). */
  close(): Promise<void>;
}

export interface JsonClientOptions {
  /** Most connections per origin (default: as many as there are requests in flight). */
  connections?: number;
  /** Extra trusted certificates (PEM), added to Node's own (which `NODE_EXTRA_CA_CERTS` extends). */
  ca?: string | Buffer;
  /** Accept any server certificate (self-signed test servers only). */
  insecure?: boolean;
}

/**
 * JSON over HTTP(S) with undici: keep-alive connection pools per origin, `HTTP_PROXY` /
 * `HTTPS_PROXY` / `NO_PROXY` from the environment, gzip/deflate/br bodies, and every failure as a
 * coded ProviderError naming the URL. Refused connections, unknown hosts, TLS failures and
 * 401/403 are `fatal`: sending the same request again cannot help.
 */
export function createJsonClient(options: JsonClientOptions = {}): JsonClient {
  const tlsOptions: Record<string, unknown> = {};
  if (options.ca !== undefined) tlsOptions.ca = [...tls().rootCertificates, options.ca.toString()];
  if (options.insecure) tlsOptions.rejectUnauthorized = false;
  const pool = {
    keepAliveTimeout: 4000,
    ...(options.connections !== undefined ? { connections: options.connections } : {}),
    connect: tlsOptions,
  };
  // The proxy-aware agent only when a proxy is set: it parses every request's origin again.
  const env = process.env;
  const proxied = [env.http_proxy, env.HTTP_PROXY, env.https_proxy, env.HTTPS_PROXY].some(Boolean);
  const dispatcher = proxied
    ? new (undiciEnvProxyAgent())({ ...pool, requestTls: tlsOptions })
    : new (undiciAgent())(pool);
  return {
    post: (url, body, postOptions) => post(dispatcher, url, body, postOptions),
    // Nothing the run still waits for is in flight by now: drop the connections at once.
    close: () => dispatcher.destroy(),
  };
}

/**
 * Asks `once` for every sample; when the answer is short (some servers ignore `n`), asks again
 * one sample at a time with a distinct seed (`seed + sampleIndex`) until every sample is filled.
 */
export async function generateAll(
  request: GenerateRequest,
  once: (request: GenerateRequest) => Promise<Generation>,
): Promise<Generation> {
  const first = await once(request);
  const completions: Completion[] = first.completions.slice(0, request.n);
  let usage = first.usage;
  for (const sampleIndex of request.sampleIndices.slice(completions.length)) {
    const seed = (request.seed ?? 0) + sampleIndex;
    const more = await once({ ...request, n: 1, sampleIndices: [sampleIndex], seed });
    const completion = more.completions[0];
    if (!completion) throw new ProviderError("bad_response", "backend returned no completion");
    completions.push(completion);
    usage = addUsage(usage, more.usage);
  }
  return usage ? { completions, usage } : { completions };
}

/**
 * One request per sample, sample `i` with seed `seed + i` (the request's `seed` is the base):
 * how an OpenAI-compatible server gives reproducible samples that do not depend on batching,
 * since it seeds a whole `n` request with one seed. Requests run side by side.
 */
export async function generatePerSample(
  request: GenerateRequest & { seed: number },
  once: (request: GenerateRequest) => Promise<Generation>,
): Promise<Generation> {
  const results = await Promise.all(
    request.sampleIndices.map((sampleIndex) =>
      once({ ...request, n: 1, sampleIndices: [sampleIndex], seed: request.seed + sampleIndex }),
    ),
  );
  let usage: Usage | undefined;
  const completions = results.map((result, i) => {
    const completion = result.completions[0];
    if (!completion) throw new ProviderError("bad_response", "backend returned no completion");
    usage = i === 0 ? result.usage : addUsage(usage, result.usage);
    return completion;
  });
  return usage ? { completions, usage } : { completions };
}

export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a || !b) return a ?? b;
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
  };
}

// ---------------------------------------------------------------- internal helpers

const MAX_BODY_BYTES = 256 * 1024 * 1024;

function post(
  dispatcher: Dispatcher,
  url: URL,
  body: unknown,
  { headers, signal, secrets = [], timeoutMs }: PostOptions,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    let sent = sentHeaders.get(headers);
    if (!sent) {
      for (const name in headers) {
        if (LINE_BREAK.test(name) || LINE_BREAK.test(headers[name]!))
          return reject(new ProviderError("bad_request", `header ${name} has a line break`));
      }
      sent = {
        "user-agent": "benchline",
        "content-type": "application/json",
        accept: "application/json",
        ...headers,
      };
      sentHeaders.set(headers, sent);
    }
    const handler = new JsonResponse(url, signal, secrets, resolve, reject, timeoutMs);
    dispatcher.dispatch(
      {
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: sent,
        body: typeof body === "string" ? body : JSON.stringify(body),
        ...(timeoutMs !== undefined ? { headersTimeout: timeoutMs, bodyTimeout: timeoutMs } : {}),
      },
      handler,
    );
  });
}

const LINE_BREAK = /[\r\n]/;

/**
 * The checked headers sent for a caller's headers object: a provider that passes the same object
 * each time (its headers are fixed) has them checked and merged once, not per request. The
 * caller must not change an object it has passed.
 */
const sentHeaders = new WeakMap<Record<string, string>, Record<string, string>>();

/**
 * One request's answer, collected through undici's core handler callbacks (`onConnect`,
 * `onHeaders`, `onData`, `onComplete`, `onError`): one object per request and no stream, no
 * wrapper, and no headers object (the raw header list is searched for the one or two names
 * needed). undici's newer `onRequestStart`/`onResponse*` form wraps every request in an adapter
 * that parses all headers into an object, which cost ~10 % of the client's CPU per request.
 */
class JsonResponse implements Dispatcher.DispatchHandler {
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private abortRequest: ((error?: Error) => void) | undefined;
  private settled = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly url: URL,
    private readonly signal: AbortSignal,
    private readonly secrets: readonly string[],
    private readonly resolve: (value: unknown) => void,
    private readonly reject: (error: Error) => void,
    private readonly timeoutMs?: number,
  ) {
    this.unsubscribe = onAbort(signal, () => {
      const reason = abortReason(signal);
      this.finish(reason);
      this.abortRequest?.(reason);
    });
  }

  onConnect(abort: (error?: Error) => void): void {
    this.abortRequest = abort;
    if (this.settled) abort(abortReason(this.signal));
  }

  onHeaders(statusCode: number, headers: Buffer[]): boolean {
    this.status = statusCode;
    this.rawHeaders = headers;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > MAX_BODY_BYTES)
      this.abortRequest?.(new ProviderError("bad_response", "response body too large"));
    else this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    const { url, status, secrets } = this;
    try {
      const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
      const text = decode(body, rawHeader(this.rawHeaders, "content-encoding"));
      if (status < 200 || status >= 300)
        throw statusError(url, status, (name) => rawHeader(this.rawHeaders, name, true), text, secrets);
      this.finish(undefined, parseJson(url, text, secrets));
    } catch (error) {
      this.finish(error as Error);
    }
  }

  onError(error: Error): void {
    if (this.settled) return;
    if (this.signal.aborted) this.finish(abortReason(this.signal));
    else if (this.timeoutMs !== undefined && isTimeout(error))
      this.finish(new ProviderError("timeout", `no response within ${this.timeoutMs} ms`));
    else this.finish(error instanceof ProviderError ? error : transportError(this.url, error, this.secrets));
  }

  private finish(error: Error | undefined, value?: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.unsubscribe();
    if (error) this.reject(error);
    else this.resolve(value);
  }
}

/** undici's per-request timers (`headersTimeout`, `bodyTimeout`) fired. */
function isTimeout(error: Error): boolean {
  const code = errorCode(error);
  return code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT";
}

/**
 * A response header from undici's raw list (`[name, value, name, value, …]`); a repeated one is
 * joined by ", " (or only its first value, with `first`).
 */
function rawHeader(raw: readonly Buffer[], name: string, first = false): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i]!;
    if (key.length !== name.length || key.toString("latin1").toLowerCase() !== name) continue;
    const text = raw[i + 1]!.toString("latin1");
    if (first) return text;
    value = value === undefined ? text : `${value}, ${text}`;
  }
  return value;
}

function parseJson(url: URL, text: string, secrets: readonly string[]): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ProviderError("bad_response", `${url.href}: response is not JSON: ${snippet(text, secrets)}`);
  }
}

/** The body as text, decompressed when the server sent `Content-Encoding` (gzip, deflate, br). */
function decode(body: Buffer, contentEncoding: string | undefined): string {
  const encoding = (contentEncoding ?? "").toLowerCase().trim();
  if (encoding === "" || encoding === "identity") return body.toString("utf8");
  const limit = { maxOutputLength: MAX_BODY_BYTES };
  try {
    if (encoding === "gzip" || encoding === "x-gzip") return zlib().gunzipSync(body, limit).toString("utf8");
    if (encoding === "deflate") return zlib().inflateSync(body, limit).toString("utf8");
    if (encoding === "br") return zlib().brotliDecompressSync(body, limit).toString("utf8");
  } catch (error) {
    throw new ProviderError(
      "bad_response",
      `cannot decode the ${encoding} body: ${(error as Error).message}`,
    );
  }
  throw new ProviderError("bad_response", `unsupported Content-Encoding "${encoding}"`);
}

const TLS_CODES = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_MISMATCH)/;

/** A failure below HTTP (connect, DNS, TLS, socket) as a coded error that names the URL and the cause. */
function transportError(url: URL, error: unknown, secrets: readonly string[]): ProviderError {
  const chain: { code?: unknown; name?: unknown; message?: unknown; cause?: unknown }[] = [];
  for (let e = error as { cause?: unknown } | undefined; e && chain.length < 5; e = e.cause as typeof e)
    chain.push(e as (typeof chain)[number]);
  const codes = chain.map((e) => (typeof e.code === "string" ? e.code : ""));
  const detail = redact(
    chain
      .map((e) => (typeof e.message === "string" ? e.message : ""))
      .filter(Boolean)
      .join(": ") || String(error),
    secrets,
  );
  const where = baseOf(url);
  const has = (test: (code: string) => boolean): string | undefined => codes.find((c) => c && test(c));
  const proxy = proxyNote(url);
  if (has((c) => c === "ECONNREFUSED"))
    return fatal(
      "connection_refused",
      `connection refused to ${where}${proxy} — is the server running? set base_url`,
    );
  if (has((c) => c === "ENOTFOUND" || c === "EAI_AGAIN" || c === "EAI_NONAME"))
    return fatal("dns", `host ${url.hostname} not found (${where})${proxy} — check base_url`);
  const tlsCode = has((c) => TLS_CODES.test(c));
  if (tlsCode)
    return fatal(
      "tls",
      `TLS failure to ${where}: ${tlsCode} (${detail}) — trust the certificate with NODE_EXTRA_CA_CERTS or the model's tls.ca`,
    );
  if (chain.some((e) => e.name === "HTTPParserError"))
    return new ProviderError("bad_response", `${where}: not an HTTP/1.1 response: ${detail}`);
  if (has((c) => c === "UND_ERR_CONNECT_TIMEOUT"))
    return new ProviderError("timeout", `connecting to ${where}${proxy} timed out`);
  const code = has(() => true);
  return new ProviderError("connection", `connection to ${where} failed: ${code ? `${code} ` : ""}${detail}`);
}

function fatal(code: string, message: string): ProviderError {
  const error = new ProviderError(code, message);
  error.fatal = true;
  return error;
}

/** `http://host:port/v1` for `http://host:port/v1/chat/completions`: the base URL a user sets. */
function baseOf(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/(chat\/)?completions$/, "")}`;
}

function proxyNote(url: URL): string {
  const env = process.env;
  const proxy =
    url.protocol === "https:"
      ? (env.https_proxy ?? env.HTTPS_PROXY ?? env.http_proxy ?? env.HTTP_PROXY)
      : (env.http_proxy ?? env.HTTP_PROXY);
  if (!proxy) return "";
  try {
    return ` (through proxy ${new URL(proxy).origin}, unless NO_PROXY matches)`;
  } catch {
    return ` (through proxy ${proxy})`;
  }
}

function statusError(
  url: URL,
  status: number,
  header: (name: string) => string | undefined,
  text: string,
  secrets: readonly string[],
): ProviderError {
  const retryAfterMs = parseRetryAfter(header("retry-after"), header("retry-after-ms"));
  const extra = retryAfterMs === undefined ? { status } : { status, retryAfterMs };
  if (status === 401 || status === 403) {
    const error = new ProviderError(
      "auth",
      `HTTP ${status} from ${url.href}: ${snippet(text, secrets)} — check the API key (api_key_env / api_keys)`,
      extra,
    );
    error.fatal = true;
    return error;
  }
  return new ProviderError(
    `http_${status}`,
    `HTTP ${status} from ${url.href}: ${snippet(text, secrets)}`,
    extra,
  );
}

function snippet(text: string, secrets: readonly string[]): string {
  // Redact before cutting, so a secret cut in half cannot survive.
  const flat = redact(text, secrets).replace(/\s+/g, " ").trim();
  return (flat.length > 300 ? `${flat.slice(0, 300)}…` : flat) || "(empty body)";
}

function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.replaceAll(secret, "***");
  return out;
}
