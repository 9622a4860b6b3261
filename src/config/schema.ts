import { z } from "zod";

/** A named value with options: `exact`, or `{name: numeric, tolerance: 0.01}`. */
const namedWithOptions = z.union([z.string().min(1), z.looseObject({ name: z.string().min(1) })]);

export const samplingParams = {
  temperature: z.number().min(0).max(5).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().positive().optional(),
  stop: z.array(z.string()).optional(),
  seed: z.number().int().optional(),
  top_logprobs: z.number().int().min(0).max(20).optional(),
};

/**
 * Provider settings. Each provider declares the ones it honours (`providers/`); a setting its
 * provider would ignore is rejected when the experiment is resolved.
 */
const providerOptions = {
  base_url: z.string().optional(),
  api_key_env: z.string().optional(),
  api_keys: z.array(z.string()).optional(),
  mode: z.enum(["chat", "completion"]).optional(),
  timeout: z.number().positive().optional(),
  concurrency: z.number().int().positive().optional(),
  rpm: z.number().positive().optional(),
  tpm: z.number().positive().optional(),
  max_attempts: z.number().int().positive().optional(),
  context_length: z.number().int().positive().optional(),
  price: z.strictObject({ input: z.number().min(0), output: z.number().min(0) }).optional(),
  threads: z.number().int().positive().optional(),
  context_size: z.number().int().positive().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  extra_body: z.record(z.string(), z.unknown()).optional(),
  args: z.array(z.string()).optional(),
  adaptive: z.boolean().optional(),
  /** The provider's Batch API (`true`, or `{discount, poll_interval, max_requests, max_bytes, completion_window}`). */
  batch: z.unknown().optional(),
  tls: z.strictObject({ ca: z.string().min(1).optional(), insecure: z.boolean().optional() }).optional(),
  // guided decoding (providers/guided.ts checks them); c and k may be lists: a sweep, one trial each
  base: z.unknown().optional(),
  oracle: z.unknown().optional(),
  c: z.unknown().optional(),
  k: z.unknown().optional(),
  step_size: z.unknown().optional(),
  max_new_tokens: z.unknown().optional(),
  policy: z.unknown().optional(),
  p0: z.unknown().optional(),
  threshold: z.unknown().optional(),
  positions: z.unknown().optional(),
  token_level: z.unknown().optional(),
  analysis: z.unknown().optional(),
  /** A sweep: `{parameter: [values]}` expands the entry into one trial per combination. */
  grid: z.record(z.string(), z.array(z.unknown()).min(1)).optional(),
};

export const modelEntrySchema = z.union([
  z.string().min(1),
  z.strictObject({
    id: z.string().min(1).optional(),
    provider: z.string().min(1),
    model: z.string().optional(),
    ...samplingParams,
    ...providerOptions,
  }),
]);
export type ModelEntry = z.infer<typeof modelEntrySchema>;

export const promptSetSchema = z.strictObject({
  system: z.string().optional(),
  user: z.string().min(1),
});

export const experimentSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .regex(/^[\w.-]+$/, "use letters, digits, '.', '_' or '-' (it names a directory)"),
  description: z.string().optional(),
  task: namedWithOptions,
  /** A JSON Lines file, or a hub dataset: `hf:owner/name[@revision]` or `{hf, config, split, revision}`. */
  dataset: z.union([
    z.string().min(1),
    z.strictObject({
      hf: z.string().min(1),
      config: z.string().min(1).optional(),
      split: z.string().min(1).optional(),
      revision: z.string().min(1).optional(),
    }),
  ]),
  /** Task fields read from dataset columns of other names: `{task: instruction}`. */
  fields: z.record(z.string().min(1), z.string().min(1)).optional(),
  limit: z.number().int().positive().optional(),
  samples: z.number().int().positive().default(1),
  models: z.array(modelEntrySchema).min(1),
  prompts: z
    .record(
      z.string().regex(/^[\w.-]+$/, "prompt set names use letters, digits, '.', '_' or '-'"),
      promptSetSchema,
    )
    .optional(),
  scorers: z.array(namedWithOptions).optional(),
  concurrency: z.number().int().positive().default(8),
  /** Trials run at the same time (each still limited by `concurrency`). */
  trial_concurrency: z.number().int().positive().default(1),
  stats: z
    .strictObject({
      iterations: z.number().int().min(100).max(1_000_000).optional(),
      confidence: z.number().gt(0).lt(1).optional(),
      seed: z.number().int().optional(),
      alpha: z.number().gt(0).lt(1).optional(),
      pass_at_k: z.array(z.number().int().positive()).optional(),
      /** `baseline`: each trial against the baseline model's (k − 1 pairs); `all`: every pair. */
      comparisons: z.enum(["baseline", "all"]).optional(),
      baseline: z.string().min(1).optional(),
    })
    .optional(),
  execution: z.record(z.string(), z.unknown()).optional(),
  out: z.string().optional(),
});

/** The experiment file as written (after defaults). */
export type ExperimentFile = z.infer<typeof experimentSchema>;
