import { existsSync } from "node:fs";
import {
  BenchlineError,
  fitToContext,
  flattenMessages,
  forEachConcurrent,
  type Generation,
  isFatal,
  JsonlWriter,
  type Prediction,
  type PromptRecord,
  type Provider,
  predictionSchema,
  promptRecordSchema,
  readAhead,
  readJsonl,
  type Sample,
  type Truncation,
  toRowError,
} from "../../core/index.js";
import { type Dataset, readDataset } from "../../tasks/index.js";
import type { TrialContext } from "../context.js";
import type { RunEvent } from "../events.js";
import type { InlineScores } from "./inline-scores.js";
import type { BuiltPrompt } from "./prompts.js";

interface Job {
  prompt: PromptRecord;
  sample: Sample;
  sampleIndices: number[];
}

/**
 * Phase 2: for every prompt, the samples 0..n-1 that have no `ok` prediction yet (errors are
 * retried unless `retryErrors` is false) are requested in one call (one call per sample when the
 * model has a seed) and appended as they finish. A fatal provider error (server down, unknown
 * host, TLS or auth failure) stops the phase: the requests that were sent are recorded as errors
 * and the phase throws that error's message.
 */
export async function runInferencePhase(
  ctx: TrialContext,
  provider: Provider,
  /**
   * The prompts as the prompts phase writes them (`startPromptsPhase`), each with its sample; by
   * default the prompts file is read, and the samples from the dataset in step with it.
   */
  fresh?: AsyncIterable<BuiltPrompt>,
  /** Scores each ok answer as it is written (a fresh trial whose scorers are all local). */
  inline?: InlineScores,
): Promise<number> {
  const { exp, trial, files } = ctx;
  const n = exp.samplesPerItem;
  const status = await readStatus(files.predictions, exp.dataset, n);
  const isDone = (position: number, s: number): boolean => {
    const st = status?.get(position, s) ?? NONE;
    return st === OK || (st === ERROR && !ctx.retryErrors);
  };
  const todo = (position: number): number[] => {
    const sampleIndices: number[] = [];
    for (let i = 0; i < n; i++) if (!isDone(position, i)) sampleIndices.push(i);
    return sampleIndices;
  };
  let doneCount = 0;
  if (status)
    for (const id of exp.dataset.index.keys()) doneCount += n - todo(exp.dataset.index.get(id)!).length;
  const total = exp.dataset.index.size * n;
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "inference", total, done: doneCount });
  if (doneCount === total) return 0;

  const params = trial.spec.model.params;
  // With a seed, each sample is its own request (providers generate sample i with seed + i), so
  // one failed sample loses no other and each counts against the model's rate limits.
  const seeded = params.seed !== undefined;
  async function* jobs(): AsyncGenerator<Job> {
    if (fresh) {
      for await (const { prompt, sample } of fresh) {
        const position = prompt.index ?? exp.dataset.index.get(prompt.id);
        const sampleIndices = position === undefined ? [] : todo(position);
        if (sampleIndices.length === 0) continue;
        if (seeded) for (const i of sampleIndices) yield { prompt, sample, sampleIndices: [i] };
        else yield { prompt, sample, sampleIndices };
      }
      return;
    }
    // Samples are read from the dataset in step with the prompts (both are in dataset order), so
    // the first request leaves without a pass over the whole dataset first.
    const samples = new SampleLookup(exp.dataset, (id) => todo(exp.dataset.index.get(id)!).length > 0);
    try {
      for await (const { value: prompt } of readJsonl(files.prompts, { schema: promptRecordSchema })) {
        const position = exp.dataset.index.get(prompt.id);
        if (position === undefined) continue;
        const sampleIndices = todo(position);
        if (sampleIndices.length === 0) continue;
        const sample = await samples.take(prompt.id);
        if (!sample) continue; // a second record for an id: its samples are requested already
        if (seeded) for (const i of sampleIndices) yield { prompt, sample, sampleIndices: [i] };
        else yield { prompt, sample, sampleIndices };
      }
    } finally {
      await samples.close();
    }
  }

  // A model with a known context length: prompts that do not fit are shortened by the task's
  // policy (about 4 characters a token, leaving room for the completion) and marked truncated.
  const contextLength = trial.spec.model.options.context_length;
  const maxChars =
    typeof contextLength === "number"
      ? Math.max(256, (contextLength - (params.max_tokens ?? 256)) * 4)
      : undefined;
  const tokenLimit =
    typeof contextLength === "number" ? Math.max(1, contextLength - (params.max_tokens ?? 256)) : undefined;
  // Answers that arrive in one turn of the event loop are written together at the end of that
  // turn (one write, not one per row), and only then reported as done: a row event always means
  // the row is in the operating system. A kill -9 can lose answers of the turn in progress — never
  // a row reported done — and the rerun asks for them again.
  //
  // A slot's next request leaves before its answer is recorded: the answer's rows are built and
  // its cost counted at once (a spent budget stops the next request), while writing, scoring and
  // events wait (`record`). When a burst of answers arrives together, every freed slot is refilled
  // first, instead of each waiting for the bookkeeping of the answers before it. The HTTP client
  // writes a request on a kept-alive connection in the event loop's check phase (undici waits a
  // turn before reusing a socket), so the flush is a timer: it runs at the start of the next turn,
  // after those writes, not among them. The prompts are likewise built ahead (`readAhead`).
  const writer = JsonlWriter.open(files.predictions, { buffered: true });
  const source = readAhead(jobs(), Math.max(1, exp.concurrency));
  const unrecorded: { rows: Prediction[]; sample: Sample; position: number | undefined }[] = [];
  const unreported: RunEvent[] = [];
  // Scores of answers whose scorer is asynchronous; at most `concurrency` at a time.
  const scoring = new Set<Promise<void>>();
  let flushTimer: NodeJS.Timeout | undefined;
  let recordFailure: { error: unknown } | undefined;
  const record = ({ rows, sample, position }: (typeof unrecorded)[number]): void => {
    for (const row of rows) {
      writer.write(row);
      const scored = inline?.add(row, sample, position);
      if (scored) {
        const done: Promise<void> = scored.then(() => {
          scoring.delete(done);
        });
        scoring.add(done);
      }
      unreported.push({
        type: "row",
        trial: trial.name,
        phase: "inference",
        status: row.status,
        cached: row.cached,
        ...(row.cost_usd !== undefined ? { cost_usd: row.cost_usd } : {}),
        ...(row.error ? { error: row.error } : {}),
        ...guidedOf(row),
      });
    }
  };
  const flush = (): void => {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    try {
      for (const answer of unrecorded.splice(0)) record(answer);
      writer.flush();
      // After the predictions they score: a kill between the two writes loses scores, never orphans one.
      inline?.flush();
    } catch (error) {
      // A write that failed (disk full, ...) stops the phase; the rows of this turn are not reported.
      recordFailure ??= { error };
      unreported.length = 0;
      stop.abort();
      return;
    }
    for (const event of unreported.splice(0)) ctx.emit(event);
  };
  // A fatal provider error (server down, TLS, auth) stops new requests of this trial too.
  let fatal: unknown;
  const stop = new AbortController();
  const stopNew = AbortSignal.any([ctx.stopNew, stop.signal]);
  try {
    await forEachConcurrent(
      source,
      exp.concurrency,
      async ({ prompt, sample, sampleIndices }) => {
        const reference = exp.task.reference(sample);
        const started = performance.now();
        let generation: Generation | undefined;
        let failure: unknown;
        let fitted: Awaited<ReturnType<typeof fitToContext>> = { messages: prompt.messages };
        try {
          // A prompt the task's shortener cannot fit is an error row (retried like any other).
          // Counted by the model's tokenizer when the provider knows it (else the estimate).
          if (maxChars !== undefined && tokenLimit !== undefined)
            fitted = await fitToContext(prompt.messages, {
              tokenLimit,
              fallbackChars: maxChars,
              policy: exp.task.truncation ?? "middle",
              count: provider.countTokens
                ? (messages, text) => provider.countTokens!(messages, text, ctx.signal)
                : undefined,
              flatten: flattenMessages,
            });
          generation = await provider.generate(
            {
              messages: fitted.messages,
              prompt: fitted.truncation ? flattenMessages(fitted.messages) : prompt.prompt,
              n: sampleIndices.length,
              sampleIndices,
              ...params,
            },
            {
              signal: ctx.signal,
              stopNew,
              sample,
              ...(reference !== undefined ? { reference } : {}),
              onRetry: (retry) =>
                ctx.emit({
                  type: "retry",
                  trial: trial.name,
                  phase: "inference",
                  id: prompt.id,
                  samples: sampleIndices,
                  ...retry,
                }),
            },
          );
          if (generation.completions.length !== sampleIndices.length) {
            throw Object.assign(
              new Error(
                `provider returned ${generation.completions.length} completions for ${sampleIndices.length} samples`,
              ),
              { code: "bad_response" },
            );
          }
        } catch (error) {
          // Interrupted, or never sent because new requests stopped: nothing to record, a rerun does it.
          if (ctx.signal.aborted || (stopNew.aborted && errorCodeOf(error) === "aborted")) return;
          if (isFatal(error)) {
            fatal ??= error;
            stop.abort();
            if (attemptsOf(error) === 0) return; // never sent: nothing happened to record
          }
          generation = undefined;
          failure = error;
        }
        const latency = Math.round(performance.now() - started);
        const base = {
          id: prompt.id,
          model: provider.id,
          prompt_hash: prompt.prompt_hash,
          // A request that produced n samples took `latency` for all of them: each row gets its share,
          // so summed latencies are model time, not n times it.
          latency_ms: Math.round(latency / sampleIndices.length),
          created_at: new Date().toISOString(),
        };
        const rows = sampleIndices.map(
          (sampleIndex, i): Prediction =>
            generation
              ? successRow(base, sampleIndex, generation, i, fitted.truncation)
              : orderFields({
                  ...base,
                  sample: sampleIndex,
                  completion: "",
                  status: "error",
                  error: toRowError(failure),
                  attempts: attemptsOf(failure),
                  cached: false,
                }),
        );
        unrecorded.push({ rows, sample, position: prompt.index });
        flushTimer ??= setTimeout(flush, 0);
        for (const row of rows) {
          if (row.cost_usd && !row.cached) {
            ctx.budget.spent += row.cost_usd;
            if (ctx.budget.max !== undefined && ctx.budget.spent >= ctx.budget.max) ctx.budget.exhausted();
          }
        }
        // Asynchronous scorers are not let fall further behind than one answer a slot.
        while (scoring.size >= exp.concurrency) await Promise.race(scoring);
      },
      stopNew,
    );
  } finally {
    // Ends the jobs (closing the dataset and prompt streams they read) when they were not all taken.
    await source.return(undefined);
    flush();
    if (scoring.size > 0) {
      await Promise.all(scoring);
      flush();
    }
    writer.close();
  }
  if (recordFailure) throw recordFailure.error;
  if (fatal !== undefined) {
    throw new BenchlineError("provider", `model ${provider.id}: ${(fatal as Error).message}`, {
      cause: fatal,
    });
  }
  return writer.count;
}

