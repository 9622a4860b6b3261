/**
 * Phase 2 through a provider's Batch API (`batch: true`): the trial's missing (id, sample) requests
 * are uploaded as JSONL files (split by the API's per-file limits), one batch each, and the answers
 * downloaded into predictions.jsonl. `batches.json` in the trial directory records every batch
 * before anything waits on it, so a rerun — after Ctrl-C, a crash or `--no-wait` — collects the
 * same batches instead of paying twice. It holds ids and custom_ids, never a key.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  BenchlineError,
  ContextExceededError,
  flattenMessages,
  JsonlWriter,
  type Prediction,
  predictionSchema,
  promptRecordSchema,
  type RowError,
  readJsonl,
  rowKey,
  type Truncation,
  truncateMessages,
} from "../../core/index.js";
import {
  type BatchApi,
  type BatchInfo,
  type BatchSettings,
  batchLine,
  customId,
  isFinal,
  parseBatchResult,
  parseCustomId,
  sampleBody,
  sleep,
} from "../../providers/index.js";
import type { TrialContext } from "../context.js";
import { lastByKey } from "../files.js";
import { readJson, writeJsonIfChanged } from "../json.js";

/** One submitted (or being submitted) batch, as recorded in `batches.json`. */
interface BatchEntry {
  /** Our name for it, also in the batch's metadata: a crash between create and record finds it. */
  nonce: string;
  state: "submitting" | "submitted" | "collected";
  /** `<id>#<sample>` of every request in it. */
  keys: string[];
  /** The requests whose prompt was shortened to the model's `context_length`, by key: their rows say so. */
  truncated?: Record<string, Truncation>;
  input_file_id?: string;
  batch_id?: string;
  /** The provider's last status (validating, in_progress, completed, expired, ...). */
  status?: string;
  submitted_at?: string;
}

interface BatchState {
  base_url: string;
  batches: BatchEntry[];
}

export interface BatchPhaseResult {
  written: number;
  /** Batches still running (with `--no-wait`, or after Ctrl-C): a later run collects them. */
  pending: number;
}

/** The trial file that records its batches. */
export const batchStateFile = (trialDir: string): string => join(trialDir, "batches.json");

/**
 * Sends the trial's missing requests through the Batch API and writes the answers. Waits (polling
 * every `settings.pollMs`) unless `wait` is false; an expired or cancelled batch's unanswered
 * requests are sent again; failed lines become error rows carrying the provider's error.
 */
