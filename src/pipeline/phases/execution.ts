import {
  type Execution,
  executionSchema,
  forEachConcurrent,
  JsonlWriter,
  predictionSchema,
  rowKey,
  type Sandbox,
  toRowError,
} from "../../core/index.js";
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
  const samples = new Map(exp.dataset.samples.map((s) => [s.id, s]));
  const executed = await lastByKey(files.executions, executionSchema, (row) => ({
    status: row.status,
    passed: row.passed,
  }));
  const isDone = (key: string): boolean => {
    const last = executed.get(key);
    if (!last) return false;
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
        let row: Execution;
        let artifact: unknown;
        try {
          artifact = exp.task.parse(prediction.completion, sample, exp.taskOptions);
          const outcome = await execute(artifact, sample, {
            sandbox: settings.sandbox,
            options: exp.taskOptions,
            timeoutMs: settings.timeoutMs,
            ...(settings.limits ? { limits: settings.limits } : {}),
            signal: ctx.signal,
          });
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
          if (ctx.signal.aborted) return;
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
