import { describe, expect, it } from "vitest";
import { baselinePairs, compareAll, comparePaired } from "./compare.js";
import { holm } from "./paired.js";
import { createRng } from "./random.js";

/** `{q0: values[0], q1: values[1], …}` */
function items(values: number[]): Record<string, number> {
  return Object.fromEntries(values.map((v, i) => [`q${i}`, v]));
}

describe("comparePaired", () => {
  it("uses exact McNemar for pass/fail values (b10 = 6, b01 = 0 → p = 0.03125)", () => {
    // Items q0..q5: A passes, B fails; q6 both fail; q7 both pass.
    const result = comparePaired({
      a: items([1, 1, 1, 1, 1, 1, 0, 1]),
      b: items([0, 0, 0, 0, 0, 0, 0, 1]),
    });
    expect(result).toMatchObject({
      test: "mcnemar",
      b01: 0,
      b10: 6,
      n_shared: 8,
      mean_a: 7 / 8,
      mean_b: 1 / 8,
      diff: -0.75, // B − A
      p_value: 0.03125,
      p_adjusted: 0.03125,
      alpha: 0.05,
      confidence: 0.95,
      significant: true,
    });
    expect(result.ci_low).toBeLessThanOrEqual(-0.75);
    expect(result.ci_high).toBeGreaterThanOrEqual(-0.75);
    expect(result.ci_high).toBeLessThan(0);
  });

  it("uses the permutation test for fractional scores", () => {
    // Differences 0.5, 1, 1.5: only ±(0.5 + 1 + 1.5) reach |3| → exact p = 2/8.
    const result = comparePaired({ a: { x: 0, y: 0, z: 0 }, b: { x: 0.5, y: 1, z: 1.5 } });
    expect(result).toMatchObject({
      test: "permutation",
      permutation_method: "exact",
      diff: 1,
      p_value: 0.25,
      significant: false,
    });
  });

  it("lets `binary` force the test, and rejects binary: true for non-0/1 values", () => {
    const a = items([1, 1, 1, 1, 1, 1]);
    const b = items([0, 0, 0, 0, 0, 0]);
    // Permutation on six differences of −1: only the two uniform sign vectors reach |6| → 2/64.
    expect(comparePaired({ a, b, binary: false })).toMatchObject({ test: "permutation", p_value: 2 / 64 });
    expect(comparePaired({ a, b, binary: true })).toMatchObject({ test: "mcnemar", p_value: 2 / 64 });
    expect(() => comparePaired({ a, b: items([0, 0.5, 0, 0, 0, 0]), binary: true })).toThrow(RangeError);
  });

  it("decides pass/fail on all values of both trials, not only the shared ones", () => {
    // The 0.5 is on an item B lacks, but trial A is still not pass/fail.
    const result = comparePaired({ a: { x: 1, y: 0, z: 0.5 }, b: { x: 0, y: 1 } });
    expect(result.test).toBe("permutation");
  });

  it("compares only the shared items and reports the others", () => {
    const result = comparePaired({
      a: { shared1: 0.2, shared2: 0.4, onlyA: 1 },
      b: { shared1: 0.6, shared2: 0.4, onlyB1: 0, onlyB2: 0 },
    });
    expect(result).toMatchObject({ n_shared: 2, n_only_a: 1, n_only_b: 2, mean_b: 0.5 });
    expect(result.mean_a).toBeCloseTo(0.3, 15);
    expect(result.diff).toBeCloseTo(0.2, 15);
  });

  it("accepts Maps and Records alike, whatever their key order", () => {
    const rng = createRng(3);
    const ids = Array.from({ length: 40 }, (_, i) => `item-${i}`);
    const aEntries = ids.map((id) => [id, rng()] as const);
    const bEntries = ids.map((id) => [id, rng()] as const);
    const fromRecords = comparePaired({
      a: Object.fromEntries(aEntries),
      b: Object.fromEntries(bEntries),
      seed: 9,
    });
    const fromReversedMaps = comparePaired({
      a: new Map([...aEntries].reverse()),
      b: new Map([...bEntries].reverse()),
      seed: 9,
    });
    expect(fromReversedMaps).toEqual(fromRecords);
  });

  it("is reproducible for a seed, and the seed changes the bootstrap draws", () => {
    const rng = createRng(4);
    const a = items(Array.from({ length: 60 }, () => rng()));
    const b = items(Array.from({ length: 60 }, () => rng()));
    const first = comparePaired({ a, b, seed: 1 });
    expect(comparePaired({ a, b, seed: 1 })).toEqual(first);
    const other = comparePaired({ a, b, seed: 2 });
    expect(other.diff).toBe(first.diff);
    expect([other.ci_low, other.ci_high]).not.toEqual([first.ci_low, first.ci_high]);
  });

  it("derives the CI level from alpha unless given", () => {
    const a = items([0.1, 0.5, 0.9, 0.3]);
    const b = items([0.2, 0.7, 0.8, 0.6]);
    expect(comparePaired({ a, b, alpha: 0.1 }).confidence).toBeCloseTo(0.9, 15);
    expect(comparePaired({ a, b, alpha: 0.1, confidence: 0.99 }).confidence).toBe(0.99);
    const narrow = comparePaired({ a, b, alpha: 0.5 });
    const wide = comparePaired({ a, b, alpha: 0.01 });
    expect(narrow.ci_high - narrow.ci_low).toBeLessThan(wide.ci_high - wide.ci_low);
  });

  it("gives NaN statistics and p = 1 with no shared items", () => {
    const result = comparePaired({ a: { x: 1 }, b: { y: 0 } });
    expect(result).toMatchObject({ n_shared: 0, n_only_a: 1, n_only_b: 1, p_value: 1, significant: false });
    for (const value of [result.mean_a, result.mean_b, result.diff, result.ci_low, result.ci_high]) {
      expect(value).toBeNaN();
    }
  });

  it("rejects non-finite values and invalid alpha", () => {
    expect(() => comparePaired({ a: { x: Number.NaN }, b: { x: 1 } })).toThrow(RangeError);
    expect(() => comparePaired({ a: { x: 1 }, b: { x: 1 }, alpha: 0 })).toThrow(RangeError);
  });
});

