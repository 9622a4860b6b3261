/**
 * Final answers out of model output: the last `\boxed{...}` / `\fbox{...}` (nested braces),
 * `\boxed 5`, else a configurable fallback ("The answer is ...").
 */

export type ExtractMethod = "boxed" | "fallback" | "none";

export interface Extracted {
  answer: string | null;
  method: ExtractMethod;
}

/** Default fallback patterns, tried in order (the last match of the first that matches); group 1 is the answer. */
export const DEFAULT_FALLBACKS = [
  // Minerva's format: "Final Answer: The final answer is $\frac{1}{2}$. I hope it is correct."
  String.raw`(?:final answer|the answer)\s*(?:is|:)\s*:?\s*\$([^$]+)\$`,
  // "The answer is 7." to the end of the line.
  String.raw`(?:final answer|the answer)\s*(?:is|:)\s*:?\s*([^\n$]+?)\s*\.?\s*$`,
];

/** The content of the last `\boxed{...}` or `\fbox{...}` (or `\boxed x`), or null. */
export function lastBoxed(text: string): string | null {
  let from = text.length;
  while (from > 0) {
    const at = Math.max(text.lastIndexOf("\\boxed", from - 1), text.lastIndexOf("\\fbox", from - 1));
    if (at < 0) return null;
    const content = boxedAt(text, at);
    if (content !== null) return content;
    from = at;
  }
  return null;
}

function boxedAt(text: string, at: number): string | null {
  let i = at + (text.startsWith("\\boxed", at) ? 6 : 5);
  if (/[a-zA-Z]/.test(text[i] ?? "")) return null; // \boxedfoo is another command
  const start = i;
  while (text[i] === " ") i++;
  if (text[i] === "{") {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const ch = text[j];
      if (ch === "\\") {
        j++; // an escaped brace does not count
        continue;
      }
      if (ch === "{") depth++;
      else if (ch === "}" && --depth === 0) return text.slice(i + 1, j).trim();
    }
    return null; // unbalanced: no answer
  }
  if (i === start) return null; // `\boxed` followed by something other than a space or a brace
  // `\boxed 5`: up to the end of the math, the sentence or the line.
  const m = /^[^\s$]+/.exec(text.slice(i));
  const token = m?.[0].replace(/[.,;]+$/, "");
  return token ? token : null;
}

/** The model's final answer: the last boxed expression, else the first fallback that matches. */
export function extractAnswer(text: string, fallbacks: readonly string[] = DEFAULT_FALLBACKS): Extracted {
  const boxed = lastBoxed(text);
  if (boxed !== null && boxed !== "") return { answer: boxed, method: "boxed" };
  for (const pattern of fallbacks) {
    const re = new RegExp(pattern, "gim");
    let last: string | undefined;
    for (const match of text.matchAll(re)) last = (match[1] ?? match[0]).trim();
    if (last) return { answer: stripMath(last), method: "fallback" };
  }
  return { answer: null, method: "none" };
}

function stripMath(s: string): string {
  return s
    .replace(/^\\\(|\\\)$/g, "")
    .replace(/^\\\[|\\\]$/g, "")
    .replace(/^\$+|\$+$/g, "")
    .replace(/[.]$/, "")
    .trim();
}

/**
 * What the `math` task's parse step hands to scorers: the final answer, whether one was found,
 * and how. Shared by tasks/ (which extracts) and scoring/ (which grades).
 */
export interface MathArtifact {
  parsed_answer: string | null;
  parsed: boolean;
  method: ExtractMethod;
  /** The task drops unparsed rows from the denominator (the published-number convention). */
  drop_unparsed?: boolean;
}

export function isMathArtifact(x: unknown): x is MathArtifact {
  return typeof x === "object" && x !== null && "parsed_answer" in x && "parsed" in x;
}
