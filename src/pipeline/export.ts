import { closeSync, openSync, renameSync, writeSync } from "node:fs";
import { BenchlineError } from "../core/index.js";
import { buildPrompt } from "./phases/prompts.js";
import type { ResolvedExperiment } from "./resolve.js";

/**
 * Writes one line per unique item — `{id, prompt, system, user, messages}` — for inference
 * elsewhere (`prompt` is the full text a completion model sees). Runs no model. The file appears
 * whole or not at all.
 */
export function exportPrompts(exp: ResolvedExperiment, out: string): number {
  const prompts = new Map(exp.trials.map((t) => [t.spec.prompt_set.name, t.spec.prompt_set]));
  if (prompts.size !== 1) {
    throw new BenchlineError(
      "usage",
      `the experiment has ${prompts.size} prompt sets (${[...prompts.keys()].join(", ")}); choose one with --prompt-set`,
    );
  }
  const [template] = prompts.values();
  const { forPromptSet, exportFields } = exp.task;
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  try {
    for (const item of exp.dataset.samples) {
      // Tasks whose samples depend on the prompt set (code-edit variants) see the chosen one.
      const sample = forPromptSet ? forPromptSet(item, template!.name, exp.taskOptions) : item;
      const record = buildPrompt(exp.task, template!, sample);
      const line = {
        ...exportFields?.(sample),
        id: record.id,
        prompt: record.prompt,
        system: record.system ?? null,
        user: record.user ?? null,
        messages: record.messages,
      };
      writeSync(fd, `${JSON.stringify(line)}\n`);
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, out);
  return exp.dataset.samples.length;
}
