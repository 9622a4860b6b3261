import { z } from "zod";
import { DEFAULT_FALLBACKS, extractAnswer, lastBoxed, type MathArtifact } from "../core/index.js";
import { defineTask, idFor } from "./define.js";

const row = z
  .object({
    id: z.union([z.string().min(1), z.number()]).optional(),
    /** Hendrycks MATH: the problem and a worked solution whose last `\boxed{}` is the answer. */
    problem: z.string().min(1).optional(),
    solution: z.string().optional(),
    /** Plain rows: a question (or problem) and its answer. */
    question: z.string().min(1).optional(),
    answer: z.union([z.string().min(1), z.number()]).optional(),
    level: z.union([z.string(), z.number()]).optional(),
    type: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.problem === undefined && r.question === undefined)
      ctx.addIssue({ code: "custom", path: ["problem"], message: "a row needs `problem` (or `question`)" });
    if (r.answer === undefined) {
      if (r.solution === undefined)
        ctx.addIssue({ code: "custom", path: ["answer"], message: "a row needs `answer` or a `solution`" });
      else if (lastBoxed(r.solution) === null)
        ctx.addIssue({
          code: "custom",
          path: ["solution"],
          message: "the solution has no \\boxed{...} answer",
        });
    }
  });

const isRegex = (pattern: string): boolean => {
  try {
    new RegExp(pattern, "gim");
    return true;
  } catch {
    return false;
  }
};

const options = z.strictObject({
  /**
   * Where the answer is when there is no `\boxed{}`: regular expressions (group 1 the answer),
   * tried in order; `false` for boxed answers only.
   */
  fallback: z
    .union([z.literal(false), z.array(z.string().refine(isRegex, "not a valid regular expression"))])
    .default([...DEFAULT_FALLBACKS]),
  /**
   * A completion with no parsable answer: `wrong` (scored 0, in the denominator) or `drop`
   * (left out of the denominator, as some published numbers do; the summary counts them).
   */
  unparsed: z.enum(["wrong", "drop"]).default("wrong"),
});
type Options = z.infer<typeof options>;

/**
 * MATH (Hendrycks et al. 2021): competition problems with a final answer in `\boxed{}`. The
 * answer is extracted (last `\boxed{}` / `\fbox{}`, else the fallback) and graded by the `math`
 * (equivalence) and `math_exact` (normalised string) scorers.
 */
export const mathTask = defineTask({
  name: "math",
  description:
    "Math problems with a final answer: rows {problem, solution, level?, type?} (Hendrycks MATH) or {question|problem, answer}; the last \\boxed{} of the completion is graded",
  row,
  options: options as z.ZodType<Options>,
  defaultPrompts: {
    default: {
      system:
        "Solve the math problem. Reason step by step, then put the final answer, simplified, inside \\boxed{}.",
      user: "{{problem}}",
    },
  },
  defaultScorers: ["math", "math_exact"],
  toSample: (r) => {
    const problem = (r.problem ?? r.question)!;
    const answer = r.answer !== undefined ? String(r.answer) : (lastBoxed(r.solution ?? "") ?? "");
    const level =
      r.level === undefined ? undefined : typeof r.level === "number" ? `Level ${r.level}` : r.level;
    // The report groups items by subject (`type`), else by level; both stay in the metadata.
    const metadata: Record<string, string> = {};
    const category = r.type ?? level;
    if (category !== undefined) metadata.category = category;
    if (r.type !== undefined) metadata.type = r.type;
    if (level !== undefined) metadata.level = level;
    return {
      id: idFor({ problem, answer }, r.id),
      input: { problem },
      target: answer,
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    };
  },
  reference: (sample) =>
    sample.target === undefined ? undefined : `The answer is $\\boxed{${String(sample.target)}}$.`,
  parse: (completion, _sample, opts): MathArtifact => {
    const found = extractAnswer(completion, opts.fallback === false ? [] : opts.fallback);
    return {
      parsed_answer: found.answer,
      parsed: found.answer !== null,
      method: found.method,
      ...(opts.unparsed === "drop" ? { drop_unparsed: true } : {}),
    };
  },
});
