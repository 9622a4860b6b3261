import { z } from "zod";
import type { ScoreResult, Scorer } from "../core/index.js";
import { bleu, rouge } from "./text-similarity.js";

/** CVDP's thresholds (`SCORING_CONFIG`). */
const BLEU_THRESHOLD = 0.4;
const ROUGE_THRESHOLD = 0.4;

interface CvdpSampleInput {
  kind?: "harness" | "bleu" | "judge";
}

/**
 * The cvdp task's scorer, by the problem's kind: code generation passes when every harness service
 * exits 0; cid 6 and 8 score BLEU-2 (with ROUGE-2 beside it; passed when both exceed CVDP's 0.4);
 * cid 9 and 10 need an LLM judge. A problem that cannot be scored here — a commercial simulator's
 * harness, or a judge problem with no judge — is `dropped` with its reason: left out of means and
 * pass@k, never a 0.
 */
const options = z.strictObject({
  /** A model entry (as in `models:`) that judges cid 9/10 answers on CVDP's 0–1 scale. */
  judge: z.unknown().optional(),
  /** CVDP's pass threshold for a judge's score. */
  threshold: z.number().min(0).max(1).default(0.7),
});
type CvdpScorerOptions = z.infer<typeof options>;

export const cvdp: Scorer<CvdpScorerOptions> = {
  name: "cvdp",
  description:
    "CVDP: harness pass/fail, BLEU-2/ROUGE-2 (cid 6, 8), LLM judge (cid 9, 10; judge: a model entry); unrunnable problems dropped with a reason",
  options,
  judgeOf: (o) => o.judge,
  async score(input, o): Promise<ScoreResult> {
    const kind = (input.sample.input as CvdpSampleInput).kind ?? "harness";
    if (kind === "judge") {
      if (!input.judge)
        return leftOut(
          "unavailable",
          "no LLM judge configured (scorers: [{name: cvdp, judge: <model>}]): not scored as 0",
        );
      const artifact = input.artifact as { response?: string } | undefined;
      const reference = typeof input.sample.target === "string" ? input.sample.target : "";
      const prompt = (input.sample.input as { problem?: { prompt?: string } }).problem?.prompt ?? "";
      let text: string;
      try {
        text = await input.judge(judgeMessages(prompt, reference, artifact?.response ?? ""));
      } catch (error) {
        return leftOut("unavailable", `the judge failed: ${(error as Error).message}`);
      }
      const verdict = parseVerdict(text);
      if (verdict.score === undefined)
        return leftOut("unavailable", `the judge's answer has no score: ${verdict.error}`);
      return {
        value: verdict.score,
        passed: verdict.score >= o.threshold,
        detail: { llm_score: verdict.score, reasoning: verdict.reasoning, threshold: o.threshold },
      };
    }
    if (kind === "bleu") {
      const artifact = input.artifact as { response?: string } | undefined;
      const response = artifact?.response ?? "";
      const reference = typeof input.sample.target === "string" ? input.sample.target : "";
      const b = bleu(response, reference, 2);
      const r = rouge(response, reference, 2);
      return {
        value: b,
        passed: b > BLEU_THRESHOLD && (r ?? 0) > ROUGE_THRESHOLD,
        detail: {
          bleu_2: b,
          rouge_2: r ?? null,
          ...(r === undefined ? { note: "reference has no bigrams" } : {}),
        },
      };
    }
    const execution = input.execution as
      | (typeof input.execution & { skipped?: string; failure_reason?: string })
      | undefined;
    if (!execution) return { value: 0, passed: false, detail: { reason: "not executed" } };
    if (typeof execution.skipped === "string") return leftOut("skipped", execution.skipped);
    return {
      value: execution.passed ? 1 : 0,
      passed: execution.passed,
      ...(execution.failure_reason ? { detail: { reason: execution.failure_reason } } : {}),
    };
  },
};

/** CVDP's subjective-scoring prompt (`subjective_score_model.py`). */
function judgeMessages(problem: string, reference: string, response: string) {
  const system = `You are an expert at evaluating the quality of responses compared to reference solutions.
Your task is to score how well a candidate response matches the reference solution on a scale from 0.0 to 1.0,
where 0.0 means no match at all and 1.0 means a perfect match.

Important: You should evaluate the responses ONLY in relation to the original problem or question that was asked.
Focus on how well each response addresses the specific requirements and needs of the original problem prompt.

Look for the following aspects when scoring:
1. Relevance - how well does each response address the specific question or problem posed?
2. Semantic similarity - do the responses convey the same meaning in the context of the original problem?
3. Content completeness - does the candidate response include all the necessary information required by the prompt?
4. Correctness - is the candidate response accurate and correct with respect to what was asked?
5. Style and format consistency - does the candidate response follow the same style as the reference?

You must be critical and objective in your assessment. Provide a numeric score as a floating point number.

The response should be in the form of a JSON object with the following fields:
{
    "score": <float>,
    "reasoning": <string>
}
`;
  const user = `Please evaluate the following candidate response against the reference solution.
Score the match on a scale from 0.0 to 1.0, where 0.0 means no match at all and 1.0 means a perfect match.

Original Problem/Question:
\`\`\`
${problem}
\`\`\`

Reference Solution:
\`\`\`
${reference}
\`\`\`

Candidate Response:
\`\`\`
${response}
\`\`\`

Important: Evaluate the candidate response ONLY on how well it addresses the original problem compared to the reference solution. 
Ignore aspects that aren't relevant to the original problem.
Provide your score as a single number from 0.0 to 1.0.

An example response is:
{
    "score": 0.85,
    "reasoning": "The candidate response addresses the original problem well, but lacks some depth in the analysis."
}
`;
  return [
    { role: "system" as const, content: system },
    { role: "user" as const, content: user },
  ];
}

/** The judge's `{"score", "reasoning"}` (bare, or in a fenced block), the score clamped to 0–1 as CVDP does. */
function parseVerdict(text: string): { score?: number; reasoning?: string; error?: string } {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/.exec(text)?.[1];
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  const candidates = [fenced, text, start >= 0 && end > start ? text.slice(start, end + 1) : undefined];
  for (const candidate of candidates) {
    if (candidate === undefined) continue;
    try {
      const value = JSON.parse(candidate) as { score?: unknown; reasoning?: unknown };
      if (typeof value.score === "number" && Number.isFinite(value.score))
        return { score: Math.max(0, Math.min(1, value.score)), reasoning: String(value.reasoning ?? "") };
    } catch {}
  }
  return { error: text.slice(0, 200) };
}

function leftOut(status: "skipped" | "unavailable", reason: string): ScoreResult {
  return { value: 0, passed: false, detail: { status, reason, dropped: true } };
}