/**
 * An ok row, built directly in the on-disk field order (`FIELD_ORDER`, then provider extras, then
 * `truncated`): this runs once per completion, so it makes one object, not three.
 */
function successRow(
  base: { id: string; model: string; prompt_hash: string; latency_ms: number; created_at: string },
  sample: number,
  generation: Generation,
  index: number,
  truncation: Truncation | undefined,
): Prediction {
  const completion = generation.completions[index]!;
  const share = generation.completions.length;
  const extras = completion.extras;
  const row: Record<string, unknown> = {
    id: base.id,
    sample,
    model: base.model,
    prompt_hash: base.prompt_hash,
    status: "ok",
    completion: completion.text,
  };
  if (completion.finish_reason !== undefined) row.finish_reason = completion.finish_reason;
  if (generation.usage) {
    row.usage = {
      prompt_tokens: Math.round(generation.usage.prompt_tokens / share),
      completion_tokens: Math.round(generation.usage.completion_tokens / share),
    };
  }
  if (generation.cost_usd !== undefined) row.cost_usd = generation.cost_usd / share;
  row.latency_ms = base.latency_ms;
  row.attempts = generation.attempts ?? 1;
  // A request partly served from the cache marks its cached completions one by one.
  row.cached = generation.cached === true || extras?.cached === true;
  row.created_at = base.created_at;
  if (extras)
    for (const key in extras) if (!(key in row) && extras[key] !== undefined) row[key] = extras[key];
  if (truncation) row.truncated = truncation;
  return row as Prediction;
}

