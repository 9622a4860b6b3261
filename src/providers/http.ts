/**
 * Plumbing shared by remote providers: coded per-request errors, abort fan-out, Retry-After
 * parsing, a lean keep-alive JSON-over-HTTP/1.1 client, and filling answers one sample at a time
 * when a backend returns fewer completions than asked for.
 */
import net from "node:net";
import tls from "node:tls";
import type { Completion, GenerateRequest, Generation, Usage } from "../core/index.js";

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
}

export interface JsonClient {
  /** POSTs JSON; resolves with the parsed 2xx body, throws a ProviderError otherwise. */
  post(url: URL, body: unknown, options: PostOptions): Promise<unknown>;
  /** Closes idle connections (idle ones never keep the process alive). */
  close(): void;
}

/**
 * A small HTTP/1.1 client with keep-alive connections (plain or TLS), keeping at most
 * `maxIdle` idle connections per origin. Each request is a single socket write; responses may
 * use Content-Length, chunked encoding or end at close. About three times less CPU per request
 * than node:http, which matters when a local server answers in microseconds.
 */
export function createJsonClient(maxIdle = 256): JsonClient {
  const pools = new Map<string, Connection[]>();
  return {
    post(url, body, options) {
      let idle = pools.get(url.origin);
      if (!idle) {
        idle = [];
        pools.set(url.origin, idle);
      }
      return post(idle, maxIdle, url, body, options);
    },
    close() {
      for (const idle of pools.values()) for (const connection of idle.splice(0)) connection.socket.destroy();
    },
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

export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a || !b) return a ?? b;
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
  };
}

// ---------------------------------------------------------------- internal helpers

/** Idle connections older than this are dropped: servers close keep-alives after ~5 s. */
const MAX_IDLE_MS = 4000;
const MAX_BODY_BYTES = 256 * 1024 * 1024;

interface Exchange {
  data(chunk: Buffer): void;
  closed(error: Error | undefined): void;
}

interface Connection {
  socket: net.Socket;
  idleSince: number;
  /** The request waiting for this connection's bytes, if any. */
  active?: Exchange | undefined;
  error?: Error;
}

function connect(url: URL, idle: Connection[]): Connection {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const secure = url.protocol === "https:";
  const port = Number(url.port) || (secure ? 443 : 80);
  const socket = secure
    ? tls.connect({
        host,
        port,
        ALPNProtocols: ["http/1.1"],
        ...(net.isIP(host) ? {} : { servername: host }),
      })
    : net.connect({ host, port });
  socket.setNoDelay(true);
  const connection: Connection = { socket, idleSince: 0 };
  socket.on("data", (chunk: Buffer) => {
    if (connection.active) connection.active.data(chunk);
    else socket.destroy(); // bytes nobody asked for: the connection is unusable
  });
  socket.on("error", (error) => {
    connection.error = error;
  });
  socket.on("close", () => {
    const i = idle.indexOf(connection);
    if (i !== -1) idle.splice(i, 1);
    connection.active?.closed(connection.error);
  });
  return connection;
}

function post(
  idle: Connection[],
  maxIdle: number,
  url: URL,
  body: unknown,
  { headers, signal, secrets = [] }: PostOptions,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    const payload = JSON.stringify(body);
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUser-Agent: benchline\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      if (/[\r\n]/.test(name + value))
        return reject(new ProviderError("bad_request", `header ${name} has a line break`));
      head += `${name}: ${value}\r\n`;
    }
    let connection = idle.pop();
    while (connection && (connection.socket.destroyed || Date.now() - connection.idleSince > MAX_IDLE_MS)) {
      connection.socket.destroy();
      connection = idle.pop();
    }
    const conn = connection ?? connect(url, idle);
    conn.socket.ref();
    const parser = new ResponseParser();
    let settled = false;
    const finish = (error: Error | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      if (conn.active === exchange) conn.active = undefined;
      unsubscribe();
      if (error) reject(error);
      else resolve(value);
    };
    const complete = (): void => {
      conn.active = undefined; // released first, so a stray byte can never reach this request
      if (parser.reusable && idle.length < maxIdle && !conn.socket.destroyed) {
        conn.idleSince = Date.now();
        conn.socket.unref();
        idle.push(conn);
      } else conn.socket.destroy();
      const text = parser.text();
      if (parser.status < 200 || parser.status >= 300) {
        finish(statusError(url, parser.status, parser.headers, text, secrets));
        return;
      }
      try {
        finish(undefined, JSON.parse(text));
      } catch {
        finish(
          new ProviderError(
            "bad_response",
            `${url.pathname}: response is not JSON: ${snippet(text, secrets)}`,
          ),
        );
      }
    };
    const exchange: Exchange = {
      data(chunk) {
        try {
          if (parser.push(chunk)) complete();
        } catch (error) {
          conn.socket.destroy();
          finish(error as Error);
        }
      },
      closed(error) {
        if (parser.endAtClose()) return complete();
        const detail =
          (error as NodeJS.ErrnoException | undefined)?.code ?? error?.message ?? "connection closed";
        finish(
          new ProviderError("connection", `connection to ${url.origin} failed: ${redact(detail, secrets)}`),
        );
      },
    };
    conn.active = exchange;
    const unsubscribe = onAbort(signal, () => {
      finish(abortReason(signal));
      conn.socket.destroy();
    });
    conn.socket.write(`${head}\r\n${payload}`);
  });
}

