import { describe, expect, it } from "vitest";
import { bootstrapCI } from "./mean.js";
import { binomialCdfHalf, holm, mcnemarExact, pairedBootstrapCI, pairedPermutationTest } from "./paired.js";
import { createRng } from "./random.js";

/** Paired pass/fail vectors with the given counts of (A, B) outcomes. */
function outcomes(counts: { tt?: number; tf?: number; ft?: number; ff?: number }) {
  const a: boolean[] = [];
  const b: boolean[] = [];
  const push = (count: number | undefined, x: boolean, y: boolean) => {
    for (let i = 0; i < (count ?? 0); i++) {
      a.push(x);
      b.push(y);
    }
  };
  push(counts.tt, true, true);
  push(counts.tf, true, false);
  push(counts.ft, false, true);
  push(counts.ff, false, false);
  return { a, b };
}

describe("pairedBootstrapCI", () => {
  it("bootstraps the differences B − A", () => {
    const a = [0.2, 0.5, 0.1, 0.9, 0.4, 0.3];
    const b = [0.4, 0.4, 0.6, 1.0, 0.7, 0.3];
    const diffs = b.map((v, i) => v - a[i]!);
    const ci = pairedBootstrapCI(a, b, { seed: 4 });
    expect(ci).toEqual(bootstrapCI(diffs, { seed: 4 }));
    expect(ci.mean).toBeCloseTo(1 / 6, 15); // (0.2 − 0.1 + 0.5 + 0.1 + 0.3 + 0)/6 = 1/6
  });

  it("uses the pairing: a constant shift has a zero-width interval however spread the items are", () => {
    const a = Array.from({ length: 20 }, (_, i) => i);
    const b = a.map((v) => v + 0.5);
    expect(pairedBootstrapCI(a, b)).toMatchObject({ mean: 0.5, low: 0.5, high: 0.5 });
    expect(pairedBootstrapCI(b, a)).toMatchObject({ mean: -0.5, low: -0.5, high: -0.5 });
  });

  it("rejects samples of different lengths", () => {
    expect(() => pairedBootstrapCI([1, 2], [1])).toThrow(RangeError);
  });
});

describe("binomialCdfHalf: P[X ≤ x], X ~ Bin(m, 1/2)", () => {
  it("matches hand-computed tails", () => {
    expect(binomialCdfHalf(0, 6)).toBe(1 / 64);
    expect(binomialCdfHalf(1, 10)).toBe(11 / 1024); // (C(10,0) + C(10,1)) / 2^10
    expect(binomialCdfHalf(2, 10)).toBe(56 / 1024); // (1 + 10 + 45) / 2^10
    expect(binomialCdfHalf(3, 6)).toBe(42 / 64); // (1 + 6 + 15 + 20) / 2^6
    expect(binomialCdfHalf(8, 10)).toBe(1013 / 1024); // 1 − (C(10,9) + C(10,10))/2^10
    expect(binomialCdfHalf(-1, 10)).toBe(0);
    expect(binomialCdfHalf(10, 10)).toBe(1);
    expect(binomialCdfHalf(0, 0)).toBe(1);
  });

  it("is 1/2 at the centre of an odd m by symmetry, on both sides of the linear/log switch at m = 1000", () => {
    // For odd m, P[X ≤ (m−1)/2] = P[X ≥ (m+1)/2] and the two sum to 1.
    for (const m of [999, 1001, 20_001]) expect(binomialCdfHalf((m - 1) / 2, m)).toBeCloseTo(0.5, 12);
  });

  it("agrees with an independent computation in the log-space range (m > 1000)", () => {
    // Reference values from scipy.stats.binom.cdf(x, m, 0.5).
    expect(Math.abs(binomialCdfHalf(480, 1001) / 0.1030536554164765 - 1)).toBeLessThan(1e-12);
    expect(Math.abs(binomialCdfHalf(4900, 10_000) / 0.023292763852473225 - 1)).toBeLessThan(1e-11);
    expect(Math.abs(binomialCdfHalf(10, 1001) / 1.2541859937642315e-278 - 1)).toBeLessThan(1e-11);
    expect(binomialCdfHalf(0, 5000)).toBe(0); // 2^−5000 underflows
  });
});

