import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCliAsync, testdir } from "./helpers.js";

const rows = readFileSync(join(ROOT, "examples/data/code-tasks.jsonl"), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l));

describe("code task: completions become files, then the task's tests run", () => {
  it("gold passes every shipped task; a wrong answer and an answer that overwrites the tests both fail", async () => {
    const [fizz, pal] = rows;
    const responses = [
      { id: fizz.id, completion: "```python\ndef fizzbuzz(n):\n    return str(n)\n```" },
      // Tries to replace the tests that judge it: the task's own files win.
      {
        id: pal.id,
        completion:
          "solution.py\n```\ndef is_palindrome(s):\n    return True\n```\ntest_solution.py\n```\nprint('ok')\n```",
      },
      ...rows.slice(2).map((r) => ({ id: r.id, completion: "nothing useful" })),
    ];
    const dir = testdir({
      "exp.yaml":
        "name: code\ntask: code\ndataset: data.jsonl\nmodels: [gold, 'import:responses.jsonl']\nscorers: [exec]\nexecution: {timeout: 20}\n",
      "data.jsonl": rows,
      "responses.jsonl": responses,
    });
    const r = await runCliAsync(["run", "exp.yaml"], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/gold__default__[0-9a-f]{8}: 100\.0%/);
    const exp = join(dir, "runs/code");
    const imported = readdirSync(exp).find((d) => d.startsWith("import"))!;
    const executions = new Map(
      readFileSync(join(exp, imported, "executions.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => {
          const e = JSON.parse(l);
          return [e.id, e];
        }),
    );
    expect(executions.get(fizz.id)).toMatchObject({
      passed: false,
      artifact: { method: "single_block" },
      files_written: ["solution.py"],
    });
    expect(executions.get(pal.id)).toMatchObject({
      passed: false,
      files_written: ["solution.py", "test_solution.py"],
    });
    expect(executions.get(pal.id).steps[0].stderr).toContain("AssertionError");
    expect(executions.get(rows[3].id)).toMatchObject({ passed: false });
  });
});
