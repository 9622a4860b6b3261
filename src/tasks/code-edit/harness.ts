import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { childProcess } from "../../core/builtins.js";
import type { ExecuteContext, ExecutionOutcome, StepResult } from "../../core/index.js";
import { gradeTests, type InstanceReport } from "./grading.js";
import { type LogFormat, parseTestLog } from "./log-parsers.js";
import { patchPaths, unsafePatchReason } from "./patch-paths.js";
import { freshTree, gitApply, type Tree, templateTree } from "./trees.js";

/**
 * The patch harness, SWE-bench's way: a fresh tree at base_commit with the shown edits; the
 * model patch through the apply chain (`APPLY_CHAIN`, a fresh tree before each try); the test files reset and `test_patch` applied (a model cannot pass by
 * editing the tests); the tests run in the sandbox; the log parsed and graded.
 */

export interface HarnessSpec {
  instance_id: string;
  clone: string;
  base_commit: string;
  pre_edits: string[];
  test_patch: string;
  fail_to_pass: string[];
  pass_to_pass: string[];
  /** `{tests}` becomes the test files of test_patch. */
  test_command: string;
  log_format: LogFormat;
}

/**
 * The apply chain, in order (a fresh tree before each try after a failed one):
 * - `git apply`;
 * - "already applied": `git apply --reverse --check` succeeds, so the tree already holds the
 *   change (a model repeating the shown edits) — nothing is changed and the patch counts as applied;
 * - `git apply --3way`: the patch's `index` lines name the blobs it was made against; with the
 *   clone's objects at hand git merges it into a tree whose context moved (a conflict fails);
 * - `git apply --reject` (SWE-bench's second command);
 * - `patch --batch --forward --fuzz=5 -p1` (SWE-bench's third, with `--forward`: `--batch` alone
 *   reverses a patch that looks already applied, undoing the very change it carries).
 */
interface ApplyStep {
  method: string;
  /** The tree is left unchanged (a check), so a failure needs no fresh tree. */
  check?: boolean;
  run(file: string, dir: string, spec: HarnessSpec, patch: string, scratch: string): Promise<RunResult>;
}

/** `method` when the step succeeded in a way worth naming apart. */
type RunResult = { code: number; output: string; method?: string };

const APPLY_CHAIN: ApplyStep[] = [
  {
    method: "git apply",
    run: (f, dir) => exec("git", ["apply", "--verbose", "--whitespace=nowarn", f], dir),
  },
  {
    method: "already applied",
    check: true,
    run: (f, dir) => exec("git", ["apply", "--reverse", "--check", "--whitespace=nowarn", f], dir),
  },
  {
    method: "git apply --3way",
    run: (f, dir, spec, patch, scratch) => threeWay(f, dir, spec.clone, patch, scratch),
  },
  {
    method: "git apply --reject",
    run: (f, dir) => exec("git", ["apply", "--verbose", "--whitespace=nowarn", "--reject", f], dir),
  },
  {
    method: "patch --fuzz=5",
    run: async (f, dir) => {
      const result = await exec("patch", ["--batch", "--forward", "--fuzz=5", "-p1", "-i", f], dir);
      // Exit 1 with every unapplied hunk "ignored" (already there) and none FAILED: the tree holds
      // the whole change — the new hunks applied, the rest present before.
      const onlySkipped =
        result.code === 1 &&
        /hunks? ignored/.test(result.output) &&
        !/FAILED|can't find file|malformed|Only garbage|No file to patch/i.test(result.output);
      return onlySkipped ? { code: 0, output: result.output, method: "patch --forward" } : result;
    },
  },
];

/**
 * `git apply --3way` in a tree that is not a repository: a scratch git directory borrowing the
 * clone's objects (alternates; the clone is never written), an index holding the tree's current
 * versions of the files the patch touches, and the tree as work tree.
 */
async function threeWay(
  file: string,
  dir: string,
  clone: string,
  patch: string,
  scratch: string,
): Promise<RunResult> {
  const gitDir = join(scratch, "3way.git");
  const init = await exec("git", ["init", "-q", "--bare", gitDir], scratch);
  if (init.code !== 0) return init;
  const objects = await exec("git", ["rev-parse", "--path-format=absolute", "--git-path", "objects"], clone);
  if (objects.code !== 0) return objects;
  await writeFile(join(gitDir, "objects", "info", "alternates"), `${objects.output.trim()}\n`);
  const env = { GIT_DIR: gitDir, GIT_WORK_TREE: dir, GIT_INDEX_FILE: join(scratch, "3way.index") };
  const present = patchPaths(patch).paths.filter((p) => existsSync(join(dir, p)));
  if (present.length > 0) {
    const added = await exec("git", ["update-index", "--add", "--", ...present], dir, env);
    if (added.code !== 0) return added;
  }
  return exec("git", ["apply", "--3way", "--verbose", "--whitespace=nowarn", file], dir, env);
}

/**
 * The SWE-bench report of one (instance, sample), filled in as the harness goes, and the outcome
 * that carries it (`extras`: what else the row records, such as the image).
 */
