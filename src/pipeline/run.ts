import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Trial } from "../config/index.js";
import {
  BenchlineError,
  forEachConcurrent,
  type Provider,
  type Sandbox,
  stableStringify,
} from "../core/index.js";
import {
  type BatchApi,
  type BatchSettings,
  batchSettings,
  createBatchApi,
  createProvider,
  priceFor,
} from "../providers/index.js";
import { createSandbox, SandboxPool } from "../sandbox/index.js";
import type { Budget, RunOptions, TrialContext } from "./context.js";
import type { EventSink, PhaseName, PhaseSelection } from "./events.js";
import { trialFiles } from "./files.js";
import type { FreshReport } from "./fresh-report.js";
import { readJson, writeJsonIfChanged } from "./json.js";
import { withManifestLock } from "./lock.js";
import { runBatchInferencePhase } from "./phases/batch.js";
import { assertPredictionsToExecute, runExecutionPhase } from "./phases/execution.js";
import { runInferencePhase } from "./phases/inference.js";
import { InlineScores } from "./phases/inline-scores.js";
import { type BuiltPrompt, runPromptsPhase, startPromptsPhase } from "./phases/prompts.js";
import type { ExperimentManifest } from "./phases/report.js";
import { runScoringPhase } from "./phases/scoring.js";
import { type ResolvedExperiment, relativeLabel, trialView } from "./resolve.js";
import type { TrialManifest } from "./trial-data.js";
import { VERSION } from "./version.js";

export { PHASES, type PhaseSelection } from "./events.js";

export interface RunResult {
  dir: string;
  report: string;
  interrupted: boolean;
  /** Why the run stopped early: Ctrl-C / the caller's signal, or --max-cost. */
  stopReason?: "interrupted" | "max_cost";
  /**
   * Trials of this run in which every row failed: predictions were written and none is ok, or
   * executions ran and every one was a sandbox error. The CLI exits 3 for them.
   */
  failed: { trial: string; by_code: Record<string, number>; examples?: Record<string, string> }[];
}

/**
 * Runs the selected phases of every trial, then the reports. Each phase reads the previous
 * phase's file and appends to its own, so any phase can be run alone and a rerun resumes.
 */
