import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { predictionSchema } from "../core/index.js";
import { latestRows } from "./files.js";

const ok = (id: string, completion: string) => ({
  id,
  sample: 0,
  model: "m",
  prompt_hash: "h",
  status: "ok",
  completion,
  latency_ms: 1,
  attempts: 1,
  cached: false,
  created_at: "2026-01-01T00:00:00.000Z",
});

function file(rows: unknown[]): string {
  const path = join(mkdtempSync(join(tmpdir(), "benchline-files-")), "predictions.jsonl");
  writeFileSync(path, rows.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return path;
}

async function collect(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const row of latestRows(path, predictionSchema)) out.push(`${row.id}:${row.completion}`);
  return out;
}

describe("latestRows", () => {
  it("yields the last row per key, validating only the rows it yields", async () => {
    const path = file([ok("a", "1"), { ...ok("b", "x"), status: 5 }, ok("b", "2"), ok("a", "3")]);
    expect(await collect(path)).toEqual(["b:2", "a:3"]);
  });

  it("a final row that does not match the schema is an error naming file:line", async () => {
    const path = file([ok("a", "1"), { ...ok("a", "2"), status: 5 }]);
    await expect(collect(path)).rejects.toThrow(/predictions\.jsonl:2: status/);
  });

  it("a row without a string id and an integer sample is an error naming file:line", async () => {
    const path = file([ok("a", "1"), { sample: 0 }]);
    await expect(collect(path)).rejects.toThrow(/predictions\.jsonl:2: expected a row with a string id/);
  });
});