describe("compareAll", () => {
  // Six items. T0 passes all, T1 fails all, T2 passes all but the last.
  const trials = [
    { name: "T0", values: items([1, 1, 1, 1, 1, 1]) },
    { name: "T1", values: items([0, 0, 0, 0, 0, 0]) },
    { name: "T2", values: items([1, 1, 1, 1, 1, 0]) },
  ];

  it("compares every pair i < j with Holm-adjusted p-values (hand-computed)", () => {
    // T0→T1: b10 = 6, b01 = 0 → p = 2/64 = 0.03125.
    // T0→T2: b10 = 1, b01 = 0 → p = min(1, 2 · P[X ≤ 0 | m = 1]) = 2 · 1/2 = 1.
    // T1→T2: b01 = 5, b10 = 0 → p = 2/32 = 0.0625.
    // Holm, m = 3: 0.03125·3 = 0.09375, 0.0625·2 = 0.125, 1·1 = 1.
    const rows = compareAll(trials);
    expect(rows.map((r) => [r.trial_a, r.trial_b, r.test])).toEqual([
      ["T0", "T1", "mcnemar"],
      ["T0", "T2", "mcnemar"],
      ["T1", "T2", "mcnemar"],
    ]);
    expect(rows.map((r) => r.p_value)).toEqual([0.03125, 1, 0.0625]);
    expect(rows.map((r) => r.p_adjusted)).toEqual([0.09375, 1, 0.125]);
    expect(rows.map((r) => r.diff)).toEqual([-1, -1 / 6, 5 / 6]);
    // T0→T1 is significant on its own (0.03125 < 0.05) but not after the correction.
    expect(rows.map((r) => r.significant)).toEqual([false, false, false]);
    expect(compareAll(trials, { alpha: 0.1 }).map((r) => r.significant)).toEqual([true, false, false]);
  });

  it("gives each pair the same result as comparePaired, apart from the adjustment", () => {
    const rng = createRng(6);
    const scored = ["x", "y", "z"].map((name) => ({
      name,
      values: items(Array.from({ length: 30 }, () => rng())),
    }));
    const rows = compareAll(scored, { seed: 5, iterations: 2_000 });
    expect(rows.map((r) => r.p_adjusted)).toEqual(holm(rows.map((r) => r.p_value)));
    const first = rows[0]!;
    const alone = comparePaired({ a: scored[0]!.values, b: scored[1]!.values, seed: 5, iterations: 2_000 });
    expect(first).toEqual({
      ...alone,
      trial_a: "x",
      trial_b: "y",
      p_adjusted: first.p_adjusted,
      significant: first.p_adjusted < 0.05,
    });
  });

  it("returns no rows for fewer than two trials and rejects duplicate names", () => {
    expect(compareAll([])).toEqual([]);
    expect(compareAll([trials[0]!])).toEqual([]);
    expect(() => compareAll([trials[0]!, { ...trials[1]!, name: "T0" }])).toThrow(RangeError);
  });

  it("serialises to JSON with snake_case keys", () => {
    const [row] = compareAll(trials.slice(0, 2));
    expect(Object.keys(JSON.parse(JSON.stringify(row))).sort()).toEqual(
      [
        "alpha",
        "b01",
        "b10",
        "ci_high",
        "ci_low",
        "confidence",
        "diff",
        "mean_a",
        "mean_b",
        "n_only_a",
        "n_only_b",
        "n_shared",
        "p_adjusted",
        "p_value",
        "significant",
        "test",
        "trial_a",
        "trial_b",
      ].sort(),
    );
  });
});

describe("baselinePairs (17.scale-a: k − 1 comparisons, not k(k−1)/2)", () => {
  it("compares each model with the baseline model in its prompt set, and the baseline's prompt sets with its first", () => {
    const grid = [
      { model: "m1", group: "a" },
      { model: "m1", group: "b" },
      { model: "m2", group: "a" },
      { model: "m2", group: "b" },
      { model: "m3", group: "c" },
    ];
    expect(baselinePairs(grid)).toEqual([
      [0, 1],
      [0, 2],
      [1, 3],
      [0, 4],
    ]);
    expect(baselinePairs(grid, "m2")).toEqual([
      [2, 0],
      [3, 1],
      [2, 3],
      [2, 4],
    ]);
    expect(baselinePairs(grid, "nobody")).toEqual([]);
    const many = Array.from({ length: 1000 }, (_, i) => ({ model: `m${i}`, group: "p" }));
    expect(baselinePairs(many)).toHaveLength(999);
  });
});
