import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scoreBasis } from "../core/index.js";
import { IdTable } from "../tasks/index.js";
import { loadTrialData, type TrialData } from "./trial-data.js";

const jsonl = (rows: unknown[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join("");

/** A trial directory of 10 items × 2 samples, with a superseded prediction, mixed scores and categories. */
function trialDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "benchline-trial-data-"));
  const ids = Array.from({ length: 10 }, (_, i) => `q${i}`);
  writeFileSync(
    join(dir, "trial.json"),
    JSON.stringify({
      name: "t",
      hash: "h",
      spec: {
        model: { id: "m" },
        prompt_set: { name: "p" },
        task: { name: "qa" },
        scorers: [{ name: "exact" }],
      },
    }),
  );
  writeFileSync(
    join(dir, "prompts.jsonl"),
    jsonl(
      ids.map((id, index) => ({ id, index, ...(index % 3 === 0 ? { metadata: { category: "c" } } : {}) })),
    ),
  );
  const prediction = (id: string, sample: number, status: "ok" | "error", latency: number) => ({
    id,
    sample,
    model: "m",
    prompt_hash: "x",
    status,
    completion: status === "ok" ? `answer ${id}` : "",
    ...(status === "error" ? { error: { code: "http_500", message: "boom" } } : {}),
    latency_ms: latency,
    attempts: 1,
    cached: false,
    created_at: "2026-01-01T00:00:00.000Z",
  });
  const predictions = ids.flatMap((id, i) => [
    prediction(id, 0, "ok", i),
    prediction(id, 1, "ok", 2 * i + 0.5),
  ]);
  predictions.push(prediction("q3", 1, "error", 7), prediction("q3", 1, "ok", 9));
  writeFileSync(join(dir, "predictions.jsonl"), jsonl(predictions));
  // Scores in an order that is not the items' (q5 first), so the CI's resampling order matters.
  const order = ["q5", ...ids.filter((id) => id !== "q5")];
  const scores = order.flatMap((id, i) =>
    [0, 1].map((sample) => ({
      id,
      sample,
      scorer: "exact",
      value: (i + sample) % 3 === 0 ? 0 : 1,
      passed: (i + sample) % 3 !== 0,
      basis: scoreBasis(`answer ${id}`),
    })),
  );
  writeFileSync(join(dir, "scores.jsonl"), jsonl(scores));
  return dir;
}

const tableOf = (ids: string[], value = (i: number) => i): IdTable => {
  const table = new IdTable();
  for (const [i, id] of ids.entries()) table.add(id, value(i));
  return table;
};

const shared = (data: TrialData): boolean | undefined =>
  (data.items as unknown as { shared?: boolean }).shared;

describe("a report's items read from the run's dataset ids (issue 12: one table of ids at 1M rows)", () => {
  it("gives the same items, summary, per-item means and scores whether it shares the ids, or copies them when they come in another order", async () => {
    const dir = trialDir();
    const scope = {
      limit: null,
      samples: 2,
      stats: { iterations: 300, confidence: 0.95, seed: 3, alpha: 0.05 },
    };
    const own = await loadTrialData(dir, scope, { perItem: true });
    const ids = Array.from({ length: 10 }, (_, i) => `q${i}`);
    const cases: [string, IdTable, boolean][] = [
      // The dataset's ids in the items' order (its values are row positions, not entry numbers).
      ["same order", tableOf(ids, (i) => 3 * i + 1), true],
      // More rows in the dataset than items (the items are its first ten).
      ["a prefix", tableOf([...ids, "q10", "q11"]), true],
      // Another order: the items are copied out at the first that differs.
      ["reversed", tableOf([...ids].reverse()), false],
      // An item the dataset does not have.
      ["missing one", tableOf(ids.filter((id) => id !== "q7")), false],
    ];
    expect(shared(own)).toBe(false);
    for (const [label, base, expectShared] of cases) {
      const data = await loadTrialData(dir, scope, { perItem: true, items: base });
      expect(shared(data), label).toBe(expectShared);
      expect(data.summary, label).toEqual(own.summary);
      expect([...data.items.entries()], label).toEqual([...own.items.entries()]);
      expect([...data.perItem], label).toEqual([...own.perItem]);
      const scores = async (d: TrialData) => {
        const out: unknown[] = [];
        for await (const s of d.scores()) out.push(s);
        return out;
      };
      expect(await scores(data), label).toEqual(await scores(own));
      expect(data.items.has("q10"), label).toBe(false);
      expect(data.items.get("q3"), label).toBe("c");
    }
    // The figures themselves: 10 items, q3's second sample is its later (ok) row, q5 scored first.
    expect(own.summary.items).toBe(10);
    expect(own.summary.predictions).toMatchObject({ expected: 20, ok: 20, error: 0 });
    expect([...own.perItem.keys()][0]).toBe("q5");
    expect(own.summary.per_category.c?.n).toBe(8);
  });

  it("hands the summary's rows to `rows` as it reads them: final predictions of its keys, counted scores with their category, in file order", async () => {
    const dir = trialDir();
    const scope = { limit: null, samples: 2 };
    const seen: {
      predictions: [string, number, string, number][];
      scores: [string, number, string | undefined][];
    } = {
      predictions: [],
      scores: [],
    };
    let trialName = "";
    const data = await loadTrialData(dir, scope, {
      rows: (trial) => {
        trialName = trial.name;
        return {
          prediction: (p) => seen.predictions.push([p.id, p.sample, p.status, p.latency_ms]),
          score: (s, category) => seen.scores.push([s.id, s.sample, category]),
        };
      },
    });
    expect(trialName).toBe("t");
    // q3's second sample: only its last row (ok, 9 ms), where that row is in the file.
    expect(seen.predictions).toHaveLength(20);
    expect(seen.predictions.filter(([id, sample]) => id === "q3" && sample === 1)).toEqual([
      ["q3", 1, "ok", 9],
    ]);
    expect(seen.predictions[0]).toEqual(["q0", 0, "ok", 0]);
    expect(seen.predictions.at(-1)).toEqual(["q3", 1, "ok", 9]);
    // Scores as counted, in file order (q5 first), each with its item's category.
    expect(seen.scores).toHaveLength(data.summary.scorers.exact!.n);
    expect(seen.scores[0]).toEqual(["q5", 0, undefined]);
    expect(seen.scores.find(([id]) => id === "q3")?.[2]).toBe("c");
    const counted: [string, number][] = [];
    for await (const s of data.scores()) counted.push([s.id, s.sample]);
    expect(seen.scores.map(([id, sample]) => [id, sample])).toEqual(counted);
  });
});
