import { describe, expect, it } from "vitest";
import type { ModelSpec } from "../core/index.js";
import { expandModelGrid, expandTrials } from "./trials.js";

const guided = (options: Record<string, unknown>, params: ModelSpec["params"] = {}): ModelSpec => ({
  id: "g",
  provider: "guided",
  params,
  options: { base: "vllm:b", oracle: "vllm:o", max_new_tokens: 5, ...options },
});

describe("model sweeps", () => {
  it("lists for c and k expand into one model per combination, c outermost, with readable ids", () => {
    const out = expandModelGrid(guided({ c: [0, 10], k: [5, Number.POSITIVE_INFINITY] }));
    expect(out.map((o) => o.model.id)).toEqual(["g c=0 k=5", "g c=0 k=inf", "g c=10 k=5", "g c=10 k=inf"]);
    expect(out[1]?.model.options.k).toBe("inf");
    expect(out[2]?.grid).toEqual({ c: 10, k: 5 });
    expect(out[2]?.model.options.c).toBe(10);
  });

  it("grid: sweeps sampling parameters into params and options into options", () => {
    const out = expandModelGrid(guided({ c: 1, k: 1, grid: { temperature: [0, 0.7], step_size: [1, 4] } }));
    expect(out).toHaveLength(4);
    expect(out[3]?.model.params.temperature).toBe(0.7);
    expect(out[3]?.model.options.step_size).toBe(4);
    expect(out[3]?.model.options.grid).toBeUndefined();
  });

  it("each combination is its own trial with its own hash", () => {
    const trials = expandTrials(
      { task: { name: "qa", options: {} }, dataset: { path: "d", sha256: "x" }, scorers: [] },
      [guided({ c: [0, 1], k: 2 })],
      { p: { user: "{{question}}" } },
    );
    expect(trials.map((t) => t.name.replace(/__[0-9a-f]{8}$/, ""))).toEqual(["g-c-0__p", "g-c-1__p"]);
    expect(new Set(trials.map((t) => t.hash)).size).toBe(2);
    expect(trials[1]?.spec.grid).toEqual({ c: 1 });
  });

  it("bad sweeps are config errors naming the model", () => {
    expect(() => expandModelGrid(guided({ c: 1, k: 1, grid: { temperature: [9] } }))).toThrow(
      /model "g": grid point \{"temperature":9\}: temperature/,
    );
    expect(() => expandModelGrid(guided({ c: 1, k: 1, grid: { nonsense: [1] } }))).toThrow(/nonsense/);
    expect(() => expandModelGrid(guided({ c: [], k: 1 }))).toThrow(/c: an empty list/);
    expect(() =>
      expandModelGrid({ id: "m", provider: "vllm", model: "x", params: {}, options: { c: [1, 2] } }),
    ).toThrow(/model "m": c only apply to provider: guided/);
  });
});
