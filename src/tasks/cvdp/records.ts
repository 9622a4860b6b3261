import { z } from "zod";

/**
 * CVDP records (NVIDIA's Comprehensive Verilog Design Problems), both layouts:
 * non-agentic `{id, categories, input: {prompt, context}, output: {response, context}, harness: {files}}`
 * and agentic `{id, categories, system_message, prompt, context, patch, harness}`, which is read as a
 * single-shot problem (CVDP's `--force-copilot`): its expected files come from the patch.
 */

/** Category ids and their names (CVDP `model_helpers.py`). */
export const categoryNames: Record<number, string> = {
  2: "RTL Code Completion",
  3: "Specification to RTL Translation",
  4: "RTL Code Modification",
  5: "Specification to RTL Translation: Module Instantiation and Component Reuse",
  6: "RTL Correspondence",
  7: "RTL Lint Improvement or Power-Performance Optimization",
  8: "Testbench Correspondence",
  9: "Question & Answer on RTL",
  10: "Question & Answer on Testbench",
  12: "Test Plan to Testbench Stimulus Generation",
  13: "Test Plan to Testbench Checker Generation",
  14: "Test Plan to Assertions Generation",
  16: "RTL Debugging and Bug Fixing",
};

/** Comprehension categories: the answer is text in `output.response`, not files. */
export const comprehensionCategories = [6, 8, 9, 10];
/** Scored by BLEU/ROUGE against the reference (CVDP `BLEU_SCORING_CATEGORIES`). */
export const bleuCategories = [6, 8];
/** Scored by an LLM judge (CVDP `LLM_SUBJECTIVE_CATEGORIES`). */
export const judgeCategories = [9, 10];
/** Categories whose harnesses need a commercial simulator (CVDP `VERIF_EDA_CATEGORIES`). */
export const commercialCategories = [12, 13, 14];

export const difficulties = ["easy", "medium", "hard"] as const;
export type Difficulty = (typeof difficulties)[number];

const files = z.record(z.string(), z.string());

const categories = z
  .array(z.string())
  .min(2, "needs [cidNNN, difficulty]")
  .superRefine((value, ctx) => {
    const cid = /^cid(\d+)$/.exec(value[0] ?? "");
    if (!cid || categoryNames[Number(cid[1])] === undefined)
      ctx.addIssue({
        code: "custom",
        path: [0],
        message: `unknown category ${JSON.stringify(value[0])} (known: ${Object.keys(categoryNames)
          .map((c) => `cid${c.padStart(3, "0")}`)
          .join(", ")})`,
      });
    if (!(difficulties as readonly string[]).includes(value[1] ?? ""))
      ctx.addIssue({
        code: "custom",
        path: [1],
        message: `unknown difficulty ${JSON.stringify(value[1])} (known: ${difficulties.join(", ")})`,
      });
  });

const id = z.string().min(1);

export const nonAgenticRecord = z.looseObject({
  id,
  categories,
  input: z.looseObject({ prompt: z.string(), context: files.default({}) }),
  output: z.looseObject({ response: z.string().default(""), context: files }),
  harness: z.looseObject({ files: files.optional() }).default({}),
});

export const agenticRecord = z.looseObject({
  id,
  categories,
  system_message: z.string().optional(),
  prompt: z.string(),
  context: files.default({}),
  patch: files.default({}),
  harness: files.default({}),
  subjective_reference: z.string().optional(),
});

/** One dataset line: agentic when it has a top-level `prompt` and no `input`. */
export const cvdpRow = z.union([nonAgenticRecord, agenticRecord]);
export type CvdpRow = z.infer<typeof cvdpRow>;

/** A record in one shape, whichever layout it came in. */
export interface Problem {
  id: string;
  cid: number;
  difficulty: Difficulty;
  agentic: boolean;
  prompt: string;
  /** Files shown to the model, in record order. */
  context: Record<string, string>;
  /** Files the answer must provide, in record order; values are the reference (may be ""). */
  expected: Record<string, string>;
  /** Reference answer of comprehension problems. */
  response: string;
  /** Harness files (docker-compose.yml, Dockerfile, src/...). */
  harness: Record<string, string>;
}

export function toProblem(row: CvdpRow): Problem {
  const cid = Number(/^cid(\d+)$/.exec(row.categories[0] ?? "")?.[1]);
  const difficulty = row.categories[1] as Difficulty;
  if ("input" in row && row.input) {
    const r = row as z.infer<typeof nonAgenticRecord>;
    return {
      id: r.id,
      cid,
      difficulty,
      agentic: false,
      prompt: r.input.prompt,
      context: r.input.context,
      expected: r.output.context,
      response: r.output.response,
      harness: r.harness.files ?? {},
    };
  }
  const r = row as z.infer<typeof agenticRecord>;
  // CVDP's transform_datapoint_to_copilot: docs/subjective.txt is the reference, not context.
  const context = { ...r.context };
  let response = r.subjective_reference ?? "";
  if ("docs/subjective.txt" in context) {
    response ||= context["docs/subjective.txt"] ?? "";
    delete context["docs/subjective.txt"];
  }
  const expected: Record<string, string> = {};
  for (const [path, patch] of Object.entries(r.patch)) {
    if (path === "docs/subjective.txt") continue;
    expected[path] = applyHunks(context[path] ?? "", patch);
  }
  return {
    id: r.id,
    cid,
    difficulty,
    agentic: true,
    prompt: r.prompt,
    context,
    expected,
    response,
    harness: r.harness,
  };
}

/**
 * Applies the hunks of a unified diff the way CVDP's `diff_apply` does (line arithmetic from each
 * `@@` header's new-file start; `---`/`+++` ignored). A new file is a patch against "".
 */
export function applyHunks(text: string, diff: string): string {
  // CVDP's _format_patch_content: literal "\n" sequences in a one-line patch, and a final newline.
  let patch = diff;
  if (patch.includes("\\n") && !patch.includes("\n")) patch = patch.replaceAll("\\n", "\n");
  if (!patch.endsWith("\n")) patch += "\n";
  const lines = text.split("\n");
  let i = 0;
  for (const line of patch.split("\n")) {
    i++;
    if (line.startsWith("@")) {
      const start = /\+(\d+)/.exec(line.replace(/^@+/, ""));
      i = Number(start?.[1] ?? 1) - 1;
    } else if (line.startsWith("---") || line.startsWith("+++")) {
      // file headers
    } else if (line.startsWith("\\")) {
      i--;
    } else if (line.startsWith("-")) {
      if (i > 0 && i - 1 < lines.length) {
        lines.splice(i - 1, 1);
        i--;
      }
    } else if (line.startsWith("+")) {
      if (i > 0 && i - 1 <= lines.length) lines.splice(i - 1, 0, line.slice(1));
    }
  }
  return lines.join("\n");
}
