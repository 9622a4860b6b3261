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
  return text
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, " ")
    .replace(/\b(a|an|the)\b/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

export function result(
  passed: boolean,
  detail?: unknown,
): { value: number; passed: boolean; detail?: unknown } {
  return detail === undefined ? { value: passed ? 1 : 0, passed } : { value: passed ? 1 : 0, passed, detail };
}
