import { answerFiles } from "./prompt.js";
import type { Problem } from "./records.js";

/** What a completion becomes: the files written for the harness, or the text of a comprehension answer. */
export interface CvdpArtifact {
  /** Expected path → content; only paths the record expects. */
  files: Record<string, string>;
  /** Comprehension answer text (cid 6, 8, 9, 10). */
  response?: string;
  /** Paths the answer named that the record does not expect: never written. */
  ignored: string[];
  /** How the answer was read. */
  method: "fenced" | "text" | "json" | "unparsed";
  /** Why a JSON answer could not be read. */
  error?: string;
}

/**
 * CVDP's rule for reading a completion (`model_helpers.parse_model_response`), with JSON parsed as
 * JSON: one expected file takes the first fenced block, else the stripped text; otherwise the answer
 * is `{"code": [{path: text}, ...]}` or `{"response": text}` (inside fences or prose is fine), and
 * a fenced block inside a value is that value's content, as in CVDP.
 */
export function parseCompletion(completion: string, problem: Problem): CvdpArtifact {
  const expected = answerFiles(problem);
  if (expected.length === 1) {
    const block = firstFencedBlock(completion);
    const path = expected[0] as string;
    return block === undefined
      ? { files: { [path]: pythonStrip(completion) }, ignored: [], method: "text" }
      : { files: { [path]: block }, ignored: [], method: "fenced" };
  }
  const parsed = parseJsonAnswer(completion);
  if (!parsed.ok) {
    // No JSON: a comprehension answer is the text itself; code files cannot be told apart.
    return expected.length === 0
      ? { files: {}, response: pythonStrip(completion), ignored: [], method: "unparsed", error: parsed.error }
      : { files: {}, ignored: [], method: "unparsed", error: parsed.error };
  }
  const value = parsed.value;
  const files: Record<string, string> = {};
  const ignored: string[] = [];
  const code = Array.isArray(value.code) ? value.code : [];
  for (const entry of code) {
    if (entry === null || typeof entry !== "object" || Array.isArray(entry)) continue;
    for (const [name, text] of Object.entries(entry as Record<string, unknown>)) {
      const path = name.replace(/^\.\//, "");
      if (expected.includes(path) && typeof text === "string") files[path] = blockOrText(text);
      else ignored.push(name);
    }
  }
  const artifact: CvdpArtifact = { files, ignored, method: "json" };
  if (typeof value.response === "string") artifact.response = blockOrText(value.response);
  return artifact;
}

/** The body of the first fenced block (CVDP's regex ```(?:(\w+)\n)?(.*?)```), or undefined. */
export function firstFencedBlock(text: string): string | undefined {
  const match = /```(?:(\w+)\n)?([\s\S]*?)```/.exec(text);
  return match ? match[2] : undefined;
}

function blockOrText(text: string): string {
  return firstFencedBlock(text) ?? text;
}

type JsonAnswer = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/**
 * The answer's JSON object: the whole text, else the first fenced block, else from the first `{` to
 * the last `}`. (CVDP deletes every control character, newlines included, before parsing, which
 * joins lines of code inside strings that the model escaped wrongly; here JSON is JSON.)
 */
function parseJsonAnswer(completion: string): JsonAnswer {
  const text = completion.trim();
  const candidates = [text];
  const block = firstFencedBlock(text);
  if (block !== undefined) candidates.push(block.trim());
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1));
  let error = "no JSON object in the answer";
  for (const candidate of candidates) {
    try {
      const value: unknown = JSON.parse(candidate);
      if (value !== null && typeof value === "object" && !Array.isArray(value))
        return { ok: true, value: value as Record<string, unknown> };
      error = "the answer's JSON is not an object";
    } catch (e) {
      error = `invalid JSON: ${(e as Error).message}`;
    }
  }
  return { ok: false, error };
}

/** Python's `str.strip()`: whitespace as Python counts it (Unicode spaces and \x1c-\x1f too). */
function pythonStrip(text: string): string {
  return text.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/gu, "");
}
