import { describe, expect, it } from "vitest";
import { type SummaryInput, summarizeTrial } from "./summary.js";

describe("summarizeTrial", () => {
  it("issue 17 scale c: items as a map id → category give the same summary as a list of objects", () => {
    const ids = ["a", "b", "c", "d"];
    const category: Record<string, string | undefined> = { a: "x", b: "y", c: "x", d: undefined };
    const base: Omit<SummaryInput, "items"> = {
      trial: { name: "t", model: "m", prompt_set: "p", task: "qa" },
      samplesPerItem: 2,
      predictions: ids.flatMap((id) =>
        [0, 1].map((sample) => ({ id, sample, status: "ok" as const, cached: false, latency_ms: 10 })),
      ),
      scores: ids.flatMap((id, i) =>
        [0, 1].map((sample) => {
          const passed = (i + sample) % 3 !== 0;
          return { id, sample, scorer: "exact", value: passed ? 1 : 0, passed };
        }),
      ),
      scorers: ["exact"],
      stats: { iterations: 200, confidence: 0.95, seed: 1, alpha: 0.05 },
    };
    const list = summarizeTrial({
      ...base,
      items: ids.map((id) => (category[id] ? { id, category: category[id] } : { id })),
    });
    const map = summarizeTrial({ ...base, items: new Map(ids.map((id) => [id, category[id]])) });
    expect(map).toEqual(list);
    expect(list.items).toBe(4);
    expect(list.pass_at_k.map((r) => r.k)).toEqual([1, 2]);
    expect(Object.keys(list.per_category).sort()).toEqual(["x", "y"]);
  });
});