export function harnessReport(
  patch: string | null,
  instanceId: string,
  always: Record<string, unknown> = {},
): {
  report: InstanceReport;
  outcome: (
    steps: StepResult[],
    failure: string | undefined,
    extras?: Record<string, unknown>,
  ) => ExecutionOutcome;
} {
  const report: InstanceReport = {
    patch_is_None: patch === null,
    patch_exists: patch !== null && patch.trim() !== "",
    patch_successfully_applied: false,
    resolved: false,
  };
  const outcome = (
    steps: StepResult[],
    failure: string | undefined,
    extras: Record<string, unknown> = {},
  ) => ({
    steps,
    passed: report.resolved,
    extras: {
      applied: report.patch_successfully_applied,
      report: { [instanceId]: report },
      ...always,
      ...extras,
      ...(failure ? { failure_reason: failure } : {}),
    },
  });
  return { report, outcome };
}

/** Parses the test step's log, grades FAIL_TO_PASS / PASS_TO_PASS into `report`, says why it failed. */
export function gradeTestStep(
  test: StepResult | undefined,
  spec: Pick<HarnessSpec, "log_format" | "fail_to_pass" | "pass_to_pass">,
  report: InstanceReport,
): { statuses: ReturnType<typeof parseTestLog>; failure: string | undefined } {
  const log = `${test?.stdout ?? ""}\n${test?.stderr ?? ""}`;
  const statuses = parseTestLog(log, spec.log_format);
  const graded = gradeTests(statuses, spec.fail_to_pass, spec.pass_to_pass);
  report.tests_status = graded.tests_status;
  report.resolved = graded.resolved;
  const failure = test?.timed_out
    ? "tests timed out"
    : graded.resolved
      ? undefined
      : `not resolved: ${graded.tests_status.FAIL_TO_PASS.failure.length} FAIL_TO_PASS and ${graded.tests_status.PASS_TO_PASS.failure.length} PASS_TO_PASS tests fail`;
  return { statuses, failure };
}

export async function runHarness(
  patch: string | null,
  spec: HarnessSpec,
  ctx: Pick<ExecuteContext<unknown>, "sandbox" | "timeoutMs" | "limits" | "signal">,
): Promise<ExecutionOutcome> {
  const { report, outcome } = harnessReport(patch, spec.instance_id);
  if (!report.patch_exists) return outcome([], patch === null ? "no completion" : "empty patch");

  const setupStarted = performance.now();
  const template = await templateTree(spec.clone, spec.base_commit, spec.pre_edits);
  let tree: Tree = await freshTree(template);
  const setup_ms = Math.round(performance.now() - setupStarted);
  const scratch = await mkdtemp(join(tmpdir(), "benchline-patch-"));
  try {
    const refused = unsafePatchReason(patch as string, tree.dir);
    if (refused) return outcome([], `patch refused: ${refused}`, { setup_ms });
    const patchFile = join(scratch, "model.patch");
    await writeFile(patchFile, patch as string);
    const tries: { method: string; ok: boolean; output: string }[] = [];
    let applied: string | undefined;
    for (const step of APPLY_CHAIN) {
      const result = await step.run(patchFile, tree.dir, spec, patch as string, scratch);
      tries.push({ method: step.method, ok: result.code === 0, output: result.output.slice(0, 4000) });
      if (result.code === 0) {
        applied = result.method ?? step.method;
        break;
      }
      if (step.check) continue;
      await tree.remove();
      tree = await freshTree(template);
    }
    if (!applied) return outcome([], "patch does not apply", { setup_ms, apply: tries });
    report.patch_successfully_applied = true;

    // The tests as the instance defines them, whatever the patch did to them.
    const testFiles = patchPaths(spec.test_patch).paths;
    for (const file of testFiles) {
      await rm(join(tree.dir, file), { force: true, recursive: true });
      await copyFile(join(template, file), join(tree.dir, file)).catch(() => undefined);
    }
    if (spec.test_patch.trim() !== "") await gitApply(tree.dir, spec.test_patch);

    const command = spec.test_command.replaceAll("{tests}", testFiles.map(shellQuote).join(" "));
    const result = await ctx.sandbox.run([{ name: "tests", command }], {
      workdir: tree.dir,
      env: { PYTHONDONTWRITEBYTECODE: "1" },
      timeoutMs: ctx.timeoutMs,
      ...(ctx.limits ? { limits: ctx.limits } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const test = result.steps[0];
    const { statuses, failure } = gradeTestStep(test, spec, report);
    return outcome(result.steps, failure, {
      setup_ms,
      tree: tree.kind,
      apply: tries,
      applied_with: applied,
      tests: statuses,
      ...(test?.timed_out ? { timed_out: true } : {}),
    });
  } finally {
    await tree.remove();
    await rm(scratch, { recursive: true, force: true });
  }
}

function exec(
  file: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<RunResult> {
  return new Promise((resolveRun) => {
    childProcess().execFile(
      file,
      args,
      {
        cwd,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          LC_ALL: "C",
          GIT_CEILING_DIRECTORIES: dirname(cwd),
          ...env,
        },
        maxBuffer: 1 << 24,
        timeout: 60_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolveRun({ code, output: `${stdout}${stderr}` });
      },
    );
  });
}

export function shellQuote(s: string): string {
  return /^[\w./:@+-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}
