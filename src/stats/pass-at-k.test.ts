import { describe, expect, it } from "vitest";
import { passAtK, passAtKTable, passAtKTableUniform } from "./pass-at-k.js";

/** C(n, k) exactly, as a BigInt. */
function choose(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let result = 1n;
  for (let i = 0; i < k; i++) result = (result * BigInt(n - i)) / BigInt(i + 1);
  return result;
}

/** The definition 1 − C(n−c, k)/C(n, k), for small n where the ratio is exact enough as a double. */
function byDefinition(n: number, c: number, k: number): number {
  return 1 - Number(choose(n - c, k)) / Number(choose(n, k));
}

/** The plug-in estimate 1 − (1 − c/n)^k, biased low. */
function plugIn(n: number, c: number, k: number): number {
  return 1 - (1 - c / n) ** k;
}

describe("passAtK", () => {
  it("matches hand-computed values", () => {
    expect(passAtK(5, 2, 2)).toBeCloseTo(0.7, 15); // 1 − C(3,2)/C(5,2) = 1 − 3/10
    expect(passAtK(5, 2, 3)).toBeCloseTo(0.9, 15); // 1 − C(3,3)/C(5,3) = 1 − 1/10
    expect(passAtK(4, 1, 2)).toBeCloseTo(0.5, 15); // 1 − C(3,2)/C(4,2) = 1 − 3/6
    expect(passAtK(10, 3, 5)).toBeCloseTo(11 / 12, 15); // 1 − C(7,5)/C(10,5) = 1 − 21/252
    expect(passAtK(5, 2, 1)).toBeCloseTo(0.4, 15); // k = 1 is c/n
  });

  it("is 0 with no correct sample and 1 when every k-subset must contain one (n − c < k)", () => {
    expect(passAtK(10, 0, 3)).toBe(0);
    expect(passAtK(10, 10, 1)).toBe(1);
    expect(passAtK(5, 3, 3)).toBe(1); // n − c = 2 < 3
    expect(passAtK(5, 1, 5)).toBe(1); // k = n, c ≥ 1
  });

  it("equals 1 − C(n−c,k)/C(n,k) for every small (n, c, k)", () => {
    for (let n = 1; n <= 20; n++) {
      for (let c = 0; c <= n; c++) {
        for (let k = 1; k <= n; k++) expect(passAtK(n, c, k)).toBeCloseTo(byDefinition(n, c, k), 12);
      }
    }
  });

  it("stays finite and accurate for large n, where C(n, k) overflows a double", () => {
    expect(passAtK(1000, 1, 1)).toBeCloseTo(0.001, 15);
    expect(passAtK(100_000, 50_000, 1)).toBeCloseTo(0.5, 12);
    // C(200,100) ≈ 9.05e58, so 1 − 1/C(200,100) rounds to 1.
    expect(passAtK(200, 100, 100)).toBe(1);
    // n = 2000, c = 10, k = 100: C(1990,100)/C(2000,100) = ∏_{i=0}^{9} (1900 − i)/(2000 − i)
    const ratio = Array.from({ length: 10 }, (_, i) => (1900 - i) / (2000 - i)).reduce((p, r) => p * r, 1);
    expect(passAtK(2000, 10, 100)).toBeCloseTo(1 - ratio, 12);
  });

  it("differs from the biased plug-in 1 − (1 − c/n)^k, which underestimates", () => {
    // n=5, c=2, k=2: unbiased 0.7 vs plug-in 1 − 0.6² = 0.64.
    expect(plugIn(5, 2, 2)).toBeCloseTo(0.64, 15);
    expect(passAtK(5, 2, 2) - plugIn(5, 2, 2)).toBeCloseTo(0.06, 15);
    // Never below the plug-in: C(n−c,k)/C(n,k) = ∏_{j<k} (n−c−j)/(n−j) ≤ ((n−c)/n)^k.
    for (let c = 0; c <= 10; c++) {
      for (let k = 1; k <= 10; k++)
        expect(passAtK(10, c, k)).toBeGreaterThanOrEqual(plugIn(10, c, k) - 1e-15);
    }
  });

  it("is unbiased: E[passAtK(n, c, k)] over c ~ Bin(n, p) is exactly 1 − (1 − p)^k", () => {
    // n = 5, k = 2, p = 0.3: true pass@2 = 1 − 0.7² = 0.51.
    const n = 5;
    const k = 2;
    const p = 0.3;
    let unbiased = 0;
    let biased = 0;
    for (let c = 0; c <= n; c++) {
      const weight = Number(choose(n, c)) * p ** c * (1 - p) ** (n - c);
      unbiased += weight * passAtK(n, c, k);
      biased += weight * plugIn(n, c, k);
    }
    expect(unbiased).toBeCloseTo(0.51, 14);
    // E[(1 − c/n)²] = 0.49 + p(1−p)/n = 0.532, so the plug-in's expectation is 1 − 0.532 = 0.468.
    expect(biased).toBeCloseTo(0.468, 14);
  });

  it("rejects impossible counts", () => {
    expect(() => passAtK(5, 6, 1)).toThrow(RangeError); // c > n
    expect(() => passAtK(5, -1, 1)).toThrow(RangeError);
    expect(() => passAtK(5, 2, 6)).toThrow(RangeError); // k > n: not estimable
    expect(() => passAtK(5, 2, 0)).toThrow(RangeError);
    expect(() => passAtK(5, 2.5, 1)).toThrow(RangeError);
    expect(() => passAtK(0, 0, 1)).toThrow(RangeError);
  });
});

