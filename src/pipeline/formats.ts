import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join } from "node:path";
import {
  BenchlineError,
  executionSchema,
  predictionSchema,
  promptRecordSchema,
  readJsonl,
} from "../core/index.js";
import { extractDiff, runReport } from "../tasks/index.js";
import { buildCvdpReports, cvdpMarkdown } from "./cvdp-report.js";
import { latestRows, trialFiles } from "./files.js";
/**
 * A trial's rows in other tools' formats: SWE-bench predictions, EditBench's results layout, and
 * SWE-bench's reports (per-instance `report.json` and the run report).
 */
import type { TrialFormat } from "./format-names.js";
import { guidedSeedRows } from "./guided-format.js";

export { type TrialFormat, trialFormats } from "./format-names.js";

interface TrialSpec {
  task: { name: string };
  dataset: { path: string };
  model: { id: string; model?: string; params: { temperature?: number } };
  prompt_set: { name: string };
}

/** The task whose executions each harness report format reports. */
const REPORT_TASKS: Partial<Record<TrialFormat, string>> = {
  "cvdp-report": "cvdp",
  "swebench-report": "code-edit",
};

/** Writes `format` for the trial in `dir`; returns the files written. */
export async function writeTrialFormat(dir: string, format: TrialFormat, out?: string): Promise<string[]> {
  const files = trialFiles(dir);
  if (!existsSync(files.trial))
    throw new BenchlineError("not_found", `${dir}: not a trial directory (no trial.json)`);
  const spec = (JSON.parse(readFileSync(files.trial, "utf8")) as { spec: TrialSpec }).spec;
  const model = spec.model.model ?? spec.model.id;
  // A report of executions another harness would make exists only for the task that makes them:
  // any other trial would give an empty report that reads as a real one.
  const reportTask = REPORT_TASKS[format];
  if (reportTask !== undefined && spec.task.name !== reportTask)
    throw new BenchlineError(
      "usage",
      `${dir}: --to ${format} needs a ${reportTask} trial; this trial's task is "${spec.task.name}"`,
    );
  if (format === "cvdp-report") {
    // CVDP's report.json (sample 0), the category × difficulty table and pass@k (cvdp-report.ts).
    const base = out ?? join(dir, "cvdp");
    const { report, summary } = await buildCvdpReports(files, { dataset: spec.dataset.path, model });
    const written = [
      writeJson(join(base, "report.json"), report),
      writeJson(join(base, "cvdp-summary.json"), summary),
    ];
    writeFileSync(join(base, "cvdp-report.md"), cvdpMarkdown(summary));
    written.push(join(base, "cvdp-report.md"));
    if (summary.samples > 1) {
      // CVDP's run_samples layout: sample_<n>/report.json per sample and composite_report.json
      // ({metadata: {n_samples, k_threshold, sample_prefixes, composite, ...}, samples: [...]}).
      const samples: Record<string, unknown>[] = [report];
      for (let i = 1; i < summary.samples; i++)
        samples.push((await buildCvdpReports(files, { dataset: spec.dataset.path, model }, i)).report);
      const prefixes = samples.map((_, i) => join(base, `sample_${i + 1}`));
      samples.forEach((r, i) => {
        written.push(writeJson(join(prefixes[i] as string, "report.json"), r));
      });
      const composite = {
        metadata: {
          ...(report.metadata as Record<string, unknown>),
          timestamp: new Date().toISOString().replace("T", " ").slice(0, 19),
          n_samples: summary.samples,
          k_threshold: 1,
          sample_prefixes: prefixes,
          composite: true,
        },
        samples: samples.map((r, i) => ({ ...r, sample_index: i })),
      };
      written.push(writeJson(join(base, "composite_report.json"), composite));
    }
    return written;
  }
  const runId = spec.prompt_set.name;
  // A patch the prediction came with (imported SWE-bench / EditBench rows) is the patch.
  const patchOf = (p: { completion: string; model_patch?: unknown }): string =>
    typeof p.model_patch === "string"
      ? p.model_patch
      : spec.task.name === "code-edit"
        ? (extractDiff(p.completion).patch ?? "")
        : p.completion;
  const predictions = [];
  if (existsSync(files.predictions))
    for await (const p of latestRows(files.predictions, predictionSchema)) predictions.push(p);
  predictions.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.sample - b.sample));

  if (format === "guided")
    return [
      write(out ?? join(dir, "guided.seed.jsonl"), await guidedSeedRows(dir, spec as never, predictions)),
    ];
  if (format === "swebench") {
    const path = out ?? join(dir, "predictions.swebench.jsonl");
    const rows = predictions
      .filter((p) => p.sample === 0 && p.status === "ok")
      .map((p) => ({ instance_id: p.id, model_name_or_path: model, model_patch: patchOf(p) }));
    return [write(path, rows)];
  }
  if (format === "editbench") {
    const prompts = new Map<string, string>();
    if (existsSync(files.prompts))
      for await (const { value } of readJsonl(files.prompts, { schema: promptRecordSchema }))
        prompts.set(value.id, value.prompt);
    const n = Math.max(1, ...predictions.map((p) => p.sample + 1));
    const dataset = basename(spec.dataset.path, extname(spec.dataset.path));
    const temperature = spec.model.params.temperature ?? 0;
    const path = join(
      out ?? dir,
      "experiment_results",
      model,
      `T=${temperature}`,
      `n=${n}`,
      `${dataset}_${runId}.jsonl`,
    );
    const rows = predictions.map((p) => ({
      instance_id: p.id,
      model_name: model,
      prompt: prompts.get(p.id) ?? "",
      full_output: p.status === "ok" ? p.completion : null,
      model_patch: p.status === "ok" ? patchOf(p) : null,
      cost: p.cost_usd ?? 0,
      response_time: p.latency_ms / 1000,
      status: p.status === "ok" ? "success" : "failed",
      error: p.error?.message ?? null,
    }));
    return [write(path, rows)];
  }
  // swebench-report
  const reports: Record<string, unknown> = {};
  const graded = [];
  if (existsSync(files.executions)) {
    for await (const e of latestRows(files.executions, executionSchema)) {
      if (e.sample !== 0) continue;
      const report = (e as { report?: Record<string, unknown> }).report?.[e.id];
      if (report) reports[e.id] = report;
      graded.push({
        instance_id: e.id,
        ...(report ? { report: report as never } : {}),
        ...(e.status === "error" ? { error: true } : {}),
      });
    }
  }
  const ids = [...new Set(predictions.map((p) => p.id))];
  const base = out ?? dir;
  return [
    writeJson(join(base, "report.json"), reports),
    writeJson(join(base, `${model.replaceAll("/", "__")}.${runId}.json`), runReport(ids, graded)),
  ];
}

function write(path: string, rows: unknown[]): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return path;
}

function writeJson(path: string, value: unknown): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
  return path;
}
