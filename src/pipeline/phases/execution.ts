import { existsSync, statSync } from "node:fs";
import {
  BenchlineError,
  type Execution,
  forEachConcurrent,
  JsonlWriter,
  predictionSchema,
  type Sandbox,
  type SandboxResult,
  type SandboxRunOptions,
  type SandboxStep,
  type StepResult,
  toRowError,
} from "../../core/index.js";
import type { TrialContext } from "../context.js";
import { SampleLookup } from "../in-step.js";
import { datasetScope, finalRows, readKeyTable, splitKey } from "../key-table.js";

/** Flags of a key's last execution row. */
const ERROR = 1;
const PASSED = 2;
const INTERRUPTED = 4;

export interface ExecutionSettings {
  sandbox: Sandbox;
  timeoutMs: number;
  concurrency: number;
  limits?: import("../../core/index.js").SandboxLimits;
}

/**
 * Phase 3 (tasks that execute): each ok prediction's artifact runs in a fresh sandbox. Rows whose
 * last execution is an `error` (the sandbox itself failed) run again unless `retryErrors` is false;
 * with `retryFailedExecutions`, executions that ran but did not pass run again too. Inference is
 * never redone here.
 */
export async function runExecutionPhase(ctx: TrialContext, settings: ExecutionSettings): Promise<number> {
  const { exp, trial, files } = ctx;
  const execute = exp.task.execute;
  if (!execute) return 0;
  // Off the heap: each key's last execution (flags) and last prediction (ok or not). Samples are
  // read from the dataset in step with the predictions (both in about dataset order).
  // Keys in scope are kept by their item's position in the dataset (no bytes per key).
  const scope = datasetScope(exp.dataset, exp.samplesPerItem);
  const executed = await readKeyTable<{ status?: unknown; passed?: unknown; steps?: unknown }>(
    files.executions,
    (row) =>
      (row.status === "error" ? ERROR : 0) |
      (row.passed === true ? PASSED : 0) |
      (row.status === "ok" && Array.isArray(row.steps) && row.steps.some(wasAborted) ? INTERRUPTED : 0),
    undefined,
    scope,
  );
  const isDone = (key: string): boolean => {
    const last = executed.flags(key);
    if (last === undefined || last & INTERRUPTED) return false;
    if (last & ERROR) return !ctx.retryErrors;
    return (last & PASSED) !== 0 || !ctx.retryFailedExecutions;
  };
  const predictions = await readKeyTable<{ status?: unknown }>(
    files.predictions,
    (row) => (row.status === "ok" ? 1 : 0),
    undefined,
    scope,
  );
  const samples = new SampleLookup(exp.dataset);
  const inScope = (id: string, sample: number): boolean =>
    exp.dataset.index.has(id) && sample < exp.samplesPerItem;

  let total = 0;
  let done = 0;
  for (const [key, ok] of predictions.entries()) {
    const [id, sample] = splitKey(key);
    if (ok !== 1 || !inScope(id, sample)) continue;
    total++;
    if (isDone(key)) done++;
    else samples.need(id);
  }
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "execution", total, done });
  if (done === total) return 0;

  // Taken here, one at a time (the lookup reads the dataset in order), not in the workers.
  async function* todo() {
    try {
      for await (const { key, row: p } of finalRows(files.predictions, predictions, predictionSchema)) {
        if (p.status !== "ok" || !inScope(p.id, p.sample) || isDone(key)) continue;
        const sample = await samples.take(p.id);
        if (sample) yield { prediction: p, sample };
      }
    } finally {
      await samples.close();
    }
  }

  const writer = JsonlWriter.open(files.executions);
  try {
    await forEachConcurrent(
      todo(),
      settings.concurrency,
      async ({ prediction, sample }) => {
        const started_at = new Date().toISOString();
        const sandbox = watchAborts(settings.sandbox);
        let row: Execution;
        let artifact: unknown;
        try {
          artifact = exp.task.parse(prediction.completion, sample, exp.taskOptions, prediction);
          const outcome = await execute(artifact, sample, {
            sandbox,
            options: exp.taskOptions,
            timeoutMs: settings.timeoutMs,
            ...(settings.limits ? { limits: settings.limits } : {}),
            signal: ctx.signal,
          });
          // A task may catch the abort and return an outcome anyway: it is still no result.
          if (sandbox.aborted()) return;
          row = {
            id: prediction.id,
            sample: prediction.sample,
            status: "ok",
            artifact,
            ...outcome.extras,
            steps: outcome.steps,
            passed: outcome.passed,
            sandbox: settings.sandbox.name,
            started_at,
            ended_at: new Date().toISOString(),
          };
        } catch (error) {
          // An interrupted execution is no result: no row, so a rerun executes it again.
          if (ctx.signal.aborted || sandbox.aborted() || isAbortError(error)) return;
          row = {
            id: prediction.id,
            sample: prediction.sample,
            status: "error",
            error: toRowError(error, "sandbox_error"),
            artifact: artifact ?? null,
            steps: [],
            passed: false,
            sandbox: settings.sandbox.name,
            started_at,
            ended_at: new Date().toISOString(),
          };
        }
        writer.write(row);
        ctx.emit({ type: "row", trial: trial.name, phase: "execution", status: row.status });
      },
      ctx.signal,
    );
  } finally {
    writer.close();
  }
  return writer.count;
}

/**
 * Before anything is written: `--phase execution` needs predictions in at least one trial
 * (`predictionFiles`, one per trial); otherwise a BenchlineError names the command that makes them.
 */
export function assertPredictionsToExecute(predictionFiles: string[], configLabel: string): void {
  if (predictionFiles.some((path) => existsSync(path) && statSync(path).size > 0)) return;
  const where = predictionFiles.length === 1 ? "the trial" : `any of the ${predictionFiles.length} trials`;
  throw new BenchlineError(
    "input",
    `nothing to execute: no predictions in ${where}; run inference first: benchline run ${configLabel} --phase inference`,
  );
}

// ---------------------------------------------------------------- internal helpers

/** The sandbox, remembering whether any of its runs for this execution was interrupted. */
function watchAborts(sandbox: Sandbox): Sandbox & { aborted(): boolean } {
  let aborted = false;
  return {
    name: sandbox.name,
    aborted: () => aborted,
    async run(steps: SandboxStep[], options: SandboxRunOptions): Promise<SandboxResult> {
      try {
        return await sandbox.run(steps, options);
      } catch (error) {
        if (isAbortError(error) || options.signal?.aborted) aborted = true;
        throw error;
      }
    },
  };
}

function isAbortError(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === "AbortError" || (error as { code?: unknown }).code === "aborted")
  );
}

/**
 * Rows written before aborted runs raised an error (benchline <= 0.1.0) recorded an aborted step
 * as `exit_code: null` without `timed_out`; no finished step looks like that, so such a row is
 * executed again instead of counting as a failure.
 */
function wasAborted(step: StepResult): boolean {
  return (
    step !== null &&
    typeof step === "object" &&
    step.exit_code === null &&
    !step.timed_out &&
    typeof step.stderr === "string" &&
    step.stderr.includes("[benchline: aborted")
  );
}
