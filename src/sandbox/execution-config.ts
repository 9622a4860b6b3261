import { availableParallelism } from "node:os";
import { z } from "zod";
import { BenchlineError, PARSE_ONCE, type SandboxLimits } from "../core/index.js";
import { defaultSandboxKind, type SandboxConfig, type SandboxKind, sandboxKinds } from "./registry.js";

/** The experiment file's `execution:` block. Times in seconds, sizes in MB / bytes. */
export const executionConfigSchema = z
  .strictObject({
    sandbox: z.enum(Object.keys(sandboxKinds) as [SandboxKind, ...SandboxKind[]]).optional(),
    timeout: z.number().positive().optional(),
    concurrency: z.number().int().positive().optional(),
    memory_mb: z.number().int().positive().optional(),
    pids: z.number().int().positive().optional(),
    cpu_seconds: z.number().int().positive().optional(),
    file_size_mb: z.number().int().positive().optional(),
    disk_mb: z.number().int().positive().optional(),
    output_bytes: z.number().int().positive().optional(),
    image: z.string().min(1).optional(),
    docker_host: z.string().min(1).optional(),
  })
  .refine((block) => block.sandbox !== "docker" || block.image !== undefined, {
    message: "the docker sandbox needs an image",
    path: ["image"],
  });

export type ExecutionConfig = z.infer<typeof executionConfigSchema>;

export const executionDefaults = {
  timeoutSeconds: 60,
  concurrency: Math.max(1, Math.min(4, availableParallelism())),
};

export interface ResolvedExecution {
  sandbox: SandboxConfig;
  /** Defaults for every `Sandbox.run` of the experiment. */
  run: { timeoutMs: number; limits: SandboxLimits };
  /** How many sandboxes may be alive at once (see SandboxPool). */
  concurrency: number;
}

/** Validates an `execution:` block (pure); errors name the field, e.g. `execution.memroy_mb`. */
export function parseExecutionConfig(input: unknown): ExecutionConfig {
  const parsed = executionConfigSchema.safeParse(input ?? {}, PARSE_ONCE);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const keys = issue && "keys" in issue && Array.isArray(issue.keys) ? issue.keys : [];
  const path = ["execution", ...(issue?.path ?? []).map(String), ...keys.slice(0, 1)].join(".");
  throw new BenchlineError("config", `${path}: ${issue?.message ?? "invalid"}`, { cause: parsed.error });
}

/**
 * The sandbox config, run defaults and concurrency an `execution:` block stands for.
 *
 * @example
 * const { sandbox, run, concurrency } = resolveExecution(parseExecutionConfig({ timeout: 30 }));
 * const pool = new SandboxPool(createSandbox(sandbox), concurrency);
 * await pool.run(steps, { ...run, files });
 */
export function resolveExecution(
  config: ExecutionConfig = {},
  detectKind: () => SandboxKind = defaultSandboxKind,
): ResolvedExecution {
  const limits: SandboxLimits = {};
  if (config.memory_mb !== undefined) limits.memoryMb = config.memory_mb;
  if (config.pids !== undefined) limits.pids = config.pids;
  if (config.cpu_seconds !== undefined) limits.cpuSeconds = config.cpu_seconds;
  if (config.file_size_mb !== undefined) limits.fileSizeMb = config.file_size_mb;
  if (config.disk_mb !== undefined) limits.diskMb = config.disk_mb;
  if (config.output_bytes !== undefined) limits.outputBytes = config.output_bytes;
  return {
    sandbox: { kind: config.sandbox ?? detectKind(), image: config.image, dockerHost: config.docker_host },
    run: { timeoutMs: Math.round((config.timeout ?? executionDefaults.timeoutSeconds) * 1000), limits },
    concurrency: config.concurrency ?? executionDefaults.concurrency,
  };
}
