import { applyHunks } from "./apply-hunks.js";
import { pythonRound, splitLines } from "./python-text.js";
import { fileOfDiff, type Instance } from "./records.js";
import { FULL, ONLY_CHANGES, ONLY_ISSUE } from "./templates.js";
import { unifiedDiff } from "./unified-diff.js";

/**
 * EditBench's "bench → infbench" prompt builder, reproducing its output byte for byte (quirks
 * included, see the README of the reference data): split the edit history at `info_pct`, show the
 * first steps as history, and ask for the rest; the code context is the edited files after the
 * shown steps (oracle) or BM25-retrieved files.
 */

/** A prompt variant, named as EditBench names a run id: `0.2`, `0.2_body_issue`, `0.2_bm25_5`. */
export interface Variant {
  name: string;
  /** Share of the edit history shown; null: none (EditBench's `None`). */
  info_pct: number | null;
  /** PR title and body in the requirement. */
  pr: boolean;
  /** Issue text in the requirement. */
  issue: boolean;
  context: "oracle" | "bm25";
  top_n: number;
}

const VARIANT = /^(None|\d+(?:\.\d+)?)((?:_body)?)((?:_issue)?)((?:_bm25_\d+)?)$/;

/** Parses a run id; undefined when it is not one. */
export function parseVariant(name: string): Variant | undefined {
  const m = VARIANT.exec(name);
  if (!m) return undefined;
  const pct = m[1] === "None" ? null : Number(m[1]);
  if (pct !== null && (pct < 0 || pct > 1)) return undefined;
  const bm25 = m[4] ? Number(m[4].slice("_bm25_".length)) : 0;
  if (m[4] && bm25 < 1) return undefined;
  return {
    name,
    info_pct: pct,
    pr: m[2] !== "",
    issue: m[3] !== "",
    context: bm25 ? "bm25" : "oracle",
    top_n: bm25 || 10,
  };
}

export const variantGrammar =
  "a run id: {info_pct|None}[_body][_issue][_bm25_{top_n}], e.g. 0.2, 0.2_body_issue, None_body_issue, 0.2_bm25_5";

export interface BuiltPrompt {
  prompt: string;
  split_idx: number;
  num_changes: number;
  pre_edits: string[];
  ground_truth: string;
  /** Files in the code context, in order. */
  context_files: string[];
}

/** Where the split falls: EditBench's rule (Python rounding; n = 2 always splits at 1). */
export function splitIndex(steps: number, infoPct: number | null): number {
  const pct = infoPct ? infoPct : 0;
  if (steps < 2 || pct <= 0) return 0;
  const raw = pythonRound(steps * pct);
  if (steps === 2) return 1;
  if (raw >= 1 && raw <= steps - 1) return raw;
  return raw < 1 ? 1 : steps - 1;
}

/**
 * The shown steps as EditBench writes them: one-file steps end with "\n", several files are
 * joined by "\n" with none at the end (so not a valid patch alone: quirk 1). `strict` ends
 * every non-empty step with "\n" (changes prompt bytes).
 */
export function preEdits(steps: string[][], split: number, strict = false): string[] {
  return steps
    .slice(0, split)
    .map((files) => files.join("\n") + (files.length === 1 || (strict && files.length > 1) ? "\n" : ""));
}

/** Per file: its diff at each step (1-based). Files in `files` order, then any others in order seen. */
export function stepsByFile(instance: Instance): Map<string, Map<number, string>> {
  const byFile = new Map<string, Map<number, string>>();
  for (const f of instance.files) byFile.set(f, new Map());
  for (const [i, step] of instance.steps.entries()) {
    for (const diff of step) {
      const file = fileOfDiff(diff) ?? "";
      const m = byFile.get(file) ?? new Map<number, string>();
      byFile.set(file, m);
      m.set(i + 1, diff);
    }
  }
  return byFile;
}

/** Applies a file's diffs for steps 1..upTo to its base content. */
export function contentAfter(base: string, diffs: Map<number, string>, upTo: number, file: string): string {
  let text = base;
  for (let i = 1; i <= upTo; i++) {
    const diff = diffs.get(i);
    if (diff === undefined) continue;
    try {
      text = applyHunks(text, diff);
    } catch (error) {
      throw new Error(`step ${i} does not apply to ${file}: ${(error as Error).message}`);
    }
  }
  return text;
}

