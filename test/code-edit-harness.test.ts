import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Sandbox } from "../src/core/index.js";
import { createBwrapSandbox, createLocalSandbox, isBwrapUsable } from "../src/sandbox/index.js";
import { runReport } from "../src/tasks/code-edit/grading.js";
import { type HarnessSpec, runHarness } from "../src/tasks/code-edit/harness.js";
import { parsePytest, parseUnittest } from "../src/tasks/code-edit/log-parsers.js";
import { fileDiff, git, makeRepo } from "./code-edit-repo.js";

const CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
const FIXED = CALC.replace("return a - b", "return a + b");
const TESTS = "from calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n";
const TESTS_AFTER =
  "from calc import add, mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\ndef test_add():\n    assert add(1, 2) == 3\n";

const sandbox: Sandbox = isBwrapUsable() ? createBwrapSandbox() : createLocalSandbox();

function instance(extra: Partial<HarnessSpec> = {}) {
  const repo = makeRepo({ "calc.py": CALC, "tests/test_calc.py": TESTS, "tests/__init__.py": "" });
  const spec: HarnessSpec = {
    instance_id: "demo__calc-1",
    clone: repo.dir,
    base_commit: repo.commit,
    pre_edits: [],
    test_patch: fileDiff("tests/test_calc.py", TESTS, TESTS_AFTER),
    fail_to_pass: ["tests/test_calc.py::test_add"],
    pass_to_pass: ["tests/test_calc.py::test_mul"],
    test_command: "python3 -m pytest -rA -p no:cacheprovider {tests}",
    log_format: "pytest",
    ...extra,
  };
  return { repo, spec };
}

const run = (patch: string | null, spec: HarnessSpec, timeoutMs = 60_000) =>
  runHarness(patch, spec, { sandbox, timeoutMs });
type Report = {
  patch_is_None: boolean;
  patch_exists: boolean;
  patch_successfully_applied: boolean;
  resolved: boolean;
  tests_status?: {
    FAIL_TO_PASS: { success: string[]; failure: string[] };
    PASS_TO_PASS: { success: string[]; failure: string[] };
  };
};
const reportOf = (extras: Record<string, unknown> | undefined) =>
  (extras?.report as Record<string, Report> | undefined)?.["demo__calc-1"] as Report;

