/**
 * A real OpenAI-compatible HTTP server on 127.0.0.1 for tests and benchmarks: deterministic
 * answers, `n`, usage, logprobs, `max_tokens`, and fault injection.
 *
 * Answers: chat → `chat <index> seed=<seed|-> | <last user message>`, completion → `text <index>
 * seed=<seed|-> | <prompt>`; cut to `max_tokens` words (finish_reason `length`).
 *
 * Faults come, in order of precedence, from a `[[fault:429,500]]` marker in the prompt (the k-th
 * attempt at that prompt gets the k-th fault, later attempts succeed), then the plan set with
 * `setFaults`: a list consumed one per request, or a function of the request.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";

/** A self-signed certificate for 127.0.0.1 and localhost (test use only), and its key. */
export const TEST_CERT = fileURLToPath(new URL("./tls/cert.pem", import.meta.url));
export const TEST_KEY = fileURLToPath(new URL("./tls/key.pem", import.meta.url));

export type Fault =
  | "429" // with `Retry-After: <retryAfter option>`
  | "500"
  | "503"
  | "hang" // never answers; the client has to give up
  | "malformed" // 200 with a body that is not JSON
  | "reset" // destroys the socket
  | { status: number; retryAfter?: string; body?: string }
  | { latencyMs: number };

export interface FaultContext {
  /** 0-based index of the request in arrival order. */
  index: number;
  path: string;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
  /** The client's port: which connection the request came on. */
  remotePort: number | undefined;
}

export type FaultPlan = (Fault | undefined)[] | ((context: FaultContext) => Fault | undefined);

export interface OpenAIServerOptions {
  /** Delay before every answer. */
  latencyMs?: number;
  faults?: FaultPlan;
  /** Retry-After sent with a "429" fault (default "0"). */
  retryAfter?: string;
  /** Answer one choice whatever `n` is, like servers that ignore it. */
  ignoreN?: boolean;
  /**
   * Keep request bodies and attempts per prompt in `stats` (default true). Prompt `[[fault:…]]`
   * markers need it; turn it off for big benchmarks.
   */
  trackPrompts?: boolean;
  /** Serve HTTPS with the self-signed TEST_CERT (clients must trust it or be insecure). */
  tls?: boolean;
}

export interface OpenAIServerStats {
  requests: number;
  ok: number;
  faults: Record<string, number>;
  inFlight: number;
  maxInFlight: number;
  /** Connections the server accepted. */
  connections: number;
  /** Bearer tokens seen, with counts (tests only use fake keys). */
  keys: Map<string, number>;
  attemptsByPrompt: Map<string, number>;
  bodies: Record<string, unknown>[];
  /** Each answered request's arrival time (ms since the epoch) and the tokens its usage reports. */
  answers: { at: number; tokens: number }[];
}

export interface OpenAIServer {
  /** Base URL including `/v1`. */
  url: string;
  stats: OpenAIServerStats;
  setFaults(plan: FaultPlan | undefined): void;
  setLatency(ms: number): void;
  close(): Promise<void>;
}

