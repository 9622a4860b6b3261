/**
 * A real loopback server implementing the OpenAI Files and Batches endpoints, for tests: uploads
 * (multipart), batch create/get/list, file content, and scenarios per batch — queued → in_progress
 * → completed over a number of polls, held in progress until released, expired after some
 * answers, lines that fail, or a whole batch refused. It counts what it was asked, so tests can
 * prove that a rerun did not submit (pay) twice.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface BatchScenario {
  /** Polls a batch stays `in_progress` before it finishes (default 1). */
  polls?: number;
  /** Stays `in_progress` until `release()` (for kill -9 tests). */
  hold?: boolean;
  /** Answer only the first N requests, then end `expired` (the rest `batch_expired` in the error file). */
  expireAfter?: number;
  /** A request whose line fails: its error (`status` goes in the output line's response). */
  fail?: (customId: string) => { status: number; message: string } | undefined;
  /** The whole batch is refused at validation (`failed`, with this message). */
  refuse?: string;
}

export interface BatchServerOptions {
  /** The completion for a request body (default: `answer: <last user message>`). */
  answer?: (body: Record<string, unknown>) => string;
  /** Scenario of the k-th created batch (0-based). */
  scenario?: (index: number) => BatchScenario;
  /** Required `authorization` header value (else 401). */
  auth?: string;
  /** Create the k-th batch, then drop the connection before answering (the client cannot know). */
  dropCreate?: (index: number) => boolean;
  /** Delay before answering each poll of a batch (a slow API). */
  pollLatencyMs?: number;
}

interface StoredBatch {
  id: string;
  index: number;
  status: string;
  input_file_id: string;
  endpoint: string;
  metadata: Record<string, string>;
  polls: number;
  scenario: BatchScenario;
  output_file_id: string | null;
  error_file_id: string | null;
  counts: { total: number; completed: number; failed: number };
  errors: { data: { code: string; message: string }[] } | null;
}

export interface BatchServer {
  url: string;
  stats: {
    uploads: number;
    created: number;
    polls: number;
    lists: number;
    downloads: number;
    /** Every request line uploaded, in order. */
    lines: Record<string, unknown>[];
    /** Headers of every request (to check what keys were sent). */
    authorizations: string[];
  };
  release(): void;
  batches(): StoredBatch[];
  close(): Promise<void>;
}

