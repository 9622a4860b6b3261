import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TrialSpec } from "../../config/index.js";
import {
  BenchlineError,
  executionSchema,
  predictionSchema,
  promptRecordSchema,
  readJsonl,
  rowKey,
  scoreSchema,
} from "../../core/index.js";
import {
  renderExperimentMarkdown,
  renderTrialMarkdown,
  summarizeTrial,
  type TrialSummary,
} from "../../report/index.js";
import { lastByKey, trialFiles } from "../files.js";

/** experiment.json: what `benchline report` needs to rebuild every report from the files alone. */
export interface ExperimentManifest {
  name: string;
  tool: { name: "benchline"; version: string };
  config: string;
  task: { name: string; options: Record<string, unknown> };
  dataset: { path: string; sha256: string; rows: number };
  limit: number | null;
  samples: number;
  concurrency: number;
  scorers: string[];
  trials: { name: string; hash: string; model: string; prompt_set: string }[];
}

export interface TrialManifest {
  name: string;
  hash: string;
  spec: TrialSpec;
}

export function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new BenchlineError(
      code === "ENOENT" ? "not_found" : "input",
      `${path}: ${code === "ENOENT" ? "not found" : (error as Error).message}`,
      { cause: error },
    );
  }
}

/** Writes JSON (2-space, trailing newline) only when the content changed. */
export function writeJsonIfChanged(path: string, value: unknown): void {
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (existsSync(path) && readFileSync(path, "utf8") === text) return;
  writeFileSync(path, text);
}

/** Reads one trial's files and computes its summary. Items: the first `limit` prompt records. */
export async function summarizeTrialDir(dir: string, manifest: ExperimentManifest): Promise<TrialSummary> {
  const files = trialFiles(dir);
  const trial = readJson<TrialManifest>(files.trial);
  const items: { id: string; category?: string }[] = [];
  if (existsSync(files.prompts)) {
    for await (const { value } of readJsonl(files.prompts, { schema: promptRecordSchema })) {
      if (manifest.limit !== null && items.length >= manifest.limit) break;
      const category = value.metadata?.category;
      items.push(typeof category === "string" ? { id: value.id, category } : { id: value.id });
    }
  }
  const wanted = new Set<string>();
  for (const item of items) for (let s = 0; s < manifest.samples; s++) wanted.add(rowKey(item.id, s));

  const predictions = [...(await lastByKey(files.predictions, predictionSchema, (p) => p)).entries()]
    .filter(([k]) => wanted.has(k))
    .map(([, p]) => ({
      id: p.id,
      sample: p.sample,
      status: p.status,
      cached: p.cached,
      latency_ms: p.latency_ms,
      ...(p.error ? { error_code: p.error.code } : {}),
      ...(p.usage
        ? { prompt_tokens: p.usage.prompt_tokens, completion_tokens: p.usage.completion_tokens }
        : {}),
      ...(p.cost_usd !== undefined ? { cost_usd: p.cost_usd } : {}),
    }));
  const okKeys = new Set(predictions.filter((p) => p.status === "ok").map((p) => rowKey(p.id, p.sample)));
  const executions = existsSync(files.executions)
    ? [...(await lastByKey(files.executions, executionSchema, (e) => e)).entries()]
        .filter(([k]) => okKeys.has(k))
        .map(([, e]) => ({
          id: e.id,
          sample: e.sample,
          status: e.status,
          passed: e.passed,
          ...(e.error ? { error_code: e.error.code } : {}),
        }))
    : undefined;
  const scorerNames = trial.spec.scorers.map((s) => s.name);
  const scores = [
    ...(
      await lastByKey(
        files.scores,
        scoreSchema.loose(),
        (s) => s,
        (s) => `${rowKey(s.id, s.sample)}\u0000${s.scorer}`,
      )
    ).values(),
  ].filter((s) => okKeys.has(rowKey(s.id, s.sample)) && scorerNames.includes(s.scorer));

  return summarizeTrial({
    trial: {
      name: trial.name,
      model: trial.spec.model.id,
      prompt_set: trial.spec.prompt_set.name,
      task: trial.spec.task.name,
    },
    items,
    samplesPerItem: manifest.samples,
    predictions,
    ...(executions ? { executions } : {}),
    scores,
    scorers: scorerNames,
  });
}

/** Rebuilds summary.json and report.md of every trial, then the experiment's report.md. */
export async function writeReports(
  experimentDir: string,
): Promise<{ report: string; summaries: TrialSummary[] }> {
  const manifest = readJson<ExperimentManifest>(join(experimentDir, "experiment.json"));
  const summaries: TrialSummary[] = [];
  for (const t of manifest.trials) {
    const dir = join(experimentDir, t.name);
    if (!existsSync(join(dir, "trial.json"))) continue;
    const summary = await summarizeTrialDir(dir, manifest);
    writeJsonIfChanged(join(dir, "summary.json"), summary);
    writeFileSync(join(dir, "report.md"), renderTrialMarkdown(summary));
    summaries.push(summary);
  }
  const report = join(experimentDir, "report.md");
  writeFileSync(
    report,
    renderExperimentMarkdown({
      name: manifest.name,
      task: manifest.task.name,
      dataset: manifest.dataset.path,
      trials: summaries,
    }),
  );
  return { report, summaries };
}