describe(`code-edit patch harness (${sandbox.name})`, () => {
  it("the gold patch applies with git apply and resolves: FAIL_TO_PASS and PASS_TO_PASS succeed", async () => {
    const { spec } = instance();
    const out = await run(fileDiff("calc.py", CALC, FIXED), spec);
    const report = reportOf(out.extras);
    expect(report).toMatchObject({
      patch_is_None: false,
      patch_exists: true,
      patch_successfully_applied: true,
      resolved: true,
    });
    expect(report.tests_status?.FAIL_TO_PASS).toEqual({
      success: ["tests/test_calc.py::test_add"],
      failure: [],
    });
    expect(report.tests_status?.PASS_TO_PASS).toEqual({
      success: ["tests/test_calc.py::test_mul"],
      failure: [],
    });
    expect(out.passed).toBe(true);
    expect(out.extras?.applied_with).toBe("git apply");
  });

  it("without the fix the tests run and the instance is not resolved (FAIL_TO_PASS fails)", async () => {
    const { spec } = instance();
    const out = await run(fileDiff("calc.py", CALC, CALC.replace("return a * b", "return b * a")), spec);
    const report = reportOf(out.extras);
    expect(report.patch_successfully_applied).toBe(true);
    expect(report.resolved).toBe(false);
    expect(report.tests_status?.FAIL_TO_PASS.failure).toEqual(["tests/test_calc.py::test_add"]);
  });

  it("a patch whose context is off applies only with patch --fuzz, after git apply and --reject fail", async () => {
    const { spec } = instance();
    const gold = fileDiff("calc.py", CALC, FIXED);
    const fuzzy = gold.replace(" def add(a, b):", " def add(x, y):");
    const out = await run(fuzzy, spec);
    expect(out.extras?.applied_with).toBe("patch --fuzz=5");
    const tries = out.extras?.apply as { method: string; ok: boolean }[];
    expect(tries.map((t) => [t.method, t.ok])).toEqual([
      ["git apply", false],
      ["already applied", false],
      ["git apply --3way", false],
      ["git apply --reject", false],
      ["patch --fuzz=5", true],
    ]);
    expect(reportOf(out.extras).resolved).toBe(true);
  });

  it("already applied: a patch the shown edits already made counts as applied, the tree unchanged", async () => {
    const gold = fileDiff("calc.py", CALC, FIXED);
    const { spec } = instance({ pre_edits: [gold.replace(/\n$/, "")] });
    const out = await run(gold, spec);
    expect(out.extras?.applied_with).toBe("already applied");
    expect(reportOf(out.extras)).toMatchObject({ patch_successfully_applied: true, resolved: true });
  });

  it("git apply --3way: a patch made against base_commit merges into a tree whose context the shown edits moved", async () => {
    const { repo, spec } = instance();
    // A real `git diff` (index lines name the base blob, which the clone has).
    writeFileSync(join(repo.dir, "calc.py"), FIXED);
    const patch = git(repo.dir, ["diff"]);
    git(repo.dir, ["checkout", "--", "calc.py"]);
    expect(patch).toMatch(/^index [0-9a-f]+\.\.[0-9a-f]+/m);
    const moved = CALC.replace("def mul(a, b):", "def mul(a, b):  # product");
    const s = { ...spec, pre_edits: [fileDiff("calc.py", CALC, moved).replace(/\n$/, "")] };
    const out = await run(patch, s);
    expect(out.extras?.applied_with).toBe("git apply --3way");
    expect(reportOf(out.extras)).toMatchObject({ patch_successfully_applied: true, resolved: true });

    // A conflicting shown edit: 3-way fails (no conflict markers reach the tests), nothing applies.
    const clash = CALC.replace("return a - b", "return a - b  # sic");
    const c = { ...spec, pre_edits: [fileDiff("calc.py", CALC, clash).replace(/\n$/, "")] };
    const conflicted = await run(patch, c);
    const tries = conflicted.extras?.apply as { method: string; ok: boolean; output: string }[];
    expect(tries.find((t) => t.method === "git apply --3way")).toMatchObject({ ok: false });
    expect(tries.find((t) => t.method === "git apply --3way")?.output).toMatch(/conflict/i);
    expect(conflicted.extras?.failure_reason).toBe("patch does not apply");
  });

  it("patch --forward: hunks already present are skipped, the new ones applied (--batch alone would undo them)", async () => {
    const { spec } = instance();
    const NOTES = "Notes.\n";
    const both =
      fileDiff("calc.py", CALC, FIXED) +
      fileDiff("NOTES.txt", "", NOTES).replace(/^--- a\/NOTES.txt$/m, "--- /dev/null");
    // The shown edits already fixed calc.py; the patch carries that fix again plus a new file.
    const s = { ...spec, pre_edits: [fileDiff("calc.py", CALC, FIXED).replace(/\n$/, "")] };
    const out = await run(both, s);
    expect(out.extras?.applied_with).toBe("patch --forward");
    // Resolved only if calc.py keeps its fix (test_add), i.e. the repeated hunk was not reversed.
    expect(reportOf(out.extras)).toMatchObject({ patch_successfully_applied: true, resolved: true });
  });

  it("a malformed patch does not apply; an empty completion and a missing one are recorded as such", async () => {
    const { spec } = instance();
    const bad = await run(
      "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n garbage\n",
      spec,
    );
    expect(reportOf(bad.extras)).toMatchObject({
      patch_exists: true,
      patch_successfully_applied: false,
      resolved: false,
    });
    expect(bad.extras?.failure_reason).toBe("patch does not apply");
    const empty = await run("", spec);
    expect(reportOf(empty.extras)).toMatchObject({
      patch_is_None: false,
      patch_exists: false,
      resolved: false,
    });
    const none = await run(null, spec);
    expect(reportOf(none.extras)).toMatchObject({ patch_is_None: true, patch_exists: false });
  });

  it("a patch that edits the tests to pass is not resolved: test files are reset before test_patch", async () => {
    const { spec } = instance();
    const cheat = fileDiff("tests/test_calc.py", TESTS, TESTS_AFTER.replace("== 3", "== -1"));
    const out = await run(cheat, spec);
    const report = reportOf(out.extras);
    expect(report.patch_successfully_applied).toBe(true);
    expect(report.resolved).toBe(false);
  });

  it("patches leaving the repository are refused, never applied: ../, absolute, through a symlink", async () => {
    const { repo, spec } = instance();
    symlinkSync("/tmp", join(repo.dir, "outside"));
    git(repo.dir, ["add", "outside"]);
    git(repo.dir, ["commit", "-qm", "link"]);
    const linked = { ...spec, base_commit: git(repo.dir, ["rev-parse", "HEAD"]).trim() };
    const escaping =
      "diff --git a/../evil.py b/../evil.py\nnew file mode 100644\n--- /dev/null\n+++ b/../evil.py\n@@ -0,0 +1 @@\n+x = 1\n";
    const absolute = "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n";
    const through =
      "diff --git a/outside/evil.py b/outside/evil.py\nnew file mode 100644\n--- /dev/null\n+++ b/outside/evil.py\n@@ -0,0 +1 @@\n+x = 1\n";
    for (const [patch, s] of [
      [escaping, spec],
      [absolute, spec],
      [through, linked],
    ] as const) {
      const out = await run(patch, s);
      expect(String(out.extras?.failure_reason)).toMatch(/^patch refused/);
      expect(reportOf(out.extras).patch_successfully_applied).toBe(false);
    }
  });

  it("a hanging test times out and is recorded", async () => {
    const { spec } = instance({ test_command: "sleep 30" });
    const started = Date.now();
    const out = await run(fileDiff("calc.py", CALC, FIXED), spec, 1500);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(out.extras?.timed_out).toBe(true);
    expect(out.extras?.failure_reason).toBe("tests timed out");
    expect(out.passed).toBe(false);
  });
});