describe("passAtKTable", () => {
  it("averages over items for k = 1..min n by default", () => {
    // Item 1 (n=3, c=1): k=1 → 1/3; k=2 → 1 − C(2,2)/C(3,2) = 2/3; k=3 → 1 (n − c = 2 < 3).
    // Item 2 (n=4, c=4): 1 for every k. min n = 3, so k = 4 is not reported.
    const table = passAtKTable([
      { n: 3, c: 1 },
      { n: 4, c: 4 },
    ]);
    expect(table.map((row) => row.k)).toEqual([1, 2, 3]);
    expect(table[0]!.pass_at_k).toBeCloseTo(2 / 3, 15); // (1/3 + 1)/2
    expect(table[1]!.pass_at_k).toBeCloseTo(5 / 6, 15); // (2/3 + 1)/2
    expect(table[2]!.pass_at_k).toBe(1);
    expect(table.every((row) => row.n_items === 2)).toBe(true);
  });

  it("keeps a given list's order, drops duplicates and every k > min n", () => {
    // k=1: (0.4 + 0)/2 = 0.2; k=5: (1 + 0)/2 = 0.5 (item 1 has n − c = 3 < 5).
    const table = passAtKTable(
      [
        { n: 5, c: 2 },
        { n: 5, c: 0 },
      ],
      [5, 1, 10, 5],
    );
    expect(table.map((row) => row.k)).toEqual([5, 1]);
    expect(table[0]!.pass_at_k).toBe(0.5);
    expect(table[1]!.pass_at_k).toBeCloseTo(0.2, 15);
  });

  it("is empty when no k can be estimated for every item", () => {
    expect(passAtKTable([])).toEqual([]);
    expect(
      passAtKTable([
        { n: 0, c: 0 },
        { n: 5, c: 1 },
      ]),
    ).toEqual([]);
    expect(passAtKTable([{ n: 3, c: 1 }], [10])).toEqual([]);
  });

  it("rejects invalid items and ks", () => {
    expect(() => passAtKTable([{ n: 3, c: 4 }])).toThrow(RangeError);
    expect(() => passAtKTable([{ n: -1, c: 0 }])).toThrow(RangeError);
    expect(() => passAtKTable([{ n: 3, c: 1 }], [0])).toThrow(RangeError);
    expect(() => passAtKTable([{ n: 3, c: 1 }], [1.5])).toThrow(RangeError);
  });
});

describe("passAtKTableUniform", () => {
  it("issue 17 scale c: gives passAtKTable's exact rows from a typed array of counts (no object per item)", () => {
    const counts = Uint32Array.from({ length: 1000 }, (_, i) => (i * 7919) % 6);
    const objects = [...counts].map((c) => ({ n: 5, c }));
    for (const ks of [undefined, [1, 5, 10, 2]]) {
      const table = passAtKTableUniform(5, counts, ks);
      expect(table).toEqual(passAtKTable(objects, ks));
      expect(table.length).toBeGreaterThan(0);
    }
    expect(passAtKTableUniform(5, new Uint32Array(0))).toEqual([]);
    expect(() => passAtKTableUniform(3, [4])).toThrow(RangeError);
  });
});
