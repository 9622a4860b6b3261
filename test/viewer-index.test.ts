import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { INDEX_FILE, TrialIndex } from "../src/viewer/index.js";
import { testdir } from "./helpers.js";

/**
 * The viewer's index reads a few fields straight from the bytes of each row. These rows try to
 * fool it: keys inside strings, the same keys nested deeper, escapes, odd key order, whitespace.
 */
const line = (row: unknown) => `${JSON.stringify(row)}\n`;

const tricky = [
  {
    id: "a",
    sample: 0,
    completion: 'x","status":"error","error":{"code":"fake"}',
    status: "ok",
    extras: { status: "error", id: "b" },
  },
  { status: "error", sample: 0, id: 'q"uote\\d', error: { message: '"code":"no"', code: "timeout" } },
  { id: "ü-ñ", sample: 1, nested: [{ sample: 7 }], status: "ok" },
];

function trial(files: Record<string, string>) {
  return testdir({ "trial.json": '{"spec":{"scorers":[{"name":"exact"}]}}', ...files });
}

describe("viewer index", () => {
  it("reads status, error code, category and scores from rows built to mislead a byte scanner", async () => {
    const dir = trial({
      "prompts.jsonl":
        line({
          id: "a",
          messages: [{ role: "user", content: '"metadata":{"category":"wrong"}' }],
          metadata: { category: "real" },
        }) +
        line({ id: 'q"uote\\d', metadata: { tags: { category: "deep" } } }) +
        // not what JSON.stringify writes: spaces between tokens (read through JSON.parse)
        '{ "id": "ü-ñ", "metadata": { "category": "spaced" } }\n',
      "predictions.jsonl": tricky.map(line).join(""),
      "scores.jsonl":
        line({ id: "a", sample: 0, scorer: "includes", value: 1, passed: true }) +
        line({
          id: "a",
          sample: 0,
          scorer: "exact",
          value: 0.25,
          passed: false,
          detail: { value: 1, passed: true },
        }) +
        line({ id: "ü-ñ", sample: 1, scorer: "exact", value: 1, passed: true }),
      "executions.jsonl": line({
        id: "ü-ñ",
        sample: 1,
        status: "error",
        error: { code: "sandbox_crash", message: "x" },
        steps: [],
      }),
    });
    const index = TrialIndex.open(dir, "exact");
    await index.update();
    const refs = (await index.query({ limit: 10 })).rows.map(({ row: _, ...r }) => r);
    expect(refs).toEqual([
      { id: "a", sample: 0, status: "failed", score: 0.25, category: "real", error: null },
      { id: 'q"uote\\d', sample: 0, status: "error", score: null, category: null, error: "timeout" },
      { id: "ü-ñ", sample: 1, status: "error", score: 1, category: "spaced", error: "sandbox_crash" },
    ]);
    expect(index.locate(index.find("a", 0)).scores).toHaveLength(2);
    expect((await index.query({ error: "timeout" })).total).toBe(1);
    expect((await index.query({ category: "real" })).total).toBe(1);
    expect((await index.query({ scoreMin: 0.5 })).total).toBe(1);
  });

  it("follows appends, leaves a torn last line for later, and rebuilds a file that was rewritten", async () => {
    const row = (id: string, status = "ok") => line({ id, sample: 0, status, completion: `text of ${id}` });
    const dir = trial({ "predictions.jsonl": row("one") + row("two") });
    const path = join(dir, "predictions.jsonl");
    const index = TrialIndex.open(dir, null);
    await index.update();
    expect(index.rows).toBe(2);
    appendFileSync(path, '{"id":"three","sample":0,"sta');
    expect(await index.update()).toBe(false);
    expect(index.rows).toBe(2);
    appendFileSync(path, 'tus":"error","error":{"code":"late"}}\n');
    expect(await index.update()).toBe(true);
    expect(index.ref(index.find("three", 0)).error).toBe("late");
    index.save();
    expect(existsSync(join(dir, INDEX_FILE))).toBe(true);

    // reopened from disk: the same rows, no re-read
    const again = TrialIndex.open(dir, null);
    expect(again.rows).toBe(3);
    expect(await again.update()).toBe(false);
    expect((await again.query({ text: "TEXT OF TWO" })).rows.map((r) => r.id)).toEqual(["two"]);

    // a rewritten file (not an append) is indexed from scratch
    writeFileSync(path, row("other"));
    expect(await again.update()).toBe(true);
    expect(again.rows).toBe(1);
    expect(again.find("one", 0)).toBe(-1);
  });

  it("a malformed line in the middle is counted and named, not fatal", async () => {
    const dir = trial({
      "predictions.jsonl": `${line({ id: "x", sample: 0, status: "ok" })}not json\n${line({ id: "y", sample: 0, status: "ok" })}`,
    });
    const index = TrialIndex.open(dir, null);
    await index.update();
    expect(index.rows).toBe(2);
    expect(index.progress().badLines).toEqual([{ file: "predictions", count: 1, lines: [2] }]);
  });
});
