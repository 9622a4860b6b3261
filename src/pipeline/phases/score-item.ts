import { type Execution, type Judge, type Sample, type Score, toRowError } from "../../core/index.js";
import type { ResolvedExperiment } from "../resolve.js";

/** What one prediction is scored on. */
export interface ScoreItem {
  prediction: { id: string; sample: number; completion: string };
  sample: Sample;
  execution?: Execution;
}

/**
 * Every configured scorer over one prediction: its score rows, in scorer order. Synchronous when
 * every scorer is (the common case: no promise is made per row); a promise when one is not (a model
 * judge, say). A task's parse error scores 0 on every scorer with the reason, and a scorer that
 * throws (say, a target that is not a valid regex) scores 0 with its message: neither stops a run.
 */
export function scoreItem(
  exp: Pick<ResolvedExperiment, "task" | "taskOptions" | "scorers">,
  item: ScoreItem,
  judges?: ReadonlyMap<string, Judge>,
): Score[] | Promise<Score[]> {
  const { sample, prediction } = item;
  const row = (name: string, r: { value: number; passed: boolean; detail?: unknown }): Score => ({
    id: sample.id,
    sample: prediction.sample,
    scorer: name,
    value: r.value,
    passed: r.passed,
    ...(r.detail !== undefined ? { detail: r.detail as Score["detail"] } : {}),
  });
  let artifact: unknown;
  try {
    artifact = item.execution
      ? item.execution.artifact
      : exp.task.parse(prediction.completion, sample, exp.taskOptions, prediction);
  } catch (error) {
    const detail = { parse_error: toRowError(error).message };
    return exp.scorers.map(({ name }) => row(name, { value: 0, passed: false, detail }));
  }
  const failed = (error: unknown) => ({
    value: 0,
    passed: false,
    detail: { scorer_error: toRowError(error).message },
  });
  const results: (Score | Promise<Score>)[] = [];
  let async = false;
  for (const { name, scorer, options } of exp.scorers) {
    try {
      const judge = judges?.get(name);
      const result = scorer.score(
        {
          sample,
          completion: prediction.completion,
          artifact,
          ...(item.execution ? { execution: item.execution } : {}),
          ...(judge ? { judge } : {}),
        },
        options,
      );
      if (result instanceof Promise) {
        async = true;
        results.push(
          result.then(
            (r) => row(name, r),
            (error: unknown) => row(name, failed(error)),
          ),
        );
      } else results.push(row(name, result));
    } catch (error) {
      results.push(row(name, failed(error)));
    }
  }
  return async ? Promise.all(results) : (results as Score[]);
}
