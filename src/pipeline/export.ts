import { closeSync, openSync, renameSync, type Stats, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { BenchlineError, type ModelSpec } from "../core/index.js";
import { batchLine, customId, exportBodyConfig, sampleBody } from "../providers/index.js";
import { readDataset } from "../tasks/index.js";
import { buildPrompt } from "./phases/prompts.js";
import { type ResolvedExperiment, relativeLabel } from "./resolve.js";

export interface ExportOptions {
  /** Overwrite an existing file (never the experiment's own dataset or config). */
  force?: boolean;
  /**
   * `openai-batch`: a Batch API request file for this model (its name, mode and sampling params),
   * one line per (id, sample) with `custom_id` `<id>#<sample>` (what `vllm run-batch` reads).
   */
  batchModel?: ModelSpec;
}

/**
 * Writes one line per unique item — `{id, prompt, system, user, messages}` — for inference
 * elsewhere (`prompt` is the full text a completion model sees). Runs no model. The file appears
 * whole or not at all; it never replaces the experiment's inputs, nor an existing file without
 * `force`.
 */
export async function exportPrompts(
  exp: ResolvedExperiment,
  out: string,
  options: ExportOptions = {},
): Promise<number> {
  const prompts = new Map(exp.trials.map((t) => [t.spec.prompt_set.name, t.spec.prompt_set]));
  if (prompts.size !== 1) {
    throw new BenchlineError(
      "usage",
      `the experiment has ${prompts.size} prompt sets (${[...prompts.keys()].join(", ")}); choose one with --prompt-set`,
    );
  }
  checkExportTarget(exp, resolve(out), options.force ?? false);
  const [template] = prompts.values();
  const { forPromptSet, exportFields } = exp.task;
  const batch = options.batchModel && exportBodyConfig(options.batchModel);
  const endpoint = batch?.mode === "completion" ? "/v1/completions" : "/v1/chat/completions";
  const tmp = `${out}.tmp-${process.pid}`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "w");
    for await (const item of readDataset(exp.dataset)) {
      // Tasks whose samples depend on the prompt set (code-edit variants) see the chosen one.
      const sample = forPromptSet ? forPromptSet(item, template!.name, exp.taskOptions) : item;
      const record = buildPrompt(exp.task, template!, sample);
      if (batch) {
        for (let i = 0; i < exp.samplesPerItem; i++) {
          const request = { messages: record.messages, prompt: record.prompt, n: 1, sampleIndices: [i] };
          const body = sampleBody(batch, { ...request, ...options.batchModel!.params });
          writeSync(fd, `${batchLine(customId(record.id, i), endpoint, body)}\n`);
        }
        continue;
      }
      const line = {
        ...exportFields?.(sample),
        id: record.id,
        prompt: record.prompt,
        system: record.system ?? null,
        user: record.user ?? null,
        messages: record.messages,
      };
      writeSync(fd, `${JSON.stringify(exp.task.exportLine ? exp.task.exportLine(line, sample) : line)}\n`);
    }
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, out);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(tmp);
    throw error;
  }
  return exp.dataset.index.size * (batch ? exp.samplesPerItem : 1);
}

/** `-o` must name a file in an existing directory, not an input of the experiment. */
function checkExportTarget(exp: ResolvedExperiment, out: string, force: boolean): void {
  const label = relativeLabel(out);
  const parent = statOrUndefined(dirname(out));
  if (!parent)
    throw new BenchlineError("usage", `-o ${label}: directory ${relativeLabel(dirname(out))} does not exist`);
  if (!parent.isDirectory())
    throw new BenchlineError("usage", `-o ${label}: ${relativeLabel(dirname(out))} is not a directory`);
  const target = statOrUndefined(out);
  if (!target) return;
  if (target.isDirectory()) throw new BenchlineError("usage", `-o ${label}: is a directory; name a file`);
  const inputs: [string, string][] = [
    [exp.dataset.path, "the experiment's dataset"],
    [exp.configPath, "the experiment file"],
  ];
  for (const [path, what] of inputs) {
    const s = statOrUndefined(path);
    if (s && s.dev === target.dev && s.ino === target.ino)
      throw new BenchlineError("usage", `-o ${label}: is ${what}; export would overwrite it`);
  }
  if (!force) throw new BenchlineError("usage", `-o ${label}: file exists (--force overwrites it)`);
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}
