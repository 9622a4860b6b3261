import type { ScoreInput } from "../core/index.js";

/** The text a scorer judges: the parsed artifact when it is a string, else the raw completion. */
export function outputText(input: ScoreInput): string {
  return typeof input.artifact === "string" ? input.artifact : input.completion;
}

export function targetText(input: ScoreInput): string {
  const t = input.sample.target;
  return t === undefined || t === null ? "" : typeof t === "string" ? t : JSON.stringify(t);
}

/** Lower case, punctuation dropped, whitespace collapsed, English articles removed (SQuAD-style). */
export function normalize(text: string): string {
  // ASCII text (most answers): NFKC leaves it as it is, and its punctuation (P) and symbol (S)
  // characters are exactly the printable ones that are neither letters, digits nor space — the
  // same result without the Unicode passes (twice a score row; `exact` and `contains`).
  if (ASCII.test(text))
    return text
      .toLowerCase()
      .replace(/[!-/:-@[-`{-~]+/g, " ")
      .replace(/\b(a|an|the)\b/g, " ")
      .replace(/\s+/g, " ")
      .trim();
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, " ")
    .replace(/\b(a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

const ASCII = /^[\x00-\x7f]*$/;

export function result(
  passed: boolean,
  detail?: unknown,
): { value: number; passed: boolean; detail?: unknown } {
  return detail === undefined ? { value: passed ? 1 : 0, passed } : { value: passed ? 1 : 0, passed, detail };
}
