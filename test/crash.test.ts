import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { qaRows, runCli, spawnCli, testdir } from "./helpers.js";

const config = `
name: big
task: qa
dataset: data.jsonl
models: [gold]
prompts: {plain: {user: "{{question}}"}}
scorers: [exact]
concurrency: 16
`;

/** The content of a run that does not depend on timing: one entry per key, sorted. */
function essence(dir: string) {
  const [trial] = readdirSync(join(dir, "runs/big")).filter((d) => d.includes("__"));
  const read = (file: string) =>
    readFileSync(join(dir, "runs/big", trial!, file), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
  const keyed = (rows: Record<string, unknown>[], fields: string[]) =>
    rows.map((r) => fields.map((f) => JSON.stringify(r[f])).join("|")).sort();
  return {
    prompts: keyed(read("prompts.jsonl"), ["id", "prompt_hash", "prompt"]),
    predictions: keyed(read("predictions.jsonl"), ["id", "sample", "completion", "status"]),
    scores: keyed(read("scores.jsonl"), ["id", "sample", "scorer", "value"]),
    // Latencies are timing; everything else in the summary must match.
    summary: {
      ...JSON.parse(readFileSync(join(dir, "runs/big", trial!, "summary.json"), "utf8")),
      usage: undefined,
      timing: undefined,
    },
  };
}

describe("kill -9 in the middle of a 20,000-item run", () => {
  it("loses no completed row, duplicates none, and ends equal to an uninterrupted run", async () => {
    const rows = qaRows(20_000);
    const reference = testdir({ "exp.yaml": config, "data.jsonl": rows });
    expect(runCli(["run", "exp.yaml", "--log", "plain"], reference).code).toBe(0);
    const expected = essence(reference);
    expect(expected.predictions).toHaveLength(20_000);

    const dir = testdir({ "exp.yaml": config, "data.jsonl": rows });
    const child = spawnCli(["run", "exp.yaml", "--log", "plain"], dir);
    const exited = new Promise<number | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal === "SIGKILL" ? -9 : _code)),
    );
    // Kill once inference is under way: predictions.jsonl exists and is growing.
    let killedAt = 0;
    for (let i = 0; i < 2000 && killedAt === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
      const trial = safeReaddir(join(dir, "runs/big")).find((d) => d.includes("__"));
      const size = trial ? safeSize(join(dir, "runs/big", trial, "predictions.jsonl")) : 0;
      if (size > 200_000) {
        child.kill("SIGKILL");
        killedAt = size;
      }
    }
    expect(await exited).toBe(-9);
    expect(killedAt).toBeGreaterThan(0);
    const trial = readdirSync(join(dir, "runs/big")).find((d) => d.includes("__"))!;
    const partial = readFileSync(join(dir, "runs/big", trial, "predictions.jsonl"), "utf8");
    const completeBefore = partial.split("\n").filter((l) => l.endsWith("}")).length;
    expect(completeBefore).toBeLessThan(20_000);

    const rerun = runCli(["run", "exp.yaml", "--log", "plain"], dir);
    expect(rerun.code).toBe(0);
    const got = essence(dir);
    expect(got.predictions).toHaveLength(20_000);
    expect(new Set(got.predictions.map((p) => p.split("|").slice(0, 2).join("|"))).size).toBe(20_000);
    expect(got).toEqual(expected);
    // The rerun appended to what was there: the rows finished before the kill were kept.
    const after = readFileSync(join(dir, "runs/big", trial, "predictions.jsonl"), "utf8");
    expect(after.startsWith(partial.slice(0, partial.lastIndexOf("\n") + 1))).toBe(true);
  }, 120_000);
});

function safeReaddir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function safeSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