export async function startOpenAIServer(options: OpenAIServerOptions = {}): Promise<OpenAIServer> {
  let plan = options.faults;
  let latencyMs = options.latencyMs ?? 0;
  const trackPrompts = options.trackPrompts ?? true;
  const stats: OpenAIServerStats = {
    requests: 0,
    ok: 0,
    faults: {},
    inFlight: 0,
    maxInFlight: 0,
    connections: 0,
    keys: new Map(),
    attemptsByPrompt: new Map(),
    bodies: [],
    answers: [],
  };

  const pickFault = (context: FaultContext, promptText: string, attempt: number): Fault | undefined => {
    const marker = /\[\[fault:([^\]]*)\]\]/.exec(promptText);
    if (marker) return parseFault(marker[1]?.split(",")[attempt - 1]);
    if (typeof plan === "function") return plan(context);
    return plan?.shift();
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, raw: string): Promise<void> => {
    const index = stats.requests++;
    const arrived = Date.now();
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.on("close", () => stats.inFlight--);
    const path = (req.url ?? "").replace(/\?.*/, "");
    const chat = path === "/v1/chat/completions";
    if (req.method !== "POST" || (!chat && path !== "/v1/completions"))
      return send(res, 404, { error: "not found" });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return send(res, 400, { error: { message: "invalid JSON" } });
    }
    if (trackPrompts) stats.bodies.push(body);
    const key = req.headers.authorization?.replace(/^Bearer /, "");
    if (key) stats.keys.set(key, (stats.keys.get(key) ?? 0) + 1);
    const text = chat ? lastUserMessage(body.messages) : String(body.prompt ?? "");
    let attempt = 1;
    if (trackPrompts) {
      attempt = (stats.attemptsByPrompt.get(text) ?? 0) + 1;
      stats.attemptsByPrompt.set(text, attempt);
    }
    const fault = pickFault(
      { index, path, body, headers: req.headers, remotePort: req.socket.remotePort },
      text,
      attempt,
    );
    const wait = fault && typeof fault === "object" && "latencyMs" in fault ? fault.latencyMs : latencyMs;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (fault && !(typeof fault === "object" && "latencyMs" in fault)) {
      const name = typeof fault === "string" ? fault : String(fault.status);
      stats.faults[name] = (stats.faults[name] ?? 0) + 1;
      return inject(res, fault, options.retryAfter ?? "0");
    }
    stats.ok++;
    const reply = answer(body, text, chat, options.ignoreN ?? false);
    if (trackPrompts) stats.answers.push({ at: arrived, tokens: reply.usage.total_tokens });
    send(res, 200, reply);
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let raw = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      raw += chunk;
    });
    req.on("end", () => {
      handle(req, res, raw).catch(() => res.destroy());
    });
  };
  const server = options.tls
    ? https.createServer({ key: readFileSync(TEST_KEY), cert: readFileSync(TEST_CERT) }, listener)
    : http.createServer(listener);
  server.on("tlsClientError", () => undefined); // a client that rejects our certificate
  server.on(options.tls ? "secureConnection" : "connection", () => {
    stats.connections++;
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}/v1`,
    stats,
    setFaults: (next) => {
      plan = next;
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------- internal helpers

function parseFault(text: string | undefined): Fault | undefined {
  const name = text?.trim();
  if (!name || name === "ok") return undefined;
  if (["429", "500", "503", "hang", "malformed", "reset"].includes(name)) return name as Fault;
  return { status: Number(name) };
}

function inject(
  res: http.ServerResponse,
  fault: Exclude<Fault, { latencyMs: number }>,
  retryAfter: string,
): void {
  if (fault === "hang") return; // the client gives up; close() ends it
  if (fault === "reset") {
    res.socket?.destroy();
    return;
  }
  if (fault === "malformed") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"choices": [{"message": ');
    return;
  }
  const status = typeof fault === "string" ? Number(fault) : fault.status;
  const after = typeof fault === "string" ? (status === 429 ? retryAfter : undefined) : fault.retryAfter;
  const headers: Record<string, string> = after === undefined ? {} : { "retry-after": after };
  const body =
    typeof fault === "object" && fault.body !== undefined ? fault.body : `{"error":{"code":${status}}}`;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

function answer(
  body: Record<string, unknown>,
  text: string,
  chat: boolean,
  ignoreN: boolean,
): { usage: { total_tokens: number } } {
  const n = ignoreN ? 1 : Number(body.n ?? 1);
  const seed = body.seed === undefined ? "-" : String(body.seed);
  const maxTokens = Number(body.max_tokens ?? body.max_completion_tokens ?? Number.POSITIVE_INFINITY);
  const k = chat
    ? body.logprobs
      ? Number(body.top_logprobs ?? 0)
      : undefined
    : (body.logprobs as number | undefined);
  let completionTokens = 0;
  const choices = Array.from({ length: n }, (_, index) => {
    const words = `${chat ? "chat" : "text"} ${index} seed=${seed} | ${text}`.split(" ");
    const kept = words.slice(0, maxTokens);
    completionTokens += kept.length;
    const tokens = kept.map((word, i) => (i === kept.length - 1 ? word : `${word} `));
    const content = tokens.join("");
    const finish_reason = kept.length < words.length ? "length" : "stop";
    const logprobs = k === undefined ? null : chat ? chatLogprobs(tokens, k) : textLogprobs(tokens, k);
    return chat
      ? { index, message: { role: "assistant", content }, finish_reason, logprobs }
      : { index, text: content, finish_reason, logprobs };
  });
  const promptTokens = Math.ceil(text.length / 4);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
  const reply = {
    id: "cmpl-test",
    object: chat ? "chat.completion" : "text_completion",
    model: body.model ?? "test",
    choices,
    usage,
  };
  return reply;
}

/** Token i has logprob -(i+1)/10; its alternatives `alt1..` are each 1 lower. */
const logprobOf = (i: number): number => -(i + 1) / 10;
const alternatives = (token: string, i: number, k: number) =>
  Array.from({ length: k }, (_, j) => ({ token: j === 0 ? token : `alt${j}`, logprob: logprobOf(i) - j }));

function chatLogprobs(tokens: string[], k: number): unknown {
  return {
    content: tokens.map((token, i) => ({
      token,
      logprob: logprobOf(i),
      bytes: null,
      top_logprobs: alternatives(token, i, k),
    })),
  };
}

function textLogprobs(tokens: string[], k: number): unknown {
  return {
    tokens,
    token_logprobs: tokens.map((_, i) => logprobOf(i)),
    // Legacy format: an object per token, in no particular order.
    top_logprobs: tokens.map((token, i) =>
      Object.fromEntries(
        alternatives(token, i, k)
          .reverse()
          .map((alt) => [alt.token, alt.logprob]),
      ),
    ),
    text_offset: [],
  };
}

function lastUserMessage(messages: unknown): string {
  if (!Array.isArray(messages)) return "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i] as { role?: unknown; content?: unknown };
    if (message?.role === "user") return String(message.content ?? "");
  }
  return "";
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  const payload = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}