export async function startBatchServer(options: BatchServerOptions = {}): Promise<BatchServer> {
  const files = new Map<string, string>();
  const batches = new Map<string, StoredBatch>();
  let released = false;
  let nextId = 1;
  const stats: BatchServer["stats"] = {
    uploads: 0,
    created: 0,
    polls: 0,
    lists: 0,
    downloads: 0,
    lines: [],
    authorizations: [],
  };
  const answer = options.answer ?? defaultAnswer;

  const finish = (batch: StoredBatch): void => {
    const { scenario } = batch;
    if (scenario.refuse !== undefined) {
      batch.status = "failed";
      batch.errors = { data: [{ code: "invalid_request", message: scenario.refuse }] };
      return;
    }
    const lines = parseLines(files.get(batch.input_file_id) ?? "");
    const output: string[] = [];
    const errors: string[] = [];
    lines.forEach((line, i) => {
      const customId = String(line.custom_id);
      const requestId = `req_${nextId++}`;
      if (scenario.expireAfter !== undefined && i >= scenario.expireAfter) {
        errors.push(
          JSON.stringify({
            id: requestId,
            custom_id: customId,
            response: null,
            error: {
              code: "batch_expired",
              message: "This request could not be executed before the completion window expired.",
            },
          }),
        );
        return;
      }
      const failure = scenario.fail?.(customId);
      if (failure) {
        batch.counts.failed++;
        errors.push(
          JSON.stringify({
            id: requestId,
            custom_id: customId,
            response: {
              status_code: failure.status,
              request_id: requestId,
              body: { error: { message: failure.message, type: "invalid_request_error" } },
            },
            error: null,
          }),
        );
        return;
      }
      batch.counts.completed++;
      const body = line.body as Record<string, unknown>;
      const text = answer(body);
      const chat = Array.isArray(body.messages);
      const prompt = chat ? JSON.stringify(body.messages) : String(body.prompt);
      output.push(
        JSON.stringify({
          id: requestId,
          custom_id: customId,
          response: {
            status_code: 200,
            request_id: requestId,
            body: {
              id: `chatcmpl-${requestId}`,
              object: chat ? "chat.completion" : "text_completion",
              model: body.model,
              choices: [
                chat
                  ? { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }
                  : { index: 0, text, finish_reason: "stop" },
              ],
              usage: {
                prompt_tokens: prompt.split(/\s+/).length,
                completion_tokens: text.split(/\s+/).length,
                total_tokens: 0,
              },
            },
          },
          error: null,
        }),
      );
    });
    const store = (content: string[]): string | null => {
      if (content.length === 0) return null;
      const id = `file-out-${nextId++}`;
      files.set(id, `${content.join("\n")}\n`);
      return id;
    };
    batch.output_file_id = store(output);
    batch.error_file_id = store(errors);
    batch.status =
      scenario.expireAfter !== undefined && scenario.expireAfter < lines.length ? "expired" : "completed";
  };

  const advance = (batch: StoredBatch): void => {
    if (["completed", "failed", "expired", "cancelled"].includes(batch.status)) return;
    batch.polls++;
    if (batch.status === "validating") {
      if (batch.scenario.refuse !== undefined) finish(batch);
      else batch.status = "in_progress";
      return;
    }
    if (batch.scenario.hold && !released) return;
    if (batch.polls > (batch.scenario.polls ?? 1)) {
      batch.status = "finalizing";
      finish(batch);
    }
  };

  const view = (b: StoredBatch) => ({
    id: b.id,
    object: "batch",
    endpoint: b.endpoint,
    status: b.status,
    input_file_id: b.input_file_id,
    output_file_id: b.output_file_id,
    error_file_id: b.error_file_id,
    completion_window: "24h",
    request_counts: b.counts,
    errors: b.errors,
    metadata: b.metadata,
  });

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const send = (status: number, value: unknown, type = "application/json"): void => {
      res.writeHead(status, { "content-type": type });
      res.end(typeof value === "string" ? value : JSON.stringify(value));
    };
    stats.authorizations.push(req.headers.authorization ?? "");
    if (options.auth !== undefined && req.headers.authorization !== options.auth)
      return send(401, { error: { message: "Incorrect API key provided" } });
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const path = url.pathname;
    try {
      if (req.method === "POST" && path === "/v1/files") {
        const form = await new Response(raw, {
          headers: { "content-type": req.headers["content-type"] ?? "" },
        }).formData();
        const file = form.get("file");
        if (form.get("purpose") !== "batch" || !(file instanceof Blob))
          return send(400, { error: { message: "purpose must be batch and file a file" } });
        const content = await file.text();
        const lines = parseLines(content);
        for (const line of lines) {
          if (typeof line.custom_id !== "string" || line.method !== "POST" || typeof line.url !== "string")
            return send(400, { error: { message: "each line needs custom_id, method and url" } });
        }
        stats.uploads++;
        stats.lines.push(...lines);
        const id = `file-in-${nextId++}`;
        files.set(id, content);
        return send(200, { id, object: "file", bytes: content.length, purpose: "batch" });
      }
      if (req.method === "POST" && path === "/v1/batches") {
        const body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
        const inputId = String(body.input_file_id);
        if (!files.has(inputId)) return send(404, { error: { message: `no file ${inputId}` } });
        const index = stats.created++;
        const batch: StoredBatch = {
          id: `batch_${nextId++}`,
          index,
          status: "validating",
          input_file_id: inputId,
          endpoint: String(body.endpoint),
          metadata: (body.metadata as Record<string, string>) ?? {},
          polls: 0,
          scenario: options.scenario?.(index) ?? {},
          output_file_id: null,
          error_file_id: null,
          counts: { total: parseLines(files.get(inputId)!).length, completed: 0, failed: 0 },
          errors: null,
        };
        batches.set(batch.id, batch);
        if (options.dropCreate?.(index)) {
          req.socket.destroy();
          return;
        }
        return send(200, view(batch));
      }
      if (req.method === "GET" && path === "/v1/batches") {
        stats.lists++;
        return send(200, {
          object: "list",
          data: [...batches.values()].reverse().map(view),
          has_more: false,
        });
      }
      const batchMatch = /^\/v1\/batches\/([^/]+)$/.exec(path);
      if (req.method === "GET" && batchMatch) {
        const batch = batches.get(decodeURIComponent(batchMatch[1]!));
        if (!batch) return send(404, { error: { message: "no such batch" } });
        stats.polls++;
        if (options.pollLatencyMs) await new Promise((r) => setTimeout(r, options.pollLatencyMs));
        advance(batch);
        return send(200, view(batch));
      }
      const fileMatch = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
      if (req.method === "GET" && fileMatch) {
        const content = files.get(decodeURIComponent(fileMatch[1]!));
        if (content === undefined) return send(404, { error: { message: "no such file" } });
        stats.downloads++;
        return send(200, content, "application/octet-stream");
      }
      send(404, { error: { message: `no route ${req.method} ${path}` } });
    } catch (error) {
      send(500, { error: { message: String(error) } });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    release: () => {
      released = true;
    },
    batches: () => [...batches.values()],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function defaultAnswer(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? (body.messages as { role: string; content: string }[]) : [];
  const user = messages.filter((m) => m.role === "user").at(-1)?.content ?? String(body.prompt ?? "");
  return `answer: ${user}`;
}