export async function runExperiment(
  exp: ResolvedExperiment,
  options: RunOptions & { phase?: PhaseSelection } = {},
): Promise<RunResult> {
  const phase = options.phase ?? "all";
  const wants = (p: PhaseName): boolean => phase === "all" || phase === p;
  const emit: EventSink = options.onEvent ?? (() => {});
  // The caller's signal (Ctrl-C) stops everything and aborts requests in flight. --max-cost only
  // stops new model calls: requests already sent complete and are written and counted, and what
  // was bought is still executed, scored and reported.
  const signal = options.signal ?? new AbortController().signal;
  const budgetController = new AbortController();
  const stopNew = AbortSignal.any([signal, budgetController.signal]);
  let stopReason: RunResult["stopReason"];
  const budget: Budget = {
    spent: 0,
    ...(options.maxCostUsd !== undefined ? { max: options.maxCostUsd } : {}),
    exhausted: () => {
      if (stopReason) return;
      stopReason = "max_cost";
      emit({
        type: "warning",
        message: `--max-cost reached ($${budget.spent.toFixed(4)} ≥ $${options.maxCostUsd}); no new model calls; requests in flight complete and are recorded`,
      });
      budgetController.abort();
    },
  };

  // One provider per model, shared by its trials: its concurrency and rate limits hold per model.
  const cacheDir =
    options.cacheDir === false ? undefined : (options.cacheDir ?? join(dirname(exp.dir), ".cache"));
  const providers = new Map<string, Provider>();
  // Unless the model sets its own, allow as many requests as its trials can have in flight.
  const defaultConcurrencyOf = (trial: Trial): number => {
    const trialsOfModel = exp.trials.filter((t) => t.spec.model.id === trial.spec.model.id).length;
    return exp.concurrency * Math.min(trialsOfModel, exp.trialConcurrency);
  };
  const providerFor = (trial: Trial): Provider => {
    const custom = options.createProvider?.(trial, cacheDir, defaultConcurrencyOf(trial));
    if (custom) return custom;
    let provider = providers.get(trial.spec.model.id);
    if (!provider) {
      const defaultConcurrency = defaultConcurrencyOf(trial);
      provider = createProvider(
        trial.spec.model,
        { baseDir: exp.baseDir, env: process.env },
        {
          defaultConcurrency,
          ...(cacheDir ? { cacheDir } : {}),
        },
      );
      providers.set(trial.spec.model.id, provider);
    }
    return provider;
  };
  // Models with `batch`: one Batch API client per model.
  const batchApis = new Map<string, { api: BatchApi; settings: BatchSettings }>();
  const batchFor = (trial: Trial): { api: BatchApi; settings: BatchSettings } | undefined => {
    const settings = batchSettings(trial.spec.model);
    if (!settings || options.createProvider) return undefined;
    let batch = batchApis.get(trial.spec.model.id);
    if (!batch) {
      batch = {
        api: createBatchApi(trial.spec.model, { baseDir: exp.baseDir, env: process.env }, settings),
        settings,
      };
      batchApis.set(trial.spec.model.id, batch);
    }
    return batch;
  };
  // Providers are created before anything is written: a missing key or program is an error
  // that leaves no files behind.
  if (wants("inference") && !options.createProvider)
    for (const trial of exp.trials) {
      try {
        if (!batchFor(trial)) providerFor(trial);
      } catch (error) {
        throw withModelLabel(error, trial.spec.model.id, exp.modelLabels?.[trial.spec.model.id]);
      }
    }

  if (phase === "execution" && exp.task.execute) {
    const predictions = exp.trials.map((t) => trialFiles(join(exp.dir, t.name)).predictions);
    assertPredictionsToExecute(predictions, relativeLabel(exp.configPath));
  }
  const executes = wants("execution") && exp.task.execute !== undefined;
  const sandbox = executes ? (options.sandbox ?? sandboxFor(exp, emit)) : undefined;
  // A sandbox that cannot work (no docker daemon, no image) stops the run here, once.
  if (sandbox && !options.sandbox) await sandbox.start?.();
  await options.beforeWrite?.();

  mkdirSync(exp.dir, { recursive: true });
  await withManifestLock(exp.dir, () => writeManifest(exp));
  emit({
    type: "experiment:start",
    trial_names: exp.trials.map((t) => t.name),
    name: exp.name,
    dir: exp.dir,
    trials: exp.trials.length,
    items: exp.dataset.index.size,
    samples: exp.samplesPerItem,
  });

  if (options.maxCostUsd !== undefined) {
    // Cost comes from a price table: a hosted model without a known price never reaches the cap.
    const unpriced = [...new Set(exp.trials.map((t) => t.spec.model))].filter(
      (m) => m.provider === "openai" && m.options.price === undefined && priceFor(m.model) === undefined,
    );
    for (const m of unpriced) {
      emit({
        type: "warning",
        message: `--max-cost: no price known for "${m.id}"; set price: {input, output} (USD per 1M tokens) or it is not counted`,
      });
    }
  }
  // Trials whose summary was built as their rows were written: the report need not read them back.
  const freshReports = new Map<string, FreshReport>();
  const runTrial = async ({ trial, index }: { trial: Trial; index: number }): Promise<void> => {
    const ctx: TrialContext = {
      exp: trialView(exp, trial),
      trial,
      files: trialFiles(join(exp.dir, trial.name)),
      emit,
      signal,
      stopNew,
      retryErrors: options.retryErrors ?? true,
      retryFailedExecutions: options.retryFailedExecutions ?? false,
      budget,
    };
    prepareTrialDir(ctx);
    emit({ type: "trial:start", trial: trial.name, index });
    const batch = wants("inference") ? batchFor(trial) : undefined;
    if (batch || !wants("inference"))
      await timed(ctx, "prompts", wants("prompts") || wants("inference"), () => runPromptsPhase(ctx));
    let pending = 0;
    let scoredInline: InlineScores | undefined;
    if (batch) {
      await timed(ctx, "inference", true, async () => {
        const wait = options.batchWait ?? true;
        const result = await runBatchInferencePhase(ctx, batch.api, batch.settings, { wait });
        pending = result.pending;
        return result.written;
      });
    } else if (wants("inference")) {
      // A fresh trial scores each answer as it arrives (the CPU is idle while answers are awaited);
      // when that covered every ok prediction, the scoring phase has nothing left to read.
      const inline = wants("score") ? InlineScores.open(ctx) : undefined;
      try {
        await promptsAndInference(ctx, providerFor(trial), inline);
      } catch (error) {
        inline?.report?.discard();
        throw error;
      } finally {
        inline?.close();
      }
      if (inline?.coversScoring()) {
        scoredInline = inline;
        if (inline.report) freshReports.set(trial.name, inline.report);
      } else inline?.report?.discard();
    }
    if (pending > 0) {
      // Submitted and not finished (--no-wait, or interrupted): later phases wait for a rerun.
      if (!signal.aborted)
        emit({
          type: "warning",
          trial: trial.name,
          message: `${trial.name}: ${pending} batch(es) running at the provider (recorded in batches.json); run the same command again to collect them`,
        });
      emit({ type: "trial:done", trial: trial.name });
      return;
    }
    if (sandbox) {
      await timed(ctx, "execution", true, () =>
        runExecutionPhase(ctx, {
          sandbox,
          timeoutMs: exp.execution.run.timeoutMs,
          limits: exp.execution.run.limits,
          concurrency: exp.execution.concurrency,
        }),
      );
    }
    if (wants("score"))
      await timed(ctx, "score", true, () =>
        scoredInline ? scoredAlready(ctx, scoredInline) : runScoringPhase(ctx),
      );
    emit({ type: "trial:done", trial: trial.name });
  };
  try {
    // Each trial reads and writes only its own directory, so trials can run side by side.
    await forEachConcurrent(
      exp.trials.map((trial, index) => ({ trial, index })),
      exp.trialConcurrency,
      runTrial,
      signal,
    );
  } catch (error) {
    for (const fresh of freshReports.values()) fresh.discard();
    throw error;
  } finally {
    await Promise.all([...providers.values()].map((p) => p.close?.()));
    await Promise.all([...batchApis.values()].map((b) => b.api.close()));
    if (sandbox && !options.sandbox) await sandbox.close?.();
  }

  // The report renderers (HTML, SVG, CSV) load only now, not before the first request.
  const { writeReports } = await import("./phases/report.js");
  let written: Awaited<ReturnType<typeof writeReports>>;
  try {
    written = await writeReports(exp.dir, { items: exp.dataset.index, fresh: freshReports });
  } finally {
    for (const fresh of freshReports.values()) fresh.discard();
  }
  const { report, summaries } = written;
  const failed: RunResult["failed"] = [];
  for (const s of summaries) {
    if (!exp.trials.some((t) => t.name === s.trial)) continue;
    const { by_code, examples } = s.errors;
    emit({
      type: "trial:end",
      trial: s.trial,
      summary: { mean: s.mean_score, errors: s.errors.count, by_code, ...(examples ? { examples } : {}) },
    });
    const allPredictionsFailed = s.predictions.error > 0 && s.predictions.ok === 0;
    const allExecutionsFailed =
      s.executions !== undefined && s.executions.total > 0 && s.executions.error === s.executions.total;
    if (allPredictionsFailed || allExecutionsFailed)
      failed.push({ trial: s.trial, by_code, ...(examples ? { examples } : {}) });
  }
  const interrupted = signal.aborted;
  if (interrupted && !stopReason) stopReason = "interrupted";
  emit({ type: "experiment:end", dir: exp.dir, report, interrupted });
  return { dir: exp.dir, report, interrupted, failed, ...(stopReason ? { stopReason } : {}) };
}

