import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { z } from "zod";
import { trialIdentity } from "../config/index.js";
import {
  BenchlineError,
  executionSchema,
  JsonlWriter,
  predictionSchema,
  promptRecordSchema,
  readJsonl,
  rowKey,
  scoreSchema,
  stableStringify,
} from "../core/index.js";
import { trialFiles } from "./files.js";
import { readJson, writeJsonIfChanged } from "./json.js";
import type { ExperimentManifest } from "./phases/report.js";
import type { TrialManifest } from "./trial-data.js";

export interface MergeResult {
  trials: number;
  /** Rows appended per file kind. */
  appended: Record<"prompts" | "predictions" | "executions" | "scores", number>;
  /** Things the user must know about the merged result (sources over different datasets). */
  warnings: string[];
}

type Row = { id: string; sample?: number; scorer?: string; status?: string };

const KINDS = [
  { kind: "prompts", schema: promptRecordSchema, key: (r: Row) => r.id },
  { kind: "predictions", schema: predictionSchema, key: (r: Row) => rowKey(r.id, r.sample ?? 0) },
  { kind: "executions", schema: executionSchema, key: (r: Row) => rowKey(r.id, r.sample ?? 0) },
  {
    kind: "scores",
    schema: scoreSchema.loose(),
    key: (r: Row) => `${rowKey(r.id, r.sample ?? 0)}\u0000${r.scorer}`,
  },
] as const;

/**
 * Combines experiment directories (shards run on different machines, or runs split by
 * repository) into `into`. Trials are matched by directory name (the same name is the same spec),
 * else by model and prompt set: runs of one trial over different parts of a dataset (per
 * repository, say) have different dataset hashes and so different names, and are combined into
 * the first one's directory, whose trial.json then lists them under `merged_from`. For each key
 * the destination keeps its row unless it is missing or an error and a source has a better one;
 * rows are appended, never rewritten.
 *
 * Sources (and an existing destination) must share the task, scorers, samples and limit: their
 * scores could not be read together otherwise. Sources over different datasets (by sha256) are
 * merged with a warning, since the per-repository workflow needs it but a comparison of trials
 * over different data uses only their shared item ids.
 */
