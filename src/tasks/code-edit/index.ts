import { z } from "zod";
import { BenchlineError, type Sample } from "../../core/index.js";
import { defineTask } from "../define.js";
import { type BuiltPrompt, parseVariant, variantGrammar } from "./builder.js";
import { type ExtractedPatch, extractDiff, removeLastFile } from "./extract.js";
import { runHarness } from "./harness.js";
import { runDockerHarness } from "./harness-docker.js";
import { type CodeEditOptions, type PreparedInput, prepareSamples } from "./prepare.js";
import { codeEditRow, type Instance, toInstance } from "./records.js";

export { buildVariant, parseVariant, type Variant } from "./builder.js";
export { extractDiff, removeLastFile } from "./extract.js";

const options = z.strictObject({
  /** Repository ("owner/name") → local clone (relative to the experiment file). */
  repos: z.record(z.string(), z.string()).default({}),
  /** Prompt sets when the experiment file declares none: EditBench run ids. */
  variants: z
    .array(z.string().refine((v) => parseVariant(v) !== undefined, `not a variant: use ${variantGrammar}`))
    .min(1)
    .default(["None_body_issue"]),
  /** Runs the tests; `{tests}` becomes the test files of test_patch. */
  test_command: z.string().min(1).default("python3 -m pytest -rA -p no:cacheprovider {tests}"),
  /** How the test log reads. */
  log_format: z.enum(["pytest", "unittest", "django"]).default("pytest"),
  /** Fix quirk 1: multi-file shown steps end with a newline (changes prompt bytes). */
  strict: z.boolean().default(false),
}) satisfies z.ZodType<CodeEditOptions, unknown>;

/** The sample of one variant: its prompt, shown edits and reference patch. */
export function forVariant(sample: Sample, name: string): Sample {
  const input = sample.input as unknown as PreparedInput;
  const built = input.variants?.[name];
  if (!built) return sample;
  const { instance } = input;
  const gold = instance.kind === "swebench" && built.split_idx === 0 ? instance.patch : built.ground_truth;
  return {
    ...sample,
    input: {
      instance,
      ...(input.clone ? { clone: input.clone } : {}),
      ...(input.image ? { image: input.image } : {}),
      variant: name,
      prompt: built.prompt,
      split_idx: built.split_idx,
      num_changes: built.num_changes,
      pre_edits: built.pre_edits,
      ground_truth: built.ground_truth,
    },
    ...(gold ? { target: gold } : {}),
  };
}

/**
 * Code-edit benchmarks (EditBench, SWE-bench): prompts built from an instance's edit history
 * and repository, one prompt set per variant (run id); completions are patches.
 */
export const codeEditTask = defineTask<z.infer<typeof codeEditRow>, CodeEditOptions, ExtractedPatch>({
  name: "code-edit",
  description:
    "Code edits as patches: EditBench bench/infbench or SWE-bench records; prompt sets are EditBench run ids (0.2, 0.2_bm25_5, None_body_issue)",
  row: codeEditRow,
  options: options as unknown as z.ZodType<CodeEditOptions>,
  defaultPrompts: { None_body_issue: { user: "{{prompt}}" } },
  defaultScorers: ["exec", "applied", "edit_distance", "token_jaccard", "tfidf_cosine", "file_hit"],
  // Past the context: drop the last file of the code context (EditBench's fallback), repeatedly;
  // a prompt that still does not fit is an error row.
  truncation: { name: "drop-last-file", shorten: removeLastFile },
  localExecution: "its executions patch repository trees prepared on this machine",
  toSample: (row) => ({
    id: row.instance_id,
    input: { instance: toInstance(row), variants: {} },
    ...(row.repo ? { metadata: { category: row.repo } } : {}),
  }),
  reference: (sample) => (typeof sample.target === "string" ? sample.target : undefined),
  promptVars: (sample) => ({ ...(sample.input as Record<string, unknown>), id: sample.id }),
  promptSets: (opts) => Object.fromEntries(opts.variants.map((v) => [v, { user: "{{prompt}}" }])),
  prepare: (samples, opts, ctx) => prepareSamples(samples, opts, ctx),
  forPromptSet: (sample, name) => forVariant(sample, name),
  exportFields: (sample) => {
    // EditBench's infbench row: the bench fields plus the variant's split (readable back as a dataset).
    const input = sample.input as { instance: Instance } & Partial<BuiltPrompt>;
    const i = input.instance;
    return {
      instance_id: i.instance_id,
      ...(i.repo !== undefined ? { repo: i.repo } : {}),
      ...(i.base_commit !== undefined ? { base_commit: i.base_commit } : {}),
      title_mes: i.title,
      body_mes: i.body,
      issues_mes: i.issue,
      files_work: i.files,
      work_patch_list: i.steps,
      test_patch: i.test_patch,
      fail_to_pass: i.fail_to_pass,
      pass_to_pass: i.pass_to_pass,
      ...(i.patch !== undefined ? { patch: i.patch } : {}),
      num_changes: input.num_changes,
      split_idx: input.split_idx,
      pre_edits: input.pre_edits,
      ground_truth: input.ground_truth,
    };
  },
  // A patch given as such (an imported SWE-bench `model_patch`, EditBench's `model_patch`, or the
  // reference itself from `gold`) is applied verbatim, as those tools do; else extract_diff.
  parse: (completion, sample, _options, prediction): ExtractedPatch => {
    const given = prediction?.model_patch;
    if (typeof given === "string" || given === null) return { patch: given, method: "model_patch" };
    if (typeof sample.target === "string" && completion === sample.target)
      return { patch: completion, method: "reference" };
    return extractDiff(completion);
  },
  async execute(artifact, sample, ctx) {
    const input = sample.input as {
      instance: Instance;
      clone?: string;
      pre_edits?: string[];
      image?: string;
    };
    const { instance } = input;
    const common = {
      instance_id: sample.id,
      pre_edits: input.pre_edits ?? [],
      test_patch: instance.test_patch,
      fail_to_pass: instance.fail_to_pass,
      pass_to_pass: instance.pass_to_pass,
      test_command: instance.test_command ?? ctx.options.test_command,
      log_format: ctx.options.log_format,
    };
    // docker: the instance's image holds the repository at /testbed (prepare named the image).
    if (input.image !== undefined)
      return runDockerHarness(
        artifact.patch,
        {
          ...common,
          image: input.image,
          ...(instance.base_commit ? { base_commit: instance.base_commit } : {}),
        },
        ctx,
      );
    if (!input.clone || !instance.base_commit)
      throw new BenchlineError(
        "input",
        `${sample.id}: no repository clone to run the tests in (repo, base_commit, task.repos)`,
      );
    return runHarness(
      artifact.patch,
      { ...common, clone: input.clone, base_commit: instance.base_commit },
      ctx,
    );
  },
});
