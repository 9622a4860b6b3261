import { existsSync, statSync } from "node:fs";
import {
  BenchlineError,
  type Execution,
  executionSchema,
  forEachConcurrent,
  JsonlWriter,
  predictionSchema,
  rowKey,
  type Sandbox,
  type SandboxResult,
  type SandboxRunOptions,
  type SandboxStep,
  type StepResult,
  toRowError,
} from "../../core/index.js";
import { sampleMap } from "../../tasks/index.js";
import type { TrialContext } from "../context.js";
import { lastByKey, latestRows } from "../files.js";

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
  const samples = await sampleMap(exp.dataset);
  const executed = await lastByKey(files.executions, executionSchema, (row) => ({
    status: row.status,
    passed: row.passed,
    interrupted: row.status === "ok" && row.steps.some(wasAborted),
  }));
  const isDone = (key: string): boolean => {
    const last = executed.get(key);
    if (!last || last.interrupted) return false;
    if (last.status === "error") return !ctx.retryErrors;
    return last.passed || !ctx.retryFailedExecutions;
  };

  let total = 0;
  let done = 0;
  for await (const p of latestRows(files.predictions, predictionSchema)) {
    if (p.status !== "ok" || !samples.has(p.id) || p.sample >= exp.samplesPerItem) continue;
    total++;
    if (isDone(rowKey(p.id, p.sample))) done++;
  }
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "execution", total, done });
  if (done === total) return 0;

  async function* todo() {
    for await (const p of latestRows(files.predictions, predictionSchema)) {
      if (p.status !== "ok" || !samples.has(p.id) || p.sample >= exp.samplesPerItem) continue;
      if (!isDone(rowKey(p.id, p.sample))) yield p;
    }
  }

  const writer = JsonlWriter.open(files.executions);
  try {
    await forEachConcurrent(
      todo(),
      settings.concurrency,
      async (prediction) => {
        const sample = samples.get(prediction.id)!;
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
  return step.exit_code === null && !step.timed_out && step.stderr.includes("[benchline: aborted");
}
