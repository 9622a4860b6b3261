import { z } from "zod";

/**
 * The records of DESIGN.md. On disk: JSON Lines with snake_case fields. Every record is keyed by
 * `(id, sample)`; the last row for a key wins.
 */

const rowError = z.object({ code: z.string(), message: z.string() });

export const messageSchema = z.object({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});
export type Message = z.infer<typeof messageSchema>;

export const sampleSchema = z.object({
  id: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  target: z.unknown().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type Sample = z.infer<typeof sampleSchema>;

export const promptRecordSchema = z.object({
  id: z.string(),
  prompt_hash: z.string(),
  messages: z.array(messageSchema),
  /** The flattened text a completion model would see: the export format. */
  prompt: z.string(),
  system: z.string().optional(),
  user: z.string().optional(),
  /** The sample's metadata (category, ...), so reports can be rebuilt from the run files alone. */
  metadata: z.record(z.string(), z.unknown()).optional(),
  /** 0-based position of the item in the dataset: `--limit N` means the items with index < N. */
  index: z.number().int().nonnegative().optional(),
});
export type PromptRecord = z.infer<typeof promptRecordSchema>;

export const usageSchema = z.object({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
});
export type Usage = z.infer<typeof usageSchema>;

export const predictionSchema = z
  .object({
    id: z.string(),
    sample: z.number().int().nonnegative(),
    model: z.string(),
    prompt_hash: z.string(),
    completion: z.string(),
    status: z.enum(["ok", "error"]),
    error: rowError.optional(),
    finish_reason: z.string().optional(),
    usage: usageSchema.optional(),
    cost_usd: z.number().optional(),
    latency_ms: z.number(),
    attempts: z.number().int(),
    cached: z.boolean(),
    created_at: z.string(),
  })
  .loose(); // provider extras (logprobs, truncated, ...) are kept
export type Prediction = z.infer<typeof predictionSchema>;

export const stepResultSchema = z.object({
  name: z.string(),
  command: z.string(),
  exit_code: z.number().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  duration_ms: z.number(),
  timed_out: z.boolean(),
});
export type StepResult = z.infer<typeof stepResultSchema>;

export const executionSchema = z
  .object({
    id: z.string(),
    sample: z.number().int().nonnegative(),
    status: z.enum(["ok", "error"]),
    error: rowError.optional(),
    artifact: z.unknown(),
    steps: z.array(stepResultSchema),
    passed: z.boolean(),
    sandbox: z.string(),
    started_at: z.string(),
    ended_at: z.string(),
  })
  .loose();
export type Execution = z.infer<typeof executionSchema>;

export const scoreSchema = z.object({
  id: z.string(),
  sample: z.number().int().nonnegative(),
  scorer: z.string(),
  value: z.number().min(0).max(1),
  passed: z.boolean(),
  detail: z.unknown().optional(),
});
export type Score = z.infer<typeof scoreSchema>;
