import { existsSync } from "node:fs";
import {
  type Execution,
  executionSchema,
  flattenMessages,
  JsonlWriter,
  type Judge,
  type Provider,
  predictionSchema,
  readJsonl,
  rowKey,
  type Score,
  scoreBasis,
  scoreSchema,
  toRowError,
} from "../../core/index.js";
import { createProvider } from "../../providers/index.js";
import { sampleMap } from "../../tasks/index.js";
import type { TrialContext } from "../context.js";
import { keyedRows, lastByKey, latestRows } from "../files.js";

/**
 * Phase 4: every configured scorer over every ok prediction (and its execution, for tasks that
 * execute). A score row records a hash of what it judged (`basis`); a row is rescored only when
 * that changes (a retried prediction or a re-executed artifact), so a rerun writes nothing new.
 */
export async function runScoringPhase(ctx: TrialContext): Promise<number> {
  const { exp, trial, files } = ctx;
  const samples = await sampleMap(exp.dataset);
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

  // One pass over the keys (rows parsed, not validated) finds each key's final row and counts the
  // ok ones in scope; those whose scores all exist count as done. The scoring pass then reads
  // (and validates) only final rows and compares each one's basis: a stale score is redone.
  // Nothing per row is held in memory but these maps (executions are needed for their artifacts).
  const last = new Map<string, number>();
  const ok = new Set<string>();
  for await (const { key, row, line } of keyedRows(files.predictions)) {
    last.set(key, line);
    if (row?.status === "ok") ok.add(key);
    else ok.delete(key);
  }
  const inScope = (id: string, sample: number, key: string): boolean =>
    samples.has(id) &&
    sample < exp.samplesPerItem &&
    // Not executed yet, or the sandbox failed: nothing to score.
    (!executes || executions.get(key)?.status === "ok");
  const hasAllScores = (key: string): boolean =>
    exp.scorers.every((s) => scored.has(`${key}\u0000${s.name}`));
  let total = 0;
  let already = 0;
  for (const key of ok) {
    const [id, sample] = splitKey(key);
    if (!inScope(id, sample, key)) continue;
    total++;
    if (hasAllScores(key)) already++;
  }
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "score", total, done: already });
  if (total === 0) return 0;

  type Pending = {
    key: string;
    basis: string;
    /** Counted as done in phase:start (its scores existed but were stale). */
    counted: boolean;
    prediction: { id: string; sample: number; completion: string };
    execution?: Execution;
  };
  async function* pending(): AsyncGenerator<Pending> {
    for await (const p of latestRows(files.predictions, predictionSchema, { last })) {
      if (p.status !== "ok") continue;
      const key = rowKey(p.id, p.sample);
      if (!inScope(p.id, p.sample, key)) continue;
      const execution = executions.get(key);
      const basis = scoreBasis(p.completion, execution);
      if (exp.scorers.every((s) => scored.get(`${key}\u0000${s.name}`) === basis)) continue;
      yield {
        key,
        basis,
        counted: hasAllScores(key),
        prediction: { id: p.id, sample: p.sample, completion: p.completion },
        ...(execution ? { execution } : {}),
      };
    }
  }

  // Judge models (a scorer's `judge:`), created once for the phase; asked from Node only.
  const judges = new Map<string, Judge>();
  const judgeProviders: Provider[] = [];
  for (const [name, spec] of Object.entries(exp.judges ?? {})) {
    const provider = createProvider(spec, { baseDir: exp.baseDir, env: process.env });
    judgeProviders.push(provider);
    judges.set(name, async (messages) => {
      const generation = await provider.generate(
        { messages, prompt: flattenMessages(messages), n: 1, sampleIndices: [0], ...spec.params },
        { signal: ctx.signal, sample: { id: "judge", input: {} } },
      );
      return generation.completions[0]?.text ?? "";
    });
  }

  // Scores of synchronous scorers are rebuilt at no cost, so they are written in 64 KiB batches;
  // a row that an asynchronous scorer (a model judge, say) worked on is written before the next.
  const writer = JsonlWriter.open(files.scores, { buffered: true });
  try {
    for await (const item of pending()) {
      let awaited = false;
      if (ctx.signal.aborted) break;
      const sample = samples.get(item.prediction.id)!;
      let artifact: unknown;
      let parseError: unknown;
      try {
        artifact = item.execution
          ? item.execution.artifact
          : exp.task.parse(item.prediction.completion, sample, exp.taskOptions, item.prediction);
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
          const failed = (error: unknown) => ({
            value: 0,
            passed: false,
            detail: { scorer_error: toRowError(error).message },
          });
          let r: Awaited<ReturnType<typeof scorer.score>>;
          try {
            const result = scorer.score(
              {
                sample,
                completion: item.prediction.completion,
                artifact,
                ...(item.execution ? { execution: item.execution } : {}),
                ...(judges.has(name) ? { judge: judges.get(name) as Judge } : {}),
              },
              options,
            );
            if (result instanceof Promise) {
              awaited = true;
              r = await result;
            } else r = result;
          } catch (error) {
            r = failed(error);
          }
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
      if (awaited) writer.flush();
      if (!item.counted) ctx.emit({ type: "row", trial: trial.name, phase: "score", status: "ok" });
    }
  } finally {
    writer.close();
    for (const provider of judgeProviders) await provider.close?.();
  }
  return writer.count;
}

/** The `(id, sample)` of a `rowKey`. */
function splitKey(key: string): [string, number] {
  const at = key.lastIndexOf("\u0000");
  return [key.slice(0, at), Number(key.slice(at + 1))];
}