export async function runBatchInferencePhase(
  ctx: TrialContext,
  api: BatchApi,
  settings: BatchSettings,
  options: { wait: boolean },
): Promise<BatchPhaseResult> {
  const { exp, trial, files } = ctx;
  const n = exp.samplesPerItem;
  const path = batchStateFile(files.dir);
  const state = readState(path, api.baseUrl);
  const save = (): void => writeJsonIfChanged(path, state);
  const prefix = `${trial.hash.slice(0, 8)}:`;
  const last = await lastByKey(files.predictions, predictionSchema, (row) => ({
    status: row.status,
    batch: typeof row.batch_id === "string" ? row.batch_id : undefined,
  }));
  // Rows written by this run are final for it: a failed line is retried by a rerun, like a live error.
  const answered = new Set<string>();
  const isDone = (key: string): boolean => {
    const st = last.get(key)?.status;
    return st === "ok" || (st === "error" && (!ctx.retryErrors || answered.has(key)));
  };
  const wanted = (): string[] => {
    const keys: string[] = [];
    for (const id of exp.dataset.index.keys())
      for (let i = 0; i < n; i++) if (!isDone(rowKey(id, i))) keys.push(customId(id, i));
    return keys;
  };
  const total = exp.dataset.index.size * n;
  const missingAtStart = wanted().length;
  ctx.emit({
    type: "phase:start",
    trial: trial.name,
    phase: "inference",
    total,
    done: total - missingAtStart,
  });
  const open = (): BatchEntry[] => state.batches.filter((b) => b.state !== "collected");
  if (missingAtStart === 0 && open().length === 0) return { written: 0, pending: 0 };

  const promptHashes = new Map<string, string>();
  // Every prompt of the trial: a batch sent under a larger --limit may answer ids outside this run's.
  for await (const { value } of readJsonl(files.prompts, { schema: promptRecordSchema }))
    promptHashes.set(value.id, value.prompt_hash);
  const writer = JsonlWriter.open(files.predictions);
  const model = trial.spec.model.id;
  const started = Date.now();

  // Fields in the live phase's order; a batch has no per-request latency (0), `batch_id` last.
  const writeRow = (id: string, sample: number, fields: Partial<Prediction>): void => {
    const { batch_id, truncated, ...rest } = fields;
    const row = {
      id,
      sample,
      model,
      prompt_hash: promptHashes.get(id) ?? "",
      status: "ok",
      completion: "",
      ...rest,
      latency_ms: 0,
      attempts: 1,
      cached: false,
      created_at: new Date().toISOString(),
      ...(batch_id !== undefined ? { batch_id } : {}),
      ...(truncated !== undefined ? { truncated } : {}),
    } as Prediction;
    writer.write(row);
    answered.add(rowKey(id, sample));
    last.set(rowKey(id, sample), {
      status: row.status,
      batch: typeof row.batch_id === "string" ? row.batch_id : undefined,
    });
    ctx.emit({
      type: "row",
      trial: trial.name,
      phase: "inference",
      status: row.status,
      ...(row.cost_usd !== undefined ? { cost_usd: row.cost_usd } : {}),
      ...(row.error ? { error: row.error } : {}),
    });
    if (row.cost_usd) {
      ctx.budget.spent += row.cost_usd;
      if (ctx.budget.max !== undefined && ctx.budget.spent >= ctx.budget.max) ctx.budget.exhausted();
    }
  };
  const errorRow = (key: string, error: RowError, batchId?: string): void => {
    const { id, sample } = parseCustomId(key);
    writeRow(id, sample ?? 0, {
      status: "error",
      error,
      ...(batchId ? { batch_id: batchId } : {}),
    });
  };

  const providerError = (error: unknown): BenchlineError =>
    error instanceof BenchlineError
      ? error
      : new BenchlineError("provider", `model ${model}: batch API: ${(error as Error).message}`, {
          cause: error,
        });

  /** Creates the batch of an entry whose file is uploaded; a refused create forgets the entry. */
  const create = async (entry: BatchEntry): Promise<void> => {
    try {
      const info = await api.create(
        entry.input_file_id!,
        { benchline_nonce: entry.nonce, benchline_trial: trial.name },
        ctx.signal,
      );
      Object.assign(entry, { batch_id: info.id, state: "submitted", status: info.status });
      entry.submitted_at = new Date().toISOString();
      save();
      progress(entry, info);
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status !== undefined && status >= 400 && status < 500) {
        state.batches.splice(state.batches.indexOf(entry), 1);
        save();
        throw error;
      }
      // The answer was lost (dropped connection, 5xx): the batch may exist. Find it by its nonce;
      // if it is not listed, the entry stays `submitting` and the next run looks again.
      if (ctx.signal.aborted || !(await adopt([entry]))) throw error;
    }
  };

  /** Looks up entries by the nonce in their batch's metadata; true when all were found. */
  const adopt = async (entries: BatchEntry[]): Promise<boolean> => {
    const listed = await api.list(ctx.signal).catch(() => [] as BatchInfo[]);
    let all = true;
    for (const entry of entries) {
      const found = listed.find((b) => b.metadata?.benchline_nonce === entry.nonce);
      if (!found) {
        all = false;
        continue;
      }
      Object.assign(entry, { batch_id: found.id, state: "submitted", status: found.status });
      entry.submitted_at ??= new Date().toISOString();
      save();
      progress(entry, found);
    }
    return all;
  };

  /** Entries recorded before a crash between upload and create: adopt the batch or create it. */
  const recover = async (): Promise<void> => {
    const unsure = state.batches.filter((b) => b.state === "submitting");
    if (unsure.length === 0) return;
    await adopt(unsure);
    for (const entry of unsure) {
      if (entry.state !== "submitting") continue;
      if (entry.input_file_id) await create(entry);
      else {
        state.batches.splice(state.batches.indexOf(entry), 1); // never uploaded
        save();
      }
    }
  };

  const send = async (
    keys: string[],
    lines: string[],
    truncated: Record<string, Truncation>,
  ): Promise<void> => {
    if (keys.length === 0 || ctx.stopNew.aborted) return;
    const entry: BatchEntry = { nonce: randomUUID(), state: "submitting", keys };
    if (Object.keys(truncated).length > 0) entry.truncated = truncated;
    state.batches.push(entry);
    save();
    entry.input_file_id = await api.upload(
      `benchline-${entry.nonce}.jsonl`,
      `${lines.join("\n")}\n`,
      ctx.signal,
    );
    save();
    await create(entry);
  };

  /** Sends every missing request that no open batch holds, in files within the API's limits. */
  const submit = async (): Promise<void> => {
    const held = new Set(open().flatMap((b) => b.keys));
    const missing = new Set(wanted().filter((k) => !held.has(k)));
    if (missing.size === 0 || ctx.stopNew.aborted) return;
    const params = trial.spec.model.params;
    const contextLength = trial.spec.model.options.context_length;
    const maxChars =
      typeof contextLength === "number"
        ? Math.max(256, (contextLength - (params.max_tokens ?? 256)) * 4)
        : undefined;
    let keys: string[] = [];
    let lines: string[] = [];
    let truncated: Record<string, Truncation> = {};
    let bytes = 0;
    for await (const { value: prompt } of readJsonl(files.prompts, { schema: promptRecordSchema })) {
      for (let i = 0; i < n; i++) {
        const key = customId(prompt.id, i);
        if (!missing.has(key)) continue;
        missing.delete(key);
        let messages = prompt.messages;
        let text = prompt.prompt;
        let truncation: Truncation | undefined;
        if (maxChars !== undefined) {
          try {
            const fitted = truncateMessages(prompt.messages, maxChars, exp.task.truncation ?? "middle");
            if (fitted.truncation) {
              messages = fitted.messages;
              text = flattenMessages(messages);
              truncation = fitted.truncation;
            }
          } catch (error) {
            if (!(error instanceof ContextExceededError)) throw error;
            errorRow(key, { code: "context_exceeded", message: error.message });
            continue;
          }
        }
        const body = sampleBody(api.body, { messages, prompt: text, n: 1, sampleIndices: [i], ...params });
        const line = batchLine(prefix + key, api.endpoint, body);
        const size = Buffer.byteLength(line) + 1;
        if (size > settings.maxBytes) {
          errorRow(key, {
            code: "too_large",
            message: `request is ${size} bytes, more than a batch file may hold (${settings.maxBytes})`,
          });
          continue;
        }
        if (keys.length >= settings.maxRequests || bytes + size > settings.maxBytes) {
          await send(keys, lines, truncated);
          [keys, lines, truncated, bytes] = [[], [], {}, 0];
        }
        keys.push(key);
        lines.push(line);
        if (truncation) truncated[key] = truncation;
        bytes += size;
      }
    }
    await send(keys, lines, truncated);
  };

  const seen = new Map<string, string>();
  const progress = (entry: BatchEntry, info: BatchInfo): void => {
    const counts = info.request_counts ?? { total: entry.keys.length, completed: 0, failed: 0 };
    const signature = `${info.status} ${counts.completed} ${counts.failed}`;
    if (seen.get(info.id) === signature) return;
    seen.set(info.id, signature);
    ctx.emit({
      type: "batch",
      trial: trial.name,
      batch_id: info.id,
      status: info.status,
      total: counts.total || entry.keys.length,
      completed: counts.completed,
      failed: counts.failed,
      elapsed_ms: Date.now() - started,
    });
  };

  /** Writes a finished batch's answers (each once: rows it already wrote are skipped). */
  const collect = async (entry: BatchEntry, info: BatchInfo): Promise<void> => {
    const batchId = info.id;
    const keys = new Set(entry.keys);
    const handled = new Set<string>();
    for (const fileId of [info.output_file_id, info.error_file_id]) {
      if (!fileId) continue;
      for await (const raw of api.lines(fileId, ctx.signal)) {
        if (raw.trim() === "") continue;
        let value: unknown;
        try {
          value = JSON.parse(raw);
        } catch {
          continue; // a torn line is an unanswered request: sent again below
        }
        const result = parseBatchResult(value, api.mode);
        if (!result?.custom_id.startsWith(prefix)) continue;
        const key = result.custom_id.slice(prefix.length);
        if (!keys.has(key) || handled.has(key)) continue;
        handled.add(key);
        const { id, sample = 0 } = parseCustomId(key);
        const previous = last.get(rowKey(id, sample));
        if (previous?.status === "ok" || previous?.batch === batchId) continue;
        if ("error" in result) {
          if (!result.retry) errorRow(key, result.error, batchId);
          continue;
        }
        const completion = result.generation.completions[0];
        const usage = result.generation.usage;
        const cost = usage ? api.cost(usage) : undefined;
        writeRow(id, sample, {
          completion: completion?.text ?? "",
          ...(completion?.finish_reason !== undefined ? { finish_reason: completion.finish_reason } : {}),
          ...(usage ? { usage } : {}),
          ...(cost !== undefined ? { cost_usd: cost } : {}),
          batch_id: batchId,
          ...(entry.truncated?.[key] ? { truncated: entry.truncated[key] } : {}),
        });
      }
    }
    if (info.status === "failed") {
      // The whole batch was refused (a bad input file): every request is an error row.
      const reason = info.errors?.data?.[0];
      const error = { code: `batch_${reason?.code ?? "failed"}`, message: reason?.message ?? "batch failed" };
      for (const key of entry.keys) {
        if (handled.has(key)) continue;
        const { id, sample = 0 } = parseCustomId(key);
        const previous = last.get(rowKey(id, sample));
        if (previous?.status !== "ok" && previous?.batch !== batchId) errorRow(key, error, batchId);
      }
    }
    writer.flush();
    entry.state = "collected";
    entry.status = info.status;
    save();
  };

  /** One look at every open batch; collects the finished ones. */
  const pollOnce = async (): Promise<void> => {
    for (const entry of open()) {
      if (!entry.batch_id) continue;
      const info = await api.get(entry.batch_id, ctx.signal);
      progress(entry, info);
      if (entry.status !== info.status) {
        entry.status = info.status;
        save();
      }
      if (isFinal(info.status)) await collect(entry, info);
    }
  };

  try {
    await recover();
    let idle = 0;
    for (;;) {
      await submit();
      if (open().length === 0) break;
      const before = writer.count;
      await pollOnce();
      // Polls start at a second and back off to the poll interval.
      let delay = Math.min(1000, settings.pollMs);
      while (options.wait && open().length > 0 && !ctx.signal.aborted) {
        await sleep(delay, ctx.signal);
        delay = Math.min(delay * 2, settings.pollMs);
        await pollOnce();
      }
      if (!options.wait) break;
      // Expired or cancelled batches leave requests unanswered: send them again, unless a whole
      // round answered nothing (then a rerun tries again later).
      idle = writer.count === before ? idle + 1 : 0;
      if (idle >= 2 && wanted().some((k) => !open().some((b) => b.keys.includes(k)))) {
        ctx.emit({
          type: "warning",
          trial: trial.name,
          message: `batches of ${trial.name} ended twice without answering; ${wanted().length} request(s) left for a rerun`,
        });
        break;
      }
    }
  } catch (error) {
    if (ctx.signal.aborted) return { written: writer.count, pending: open().length };
    throw providerError(error);
  } finally {
    writer.close();
  }
  return { written: writer.count, pending: open().length };
}

// ---------------------------------------------------------------- internal helpers

function readState(path: string, baseUrl: string): BatchState {
  if (!existsSync(path)) return { base_url: baseUrl, batches: [] };
  const state = readJson<BatchState>(path);
  if (!Array.isArray(state.batches))
    throw new BenchlineError("input", `${path}: not a batch record (no "batches" list)`);
  if (state.base_url !== baseUrl && state.batches.some((b) => b.state !== "collected")) {
    throw new BenchlineError(
      "input",
      `${path}: open batches were submitted to ${state.base_url}, not ${baseUrl}; set base_url back to collect them`,
    );
  }
  state.base_url = baseUrl;
  return state;
}
