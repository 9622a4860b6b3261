import { describe, expect, it } from "vitest";
import { bootstrapCI } from "../stats/index.js";
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

  it("issue 12: compact columns give the figures of plain arrays — sums past 255 and fractional, items scored out of order, latencies as counts then a list", () => {
    const trial = { name: "t", model: "m", prompt_set: "p", task: "qa" };
    const stats = { iterations: 500, confidence: 0.9, seed: 7, alpha: 0.05 };
    const samples = 300;
    const ids = ["a", "b", "c", "d"];
    // Item d is scored first, then c, a, b: the CI resamples the item means in that order.
    const order = ["d", "c", "a", "b"];
    const scoreOf = (id: string, sample: number): number =>
      id === "a" ? 1 : id === "b" ? (sample % 2 ? 0.5 : 1) : id === "c" ? (sample % 3 === 0 ? 1 : 0) : 0.25;
    const scores = order.flatMap((id) =>
      Array.from({ length: samples }, (_, sample) => ({
        id,
        sample,
        scorer: "exact",
        value: scoreOf(id, sample),
        passed: scoreOf(id, sample) === 1,
      })),
    );
    const latencies = ids.flatMap((_, i) => Array.from({ length: samples }, (_, s) => (s * 7 + i) % 50));
    const predictions = ids.flatMap((id, i) =>
      Array.from({ length: samples }, (_, sample) => ({
        id,
        sample,
        status: "ok" as const,
        cached: false,
        latency_ms: latencies[i * samples + sample]!,
      })),
    );
    const summary = summarizeTrial({
      trial,
      items: ids.map((id) => ({ id })),
      samplesPerItem: samples,
      predictions,
      scores,
      scorers: ["exact"],
      stats,
    });
    const means = order.map((id) => {
      let sum = 0;
      for (let s = 0; s < samples; s++) sum += scoreOf(id, s);
      return sum / samples;
    });
    const ci = bootstrapCI(Float64Array.from(means), stats);
    const round = (x: number) => Number(x.toFixed(6));
    expect(summary.mean_ci).toMatchObject({ low: round(ci.low), high: round(ci.high), n_items: 4 });
    expect(summary.mean_score).toBe(round(means.reduce((a, b) => a + b, 0) / 4));
    // pass@1 from passed counts of 300, 150, 100 and 0 (past one byte each).
    expect(summary.pass_at_k.find((r) => r.k === 1)?.pass_at_k).toBe(round((1 + 0.5 + 100 / 300 + 0) / 4));
    const sorted = [...latencies].sort((x, y) => x - y);
    const quantile = (q: number) => {
      const pos = (sorted.length - 1) * q;
      const lo = Math.floor(pos);
      return Number((sorted[lo]! + (sorted[Math.ceil(pos)]! - sorted[lo]!) * (pos - lo)).toFixed(1));
    };
    const sum = sorted.reduce((x, y) => x + y, 0);
    expect(summary.usage).toMatchObject({ latency_ms_p50: quantile(0.5), latency_ms_p95: quantile(0.95) });
    expect(summary.timing.inference_ms).toBe(sum);
    // One fractional latency turns the counts into a list: the same figures plus that value.
    const withFraction = summarizeTrial({
      trial,
      items: ids.map((id) => ({ id })),
      samplesPerItem: samples,
      predictions: predictions.map((p, i) => (i === 5 ? { ...p, latency_ms: 1234.5 } : p)),
      scores,
      scorers: ["exact"],
      stats,
    });
    const fractional = [...latencies];
    fractional[5] = 1234.5;
    fractional.sort((x, y) => x - y);
    expect(withFraction.timing.inference_ms).toBe(fractional.reduce((x, y) => x + y, 0));
    expect(withFraction.usage.latency_ms_p95).toBe(
      Number(
        (
          fractional[Math.floor(1199 * 0.95)]! +
          (fractional[Math.ceil(1199 * 0.95)]! - fractional[Math.floor(1199 * 0.95)]!) *
            (1199 * 0.95 - Math.floor(1199 * 0.95))
        ).toFixed(1),
      ),
    );
    expect(withFraction.mean_ci).toEqual(summary.mean_ci);
  });
});
