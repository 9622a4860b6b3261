import { appendFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildInWorkers } from "../src/viewer/data.js";
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

/** A trial whose files disagree on order: prompts reversed, an item with a prompt only, one without. */
function bigTrial(n: number): string {
  const prompts: string[] = [];
  for (let i = n - 1; i >= 0; i--)
    prompts.push(line({ id: `item-${i}`, prompt: `question ${i}`, metadata: { category: `cat-${i % 7}` } }));
  prompts.push(line({ id: "item-3", prompt: "question 3, rewritten", metadata: { category: "late" } }));
  prompts.push(line({ id: "prompt-only", prompt: "never answered" }));
  const predictions: string[] = [];
  const scores: string[] = [];
  for (let i = 0; i < n; i++) {
    const error = i % 20 === 0;
    predictions.push(
      line(
        error
          ? {
              id: `item-${i}`,
              sample: 0,
              status: "error",
              error: { code: i % 40 === 0 ? "timeout" : "http_500" },
            }
          : { id: `item-${i}`, sample: 0, status: "ok", completion: `answer ${i}` },
      ),
    );
    if (!error)
      scores.push(
        line({
          id: `item-${i}`,
          sample: 0,
          scorer: "exact",
          value: i % 3 === 0 ? 1 : 0,
          passed: i % 3 === 0,
        }),
      );
    if (i % 1000 === 0)
      predictions.push(line({ id: `item-${i}`, sample: 1, status: "ok", completion: "again" }));
  }
  predictions.push(line({ id: "answer-only", sample: 0, status: "ok" }));
  scores.push(line({ id: "item-1", sample: 0, scorer: "other", value: 0.5, passed: false }));
  return trial({
    "prompts.jsonl": prompts.join(""),
    "predictions.jsonl": predictions.join(""),
    "scores.jsonl": scores.join(""),
  });
}

/** What pages, filters, sorts and samples show of an index. */
async function views(index: TrialIndex): Promise<unknown> {
  const queries = [
    {},
    { offset: 40, limit: 30, desc: true },
    { sort: "id" as const, limit: 20 },
    { status: "error" as const, limit: 20 },
    { category: "late" },
    { category: "cat-3", sort: "score" as const, desc: true, limit: 10 },
    { error: "timeout", limit: 5 },
  ];
  const pages = [];
  for (const q of queries) pages.push(await index.query(q));
  const samples = ["item-0", "item-1", "item-3", "item-2000", "prompt-only", "answer-only"].map((id) => {
    const r = index.find(id, 0);
    return r < 0 ? null : { ref: index.ref(r), at: index.locate(r) };
  });
  return {
    rows: index.rows,
    pages,
    samples,
    again: index.find("item-2000", 1),
    progress: index.progress(),
    facets: index.facets(),
  };
}

describe("viewer index at scale (issue 13)", () => {
  it("built by two workers (prompts.jsonl apart, posted back as transferred buffers) is the index one pass builds", async () => {
    const dir = bigTrial(5000);
    const onePass = TrialIndex.open(dir, "exact");
    await onePass.update();
    const expected = await views(onePass);
    const built = await buildInWorkers(dir, "exact");
    expect(await views(built)).toEqual(expected);
    expect(built.isSaved()).toBe(false);
    expect(built.save()).toBe(true);
    expect(await views(TrialIndex.open(dir, "exact"))).toEqual(expected);

    // across a thread boundary the columns move, not copy: the sender's buffers are left empty
    const { parts, transfer } = onePass.exportParts();
    const moved = structuredClone(parts, { transfer });
    expect(transfer.length).toBeGreaterThan(10);
    expect(parts.c.rowItem.length).toBe(0);
    expect(TrialIndex.fromParts(dir, moved).rows).toBe(onePass.rows);
  });

  it("after a restart a large index answers a page from disk, and reads itself whole for the rest", async () => {
    const dir = bigTrial(70_000);
    const first = TrialIndex.open(dir, "exact");
    await first.update();
    const expected = await views(first);
    first.save();

    const restarted = TrialIndex.open(dir, "exact");
    expect(await restarted.query({ offset: 100, limit: 50 })).toEqual(
      await first.query({ offset: 100, limit: 50 }),
    );
    expect(restarted.progress()).toEqual(first.progress());
    // a filter or a sort reads just the columns it needs, the rest of a page still from disk
    for (const q of [
      { status: "failed" as const, limit: 20 },
      { sort: "id" as const, desc: true, limit: 20 },
    ])
      expect(await restarted.query(q)).toEqual(await first.query(q));
    // another viewer saves a newer index over the file meanwhile: this one still reads its own
    appendFileSync(join(dir, "predictions.jsonl"), line({ id: "newer", sample: 0, status: "ok" }));
    const other = TrialIndex.open(dir, "exact");
    expect(await other.update()).toBe(true);
    expect(other.save()).toBe(true);
    expect(await views(restarted)).toEqual(expected);
    // and then follows the append like any index
    expect(await restarted.update()).toBe(true);
    expect(restarted.rows).toBe(first.rows + 1);
    expect(restarted.ref(restarted.find("newer", 0)).status).toBe("pending");
  });
});