/** The experiment's sandbox, capped at `execution.concurrency` live sandboxes. */
function sandboxFor(exp: ResolvedExperiment, emit: EventSink): Sandbox {
  const sandbox = createSandbox(exp.execution.sandbox);
  if (exp.execution.sandbox.kind === "local") {
    emit({
      type: "warning",
      message: "execution.sandbox is local: generated commands run as plain processes with NO isolation",
    });
  }
  return new SandboxPool(sandbox, exp.execution.concurrency);
}

/**
 * The prompts and inference phases, overlapped: each new prompt is sent as soon as it is built
 * and written, so requests leave before the prompts file is complete and neither the prompts
 * file nor the dataset is read again. A rerun that finds prompts on file runs the two one after
 * the other (inference reads the prompts that were written, whatever wrote them).
 */
async function promptsAndInference(
  ctx: TrialContext,
  provider: Provider,
  inline: InlineScores | undefined,
): Promise<void> {
  if (ctx.signal.aborted) return;
  const started = performance.now();
  const prompts = await startPromptsPhase(ctx);
  let written = 0;
  let complete = false;
  let busy = performance.now() - started;
  const promptsEnd = (): void =>
    ctx.emit({ type: "phase:end", trial: ctx.trial.name, phase: "prompts", written, ms: Math.round(busy) });
  if (prompts.already > 0) {
    for await (const _ of prompts.write()) written++;
    busy = performance.now() - started;
    promptsEnd();
    await timed(ctx, "inference", true, () => runInferencePhase(ctx, provider, undefined, inline));
    return;
  }
  // The prompts phase's time is the time spent building and writing prompts, not the time it
  // waited for inference to take them.
  async function* fresh(): AsyncGenerator<BuiltPrompt> {
    let from = performance.now();
    for await (const built of prompts.write()) {
      busy += performance.now() - from;
      written++;
      yield built;
      // A turn of the event loop after the first prompt and every 64th: the requests dispatched
      // for them connect and leave now, not after all the prompts of the dataset's first read
      // (hundreds) are built and their requests dispatched (issue 15: the first request left
      // ≈50 ms after it was dispatched for 100 items at concurrency 256).
      if (written % 64 === 1) await pastPoll();
      from = performance.now();
    }
    busy += performance.now() - from;
    complete = true;
    promptsEnd();
  }
  try {
    await timed(ctx, "inference", true, () => runInferencePhase(ctx, provider, fresh(), inline));
  } finally {
    // Inference stopped taking prompts (every prediction was on file, Ctrl-C, --max-cost, a fatal
    // error): the rest are written all the same, since the reports count items from that file.
    if (!complete) {
      const from = performance.now();
      written += await runPromptsPhase(ctx, { evenIfAborted: true });
      busy += performance.now() - from;
      promptsEnd();
    }
  }
}

