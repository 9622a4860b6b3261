import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseIds } from "../src/pipeline/index.js";
import { qaRows, runCliAsync, testdir } from "./helpers.js";

describe("--ids FILE restricts a run to listed ids (any task)", () => {
  it("reads a JSON list, EditBench's sampled_instance_ids, or one id a line", () => {
    expect(parseIds('["a", "b"]', "f")).toEqual(["a", "b"]);
    expect(parseIds('{"sampled_instance_ids": ["x"]}', "f")).toEqual(["x"]);
    expect(parseIds("a\n\n# note\nb\n", "f")).toEqual(["a", "b"]);
    expect(() => parseIds('{"other": 1}', "ids.json")).toThrow(/ids\.json: expected a JSON list/);
  });

  it("runs only those ids; ids all unknown stop the run naming the file", async () => {
    const dir = testdir({
      "exp.yaml": "name: sub\ntask: qa\ndataset: data.jsonl\nmodels: [gold]\n",
      "data.jsonl": qaRows(6),
      "ids.json": JSON.stringify({ sampled_instance_ids: ["q1", "q4", "nope"] }),
      "bad.txt": "zzz\n",
    });
    const r = await runCliAsync(["run", "exp.yaml", "--ids", "ids.json"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("ids.json: 1 ids are not in data.jsonl (nope)");
    const trial = readdirSync(join(dir, "runs/sub")).find((d) => d.startsWith("gold")) as string;
    const ids = readFileSync(join(dir, "runs/sub", trial, "predictions.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).id)
      .sort();
    expect(ids).toEqual(["q1", "q4"]);
    const bad = await runCliAsync(["run", "exp.yaml", "--ids", "bad.txt", "--name", "other"], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.txt: none of its 1 ids is in data\.jsonl/);
  });
});
