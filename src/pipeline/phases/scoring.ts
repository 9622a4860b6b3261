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
  type Sample,
  type Score,
  scoreBasis,
  scoreSchema,
} from "../../core/index.js";
import { createProvider } from "../../providers/index.js";
import type { TrialContext } from "../context.js";
import { RowsInStep, SampleLookup } from "../in-step.js";
import { BasisTable, datasetScope, finalRows, readKeyTable, splitKey } from "../key-table.js";
import { scoreItem } from "./score-item.js";

/**
 * Phase 4: every configured scorer over every ok prediction (and its execution, for tasks that
 * execute). A score row records a hash of what it judged (`basis`); a row is rescored only when
 * that changes (a retried prediction or a re-executed artifact), so a rerun writes nothing new.
 */
export async function runScoringPhase(ctx: TrialContext): Promise<number> {
  const { exp, trial, files } = ctx;
  const executes = exp.task.execute !== undefined;
  // Off the heap: each key's last prediction (ok or not) and last execution (ok or not), and each
  // score's basis — keys in scope by their item's position in the dataset (no bytes per key).
  // Samples and executions are read in step with the predictions (all in about dataset order), so
  // no row is held but those read ahead of their turn.
  const scope = datasetScope(exp.dataset, exp.samplesPerItem);
  const executions = executes
    ? await readKeyTable<{ status?: unknown }>(
        files.executions,
        (row) => (row.status === "ok" ? 1 : 0),
        undefined,
        scope,
      )
    : undefined;
  const scored = new BasisTable(
    datasetScope(
      exp.dataset,
      exp.samplesPerItem,
      exp.scorers.map((s) => s.name),
    ),
  );
  if (existsSync(files.scores)) {
    for await (const { value } of readJsonl(files.scores, { schema: scoreSchema.loose() })) {
      const basis = (value as { basis?: unknown }).basis;
      scored.set(
        `${rowKey(value.id, value.sample)}\u0000${value.scorer}`,
        typeof basis === "string" ? basis : undefined,
      );
    }
  }
  const predictions = await readKeyTable<{ status?: unknown }>(
    files.predictions,
    (row) => (row.status === "ok" ? 1 : 0),
    undefined,
    scope,
  );
  const inScope = (id: string, sample: number, key: string): boolean =>
    exp.dataset.index.has(id) &&
    sample < exp.samplesPerItem &&
    // Not executed yet, or the sandbox failed: nothing to score.
    (!executions || executions.flags(key) === 1);
  const hasAllScores = (key: string): boolean =>
    exp.scorers.every((s) => scored.has(`${key}\u0000${s.name}`));
  const samples = new SampleLookup(exp.dataset);
  let total = 0;
  let already = 0;
  for (const [key, ok] of predictions.entries()) {
    if (ok !== 1) continue;
    const [id, sample] = splitKey(key);
    if (!inScope(id, sample, key)) continue;
    total++;
    if (hasAllScores(key)) already++;
    samples.need(id);
  }
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "score", total, done: already });
  if (total === 0) return 0;
  const wantedExecution = (key: string): boolean => {
    if (predictions.flags(key) !== 1) return false;
    const [id, sample] = splitKey(key);
    return inScope(id, sample, key);
  };
  const executionRows = executions
    ? new RowsInStep(finalRows(files.executions, executions, executionSchema), wantedExecution)
    : undefined;

  type Pending = {
    key: string;
    basis: string;
    /** Counted as done in phase:start (its scores existed but were stale). */
    counted: boolean;
    prediction: { id: string; sample: number; completion: string };
    sample: Sample;
    execution?: Execution;
  };
  async function* pending(): AsyncGenerator<Pending> {
    try {
      for await (const { key, row: p } of finalRows(files.predictions, predictions, predictionSchema)) {
        if (p.status !== "ok" || !inScope(p.id, p.sample, key)) continue;
        const execution = executionRows ? await executionRows.take(key) : undefined;
        if (executionRows && !execution) {
          samples.release(p.id);
          continue;
        }
        const basis = scoreBasis(p.completion, execution);
        if (exp.scorers.every((s) => scored.matches(`${key}\u0000${s.name}`, basis))) {
          samples.release(p.id);
          continue;
        }
        const sample = await samples.take(p.id);
        if (!sample) continue;
        yield {
          key,
          basis,
          counted: hasAllScores(key),
          prediction: { id: p.id, sample: p.sample, completion: p.completion },
          sample,
          ...(execution ? { execution } : {}),
        };
      }
    } finally {
      await samples.close();
      await executionRows?.close();
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

  // Scores of synchronous scorers are rebuilt at no cost, so they are written in 64 KiB batches.
  const writer = JsonlWriter.open(files.scores, { buffered: true });
  try {
    for await (const item of pending()) {
      if (ctx.signal.aborted) break;
      let scores = scoreItem(exp, item, judges);
      const awaited = scores instanceof Promise;
      if (awaited) scores = await scores;
      for (const score of scores as Score[]) writer.write({ ...score, basis: item.basis });
      // A row an asynchronous scorer (a model judge, say) worked on is on disk before the next.
      if (awaited) writer.flush();
      if (!item.counted) ctx.emit({ type: "row", trial: trial.name, phase: "score", status: "ok" });
    }
  } finally {
    writer.close();
    for (const provider of judgeProviders) await provider.close?.();
  }
  return writer.count;
}
