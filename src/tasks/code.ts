import { z } from "zod";
import { defineTask, idFor } from "./define.js";
import { type FilesArtifact, isSafePath, parseFiles, renderFiles } from "./files.js";

const files = z.record(
  z.string().refine(isSafePath, "file paths must be relative and stay inside the work dir"),
  z.string(),
);

const row = z.object({
  id: z.union([z.string().min(1), z.number()]).optional(),
  prompt: z.string().min(1),
  /** Files written before the model's (tests, fixtures, a harness). */
  files: files.default({}),
  /** The command that decides: exit 0 passes (tests, a simulator, a checker). */
  test_command: z.string().min(1),
  /** Where a single-file answer goes when the completion does not name its file. */
  target_path: z.string().refine(isSafePath, "must be a relative path inside the work dir").optional(),
  /** A known-good answer: the content of `target_path`, or files by path. */
  reference: z.union([z.string(), files]).optional(),
  category: z.string().optional(),
});

/**
 * Code in files: the completion becomes files (named fenced blocks, or one block for
 * `target_path`) written into a fresh sandbox beside the task's own files, then `test_command`
 * runs. The base for code-edit and hardware-design benchmarks.
 */
export const codeTask = defineTask({
  name: "code",
  description:
    "Code as files: rows {prompt, files?, test_command, target_path?, reference?}; the answer's files run against test_command in a sandbox",
  row,
  defaultPrompts: {
    default: {
      system:
        "You write code. Answer with the complete content of every file you create, each in its own fenced code block preceded by a line with its relative path.",
      user: "{{prompt}}",
    },
  },
  defaultScorers: ["exec"],
  truncation: "middle",
  toSample: (r) => ({
    id: idFor({ prompt: r.prompt, files: r.files, test_command: r.test_command }, r.id),
    input: {
      prompt: r.prompt,
      files: r.files,
      test_command: r.test_command,
      ...(r.target_path ? { target_path: r.target_path } : {}),
    },
    ...(r.reference !== undefined
      ? {
          target:
            typeof r.reference === "string" && r.target_path ? { [r.target_path]: r.reference } : r.reference,
        }
      : {}),
    ...(r.category !== undefined ? { metadata: { category: r.category } } : {}),
  }),
  reference: (sample) =>
    sample.target && typeof sample.target === "object"
      ? renderFiles(sample.target as Record<string, string>)
      : undefined,
  parse: (completion, sample): FilesArtifact =>
    parseFiles(completion, (sample.input as { target_path?: string }).target_path),
  async execute(artifact, sample, ctx) {
    const input = sample.input as { files: Record<string, string>; test_command: string };
    const start_time = new Date().toISOString();
    if (Object.keys(artifact.files).length === 0) {
      return {
        steps: [],
        passed: false,
        extras: { failure_reason: "no files found in the completion", start_time, end_time: start_time },
      };
    }
    // The task's own files win: a model must not overwrite the tests that judge it.
    const written = { ...artifact.files, ...input.files };
    const result = await ctx.sandbox.run([{ name: "test", command: input.test_command }], {
      files: written,
      timeoutMs: ctx.timeoutMs,
      ...(ctx.limits ? { limits: ctx.limits } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const test = result.steps[0];
    const passed = test?.exit_code === 0 && !test.timed_out;
    return {
      steps: result.steps,
      passed,
      extras: {
        files_written: Object.keys(artifact.files).sort(),
        ...(passed
          ? {}
          : {
              failure_reason: test?.timed_out
                ? "tests timed out"
                : `tests failed (exit ${test?.exit_code ?? "none"})`,
            }),
        start_time,
        end_time: new Date().toISOString(),
      },
    };
  },
});
