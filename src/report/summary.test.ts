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

  it("compact per-item counts past 65,535 samples, fractional latencies, constant and varied item means", () => {
    const samples = 70_000;
    const trial = { name: "t", model: "m", prompt_set: "p", task: "qa" };
    const stats = { iterations: 200, confidence: 0.95, seed: 1, alpha: 0.05 };
    const one = summarizeTrial({
      trial,
      items: [{ id: "a" }],
      samplesPerItem: samples,
      predictions: Array.from({ length: samples }, (_, sample) => ({
        id: "a",
        sample,
        status: "ok" as const,
        cached: false,
        latency_ms: sample < 3 ? [10, 2.5, 7][sample]! : 4,
      })),
      scores: Array.from({ length: samples }, (_, sample) => ({
        id: "a",
        sample,
        scorer: "exact",
        value: 1,
        passed: true,
      })),
      scorers: ["exact"],
      stats,
    });
    expect(one.mean_score).toBe(1);
    expect(one.mean_ci).toMatchObject({ low: 1, high: 1, n_items: 1 });
    expect(one.pass_at_k.find((r) => r.k === 1)?.pass_at_k).toBe(1);
    expect(one.usage.latency_ms_p50).toBe(4);
    expect(one.timing.inference_ms).toBe(10 + 2.5 + 7 + 4 * (samples - 3));
    const ids = ["a", "b", "c"];
    const varied = summarizeTrial({
      trial,
      items: ids.map((id) => ({ id })),
      samplesPerItem: 1,
      predictions: ids.map((id) => ({ id, sample: 0, status: "ok" as const, cached: false, latency_ms: 1 })),
      scores: ids.map((id, i) => ({ id, sample: 0, scorer: "exact", value: i === 0 ? 0 : 1, passed: i > 0 })),
      scorers: ["exact"],
      stats,
    });
    expect(varied.mean_score).toBeCloseTo(2 / 3, 6);
    expect(varied.mean_ci!.low).toBeLessThan(varied.mean_ci!.high);
  });
});