/** Incremental HTTP/1.1 response parser: status, headers, and a body framed any of the three ways. */
class ResponseParser {
  status = 0;
  headers: Record<string, string> = {};
  reusable = true;
  private pending: Buffer = Buffer.alloc(0);
  private state:
    | "head"
    | "length"
    | "chunk-size"
    | "chunk-data"
    | "chunk-end"
    | "trailer"
    | "until-close"
    | "done" = "head";
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private size = 0;

  /** Feeds bytes; true once the response is complete. Throws a coded error on a protocol violation. */
  push(chunk: Buffer): boolean {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const progressed = this.step();
      if (this.state === "done") {
        if (this.pending.length > 0) this.reusable = false;
        return true;
      }
      if (!progressed) return false;
    }
  }

  /** The connection closed: complete if the body was framed by the close. */
  endAtClose(): boolean {
    if (this.state !== "until-close") return false;
    this.state = "done";
    return true;
  }

  text(): string {
    return Buffer.concat(this.body).toString("utf8");
  }

  private step(): boolean {
    const buffer = this.pending;
    switch (this.state) {
      case "head": {
        const end = buffer.indexOf("\r\n\r\n");
        if (end === -1) return this.guard(buffer.length);
        this.parseHead(buffer.toString("latin1", 0, end));
        this.pending = buffer.subarray(end + 4);
        return true;
      }
      case "length":
      case "chunk-data":
      case "until-close": {
        if (buffer.length === 0) return false;
        const take = this.state === "until-close" ? buffer.length : Math.min(this.remaining, buffer.length);
        this.keep(buffer.subarray(0, take));
        this.pending = buffer.subarray(take);
        this.remaining -= take;
        if (this.remaining === 0 && this.state === "length") this.state = "done";
        if (this.remaining === 0 && this.state === "chunk-data") this.state = "chunk-end";
        return this.state !== "until-close";
      }
      case "chunk-end":
        if (buffer.length < 2) return false;
        this.pending = buffer.subarray(2);
        this.state = "chunk-size";
        return true;
      case "chunk-size":
      case "trailer": {
        const end = buffer.indexOf("\r\n");
        if (end === -1) return this.guard(buffer.length);
        const line = buffer.toString("latin1", 0, end);
        this.pending = buffer.subarray(end + 2);
        if (this.state === "trailer") {
          if (line === "") this.state = "done";
          return true;
        }
        const size = Number.parseInt(line, 16);
        if (Number.isNaN(size)) throw new ProviderError("bad_response", "malformed chunked encoding");
        this.remaining = size;
        this.state = size === 0 ? "trailer" : "chunk-data";
        return true;
      }
      default:
        return false;
    }
  }

  private parseHead(head: string): void {
    const lines = head.split("\r\n");
    const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? "");
    if (!status) throw new ProviderError("bad_response", "not an HTTP/1.x response");
    this.status = Number(status[2]);
    if (this.status >= 100 && this.status < 200) return; // informational: the real head follows
    this.headers = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      this.headers[name] = name in this.headers ? `${this.headers[name]}, ${value}` : value;
    }
    const connection = (this.headers.connection ?? "").toLowerCase();
    this.reusable = status[1] === "1" ? !connection.includes("close") : connection.includes("keep-alive");
    const length = this.headers["content-length"];
    if (/chunked/i.test(this.headers["transfer-encoding"] ?? "")) this.state = "chunk-size";
    else if (this.status === 204 || this.status === 304) this.state = "done";
    else if (length !== undefined) {
      this.remaining = Number(length);
      if (!Number.isSafeInteger(this.remaining) || this.remaining < 0)
        throw new ProviderError("bad_response", "bad Content-Length");
      this.state = this.remaining === 0 ? "done" : "length";
    } else {
      this.state = "until-close";
      this.reusable = false;
    }
  }

  private keep(bytes: Buffer): void {
    this.size += bytes.length;
    if (this.size > MAX_BODY_BYTES) throw new ProviderError("bad_response", "response body too large");
    this.body.push(bytes);
  }

  private guard(length: number): false {
    if (length > 64 * 1024) throw new ProviderError("bad_response", "response head too large");
    return false;
  }
}

function statusError(
  url: URL,
  status: number,
  headers: Record<string, string>,
  text: string,
  secrets: readonly string[],
): ProviderError {
  const code = status === 401 || status === 403 ? "auth" : `http_${status}`;
  const retryAfterMs = parseRetryAfter(headers["retry-after"], headers["retry-after-ms"]);
  const message = `HTTP ${status} from ${url.pathname}: ${snippet(text, secrets)}`;
  return new ProviderError(code, message, retryAfterMs === undefined ? { status } : { status, retryAfterMs });
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
