import { describe, expect, it } from "vitest";
import { createRng, createUint32Source, xoshiro128StarStar } from "./random.js";

function take(next: () => number, count: number): number[] {
  return Array.from({ length: count }, () => next());
}

describe("xoshiro128StarStar", () => {
  it("matches the reference C implementation (prng.di.unimi.it/xoshiro128starstar.c)", () => {
    // Outputs of the reference next() compiled with gcc, state {1, 2, 3, 4}.
    expect(take(xoshiro128StarStar([1, 2, 3, 4]), 8)).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849,
    ]);
    // Words with the top bit set (negative as int32) must behave as unsigned.
    expect(take(xoshiro128StarStar([0xdeadbeef, 0x12345678, 0xffffffff, 0x80000000]), 5)).toEqual([
      2576977301, 2031002624, 493879743, 1881573885, 1588474099,
    ]);
  });
});

describe("createRng", () => {
  it("gives the same stream for the same seed and a different one for another seed", () => {
    expect(take(createRng(7), 20)).toEqual(take(createRng(7), 20));
    expect(take(createRng(7), 20)).not.toEqual(take(createRng(8), 20));
    expect(take(createRng(0), 20)).not.toEqual(take(createRng(1), 20));
  });

  it("pins the stream for seed 0, so published bootstrap results stay reproducible", () => {
    const first = take(createUint32Source(0), 3);
    expect(take(createRng(0), 3)).toEqual(first.map((u) => u / 2 ** 32));
    // Recomputed independently (Python big-int arithmetic) from the splitmix32 seeder + xoshiro128**.
    expect(first).toEqual([3809008728, 1133695204, 53579671]);
  });

  it("reduces the seed modulo 2^32", () => {
    expect(take(createRng(-1), 5)).toEqual(take(createRng(2 ** 32 - 1), 5));
    expect(take(createRng(3), 5)).toEqual(take(createRng(2 ** 32 + 3), 5));
  });

  it("returns values in [0, 1) with mean ≈ 1/2 and variance ≈ 1/12", () => {
    const values = take(createRng(123), 100_000);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const m = values.reduce((s, v) => s + v, 0) / values.length;
    const v = values.reduce((s, x) => s + (x - m) ** 2, 0) / values.length;
    // sd of the mean is sqrt(1/12 / 1e5) ≈ 0.0009; 0.005 is > 5 sd.
    expect(Math.abs(m - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(v - 1 / 12)).toBeLessThan(0.002);
  });

  it("rejects seeds that are not safe integers", () => {
    expect(() => createRng(0.5)).toThrow(RangeError);
    expect(() => createRng(Number.NaN)).toThrow(RangeError);
    expect(() => createRng(2 ** 60)).toThrow(RangeError);
  });
});
