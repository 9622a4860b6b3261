import { existsSync } from "node:fs";
import {
  type Execution,
  executionSchema,
  JsonlWriter,
  predictionSchema,
  readJsonl,
  rowKey,
  type Score,
  scoreBasis,
  scoreSchema,
  toRowError,
} from "../../core/index.js";
import type { TrialContext } from "../context.js";
import { lastByKey, latestRows } from "../files.js";

/**
 * Phase 4: every configured scorer over every ok prediction (and its execution, for tasks that
 * execute). A score row records a hash of what it judged (`basis`); a row is rescored only when
 * that changes (a retried prediction or a re-executed artifact), so a rerun writes nothing new.
 */
export async function runScoringPhase(ctx: TrialContext): Promise<number> {
  const { exp, trial, files } = ctx;
  const samples = new Map(exp.dataset.samples.map((s) => [s.id, s]));
  const executes = exp.task.execute !== undefined;
  const executions = executes
    ? await lastByKey(files.executions, executionSchema, (row) => row)
    : new Map<string, Execution>();
  const scored = new Map<string, string | undefined>();
  if (existsSync(files.scores)) {
    for await (const { value } of readJsonl(files.scores, { schema: scoreSchema.loose() })) {
      scored.set(
        `${rowKey(value.id, value.sample)}\u0000${value.scorer}`,
        (value as { basis?: string }).basis,
      );
    }
  }

  // Two passes over the final predictions: count, then score. Nothing per row is held in memory
  // but the small maps above (executions are needed for their artifacts).
  type Pending = {
    key: string;
    basis: string;
    prediction: { id: string; sample: number; completion: string };
    execution?: Execution;
  };
  async function* pending(onFresh?: () => void): AsyncGenerator<Pending> {
    for await (const p of latestRows(files.predictions, predictionSchema)) {
      if (p.status !== "ok" || !samples.has(p.id) || p.sample >= exp.samplesPerItem) continue;
      const key = rowKey(p.id, p.sample);
      const execution = executions.get(key);
      if (executes && execution?.status !== "ok") continue; // not executed yet, or the sandbox failed
      const basis = scoreBasis(p.completion, execution);
      if (exp.scorers.every((s) => scored.get(`${key}\u0000${s.name}`) === basis)) onFresh?.();
      else
        yield {
          key,
          basis,
          prediction: { id: p.id, sample: p.sample, completion: p.completion },
          ...(execution ? { execution } : {}),
        };
    }
  }
  let total = 0;
  let already = 0;
  for await (const _ of pending(() => {
    already++;
    total++;
  }))
    total++;
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "score", total, done: already });
  if (total === already) return 0;

  const writer = JsonlWriter.open(files.scores);
  try {
    for await (const item of pending()) {
      if (ctx.signal.aborted) break;
      const sample = samples.get(item.prediction.id)!;
      let artifact: unknown;
      let parseError: unknown;
      try {
        artifact = item.execution
          ? item.execution.artifact
          : exp.task.parse(item.prediction.completion, sample, exp.taskOptions);
      } catch (error) {
        parseError = error;
      }
      for (const { name, scorer, options } of exp.scorers) {
        let score: Score;
        if (parseError !== undefined) {
          score = {
            id: sample.id,
            sample: item.prediction.sample,
            scorer: name,
            value: 0,
            passed: false,
            detail: { parse_error: toRowError(parseError).message },
          };
        } else {
          // A scorer that throws (say, a target that is not a valid regex) scores 0 with the reason;
          // it never stops the run.
          const r = await Promise.resolve()
            .then(() =>
              scorer.score(
                {
                  sample,
                  completion: item.prediction.completion,
                  artifact,
                  ...(item.execution ? { execution: item.execution } : {}),
                },
                options,
              ),
            )
            .catch((error: unknown) => ({
              value: 0,
              passed: false,
              detail: { scorer_error: toRowError(error).message },
            }));
          score = {
            id: sample.id,
            sample: item.prediction.sample,
            scorer: name,
            value: r.value,
            passed: r.passed,
            ...(r.detail !== undefined ? { detail: r.detail } : {}),
          };
        }
        writer.write({ ...score, basis: item.basis });
      }
      ctx.emit({ type: "row", trial: trial.name, phase: "score", status: "ok" });
    }
  } finally {
    writer.close();
  }
  return writer.count;
}