/** difflib's unified diff with git's header, as EditBench's `generate_diff`. */
export function generateDiff(before: string, after: string, file: string): string {
  return `diff --git a/${file} b/${file}\n${unifiedDiff(splitLines(before, true), splitLines(after, true), `a/${file}`, `b/${file}`)}`;
}

/** Python's `str.strip()` whitespace. */
const PY_WS =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const STRIP = new RegExp(`^[${PY_WS}]+|[${PY_WS}]+$`, "g");
export const pyStrip = (s: string): string => s.replace(STRIP, "");

/** The requirement: cleaned PR text (comments, CR, blank lines), then the issue text raw (quirk 5). */
export function requirement(instance: Instance, variant: Pick<Variant, "pr" | "issue">): string {
  let text = "";
  if (variant.pr) {
    text += `${instance.title}\n${instance.body}\n`;
    text = text.replace(/<!--[\s\S]*?-->/g, "");
    text = text.replace(/\r\n?/g, "\n");
    text = pyStrip(text.replace(/\n+/g, "\n"));
  }
  if (variant.issue) text += instance.issue;
  return text;
}

/** `fill_line_number`: "n " before every line, the empty one after the final newline too (quirk 4). */
export function numberLines(source: string): string {
  return source
    .split("\n")
    .map((line, i) => `${i + 1} ${line}`)
    .join("\n");
}

/** Fills `${name}$` placeholders in one pass; inserted text is never re-scanned (quirk 4). */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{(\w+)\}\$/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`missing value for placeholder ${key}`);
    return value;
  });
}

export function renderPrompt(
  req: string,
  context: Map<string, string>,
  edits: string[],
  split: number,
): string {
  const hasReq = pyStrip(req) !== "";
  const template = hasReq ? (split !== 0 ? FULL : ONLY_ISSUE) : split !== 0 ? ONLY_CHANGES : "";
  let code = "";
  for (const [file, text] of context) code += `[start of ${file}]\n${numberLines(text)}\n[end of ${file}]\n`;
  if (code.endsWith("\n")) code = code.slice(0, -1);
  let history = "";
  for (const [i, patch] of edits.entries())
    history += `[start of step ${i + 1}]\n${patch}\n[end of step ${i + 1}]\n`;
  if (history.endsWith("\n")) history = history.slice(0, -1);
  return fillTemplate(template, {
    problem_statement: req,
    code_context: code,
    historical_code_changes: history,
  });
}

/** Reads a repository file at the base commit (universal newlines applied), undefined if absent. */
export type ReadBase = (path: string) => Promise<string | undefined>;

/** BM25 context: the files the shown edits touch (after them), then the best `top_n` others. */
export type RetrieveContext = (
  edits: string[],
  edited: Map<string, string>,
  topN: number,
) => Promise<Map<string, string>>;

export interface BuildOptions {
  strict?: boolean;
  retrieve?: RetrieveContext;
}

/** Builds one variant of one instance. Throws (a plain Error) when a step does not apply. */
export async function buildVariant(
  instance: Instance,
  variant: Variant,
  readBase: ReadBase,
  options: BuildOptions = {},
): Promise<BuiltPrompt> {
  const split = splitIndex(instance.steps.length, variant.info_pct);
  const edits = preEdits(instance.steps, split, options.strict);
  const context = new Map<string, string>();
  const groundTruth: string[] = [];
  for (const [file, diffs] of stepsByFile(instance)) {
    const base = (await readBase(file)) ?? "";
    const before = contentAfter(base, diffs, split, file);
    const after = contentAfter(
      before,
      new Map([...diffs].filter(([i]) => i > split)),
      instance.steps.length,
      file,
    );
    context.set(file, before);
    const diff = generateDiff(before, after, file);
    if (pyStrip(diff).split("\n").length > 2) groundTruth.push(diff);
  }
  let shown = context;
  if (variant.context === "bm25" && options.retrieve) {
    const edited = new Map<string, string>();
    for (const edit of edits)
      for (const m of edit.matchAll(/diff --git a\/(\S+) b\/\S+/g)) {
        const f = m[1] as string;
        if (context.has(f)) edited.set(f, context.get(f) as string);
      }
    const retrieved = await options.retrieve(edits, edited, variant.top_n);
    if (retrieved.size > 0) shown = retrieved;
  }
  const req = requirement(instance, variant);
  return {
    prompt: renderPrompt(req, shown, edits, split),
    split_idx: split,
    num_changes: instance.steps.length,
    pre_edits: edits,
    ground_truth: groundTruth.join("\n"),
    context_files: [...shown.keys()],
  };
}