/** Resolves after the event loop has passed its I/O phase once (two `setImmediate` turns). */
const pastPoll = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));

/** The scoring phase of a trial whose inference scored every answer as it came (`InlineScores`). */
async function scoredAlready(ctx: TrialContext, inline: InlineScores): Promise<number> {
  const total = inline.items;
  ctx.emit({ type: "phase:start", trial: ctx.trial.name, phase: "score", total, done: total });
  return inline.written;
}

async function timed(
  ctx: TrialContext,
  phase: PhaseName,
  run: boolean,
  fn: () => Promise<number>,
): Promise<void> {
  if (!run || ctx.signal.aborted) return;
  const started = performance.now();
  const written = await fn();
  ctx.emit({
    type: "phase:end",
    trial: ctx.trial.name,
    phase,
    written,
    ms: Math.round(performance.now() - started),
  });
}

/** Creates the trial directory and its trial.json; refuses a directory that belongs to another spec. */
function prepareTrialDir(ctx: TrialContext): void {
  const { trial, files } = ctx;
  mkdirSync(files.dir, { recursive: true });
  let mergedFrom: unknown;
  if (existsSync(files.trial)) {
    const existing = readJson<TrialManifest & { merged_from?: unknown }>(files.trial);
    mergedFrom = existing.merged_from;
    if (existing.hash !== trial.hash) {
      throw new BenchlineError(
        "input",
        `${files.trial}: directory belongs to another trial (hash ${existing.hash}, expected ${trial.hash})`,
      );
    }
  }
  const manifest: TrialManifest = { name: trial.name, hash: trial.hash, spec: trial.spec };
  // `benchline merge` records the runs it combined into this directory; keep that record.
  writeJsonIfChanged(
    files.trial,
    mergedFrom === undefined ? manifest : { ...manifest, merged_from: mergedFrom },
  );
}