describe("mcnemarExact", () => {
  it("b01 = 0, b10 = 6 gives p = 2 · (1/2)^6 = 0.03125", () => {
    const { a, b } = outcomes({ tf: 6 });
    expect(mcnemarExact(a, b)).toEqual({ b01: 0, b10: 6, n: 6, p_value: 0.03125 });
  });

  it("matches hand-computed binomial tails", () => {
    // b01 = 1, b10 = 9: 2 · (1 + 10)/1024 = 22/1024.
    expect(mcnemarExact(...pair(outcomes({ ft: 1, tf: 9 }))).p_value).toBe(22 / 1024);
    // b01 = 2, b10 = 8: 2 · (1 + 10 + 45)/1024 = 0.109375.
    expect(mcnemarExact(...pair(outcomes({ ft: 2, tf: 8 }))).p_value).toBe(0.109375);
    // b01 = 3, b10 = 3: 2 · 42/64 > 1, capped at 1.
    expect(mcnemarExact(...pair(outcomes({ ft: 3, tf: 3 }))).p_value).toBe(1);
  });

  it("ignores concordant pairs, which only count in n", () => {
    const without = mcnemarExact(...pair(outcomes({ ft: 1, tf: 9 })));
    const withConcordant = mcnemarExact(...pair(outcomes({ ft: 1, tf: 9, tt: 50, ff: 40 })));
    expect(withConcordant).toEqual({ ...without, n: 100 });
  });

  it("counts b01 as A fails / B passes, and is symmetric in A and B", () => {
    const { a, b } = outcomes({ ft: 2, tf: 8, tt: 3 });
    expect(mcnemarExact(a, b)).toMatchObject({ b01: 2, b10: 8 });
    expect(mcnemarExact(b, a)).toEqual({ ...mcnemarExact(a, b), b01: 8, b10: 2 });
  });

  it("gives p = 1 without discordant pairs, and for no pairs at all", () => {
    expect(mcnemarExact(...pair(outcomes({ tt: 5, ff: 5 })))).toEqual({ b01: 0, b10: 0, n: 10, p_value: 1 });
    expect(mcnemarExact([], [])).toEqual({ b01: 0, b10: 0, n: 0, p_value: 1 });
  });

  it("handles many discordant pairs", () => {
    // b01 = 480, b10 = 521: 2 · P[X ≤ 480], X ~ Bin(1001, 1/2); scipy: 2 · 0.1030536554164765.
    const p = mcnemarExact(...pair(outcomes({ ft: 480, tf: 521 }))).p_value;
    expect(p).toBeCloseTo(0.206107310832953, 12);
  });

  it("rejects samples of different lengths", () => {
    expect(() => mcnemarExact([true], [true, false])).toThrow(RangeError);
  });
});