describe("test log parsers and the run report", () => {
  it("pytest -rA, unittest/Django verbose lines", () => {
    expect(parsePytest("PASSED t.py::a\nFAILED t.py::b - AssertionError: x\nERROR t.py::c\nnoise")).toEqual({
      "t.py::a": "PASSED",
      "t.py::b": "FAILED",
      "t.py::c": "ERROR",
    });
    expect(
      parseUnittest(
        "test_a (app.tests.T) ... ok\ntest_b (app.tests.T) ... FAIL\ntest_c (app.tests.T)\nDoc line. ... skipped 'x'\n",
      ),
    ).toEqual({
      "test_a (app.tests.T)": "PASSED",
      "test_b (app.tests.T)": "FAILED",
      "test_c (app.tests.T)": "SKIPPED",
    });
  });

  it("run report: schema_version 2 with id lists", () => {
    const r = runReport(
      ["a", "b", "c", "d"],
      [
        {
          instance_id: "a",
          report: {
            patch_is_None: false,
            patch_exists: true,
            patch_successfully_applied: true,
            resolved: true,
          },
        },
        {
          instance_id: "b",
          report: {
            patch_is_None: false,
            patch_exists: false,
            patch_successfully_applied: false,
            resolved: false,
          },
        },
        { instance_id: "c", error: true },
      ],
    );
    expect(r).toMatchObject({
      total_instances: 4,
      submitted_instances: 3,
      completed_instances: 1,
      resolved_instances: 1,
      empty_patch_instances: 1,
      error_instances: 1,
      incomplete_ids: ["d"],
      schema_version: 2,
    });
  });
});
