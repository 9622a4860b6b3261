import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileDiff, makeRepo } from "./code-edit-repo.js";
import { runCliAsync, spawnCli, testdir } from "./helpers.js";

const C0 = "def add(a, b):\n    return a - b\n";
const C1 = "def add(a, b):\n    return a + b\n";
const T1 = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n";

describe("code-edit: kill -9 during execution", () => {
  it("defect 9.1: a rerun resumes executions without duplicates and sweeps the dead run's trees", async () => {
    const repo = makeRepo({ "calc.py": C0, "tests/__init__.py": "" });
    const rows = Array.from({ length: 6 }, (_, i) => ({
      instance_id: `demo__calc-${i}`,
      repo: "demo/calc",
      base_commit: repo.commit,
      patch: fileDiff("calc.py", C0, C1),
      problem_statement: "add is wrong",
      test_patch: `diff --git a/tests/test_calc.py b/tests/test_calc.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_calc.py\n@@ -0,0 +1,5 @@\n${T1.trimEnd()
        .split("\n")
        .map((l) => `+${l}`)
        .join("\n")}\n`,
      FAIL_TO_PASS: '["tests/test_calc.py::test_add"]',
      PASS_TO_PASS: "[]",
      test_command: "sleep 1; python3 -m pytest -rA -p no:cacheprovider {tests}",
    }));
    const dir = testdir({
      "exp.yaml": `name: k\ntask: {name: code-edit, repos: {demo/calc: ${repo.dir}}}\ndataset: data.jsonl\nmodels: [gold]\nexecution: {timeout: 60, concurrency: 1}\n`,
      "data.jsonl": rows,
    });
    const child = spawnCli(["run", "exp.yaml", "--log", "plain"], dir);
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    const executions = () => {
      const trial = existsSync(join(dir, "runs/k"))
        ? readdirSync(join(dir, "runs/k")).find((d) => d.includes("__"))
        : undefined;
      const path = trial ? join(dir, "runs/k", trial, "executions.jsonl") : "";
      return path && existsSync(path)
        ? readFileSync(path, "utf8")
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l))
        : [];
    };
    for (let i = 0; i < 1200 && executions().length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const before = executions().length;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(6);
    child.kill("SIGKILL");
    await exited;
    const r = await runCliAsync(["run", "exp.yaml", "--log", "plain"], dir);
    expect(r.code, r.stderr).toBe(0);
    const after = executions();
    expect(after.map((e) => e.id).sort()).toEqual(rows.map((row) => row.instance_id).sort());
    expect(after.every((e) => e.passed && e.status === "ok")).toBe(true);
    // The killed process's trees (named by its pid) are gone.
    const root = join(tmpdir(), "benchline-code-edit");
    expect(readdirSync(root).filter((d) => d.startsWith(`run-${child.pid}-`))).toEqual([]);
  }, 240_000);
});
