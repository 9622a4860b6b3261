import { distance } from "fastest-levenshtein";
import { z } from "zod";
import type { ScoreInput, ScoreResult, Scorer } from "../core/index.js";
import { outputText, targetText } from "./text.js";

/**
 * EditBench's similarity metrics between the predicted patch and the reference patch, computed
 * as its evaluation does (`metric_utils.py`): both diffs reduced to their code lines
 * (`preprocess_diff`), then normalised edit distance, token Jaccard and TF-IDF cosine on those,
 * and the file-hit rate on the raw diffs; each value rounded to 4 decimals as there (file hit is
 * not). Rows without a patch (none, or only whitespace: EditBench's `patch_is_None`) are left
 * out of the means, as EditBench leaves them out, unless `empty: score`.
 *
 * One difference: EditBench fits the TF-IDF vocabulary and IDF on every patch of the run
 * (all references and predictions); a scorer sees one row, so here IDF comes from the pair.
 * CodeBLEU is not provided (see README).
 */

const PY_WS =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g");
/** Python's `str.strip()` (its whitespace set, not JavaScript's). */
const pyStrip = (s: string): string => s.replace(PY_STRIP, "");

const DIFF_META = /^(?:diff --git|index |--- |\+\+\+ |@@[^\n]*@@)/;
const COMMENT = /#[^\n]*$/;
const TOKEN = /[a-zA-Z0-9_]+|[()[\]{}:;,.+*/=<>!&|%^~@#-]/g;
const FILE = /diff --git a\/(\S+) b\/\S+/g;

/** EditBench's `preprocess_diff`: the code of a diff's lines without meta lines, comments, signs. */
export function preprocessDiff(diff: string): string {
  if (!diff) return "";
  const kept: string[] = [];
  for (const raw of pyStrip(diff).split("\n")) {
    const line = pyStrip(raw);
    if (DIFF_META.test(line) || line === "" || line.startsWith("#")) continue;
    const code = line.startsWith("+") || line.startsWith("-") ? pyStrip(line.slice(1)) : line;
    const clean = pyStrip(code.replace(COMMENT, ""));
    if (clean) kept.push(clean);
  }
  return kept.join("\n");
}

/** EditBench's `python_code_tokenize`: identifiers and numbers, and single symbols. */
export function codeTokens(code: string): string[] {
  return code.match(TOKEN) ?? [];
}

/** Python's `round(x, 4)` for x in [0, 1]: ties (exactly j/32, j odd) go to the even digit. */
export function round4(x: number): number {
  const j = x * 32;
  if (Number.isInteger(j) && j % 2 === 1) {
    const lo = Math.floor(x * 1e4);
    return (lo % 2 === 0 ? lo : lo + 1) / 1e4;
  }
  return Number(x.toFixed(4));
}

/** Levenshtein distance over code points (Python strings), with fastest-levenshtein. */
function codePointDistance(a: string, b: string): number {
  const astral = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;
  if (!astral.test(a) && !astral.test(b)) return distance(a, b);
  // One private-use BMP character per distinct astral code point keeps the distance exact.
  const used = new Set([...a, ...b]);
  const map = new Map<string, string>();
  let next = 0xe000;
  const remap = (s: string) =>
    Array.from(s, (ch) => {
      if (ch.length === 1) return ch;
      let m = map.get(ch);
      if (!m) {
        while (used.has(String.fromCharCode(next))) next++;
        m = String.fromCharCode(next++);
        map.set(ch, m);
      }
      return m;
    }).join("");
  return distance(remap(a), remap(b));
}

/** Normalised edit distance: 0 the same, 1 nothing in common (EditBench's, lower is better). */
export function normalizedEditDistance(a: string, b: string): number {
  if (!a && !b) return 0;
  const max = Math.max([...a].length, [...b].length);
  return max === 0 ? 0 : round4(codePointDistance(a, b) / max);
}

export function tokenJaccard(a: string[], b: string[]): number {
  if (a.length === 0 && b.length === 0) return 1;
  if (a.length === 0 || b.length === 0) return 0;
  const sa = new Set(a);
  const sb = new Set(b);
  let inter = 0;
  for (const t of sa) if (sb.has(t)) inter++;
  return round4(inter / (sa.size + sb.size - inter));
}

/**
 * Cosine of the TF-IDF vectors of two texts (scikit-learn's `TfidfVectorizer` defaults: raw
 * counts, smooth IDF `ln((1+n)/(1+df)) + 1`, L2 norm), fitted on the two texts.
 */
export function tfidfCosine(a: string, b: string): number {
  if (!a && !b) return 1;
  if (!a || !b) return 0;
  const ta = counts(codeTokens(a));
  const tb = counts(codeTokens(b));
  const idf = (t: string) => Math.log(3 / (1 + (ta.has(t) ? 1 : 0) + (tb.has(t) ? 1 : 0))) + 1;
  const weights = (c: Map<string, number>) => new Map([...c].map(([t, n]) => [t, n * idf(t)]));
  const wa = weights(ta);
  const wb = weights(tb);
  const norm = (w: Map<string, number>) => Math.sqrt([...w.values()].reduce((s, v) => s + v * v, 0));
  const na = norm(wa);
  const nb = norm(wb);
  if (na === 0 || nb === 0) return 0;
  let dot = 0;
  for (const [t, v] of wa) dot += (v / na) * ((wb.get(t) ?? 0) / nb);
  return round4(dot);
}

function counts(tokens: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tokens) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

/** Share of the reference diff's files (`diff --git a/…`) that the predicted diff touches. */
export function fileHitRate(reference: string, prediction: string): number {
  const gold = new Set([...reference.matchAll(FILE)].map((m) => m[1] as string));
  if (gold.size === 0) return 0;
  const model = new Set([...prediction.matchAll(FILE)].map((m) => m[1] as string));
  let hit = 0;
  for (const f of gold) if (model.has(f)) hit++;
  return hit / gold.size;
}

/** The predicted patch (code-edit's artifact `{patch}`, else the parsed text) and the reference. */
function patches(input: ScoreInput): { prediction: string | null; reference: string } {
  const artifact = input.artifact as { patch?: unknown } | null | undefined;
  const prediction =
    artifact && typeof artifact === "object" && "patch" in artifact
      ? typeof artifact.patch === "string"
        ? artifact.patch
        : null
      : outputText(input);
  return {
    prediction: prediction === null ? null : pyStrip(prediction),
    reference: pyStrip(targetText(input)),
  };
}

const similarityOptions = z.strictObject({
  /** Rows without a patch: left out of the means (EditBench) or scored by the formula. */
  empty: z.enum(["drop", "score"]).default("drop"),
});
type SimilarityOptions = z.infer<typeof similarityOptions>;

function similarityScorer(
  name: string,
  description: string,
  best: number,
  measure: (reference: string, prediction: string) => number,
): Scorer<SimilarityOptions> {
  return {
    name,
    description,
    options: similarityOptions as z.ZodType<SimilarityOptions>,
    score: (input, options): ScoreResult => {
      const { prediction, reference } = patches(input);
      const value = measure(reference, prediction ?? "");
      const detail = {
        ...(prediction === null || prediction === "" ? { empty_patch: true } : {}),
        ...((prediction === null || prediction === "") && options.empty === "drop" ? { dropped: true } : {}),
      };
      return { value, passed: value === best, ...(Object.keys(detail).length > 0 ? { detail } : {}) };
    },
  };
}

export const editDistance = similarityScorer(
  "edit_distance",
  "EditBench's normalised edit distance between the code lines of the predicted and reference patches (0 = same; lower is better)",
  0,
  (r, p) => normalizedEditDistance(preprocessDiff(r), preprocessDiff(p)),
);

export const tokenJaccardScorer = similarityScorer(
  "token_jaccard",
  "EditBench's token Jaccard similarity of the predicted and reference patches' code lines",
  1,
  (r, p) => tokenJaccard(codeTokens(preprocessDiff(r)), codeTokens(preprocessDiff(p))),
);

export const tfidfCosineScorer = similarityScorer(
  "tfidf_cosine",
  "TF-IDF cosine similarity of the predicted and reference patches' code lines (IDF from the pair)",
  1,
  (r, p) => tfidfCosine(preprocessDiff(r), preprocessDiff(p)),
);

export const fileHit = similarityScorer(
  "file_hit",
  "EditBench's file-hit rate: the share of the reference patch's files that the predicted patch edits",
  1,
  fileHitRate,
);
