import { existsSync } from "node:fs";
import type { PromptTemplate } from "../../core/index.js";
import {
  contentHash,
  flattenMessages,
  JsonlWriter,
  type Message,
  type PromptRecord,
  promptRecordSchema,
  readJsonl,
  renderTemplate,
  type Sample,
  type Task,
} from "../../core/index.js";
import { IdTable, readDatasetEntries } from "../../tasks/index.js";
import type { TrialContext } from "../context.js";
import { promptVars } from "../resolve.js";

/** Renders a sample's prompt record: messages, flattened prompt and its hash. */
export function buildPrompt(
  task: Task<unknown, unknown>,
  template: PromptTemplate,
  sample: Sample,
  /** The sample's position among the dataset's rows, recorded last (`index`). */
  index?: number,
): PromptRecord {
  const vars = promptVars(task, sample);
  const render = (text: string): string => {
    const r = renderTemplate(text, vars);
    // resolveExperiment checked every placeholder against every sample before anything ran.
    if (r.text === undefined) throw new Error(`placeholder {{${r.missing[0]}}} missing for ${sample.id}`);
    return r.text;
  };
  const messages: Message[] = [];
  const system = template.system === undefined ? undefined : render(template.system);
  const user = render(template.user);
  if (system !== undefined) messages.push({ role: "system", content: system });
  messages.push({ role: "user", content: user });
  return {
    id: sample.id,
    prompt_hash: contentHash(messages, 16),
    messages,
    prompt: flattenMessages(messages),
    ...(system !== undefined ? { system } : {}),
    user,
    ...(sample.metadata ? { metadata: sample.metadata } : {}),
    ...(index !== undefined ? { index } : {}),
  };
}

/** Phase 1: one prompt record per sample, appended for ids not written yet. */
export async function runPromptsPhase(
  ctx: TrialContext,
  /** Write every missing prompt even after Ctrl-C (the reports count items from the prompts file). */
  options: { evenIfAborted?: boolean } = {},
): Promise<number> {
  const phase = await startPromptsPhase(ctx);
  let written = 0;
  for await (const _ of phase.write(options)) written++;
  return written;
}

/** A prompt record as it is written, with the sample it was built from. */
export interface BuiltPrompt {
  prompt: PromptRecord;
  sample: Sample;
}

/**
 * Starts phase 1: counts the prompt records on file (emitting the phase's start) and returns
 * `write()`, which streams the dataset, appends a record for each id not written yet and yields
 * it with its sample as soon as it is written — so the inference phase can send a prompt while
 * later ones are still being built, without reading the prompts file or the dataset again.
 */
export async function startPromptsPhase(ctx: TrialContext): Promise<{
  already: number;
  total: number;
  write: (options?: { evenIfAborted?: boolean }) => AsyncGenerator<BuiltPrompt>;
}> {
  const { exp, trial, files } = ctx;
  // Ids already written, off the heap (a rerun over 1M rows holds no 1M strings).
  const done = new IdTable();
  let already = 0;
  if (existsSync(files.prompts)) {
    for await (const { value } of readJsonl(files.prompts, { schema: promptRecordSchema }))
      if (done.add(value.id) === undefined && exp.dataset.index.has(value.id)) already++;
  }
  const total = exp.dataset.index.size;
  ctx.emit({ type: "phase:start", trial: trial.name, phase: "prompts", total, done: already });
  async function* write({ evenIfAborted = false } = {}): AsyncGenerator<BuiltPrompt> {
    if (already === total) return;
    // Prompts are rebuilt from the dataset at no cost: a crash that loses buffered ones loses nothing.
    // The dataset is streamed again (it was validated before anything ran), so memory stays flat.
    const writer = JsonlWriter.open(files.prompts, { buffered: true });
    try {
      for await (const { sample, position } of readDatasetEntries(exp.dataset)) {
        if (ctx.signal.aborted && !evenIfAborted) break;
        if (done.size > 0 && done.has(sample.id)) continue;
        const prompt = buildPrompt(exp.task, trial.spec.prompt_set, sample, position);
        writer.write(prompt);
        yield { prompt, sample };
      }
    } finally {
      writer.close();
    }
  }
  return { already, total, write };
}
