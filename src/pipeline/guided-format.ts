/**
 * A guided trial in the seed scripts' row shape (`benchline convert --to guided`): one line per
 * prediction `{c, k, base_model_id, oracle_model_id, prompt, result, ground_truth, parsed_answer,
 * interleaved_outputs, cheat_positions, total_tokens_generated}`. An infinite `c` or `k` is written
 * as the string `"inf"` (JSON has no infinity).
 */
import { existsSync } from "node:fs";
import {
  BenchlineError,
  executionSchema,
  type Prediction,
  promptRecordSchema,
  readJsonl,
  rowKey,
  scoreSchema,
} from "../core/index.js";
import { latestRows, trialFiles } from "./files.js";

interface GuidedSpec {
  model: { id: string; provider: string; options: Record<string, unknown> };
}

/** The seed's rows for the trial's predictions (ok rows only, as the seed scripts kept them). */
export async function guidedSeedRows(dir: string, spec: GuidedSpec, predictions: Prediction[]) {
  if (spec.model.provider !== "guided")
    throw new BenchlineError(
      "usage",
      `${dir}: model "${spec.model.id}" is not a guided model; --to guided needs a trial of provider: guided`,
    );
  const files = trialFiles(dir);
  const prompts = new Map<string, string>();
  if (existsSync(files.prompts))
    for await (const { value } of readJsonl(files.prompts, { schema: promptRecordSchema }))
      prompts.set(value.id, value.prompt);
  const parsed = new Map<string, unknown>();
  if (existsSync(files.executions))
    for await (const e of latestRows(files.executions, executionSchema)) {
      const artifact = e.artifact as { parsed_answer?: unknown } | undefined;
      if (artifact && "parsed_answer" in artifact) parsed.set(rowKey(e.id, e.sample), artifact.parsed_answer);
    }
  // The target and parsed answer the math scorers recorded (the last row per key wins).
  const graded = new Map<string, { target?: unknown; parsed_answer?: unknown }>();
  if (existsSync(files.scores))
    for await (const { value } of readJsonl(files.scores, { schema: scoreSchema })) {
      const detail = value.detail as { target?: unknown; parsed_answer?: unknown } | undefined;
      if (detail && "target" in detail) graded.set(rowKey(value.id, value.sample), detail);
    }
  const o = spec.model.options;
  const count = (v: unknown) => (v === Number.POSITIVE_INFINITY || v === "inf" || v === "∞" ? "inf" : v);
  const modelId = (entry: unknown): string => {
    if (typeof entry === "string") return entry.slice(entry.indexOf(":") + 1) || entry;
    const e = entry as { id?: string; model?: string; provider?: string };
    return e.model ?? e.id ?? e.provider ?? "";
  };
  return predictions
    .filter((p) => p.status === "ok")
    .map((p) => {
      const key = rowKey(p.id, p.sample);
      const row = p as Prediction & {
        interleaved?: { text: string; model: string; tokens: number }[];
        cheat_positions?: number[];
        total_tokens?: number;
      };
      return {
        c: count(o.c),
        k: count(o.k),
        base_model_id: modelId(o.base),
        oracle_model_id: modelId(o.oracle),
        prompt: prompts.get(p.id) ?? "",
        result: p.completion,
        ground_truth: graded.get(key)?.target ?? null,
        parsed_answer: parsed.has(key) ? parsed.get(key) : (graded.get(key)?.parsed_answer ?? null),
        interleaved_outputs: row.interleaved ?? [],
        cheat_positions: row.cheat_positions ?? [],
        total_tokens_generated: row.total_tokens ?? p.usage?.completion_tokens ?? 0,
      };
    });
}
