import { describe, expect, it } from "vitest";
import { bootstrapCI, mean, quantileSorted, stderr, variance } from "./mean.js";
import { createRng } from "./random.js";

/** `count` values alternating through `pattern`, so every size has the same proportions. */
function repeat(pattern: number[], count: number): number[] {
  return Array.from({ length: count }, (_, i) => pattern[i % pattern.length]!);
}

describe("mean, variance, stderr", () => {
  it("match hand-computed values", () => {
    // [2,4,4,4,5,5,7,9]: mean 40/8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32;
    // s² = 32/7; stderr = sqrt(32/7/8) = sqrt(4/7).
    const x = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(x)).toBe(5);
    expect(variance(x)).toBeCloseTo(32 / 7, 14);
    expect(stderr(x)).toBeCloseTo(Math.sqrt(4 / 7), 14);
    expect(mean(Float64Array.of(1, 2, 3, 4))).toBe(2.5);
  });

  it("is NaN where the statistic is undefined", () => {
    expect(mean([])).toBeNaN();
    expect(variance([])).toBeNaN();
    expect(variance([3])).toBeNaN();
    expect(stderr([3])).toBeNaN();
  });

  it("computes the variance stably for a large offset (two-pass)", () => {
    // [4, 7, 13, 16] shifted by 1e9: mean 10, squared deviations 36+9+9+36 = 90, s² = 90/3 = 30.
    // The one-pass formula (Σx² − n·x̄²)/(n − 1) loses every digit here.
    expect(variance([1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16])).toBe(30);
  });
});

describe("quantileSorted (Hyndman & Fan type 7)", () => {
  it("interpolates between order statistics", () => {
    expect(quantileSorted([1, 2, 3, 4, 5], 0.5)).toBe(3); // h = 4·0.5 = 2
    expect(quantileSorted([1, 2, 3, 4, 5], 0.25)).toBe(2); // h = 1
    expect(quantileSorted([10, 20], 0.25)).toBe(12.5); // h = 0.25: 10 + 0.25·10
    expect(quantileSorted([10, 20, 40], 0.75)).toBe(30); // h = 1.5: 20 + 0.5·20
    expect(quantileSorted([10, 20, 40], 0)).toBe(10);
    expect(quantileSorted([10, 20, 40], 1)).toBe(40);
    expect(quantileSorted([7], 0.3)).toBe(7);
  });
});

describe("bootstrapCI", () => {
  it("matches the hand-computed bootstrap distribution of a two-point sample", () => {
    // Resampling [0, 1] twice: the resample mean is 0, 0.5, 1 with probability 1/4, 1/2, 1/4.
    // So the 2.5% and 97.5% quantiles are 0 and 1, and the 30% and 70% quantiles are both 0.5
    // (P[mean ≤ 0] = 0.25 < 0.3, P[mean ≤ 0.5] = 0.75 > 0.7; with B = 10 000 the sampling error
    // of those fractions is ≈ 0.004, an order of magnitude below the margins).
    expect(bootstrapCI([0, 1], { seed: 3 })).toEqual({
      mean: 0.5,
      low: 0,
      high: 1,
      iterations: 10_000,
      confidence: 0.95,
    });
    const ci40 = bootstrapCI([0, 1], { seed: 3, confidence: 0.4 });
    expect([ci40.low, ci40.high]).toEqual([0.5, 0.5]);
  });

  it("is close to the normal interval x̄ ± 1.96·σ̂/√n for a large symmetric sample", () => {
    // 400 values, half 0 and half 1: the bootstrap variance of the mean is σ̂²/n with σ̂ = 0.5
    // (n denominator), so the interval is ≈ 0.5 ± 1.96 · 0.5/20 = 0.5 ± 0.049.
    const ci = bootstrapCI(repeat([0, 1], 400), { seed: 1 });
    expect(ci.mean).toBe(0.5);
    expect(ci.low).toBeCloseTo(0.5 - 0.049, 2);
    expect(ci.high).toBeCloseTo(0.5 + 0.049, 2);
  });

  it("contains the mean", () => {
    const rng = createRng(11);
    for (let trial = 0; trial < 20; trial++) {
      const values = Array.from({ length: 5 + trial * 10 }, () => rng());
      const ci = bootstrapCI(values, { seed: trial, iterations: 2_000 });
      expect(ci.low).toBeLessThanOrEqual(ci.mean);
      expect(ci.high).toBeGreaterThanOrEqual(ci.mean);
    }
  });

  it("narrows like 1/√n as the sample grows", () => {
    const width = (n: number) => {
      const ci = bootstrapCI(repeat([0, 1, 1, 0.5, 0.25], n), { seed: 5 });
      return ci.high - ci.low;
    };
    const [w50, w500, w5000] = [width(50), width(500), width(5000)];
    expect(w500).toBeLessThan(w50);
    expect(w5000).toBeLessThan(w500);
    // Ten times the data: width shrinks by about √10 ≈ 3.16.
    expect(w50 / w500).toBeGreaterThan(2.8);
    expect(w50 / w500).toBeLessThan(3.6);
  });

  it("is reproducible for a seed and draws differently for another seed", () => {
    const values = repeat([0.1, 0.9, 0.4, 0.7, 0.3], 37);
    expect(bootstrapCI(values, { seed: 42 })).toEqual(bootstrapCI(values, { seed: 42 }));
    const a = bootstrapCI(values, { seed: 1 });
    const b = bootstrapCI(values, { seed: 2 });
    expect(a.mean).toBe(b.mean);
    expect([a.low, a.high]).not.toEqual([b.low, b.high]);
  });

  it("gives low = high = mean for a constant sample, without resampling", () => {
    expect(bootstrapCI([0.3, 0.3, 0.3])).toEqual({
      mean: 0.3,
      low: 0.3,
      high: 0.3,
      iterations: 10_000,
      confidence: 0.95,
    });
    expect(bootstrapCI([7], { iterations: 5 })).toMatchObject({ mean: 7, low: 7, high: 7 });
  });

  it("gives NaN for an empty sample", () => {
    const ci = bootstrapCI([]);
    expect(ci.mean).toBeNaN();
    expect(ci.low).toBeNaN();
    expect(ci.high).toBeNaN();
    expect(JSON.parse(JSON.stringify(ci))).toEqual({
      mean: null,
      low: null,
      high: null,
      iterations: 10_000,
      confidence: 0.95,
    });
  });

  it("rejects non-finite values and invalid options", () => {
    expect(() => bootstrapCI([1, Number.NaN])).toThrow(RangeError);
    expect(() => bootstrapCI([1, Number.POSITIVE_INFINITY])).toThrow(RangeError);
    expect(() => bootstrapCI([1, 2], { iterations: 0 })).toThrow(RangeError);
    expect(() => bootstrapCI([1, 2], { iterations: 1.5 })).toThrow(RangeError);
    expect(() => bootstrapCI([1, 2], { confidence: 1 })).toThrow(RangeError);
    expect(() => bootstrapCI([1, 2], { confidence: 0 })).toThrow(RangeError);
  });

  it("resamples 10 000 values 10 000 times in well under the time budget", () => {
    // Typically ≈ 0.5 s; the bound only catches an accidental per-resample allocation or O(n²).
    const rng = createRng(9);
    const values = Array.from({ length: 10_000 }, () => rng());
    const start = performance.now();
    const ci = bootstrapCI(values, { iterations: 10_000, seed: 1 });
    expect(performance.now() - start).toBeLessThan(5_000);
    expect(ci.high - ci.low).toBeGreaterThan(0);
  });
});