describe("pairedPermutationTest", () => {
  it("enumerates a tiny example exactly", () => {
    // d = b − a = [1, 2, 3], observed |Σd| = 6. Sign-flipped sums: ±6, ±4, ±2, 0, 0; only +6 and −6
    // reach |6|, so p = 2/8.
    expect(pairedPermutationTest([0, 0, 0], [1, 2, 3])).toEqual({
      mean_diff: 2,
      p_value: 0.25,
      method: "exact",
      n_nonzero: 3,
      permutations: 8,
    });
  });

  it("drops zero differences and counts ties as extreme", () => {
    // d = [2, 1, 1, −1, 0]: observed Σ = 3; m = 4 non-zero. With s = ±2 and T = sum of the three ±1
    // (T = 3, 1, −1, −3 in 1, 3, 3, 1 ways): |s + T| ≥ 3 for s = +2, T ∈ {3, 1} (4 ways) and for
    // s = −2, T ∈ {−3, −1} (4 ways): p = 8/16.
    const result = pairedPermutationTest([0, 0, 0, 1, 5], [2, 1, 1, 0, 5]);
    expect(result).toEqual({ mean_diff: 0.6, p_value: 0.5, method: "exact", n_nonzero: 4, permutations: 16 });
  });

  it("gives the smallest exact p, 2/2^m, when all differences agree", () => {
    expect(pairedPermutationTest([0, 0, 0, 0, 0], [1, 1, 1, 1, 1]).p_value).toBe(2 / 32);
  });

  it("treats sums equal up to rounding as ties (regression: 0.1 + 0.2 − 0.3 ≠ 0 in doubles)", () => {
    // The exact differences sum to 0, so every sign vector is as extreme: p = 1. Summed in doubles
    // the observed total is 5.55e−17 and, without the tolerance, some flips would fall below it.
    expect(pairedPermutationTest([0, 0, 0], [0.1, 0.2, -0.3]).p_value).toBe(1);
  });

  it("gives p = 1 with no non-zero differences and NaN mean without pairs", () => {
    expect(pairedPermutationTest([1, 2], [1, 2])).toMatchObject({ mean_diff: 0, p_value: 1, n_nonzero: 0 });
    const empty = pairedPermutationTest([], []);
    expect(empty.p_value).toBe(1);
    expect(empty.mean_diff).toBeNaN();
  });

  it("approximates the exact p by Monte Carlo, with p = (count + 1)/(iterations + 1)", () => {
    const rng = createRng(21);
    const a = Array.from({ length: 16 }, () => rng());
    const b = a.map((v) => v + rng() - 0.35);
    const exact = pairedPermutationTest(a, b);
    const monteCarlo = pairedPermutationTest(a, b, { maxExact: 0, iterations: 20_000, seed: 3 });
    expect(exact.method).toBe("exact");
    expect(exact.permutations).toBe(65_536);
    expect(monteCarlo.method).toBe("monte_carlo");
    // Standard error of the estimate ≤ sqrt(0.25/20 000) ≈ 0.0035.
    expect(Math.abs(monteCarlo.p_value - exact.p_value)).toBeLessThan(0.015);
    const count = monteCarlo.p_value * 20_001 - 1;
    expect(count).toBeCloseTo(Math.round(count), 6);
  });

  it("never returns p = 0 in the Monte Carlo case", () => {
    // 40 positive differences: a random sign vector reaching |Σd| has probability 2/2^40.
    const a = new Array<number>(40).fill(0);
    const b = new Array<number>(40).fill(1);
    expect(pairedPermutationTest(a, b, { iterations: 999 })).toMatchObject({
      p_value: 1 / 1000,
      method: "monte_carlo",
      n_nonzero: 40,
      permutations: 999,
    });
  });

  it("is reproducible for a seed", () => {
    const rng = createRng(5);
    const a = Array.from({ length: 50 }, () => rng());
    const b = a.map((v) => v + rng() * 0.2 - 0.09);
    const first = pairedPermutationTest(a, b, { seed: 8 });
    expect(pairedPermutationTest(a, b, { seed: 8 })).toEqual(first);
    expect(first.method).toBe("monte_carlo");
  });

  it("rejects invalid input", () => {
    expect(() => pairedPermutationTest([1], [1, 2])).toThrow(RangeError);
    expect(() => pairedPermutationTest([1], [Number.NaN])).toThrow(RangeError);
    expect(() => pairedPermutationTest([1], [2], { iterations: 0 })).toThrow(RangeError);
    expect(() => pairedPermutationTest([1], [2], { maxExact: 25 })).toThrow(RangeError);
  });
});

describe("holm", () => {
  it("matches the textbook example (Wikipedia, Holm–Bonferroni; R p.adjust)", () => {
    // p = (0.01, 0.04, 0.03, 0.005), m = 4. Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06,
    // 0.04·1 = 0.04 → running max 0.06. In input order: (0.03, 0.06, 0.06, 0.02).
    const adjusted = holm([0.01, 0.04, 0.03, 0.005]);
    expectClose(adjusted, [0.03, 0.06, 0.06, 0.02]);
  });

  it("is monotone in the order of the raw p-values, capped at 1, and tie-invariant", () => {
    expect(holm([0.5, 0.6])).toEqual([1, 1]); // 0.5·2 = 1; max(1, 0.6) = 1
    const ties = holm([0.02, 0.5, 0.02]); // 0.02·3 = 0.06, max(0.06, 0.02·2) = 0.06, 0.5
    expectClose(ties, [0.06, 0.5, 0.06]);
    const rng = createRng(2);
    const raw = Array.from({ length: 30 }, () => rng() ** 3);
    const adjusted = holm(raw);
    const order = raw.map((_, i) => i).sort((i, j) => raw[i]! - raw[j]!);
    for (let r = 1; r < order.length; r++) {
      expect(adjusted[order[r]!]!).toBeGreaterThanOrEqual(adjusted[order[r - 1]!]!);
    }
    raw.forEach((p, i) => {
      expect(adjusted[i]!).toBeGreaterThanOrEqual(p);
      expect(adjusted[i]!).toBeLessThanOrEqual(1);
    });
  });

  it("leaves a single p-value alone and handles no p-values", () => {
    expect(holm([0.04])).toEqual([0.04]);
    expect(holm([])).toEqual([]);
  });

  it("rejects values outside [0, 1]", () => {
    expect(() => holm([0.1, Number.NaN])).toThrow(RangeError);
    expect(() => holm([1.5])).toThrow(RangeError);
    expect(() => holm([-0.1])).toThrow(RangeError);
  });
});

function expectClose(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length);
  for (const [i, value] of expected.entries()) expect(actual[i]).toBeCloseTo(value, 15);
}

function pair({ a, b }: { a: boolean[]; b: boolean[] }): [boolean[], boolean[]] {
  return [a, b];
}