/**
 * experiment.json lists this run's trials plus earlier ones still current: an earlier trial is
 * dropped when this run has a trial with the same model and prompt set (its spec changed).
 */
function writeManifest(exp: ResolvedExperiment): void {
  const path = join(exp.dir, "experiment.json");
  const current = exp.trials.map(describe);
  let trials = current;
  if (existsSync(path)) {
    const existing = readJson<ExperimentManifest>(path);
    const sameData = sameExperimentData(existing, exp);
    if (!sameData && existing.config !== exp.configPath) {
      // Two experiments under one name would share experiment.json and its report.
      throw new BenchlineError(
        "usage",
        `${relativeLabel(exp.dir)}: already holds experiment "${existing.name}" from ${relativeLabel(existing.config)} (task ${existing.task?.name}, dataset ${relativeLabel(existing.dataset?.path ?? "?")}); choose another --name or --out`,
      );
    }
    // The same file with a changed task or dataset: earlier trials no longer belong to it.
    const previous = sameData ? (existing.trials ?? []) : [];
    const kept = previous.filter(
      (p) =>
        !current.some((c) => c.name === p.name || (c.model === p.model && c.prompt_set === p.prompt_set)),
    );
    trials = [...kept, ...current];
  }
  const manifest: ExperimentManifest = {
    name: exp.name,
    tool: { name: "benchline", version: VERSION },
    config: exp.configPath,
    task: { name: exp.task.name, options: (exp.taskOptions ?? {}) as Record<string, unknown> },
    dataset: {
      path: exp.dataset.source ?? exp.dataset.path,
      sha256: exp.dataset.sha256,
      rows: exp.dataset.total,
    },
    limit: exp.limit ?? null,
    samples: exp.samplesPerItem,
    concurrency: exp.concurrency,
    scorers: exp.scorers.map((s) => s.name),
    stats: exp.stats,
    trials,
  };
  writeJsonIfChanged(path, manifest);
}

/** Same task, task options and dataset content: trials of both belong in one report. */
function sameExperimentData(existing: ExperimentManifest, exp: ResolvedExperiment): boolean {
  return (
    existing.task?.name === exp.task.name &&
    stableStringify(existing.task.options ?? {}) === stableStringify(exp.taskOptions ?? {}) &&
    existing.dataset?.sha256 === exp.dataset.sha256
  );
}

function describe(t: Trial): ExperimentManifest["trials"][number] {
  return { name: t.name, hash: t.hash, model: t.spec.model.id, prompt_set: t.spec.prompt_set.name };
}

/**
 * A provider's config error names the model by id (`model "x": …`); where the entry came from
 * (`exp.yaml: models[1]`) is known here, so the message names the file and entry too.
 */
function withModelLabel(error: unknown, id: string, where: string | undefined): unknown {
  if (!(error instanceof BenchlineError) || where === undefined || where === `model "${id}"`) return error;
  const prefix = [`model "${id}": `, `model ${id}: `].find((p) => error.message.startsWith(p));
  const rest = prefix ? error.message.slice(prefix.length) : error.message;
  return new BenchlineError(error.code, `${where} ("${id}"): ${rest}`, { cause: error });
}
