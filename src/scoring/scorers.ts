import { z } from "zod";
import type { Scorer } from "../core/index.js";
import { normalize, outputText, result, targetText } from "./text.js";

/** Normalised exact match (case, whitespace, punctuation and articles ignored). */
export const exact: Scorer<Record<string, never>> = {
  name: "exact",
  description: "output equals target after normalising case, whitespace, punctuation and articles",
  options: z.strictObject({}),
  score: (input) => result(normalize(outputText(input)) === normalize(targetText(input))),
};

/** The normalised target occurs in the normalised output. */
export const includes: Scorer<Record<string, never>> = {
  name: "includes",
  description: "normalised output contains the normalised target",
  options: z.strictObject({}),
  score: (input) => {
    const target = normalize(targetText(input));
    return result(target !== "" && ` ${normalize(outputText(input))} `.includes(` ${target} `));
  },
};

const isRegex = (pattern: string): boolean => {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
};

const regexOptions = z.strictObject({
  pattern: z.string().refine(isRegex, "not a valid regular expression").optional(),
  flags: z
    .string()
    .regex(/^[dgimsuvy]*$/, "unknown regular expression flag")
    .optional(),
});

/**
 * With `pattern`: extract from the output (group 1, else the whole match) and compare to the target
 * after normalising. Without: the target is a regular expression the output must match.
 */
export const regex: Scorer<z.infer<typeof regexOptions>> = {
  name: "regex",
  description: "with pattern: extracted answer equals target; without: output matches the target as a regex",
  options: regexOptions,
  score: (input, options) => {
    const output = outputText(input);
    if (options.pattern === undefined) {
      return result(new RegExp(targetText(input), options.flags ?? "").test(output));
    }
    const match = new RegExp(options.pattern, options.flags ?? "").exec(output);
    const extracted = match ? (match[1] ?? match[0]) : undefined;
    if (extracted === undefined) return result(false, { extracted: null });
    return result(normalize(extracted) === normalize(targetText(input)), { extracted });
  },
};

const numericOptions = z.strictObject({
  tolerance: z.number().min(0).default(1e-6),
  relative: z.boolean().default(false),
});

const NUMBER = /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+/g;

function parseNumber(text: string): number | undefined {
  const value = Number(text.replace(/,/g, ""));
  return Number.isFinite(value) ? value : undefined;
}

/** The last number in the output equals the target number within `tolerance` (absolute or relative). */
export const numeric: Scorer<z.infer<typeof numericOptions>> = {
  name: "numeric",
  description: "last number in the output is within tolerance of the target number",
  options: numericOptions,
  score: (input, options) => {
    const target = parseNumber(targetText(input).trim());
    const found = outputText(input).match(NUMBER);
    const last = found?.at(-1);
    const value = last === undefined ? undefined : parseNumber(last);
    if (target === undefined || value === undefined) return result(false, { extracted: value ?? null });
    const bound = options.relative ? options.tolerance * Math.abs(target) : options.tolerance;
    return result(Math.abs(value - target) <= bound, { extracted: value });
  },
};

/** Passed when the execution passed (the task's tests / success condition). */
export const exec: Scorer<Record<string, never>> = {
  name: "exec",
  description: "1 when the sandboxed execution passed (tests or success condition), else 0",
  needsExecution: true,
  options: z.strictObject({}),
  score: (input) => {
    if (!input.execution) return result(false, { reason: "not executed" });
    const reason = (input.execution as { failure_reason?: unknown }).failure_reason;
    return result(input.execution.passed, typeof reason === "string" ? { reason } : undefined);
  },
};

/** Passed when the execution applied the model's patch (code-edit: share of patches that apply). */
export const applied: Scorer<Record<string, never>> = {
  name: "applied",
  description: "1 when the execution applied the completion's patch (code-edit), else 0",
  needsExecution: true,
  options: z.strictObject({}),
  score: (input) => {
    if (!input.execution) return result(false, { reason: "not executed" });
    return result((input.execution as { applied?: unknown }).applied === true);
  },
};
