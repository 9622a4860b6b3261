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
export const cvdp: Scorer<Record<string, never>> = {
  name: "cvdp",
  description:
    "CVDP: harness pass/fail, BLEU-2/ROUGE-2 (cid 6, 8), LLM judge (cid 9, 10); unrunnable problems dropped with a reason",
  options: z.strictObject({}),
  score(input): ScoreResult {
    const kind = (input.sample.input as CvdpSampleInput).kind ?? "harness";
    if (kind === "judge")
      return leftOut(
        "unavailable",
        "no LLM judge configured: cid 9/10 answers are judged by a model (not scored as 0)",
      );
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

function leftOut(status: "skipped" | "unavailable", reason: string): ScoreResult {
  return { value: 0, passed: false, detail: { status, reason, dropped: true } };
}