export async function mergeExperiments(sources: string[], into: string): Promise<MergeResult> {
  const manifests = sources.map((dir) => {
    const path = join(dir, "experiment.json");
    if (!existsSync(path))
      throw new BenchlineError("usage", `${dir}: not an experiment directory (no experiment.json)`);
    return { dir, manifest: readJson<ExperimentManifest>(path) };
  });
  const first = manifests[0];
  if (!first) throw new BenchlineError("usage", "merge: name at least one source experiment directory");
  for (const m of manifests) {
    if (m.manifest.samples !== first.manifest.samples || m.manifest.limit !== first.manifest.limit) {
      throw new BenchlineError(
        "input",
        `${m.dir}: samples/limit (${m.manifest.samples}/${m.manifest.limit}) differ from ${first.dir} (${first.manifest.samples}/${first.manifest.limit})`,
      );
    }
  }
  const destManifestPath = join(into, "experiment.json");
  const existingDest = existsSync(destManifestPath)
    ? { dir: into, manifest: readJson<ExperimentManifest>(destManifestPath) }
    : undefined;
  if (existingDest) {
    const d = existingDest.manifest;
    if (d.samples !== first.manifest.samples || d.limit !== first.manifest.limit) {
      throw new BenchlineError(
        "input",
        `${into}: samples/limit (${d.samples}/${d.limit}) differ from ${first.dir} (${first.manifest.samples}/${first.manifest.limit})`,
      );
    }
  }
  const all = existingDest ? [existingDest, ...manifests] : manifests;
  const base = all[0]!;
  for (const m of all) {
    const [a, b] = [base.manifest, m.manifest];
    if (a.task.name !== b.task.name)
      throw new BenchlineError(
        "input",
        `${m.dir}: task "${b.task.name}" differs from ${base.dir} ("${a.task.name}"); not merged`,
      );
    if (stableStringify(a.scorers) !== stableStringify(b.scorers))
      throw new BenchlineError(
        "input",
        `${m.dir}: scorers [${b.scorers.join(", ")}] differ from ${base.dir} ([${a.scorers.join(", ")}]); not merged`,
      );
  }
  const datasets = new Map<string, ExperimentManifest["dataset"]>();
  for (const m of all) if (m.manifest.dataset) datasets.set(m.manifest.dataset.sha256, m.manifest.dataset);
  const warnings: string[] = [];
  if (datasets.size > 1) {
    warnings.push(
      `merging experiments over ${datasets.size} different datasets: ${all
        .map(
          (m) =>
            `${m.dir} (${m.manifest.dataset.path}, sha256 ${m.manifest.dataset.sha256.slice(0, 12)}, ${m.manifest.dataset.rows} rows)`,
        )
        .join(
          "; ",
        )}. Runs of one trial are combined by model and prompt set; trials are compared only on the item ids they share`,
    );
  }
  mkdirSync(into, { recursive: true });
  const dest: ExperimentManifest = existingDest ? existingDest.manifest : { ...first.manifest, trials: [] };
  if (datasets.size > 1) dest.merged_datasets = [...datasets.values()];

  const appended: MergeResult["appended"] = { prompts: 0, predictions: 0, executions: 0, scores: 0 };
  for (const { dir, manifest } of manifests) {
    if (resolve(dir) === resolve(into)) continue;
    for (const t of manifest.trials) {
      const src = trialFiles(join(dir, t.name));
      if (!existsSync(src.trial)) continue;
      const target =
        dest.trials.find((d) => d.name === t.name) ??
        dest.trials.find((d) => d.model === t.model && d.prompt_set === t.prompt_set);
      const name = target?.name ?? t.name;
      const dst = trialFiles(join(into, name));
      mkdirSync(dst.dir, { recursive: true });
      if (!existsSync(dst.trial)) copyFileSync(src.trial, dst.trial);
      const existing = readJson<TrialManifest & { merged_from?: { name: string; hash: string }[] }>(
        dst.trial,
      );
      if (name === t.name && existing.hash !== t.hash) {
        throw new BenchlineError("input", `${dst.trial}: a different trial has this directory name`);
      }
      if (existing.hash !== t.hash) {
        const source = readJson<TrialManifest>(src.trial);
        // Only runs of the same trial over other data may combine: everything but the dataset equal.
        const sameTrial = (m: TrialManifest): string =>
          stableStringify({ ...(trialIdentity(m.spec) as object), dataset: null });
        if (sameTrial(source) !== sameTrial(existing)) {
          throw new BenchlineError(
            "input",
            `${src.trial}: same model and prompt set as ${dst.trial} but a different spec (sampling, prompts, task options or scorers); not merged`,
          );
        }
        const from = existing.merged_from ?? [];
        if (!from.some((f) => f.hash === t.hash))
          writeJsonIfChanged(dst.trial, {
            ...existing,
            merged_from: [...from, { name: t.name, hash: t.hash }],
          });
      }
      if (!target) dest.trials.push(t);
      for (const { kind, schema, key } of KINDS) {
        appended[kind] += await mergeFile(src[kind], dst[kind], schema as z.ZodType<Row>, key);
      }
    }
  }
  writeJsonIfChanged(destManifestPath, dest);
  return { trials: dest.trials.length, appended, warnings };
}

async function mergeFile(
  source: string,
  target: string,
  schema: z.ZodType<Row>,
  key: (r: Row) => string,
): Promise<number> {
  if (!existsSync(source)) return 0;
  const have = new Map<string, string | undefined>();
  if (existsSync(target))
    for await (const { value } of readJsonl(target, { schema })) have.set(key(value), value.status);
  const label = `${basename(source)}`;
  const incoming = new Map<string, Row>();
  for await (const { value } of readJsonl(source, { schema, label })) incoming.set(key(value), value);
  const writer = JsonlWriter.open(target);
  try {
    for (const [k, row] of incoming) {
      const mine = have.get(k);
      const better = !have.has(k) || (mine === "error" && row.status === "ok");
      if (better) writer.write(row);
    }
  } finally {
    writer.close();
  }
  return writer.count;
}