const NONE = 0;
const OK = 1;
const ERROR = 2;

/**
 * The status of the last prediction row on file for each (dataset position, sample): one byte a
 * row in a typed array, not a map entry (a resumed 1M-row trial holds 1 MB, no strings). Rows of
 * ids outside the selection, or samples beyond `n`, are not needed and not kept. Undefined when
 * there is no predictions file.
 */
async function readStatus(
  path: string,
  dataset: Dataset,
  n: number,
): Promise<{ get(position: number, sample: number): number } | undefined> {
  if (!existsSync(path)) return undefined;
  let bytes = new Uint8Array(Math.max(1, dataset.total) * n);
  for await (const { value: row } of readJsonl(path, { schema: predictionSchema })) {
    if (row.sample >= n) continue;
    const position = dataset.index.get(row.id);
    if (position === undefined) continue;
    const at = position * n + row.sample;
    if (at >= bytes.length) {
      const grown = new Uint8Array(Math.max(at + 1, bytes.length * 2));
      grown.set(bytes);
      bytes = grown;
    }
    bytes[at] = row.status === "ok" ? OK : ERROR;
  }
  return { get: (position, sample) => bytes[position * n + sample] ?? NONE };
}

/**
 * The dataset's samples by id, read from the file as they are asked for. Asked in dataset order
 * (the prompts file's order), nothing is held; a sample read past on the way to another is kept
 * until it is asked for (if `wanted`), so any order works, holding at most the samples still to
 * request (never more than a map of every sample). Each sample is handed out once.
 */
