import { type AnyScorer, BenchlineError, formatIssues, PARSE_ONCE, type Scorer } from "../core/index.js";
import { cvdp } from "./cvdp.js";
import { math, mathExact } from "./math/index.js";
import { applied, exact, exec, includes, numeric, regex } from "./scorers.js";
import { editDistance, fileHit, tfidfCosineScorer, tokenJaccardScorer } from "./similarity.js";

export { normalize, outputText, targetText } from "./text.js";
export { bleu, rouge } from "./text-similarity.js";

/** Built-in scorers by name. */
export const scorers = {
  exact,
  includes,
  regex,
  numeric,
  exec,
  math,
  math_exact: mathExact,
  applied,
  edit_distance: editDistance,
  token_jaccard: tokenJaccardScorer,
  tfidf_cosine: tfidfCosineScorer,
  file_hit: fileHit,
  cvdp,
} satisfies Record<string, AnyScorer>;
export type ScorerName = keyof typeof scorers;

export interface ResolvedScorer {
  name: string;
  scorer: Scorer<unknown>;
  options: unknown;
}

/** Looks a scorer up and validates its options; `label` names where it was configured. */
export function resolveScorer(name: string, options: Record<string, unknown>, label: string): ResolvedScorer {
  const scorer = (scorers as Record<string, AnyScorer>)[name] as Scorer<unknown> | undefined;
  if (!scorer) {
    throw new BenchlineError(
      "not_found",
      `${label}: unknown scorer "${name}" (available: ${Object.keys(scorers).join(", ")})`,
    );
  }
  if (!scorer.options) return { name, scorer, options };
  const parsed = scorer.options.safeParse(options, PARSE_ONCE);
  if (!parsed.success) throw new BenchlineError("config", `${label}: ${formatIssues(parsed.error.issues)}`);
  return { name, scorer, options: parsed.data };
}
