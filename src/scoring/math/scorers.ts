import { z } from "zod";
import {
  extractAnswer,
  isMathArtifact,
  type MathArtifact,
  type ScoreInput,
  type ScoreResult,
  type Scorer,
} from "../../core/index.js";
import { mathEquivalent } from "./equivalent.js";
import { hendrycksNormalize, minervaNormalize } from "./normalize.js";

function answerOf(input: ScoreInput): MathArtifact {
  if (isMathArtifact(input.artifact)) return input.artifact;
  const text = typeof input.artifact === "string" ? input.artifact : input.completion;
  const found = extractAnswer(text);
  if (found.answer !== null) return { parsed_answer: found.answer, parsed: true, method: found.method };
  const whole = text.trim();
  return whole === ""
    ? { parsed_answer: null, parsed: false, method: "none" }
    : { parsed_answer: whole, parsed: true, method: "none" };
}

/** The target as an answer: a full solution's last `\boxed{}`, else the target text itself. */
function goldOf(input: ScoreInput): string {
  const t = input.sample.target;
  const text = t === undefined || t === null ? "" : String(t);
  return extractAnswer(text, []).answer ?? text.trim();
}

async function grade(
  input: ScoreInput,
  same: (pred: string, gold: string) => Promise<boolean> | boolean,
): Promise<ScoreResult> {
  const a = answerOf(input);
  const target = goldOf(input);
  const detail = {
    parsed_answer: a.parsed_answer,
    parsed: a.parsed,
    method: a.method,
    target,
    ...(a.drop_unparsed && !a.parsed ? { dropped: true } : {}),
  };
  if (a.parsed_answer === null) return { value: 0, passed: false, detail };
  const passed = await same(a.parsed_answer, target);
  return { value: passed ? 1 : 0, passed, detail };
}

const mathOptions = z.strictObject({
  /** Seed of the random points of the numeric check (the check is deterministic for a seed). */
  seed: z.number().int().default(0),
});

/** Mathematical equivalence of the final answer and the target (see README "MATH grader"). */
export const math: Scorer<z.infer<typeof mathOptions>> = {
  name: "math",
  description:
    "final answer (last \\boxed{}) mathematically equivalent to the target: numbers, fractions, sets, tuples, intervals, matrices, equations, expressions (CAS + seeded numeric check)",
  options: mathOptions,
  score: (input, options) => grade(input, (p, g) => mathEquivalent(p, g, { seed: options.seed })),
};

const exactOptions = z.strictObject({
  normalizer: z.enum(["minerva", "hendrycks"]).default("minerva"),
});

/** Normalised string equality of the final answers, as published MATH numbers compute it. */
export const mathExact: Scorer<z.infer<typeof exactOptions>> = {
  name: "math_exact",
  description: "final answer equals the target as strings after Minerva's (or Hendrycks') normalisation",
  options: exactOptions,
  score: (input, options) => {
    const norm = options.normalizer === "hendrycks" ? hendrycksNormalize : minervaNormalize;
    return grade(input, (p, g) => norm(p) === norm(g));
  },
};
