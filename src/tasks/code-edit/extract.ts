/**
 * What EditBench does with a completion and with a prompt too long for the model, reproduced
 * exactly: `extract_diff` (tag blocks, then fences, then the raw text cut at `</s>`) and
 * `remove_last_file_from_prompt` (drop the last file of the first `<code>` block, or halve a
 * lone file of 2,000+ lines).
 */

export type ExtractMethod =
  | "diff_tag"
  | "other_tag"
  | "diff_fence"
  | "other_fence"
  | "raw"
  | "none"
  /** The prediction came with its patch (SWE-bench / EditBench `model_patch`). */
  | "model_patch"
  /** The completion is the sample's reference patch (`gold`). */
  | "reference";

export interface ExtractedPatch {
  /** The patch text, or null when there was no completion. */
  patch: string | null;
  method: ExtractMethod;
}

const TAG_BLOCK = /<([\p{L}\p{N}_-]+)>([\s\S]*?)<\/\1>/gu;
const FENCE = /```([\p{L}\p{N}_]+)?\n([\s\S]*?)```/gu;
const DIFF_NAMES = new Set(["diff", "patch"]);

/** EditBench's `extract_diff` (the first diff/patch block wins; tag blocks before fences). */
export function extractDiff(response: string | null): ExtractedPatch {
  if (response === null) return { patch: null, method: "none" };
  const diff: ExtractedPatch[] = [];
  const other: ExtractedPatch[] = [];
  for (const m of response.matchAll(TAG_BLOCK)) {
    if (DIFF_NAMES.has(m[1] as string)) diff.push({ patch: m[2] as string, method: "diff_tag" });
    else other.push({ patch: m[2] as string, method: "other_tag" });
  }
  for (const m of response.matchAll(FENCE)) {
    if (m[1] !== undefined && DIFF_NAMES.has(m[1]))
      diff.push({ patch: m[2] as string, method: "diff_fence" });
    else other.push({ patch: m[2] as string, method: "other_fence" });
  }
  return diff[0] ?? other[0] ?? { patch: response.split("</s>")[0] as string, method: "raw" };
}

const PY_WS_END = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;
const FILE_BLOCK = /\[start of ([^\]]+)\]\n([\s\S]*?)\n\[end of \1\]/g;

/**
 * EditBench's `remove_last_file_from_prompt`: the prompt with the last file of its first
 * `<code>…</code>` removed; a lone file of 2,000+ lines is cut to its first half; else the prompt
 * unchanged (quirk 8: a `<code>` in the requirement hides the real block).
 */
export function removeLastFile(prompt: string): string {
  const match = /<code>([\s\S]*?)<\/code>/.exec(prompt);
  if (!match) return prompt;
  const start = match.index + "<code>".length;
  const end = start + (match[1] as string).length;
  const code = match[1] as string;
  const files = [...code.matchAll(FILE_BLOCK)];
  if (files.length === 0) return prompt;
  if (files.length === 1) {
    const [, name, content] = files[0] as RegExpExecArray;
    const lines = (content as string).split("\n");
    if (lines.length < 2000) return prompt;
    const kept = lines.slice(0, Math.floor(lines.length / 2)).join("\n");
    return `${prompt.slice(0, start)}\n[start of ${name}]\n${kept}\n[end of ${name}]\n${prompt.slice(end)}`;
  }
  const last = files[files.length - 1] as RegExpExecArray;
  const kept = code.slice(0, last.index).replace(PY_WS_END, "");
  return `${prompt.slice(0, start)}\n${kept}\n${prompt.slice(end)}`;
}
