import { z } from "zod";

/**
 * The rows the code-edit task reads: EditBench "bench" records (edit history), SWE-bench records
 * (one reference patch; FAIL_TO_PASS/PASS_TO_PASS as JSON strings or lists) and EditBench
 * "infbench" rows (a `prompt` already built). Unknown fields are kept and ignored.
 */

const testList = z.union([
  z.array(z.string()),
  z.string().transform((text, ctx) => {
    try {
      const value: unknown = JSON.parse(text);
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value as string[];
    } catch {}
    ctx.addIssue({ code: "custom", message: "must be a JSON list of test names" });
    return z.NEVER;
  }),
]);

export const codeEditRow = z
  .looseObject({
    instance_id: z.string().min(1),
    repo: z.string().min(1).optional(),
    base_commit: z.string().min(1).optional(),
    // EditBench bench
    title_mes: z.string().optional(),
    body_mes: z.string().optional(),
    issues_mes: z.string().optional(),
    files_work: z.array(z.string()).optional(),
    work_patch_list: z.array(z.array(z.string())).optional(),
    fail_to_pass: testList.optional(),
    pass_to_pass: testList.optional(),
    // SWE-bench
    patch: z.string().optional(),
    problem_statement: z.string().optional(),
    hints_text: z.string().optional(),
    FAIL_TO_PASS: testList.optional(),
    PASS_TO_PASS: testList.optional(),
    // both
    test_patch: z.string().optional(),
    /** The command that runs the tests (else the task's `test_command`). */
    test_command: z.string().min(1).optional(),
    // infbench
    prompt: z.string().optional(),
    split_idx: z.number().int().optional(),
    pre_edits: z.array(z.string()).optional(),
    ground_truth: z.string().optional(),
  })
  .superRefine((row, ctx) => {
    const need = (fields: (keyof typeof row)[], kind: string): void => {
      for (const field of fields) {
        if (row[field] === undefined)
          ctx.addIssue({ code: "custom", path: [field], message: `required in ${kind} records` });
      }
    };
    if (row.prompt !== undefined) return;
    if (row.work_patch_list !== undefined)
      need(["repo", "base_commit", "files_work", "title_mes", "body_mes", "issues_mes"], "EditBench bench");
    else if (row.patch !== undefined || row.problem_statement !== undefined)
      need(["repo", "base_commit", "patch", "problem_statement"], "SWE-bench");
    else
      ctx.addIssue({
        code: "custom",
        path: [],
        message:
          "not a code-edit record: needs work_patch_list (EditBench bench), patch + problem_statement (SWE-bench) or prompt (EditBench infbench)",
      });
  });
export type CodeEditRow = z.infer<typeof codeEditRow>;

/** One instance in the task's own terms, whichever format it came from. */
export interface Instance {
  kind: "bench" | "swebench" | "infbench";
  instance_id: string;
  repo?: string;
  base_commit?: string;
  title: string;
  body: string;
  issue: string;
  /** Files the reference edits, in order. */
  files: string[];
  /** Edit history: steps, each a list of one-file diffs. */
  steps: string[][];
  /** SWE-bench's reference patch. */
  patch?: string;
  test_patch: string;
  fail_to_pass: string[];
  pass_to_pass: string[];
  test_command?: string;
  /** infbench rows: what was built elsewhere. */
  prompt?: string;
  pre_edits?: string[];
  ground_truth?: string;
  split_idx?: number;
}

const FILE_OF = /^diff --git a\/(\S+) b\/\S+/;

/** The path a one-file diff edits (EditBench's `diff --git a/(\S+) b/\S+`). */
export function fileOfDiff(diff: string): string | undefined {
  return FILE_OF.exec(diff)?.[1] ?? /diff --git a\/(\S+) b\/\S+/.exec(diff)?.[1];
}

/** A multi-file patch split into one-file diffs. */
export function splitPatch(patch: string): string[] {
  const parts = patch.split(/^(?=diff --git )/m).filter((p) => p.startsWith("diff --git "));
  return parts;
}

export function toInstance(row: CodeEditRow): Instance {
  const base = {
    instance_id: row.instance_id,
    ...(row.repo !== undefined ? { repo: row.repo } : {}),
    ...(row.base_commit !== undefined ? { base_commit: row.base_commit } : {}),
    test_patch: row.test_patch ?? "",
    fail_to_pass: row.FAIL_TO_PASS ?? row.fail_to_pass ?? [],
    pass_to_pass: row.PASS_TO_PASS ?? row.pass_to_pass ?? [],
    ...(row.test_command !== undefined ? { test_command: row.test_command } : {}),
  };
  if (row.prompt !== undefined) {
    return {
      kind: "infbench",
      ...base,
      title: row.title_mes ?? "",
      body: row.body_mes ?? "",
      issue: row.issues_mes ?? "",
      files: row.files_work ?? [],
      steps: row.work_patch_list ?? [],
      prompt: row.prompt,
      ...(row.pre_edits ? { pre_edits: row.pre_edits } : {}),
      ...(row.ground_truth !== undefined ? { ground_truth: row.ground_truth } : {}),
      ...(row.split_idx !== undefined ? { split_idx: row.split_idx } : {}),
      ...(row.patch !== undefined ? { patch: row.patch } : {}),
    };
  }
  if (row.work_patch_list !== undefined) {
    return {
      kind: "bench",
      ...base,
      title: row.title_mes ?? "",
      body: row.body_mes ?? "",
      issue: row.issues_mes ?? "",
      files: row.files_work ?? [],
      steps: row.work_patch_list,
    };
  }
  const diffs = splitPatch(row.patch ?? "");
  return {
    kind: "swebench",
    ...base,
    title: "",
    body: "",
    issue: row.problem_statement ?? "",
    files: diffs.map((d) => fileOfDiff(d)).filter((f): f is string => f !== undefined),
    steps: [diffs],
    patch: row.patch ?? "",
  };
}