class SampleLookup {
  private readonly waiting = new Map<string, Sample>();
  private readonly source: AsyncGenerator<Sample>;
  private exhausted = false;

  constructor(
    dataset: Dataset,
    private readonly wanted: (id: string) => boolean,
  ) {
    this.source = readDataset(dataset);
  }

  async take(id: string): Promise<Sample | undefined> {
    const held = this.waiting.get(id);
    if (held) {
      this.waiting.delete(id);
      return held;
    }
    while (!this.exhausted) {
      const next = await this.source.next();
      if (next.done) {
        this.exhausted = true;
        break;
      }
      if (next.value.id === id) return next.value;
      if (this.wanted(next.value.id)) this.waiting.set(next.value.id, next.value);
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.source.return(undefined);
  }
}

function errorCodeOf(error: unknown): unknown {
  return (error as { code?: unknown } | undefined)?.code;
}

function attemptsOf(error: unknown): number {
  const attempts = (error as { attempts?: unknown } | undefined)?.attempts;
  return typeof attempts === "number" ? attempts : 1;
}

const FIELD_ORDER = [
  "id",
  "sample",
  "model",
  "prompt_hash",
  "status",
  "completion",
  "error",
  "finish_reason",
  "usage",
  "cost_usd",
  "latency_ms",
  "attempts",
  "cached",
  "created_at",
];

/** Stable field order on disk: the record fields first, provider extras after. */
function orderFields(row: Prediction): Prediction {
  const out: Record<string, unknown> = {};
  for (const key of FIELD_ORDER)
    if (key in row && (row as Record<string, unknown>)[key] !== undefined)
      out[key] = (row as Record<string, unknown>)[key];
  for (const [key, value] of Object.entries(row)) if (!(key in out) && value !== undefined) out[key] = value;
  return out as Prediction;
}

/** The `guided` part of a row event: a guided prediction's segments. */
function guidedOf(row: Prediction) {
  const interleaved = (row as { interleaved?: unknown }).interleaved;
  if (!Array.isArray(interleaved)) return {};
  return {
    guided: { id: row.id, sample: row.sample, interleaved: interleaved as { text: string; model: string }[] },
  };
}
