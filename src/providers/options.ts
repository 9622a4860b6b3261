/**
 * Option shapes that several providers share, and the check that a model entry uses only what
 * its provider honours: an option a provider would ignore is a config error, never a silent no-op.
 */
import { z } from "zod";
import { BenchlineError, formatIssues, type ModelSpec, PARSE_ONCE } from "../core/index.js";

/** What the scheduler reads (requests in flight, rate limits, attempts, per-attempt timeout in s). */
export const schedulingOptions = {
  concurrency: z.number().int().positive().optional(),
  rpm: z.number().positive().optional(),
  tpm: z.number().positive().optional(),
  max_attempts: z.number().int().positive().optional(),
  timeout: z.number().positive().optional(),
};

/** Read by the inference phase: prompts longer than this (in tokens) are shortened. */
export const contextLengthOption = { context_length: z.number().int().positive().optional() };

export interface ModelDeclaration {
  /** The options the provider honours, strict: anything else is rejected. */
  options: z.ZodObject;
  /** Whether the part after `provider:` (or `model:`) is needed, allowed, or meaningless. */
  model: "required" | "optional" | "none";
  /** Whether sampling params (temperature, top_p, max_tokens, stop, seed, top_logprobs) reach a model. */
  sampling: boolean;
}

/**
 * Checks a model spec against its provider's declaration. Errors name `where` and the field:
 * `exp.yaml: models[1].rpm: not supported by provider "llamacpp" (it takes: threads, mode, ...)`.
 */
export function checkModelSpec(spec: ModelSpec, declaration: ModelDeclaration, where: string): void {
  const fail = (field: string, message: string): never => {
    throw new BenchlineError("config", `${fieldOf(where, field)}: ${message}`);
  };
  const supported = Object.keys(declaration.options.shape);
  const unsupported = (field: string) =>
    fail(
      field,
      `not supported by provider "${spec.provider}"${supported.length > 0 ? ` (it takes: ${supported.join(", ")})` : " (it takes no options)"}`,
    );
  if (declaration.model === "required" && !spec.model)
    fail("model", `provider "${spec.provider}" needs a model (${exampleOf(spec.provider)})`);
  if (declaration.model === "none" && spec.model !== undefined)
    fail("model", `provider "${spec.provider}" takes no model`);
  if (!declaration.sampling) {
    const [param] = Object.keys(spec.params);
    if (param !== undefined) unsupported(param);
  }
  for (const key of Object.keys(spec.options)) if (!supported.includes(key)) unsupported(key);
  const parsed = declaration.options.safeParse(spec.options, PARSE_ONCE);
  if (!parsed.success) {
    // One issue per clause, each with its full path, so no field reads as part of another.
    const [issue] = parsed.error.issues;
    if (issue) throw new BenchlineError("config", `${fieldOf(where, formatIssues([issue]))}`);
  }
}

/** A field of a model entry: `exp.yaml: models[1].rpm`, or `--model echo: rpm` for a spec string. */
export function fieldOf(where: string, field: string): string {
  return where.endsWith("]") ? `${where}.${field}` : `${where}: ${field}`;
}

/** Whether `declaration` honours `option` (e.g. `--timeout` applies only where it does). */
export function takesOption(declaration: ModelDeclaration, option: string): boolean {
  return Object.hasOwn(declaration.options.shape, option);
}

function exampleOf(provider: string): string {
  if (provider === "import") return "import:<responses.jsonl>";
  if (provider === "command") return "command:<path>";
  if (provider === "llamacpp") return "llamacpp:<file.gguf>";
  return `${provider}:<model name>`;
}
